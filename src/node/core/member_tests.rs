//! The member core: members that gossip, propose, verify, finalize and release through
//! their own cores, answer requests for share batches, and give up on an entry their peers
//! keep refusing.

use super::member::Refusal;
use super::mempool::{Mempool, MempoolConfig, Reject, Source, NOT_ORDERED_STRIKES};
use super::reveal::{batch_id, Answer, CollectorConfig, Effect, ReshareError, Unanswered};
use super::testkit::{accepted, committee, ct, rng, Committee, CLIENT};
use crate::ledger::block::{Block, BlockError, BlockLimits};
use crate::ledger::release::ReleasedBatch;
use crate::ledger::{Height, KeyEpoch};
use curtain_crypto::EncodedCiphertext;

/// One member core per share of `c`, with default limits, at height 0.
fn core_members(c: &Committee) -> Vec<super::member::Member> {
    c.shares
        .iter()
        .map(|s| {
            super::member::Member::new(
                Mempool::new(MempoolConfig::default(), KeyEpoch(0), c.key.clone()),
                c.collector(s, CollectorConfig::default()),
                BlockLimits::default(),
            )
        })
        .collect()
}

#[test]
fn members_order_finalize_and_release_identically() {
    use super::chain::ChainBlock;
    use super::member::{decode_gossip, encode_gossip, ShareMessage};
    let mut r = rng(13);
    let c = committee(4, 3, &mut r);
    let mut ms = core_members(&c);
    // a client submits to member 0, which gossips what it accepted to member 1 only
    let cts: Vec<EncodedCiphertext> = (0..6)
        .map(|i| ct(&c.key, i % 3, &[i as u8; 40], &mut r))
        .collect();
    let adm = ms[0].mempool.admit(0, CLIENT, cts, &mut r);
    let ok: Vec<_> = adm.into_iter().map(|a| a.result.unwrap()).collect();
    let msg = encode_gossip(&ok);
    assert_eq!(decode_gossip(&msg).unwrap().len(), 6);
    assert!(decode_gossip(&msg[..msg.len() - 1]).is_err());
    let gossiped = decode_gossip(&msg).unwrap();
    assert_eq!(
        accepted(&ms[1].mempool.admit(0, Source::Peer(0), gossiped, &mut r)),
        6
    );

    let mut chain = vec![ChainBlock::genesis()];
    let mut logs: Vec<Vec<Vec<u8>>> = vec![Vec::new(); 4];
    for h in 1..=2u64 {
        let leader = (h % 2) as usize; // members 1 and 0 lead in turn
        let ancestors: Vec<ChainBlock> = chain.iter().rev().cloned().collect();
        let proposal = ms[leader].propose(&ancestors).unwrap();
        for m in &mut ms {
            // members 2 and 3 never saw the gossip: they verify the bodies themselves
            m.verify(&proposal, &ancestors, 0, &mut r).unwrap();
        }
        // a replay of the same ids on top of the proposal is refused before finality
        let mut with_proposal = vec![proposal.clone()];
        with_proposal.extend(ancestors.iter().cloned());
        if !proposal.block().is_empty() {
            let replay = ChainBlock::new(
                Block::new(
                    proposal.block().digest(),
                    Height(h + 1),
                    proposal.block().batches.clone(),
                ),
                proposal.bodies().to_vec(),
            )
            .unwrap();
            assert!(matches!(
                ms[2].verify(&replay, &with_proposal, 0, &mut r),
                Err(Refusal::Invalid(BlockError::AlreadyOrdered(_)))
            ));
        }
        let mut inbox = Vec::new();
        for (i, m) in ms.iter_mut().enumerate() {
            for e in m
                .on_finalized(proposal.clone(), b"cert".to_vec(), 0, &mut r)
                .unwrap()
            {
                match e {
                    Effect::Broadcast(b) => inbox.push((i as u32, ShareMessage::Batch(b).encode())),
                    Effect::Release(rb) => logs[i].push(rb.to_bytes()),
                    Effect::Fault(_) => panic!("no faults"),
                }
            }
        }
        for (from, bytes) in inbox {
            for (i, m) in ms.iter_mut().enumerate().filter(|(i, _)| *i as u32 != from) {
                let ShareMessage::Batch(batch) = m.decode_share_message(&bytes).unwrap() else {
                    panic!("a batch")
                };
                for e in m.on_share_batch(from, batch, 0, &mut r).unwrap() {
                    match e {
                        Effect::Release(rb) => logs[i].push(rb.to_bytes()),
                        Effect::Broadcast(_) | Effect::Fault(_) => panic!("unexpected"),
                    }
                }
            }
        }
        chain.push(proposal);
    }
    assert!(logs.iter().all(|l| l.len() == 2 && *l == logs[0]));
    let released: usize = logs[0]
        .iter()
        .map(|b| ReleasedBatch::from_bytes(b).unwrap())
        .map(|rb| rb.namespaces.iter().map(|n| n.entries.len()).sum::<usize>())
        .sum();
    assert_eq!(released, 6, "every accepted ciphertext released once");
    assert!(ms
        .iter()
        .all(|m| m.mempool.is_empty() && m.finalized_height() == Height(2)));
    // malformed share messages are typed errors
    assert!(ms[0].decode_share_message(b"\x01garbage").is_err());
    assert!(ms[0].decode_share_message(b"\x07").is_err());
    assert!(ms[0].decode_share_message(b"").is_err());
    let req = ShareMessage::Request {
        height: 2,
        batch_id: [4; 32],
    };
    assert_eq!(ms[0].decode_share_message(&req.encode()).unwrap(), req);
    // a member that lost batches asks again; a peer that never made its batch (member 0 is
    // not designated at height 1) recomputes it from the final block, outside its collector,
    // and keeps the result for the next asker
    let id = batch_id(&chain[1].block().digest(), KeyEpoch(0));
    let Answer::Recompute(resharer) = ms[0].on_share_request(1, 1, &id, 0, &mut r) else {
        panic!("a released height is recomputed");
    };
    // only the block released at that height
    assert!(matches!(
        resharer.reshare(&chain[2], &mut r),
        Err(ReshareError::WrongBlock(1))
    ));
    let again = resharer.reshare(&chain[1], &mut r).unwrap();
    assert_eq!((again.member(), again.batch_id()), (0, id));
    ms[0].collector.recomputed(1, again.clone());
    match ms[0].on_share_request(2, 1, &id, 0, &mut r) {
        Answer::Batch(b) => assert_eq!(b, again),
        other => panic!("expected the recomputed batch, got {other:?}"),
    }
    // a random id, a height not released here, or one whose id does not match: nothing
    for (height, id) in [(1, [7; 32]), (3, id), (2, id)] {
        assert!(matches!(
            ms[0].on_share_request(1, height, &id, 0, &mut r),
            Answer::Unanswered(Unanswered::Unknown)
        ));
    }
}

#[test]
fn an_entry_peers_refuse_is_dropped_after_losing_three_of_its_proposers_heights() {
    use super::chain::ChainBlock;
    let mut r = rng(21);
    let c = committee(4, 3, &mut r);
    let mut ms = core_members(&c);
    // member 0 holds `bad`, which every peer counts as already ordered (their state
    // disagrees with member 0's), and `good`, which member 1 also holds
    let bad = ct(&c.key, 1, b"refused", &mut r);
    let good = ct(&c.key, 0, b"fine", &mut r);
    let (bad_id, good_id) = (bad.id(), good.id());
    assert_eq!(
        accepted(
            &ms[0]
                .mempool
                .admit(0, CLIENT, vec![bad, good.clone()], &mut r)
        ),
        2
    );
    assert_eq!(
        accepted(&ms[1].mempool.admit(0, Source::Peer(0), vec![good], &mut r)),
        1
    );
    for m in &mut ms[1..] {
        m.mempool.restore_ordered([(bad_id, KeyEpoch(0))]);
    }
    let mut chain = vec![ChainBlock::genesis()];
    for h in 1..=NOT_ORDERED_STRIKES as u64 {
        let ancestors: Vec<ChainBlock> = chain.iter().rev().cloned().collect();
        // member 0 leads first: its proposal carries `bad` and peers refuse it
        let mine = ms[0].propose(&ancestors).unwrap();
        assert!(mine.block().ids().any(|id| *id == bad_id));
        ms[0].proposed(&mine);
        ms[0].proposed(&mine); // the same proposal again counts once
        for m in &mut ms[1..] {
            assert!(matches!(
                m.verify(&mine, &ancestors, 0, &mut r),
                Err(Refusal::Invalid(BlockError::AlreadyOrdered(id))) if id == bad_id
            ));
        }
        // the next view's leader, member 1, proposes at the same height and is finalized
        let theirs = ms[1].propose(&ancestors).unwrap();
        ms[1].proposed(&theirs);
        assert_eq!(theirs.block().height, Height(h));
        for m in &mut ms {
            m.verify(&theirs, &ancestors, 0, &mut r).unwrap();
            m.on_finalized(theirs.clone(), b"cert".to_vec(), 0, &mut r)
                .unwrap();
        }
        // `good` was ordered by the winner: gone, never struck
        assert!(ms[0].mempool.get(&good_id).is_none());
        let dropped = ms[0].take_dropped();
        if h < NOT_ORDERED_STRIKES as u64 {
            assert!(dropped.is_empty(), "height {h}: {dropped:?}");
            assert!(ms[0].mempool.get(&bad_id).is_some());
        } else {
            assert_eq!(
                dropped,
                vec![(bad_id, Reject::NotOrdered(NOT_ORDERED_STRIKES))]
            );
        }
        // the winner's own proposer strikes nothing
        assert!(ms[1].take_dropped().is_empty());
        chain.push(theirs);
    }
    assert!(ms[0].mempool.is_empty());
    let ancestors: Vec<ChainBlock> = chain.iter().rev().cloned().collect();
    let next = ms[0].propose(&ancestors).unwrap();
    assert!(next.block().is_empty());
    for m in &mut ms[1..] {
        m.verify(&next, &ancestors, 0, &mut r).unwrap();
    }
}
