//! Key epochs in the cores (SPEC.md §9.8): which labels the mempool and blocks accept around a
//! switch, and which committee's shares decrypt which height, with keys of two consecutive
//! epochs made by the real ceremony code (a DKG, then a reshare that removes one member and
//! adds another).

use super::attest::{Attestor, CommitteeIdentity};
use super::chain::{verify_chain_block, ChainBlock};
use super::epochs::EpochTable;
use super::mempool::{Mempool, MempoolConfig, Reject, Source};
use super::reveal::{batch_id, Collector, CollectorConfig, Effect, FinalizedBlock};
use super::testkit::{committee, encrypted, identity_of, rng};
use crate::dkg::{local, Pk, Sk, Timeouts};
use crate::ledger::block::{Block, BlockError, BlockLimits};
use crate::ledger::envelope::Verified;
use crate::ledger::{Height, KeyEpoch, Namespace};
use commonware_cryptography::{ed25519, Signer as _};
use curtain_crypto::{CommitteeKey, Decryption, KeyShare};
use rand_chacha::ChaCha20Rng;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// A verified ciphertext labelled with key epoch `epoch`, in namespace 1.
fn labelled(key: &CommitteeKey, epoch: u64, msg: &[u8], r: &mut ChaCha20Rng) -> Verified {
    let ct = encrypted(key, epoch, 1, msg, r);
    Verified::new(curtain_crypto::verify(key, ct).unwrap(), None)
}

/// Labels of epoch E+1 are admitted from its activation H on, labels of E until H + drain;
/// pending E entries are dropped with `EpochEnded` when the drain ends; proposals leave out,
/// and verification refuses, labels outside the block height's window.
#[test]
fn labels_are_admitted_and_ordered_within_their_windows() {
    let mut r = rng(1);
    let key = committee(4, 3, &mut r).key; // a resharing keeps the key: both epochs encrypt to it
    let table =
        EpochTable::new(vec![(KeyEpoch(0), Height(0)), (KeyEpoch(1), Height(3))], 2).unwrap();
    let keys = BTreeMap::from([(KeyEpoch(0), key.clone()), (KeyEpoch(1), key.clone())]);
    let mut pool = Mempool::with_epochs(MempoolConfig::default(), table, keys);
    let src = Source::Internal;
    let e0: Vec<Verified> = (0..3)
        .map(|i| labelled(&key, 0, format!("old {i}").as_bytes(), &mut r))
        .collect();
    let e1: Vec<Verified> = (0..2)
        .map(|i| labelled(&key, 1, format!("new {i}").as_bytes(), &mut r))
        .collect();
    let enc = |v: &Verified| v.envelope();
    // next height 1: only epoch 0
    let out = pool.admit(0, src, vec![enc(&e0[0]), enc(&e1[0])], &mut r);
    assert!(out[0].result.is_ok());
    assert_eq!(
        out[1].result.as_ref().unwrap_err(),
        &Reject::UnknownEpoch(KeyEpoch(1))
    );
    assert_eq!(pool.current_key().unwrap().0, KeyEpoch(0));
    // heights 1 and 2 final: the next is 3 = H, both epochs
    assert!(pool.on_finalized(Height(2), &[]).is_empty());
    assert_eq!(pool.current_key().unwrap().0, KeyEpoch(1));
    let out = pool.admit(0, src, vec![enc(&e0[1]), enc(&e1[0])], &mut r);
    assert!(out.iter().all(|a| a.result.is_ok()));
    assert_eq!(pool.len(), 3);
    // a proposal at height 5 = H + drain leaves the old labels out; at 4 it takes them
    let limits = BlockLimits::default();
    let at = |h: u64| Block::new(crate::ledger::Digest([0; 32]), Height(h - 1), Vec::new());
    let b5 = pool.build(&at(5), &limits, &HashSet::new());
    assert_eq!(b5.ids().collect::<Vec<_>>(), vec![&e1[0].id()]);
    let b4 = pool.build(&at(4), &limits, &HashSet::new());
    assert_eq!(b4.len(), 3);
    // a block at height 2 carrying an epoch-1 label is refused, whoever proposed it
    let parent = at(2);
    let bad = Block::new(
        parent.digest(),
        Height(2),
        vec![crate::ledger::block::NamespaceBatch {
            namespace: Namespace(1),
            ids: vec![e1[1].id()],
        }],
    );
    let cb = ChainBlock::new(bad, vec![enc(&e1[1])]).unwrap();
    let checker = Mempool::with_epochs(
        MempoolConfig::default(),
        EpochTable::new(vec![(KeyEpoch(0), Height(0)), (KeyEpoch(1), Height(3))], 2).unwrap(),
        BTreeMap::from([(KeyEpoch(0), key.clone()), (KeyEpoch(1), key.clone())]),
    );
    let no = HashSet::new();
    assert_eq!(
        verify_chain_block(
            &cb,
            &parent,
            &limits,
            &no,
            &checker,
            &HashSet::new(),
            &mut r
        )
        .unwrap_err(),
        BlockError::LabelEpoch {
            epoch: KeyEpoch(1),
            height: Height(2)
        }
    );
    // height 4 final: the next is 5 = H + drain, epoch 0 ends; its pending entries go
    let dropped = pool.on_finalized(Height(4), &[]);
    let mut ids: Vec<_> = dropped.iter().map(|(id, _)| *id).collect();
    ids.sort();
    let mut want = vec![e0[0].id(), e0[1].id()];
    want.sort();
    assert_eq!(ids, want);
    assert!(dropped
        .iter()
        .all(|(_, why)| *why == Reject::EpochEnded(KeyEpoch(0))));
    let out = pool.admit(0, src, vec![enc(&e0[2]), enc(&e1[1])], &mut r);
    assert_eq!(
        out[0].result.as_ref().unwrap_err(),
        &Reject::EpochEnded(KeyEpoch(0))
    );
    assert!(out[1].result.is_ok());
}

fn identities(n: usize, seed: u64) -> Vec<Sk> {
    let mut r = rng(seed);
    (0..n)
        .map(|_| <Sk as commonware_math::algebra::Random>::random(&mut r))
        .collect()
}

const FAST: Timeouts = Timeouts {
    deal_ms: 1_000,
    logs_ms: 1_000,
    agree_ms: 1_000,
    publish_ms: 1_000,
};

struct Peer {
    collector: Collector,
    released: Vec<crate::ledger::release::ReleasedBatch>,
    /// (height, batch id) of every batch this peer sent.
    sent: Vec<(u64, [u8; 32])>,
}

/// Heights below the switch are decrypted by the old committee with its shares, heights from
/// the switch on by the new one whatever their labels' epoch; a member that left still
/// releases the heights it finalizes, a member that joined releases the old heights with the
/// old members' batches; the old shares are dropped once the drain is released.
#[test]
fn each_height_is_decrypted_by_the_committee_active_there() {
    // epoch 0: members a b c d; epoch 1 (reshare): a b c e (d leaves, e joins)
    let ids = identities(5, 7);
    let mut old: Vec<Sk> = ids[..4].to_vec();
    old.sort_by_key(|k| k.public_key());
    let leaver = old[3].clone();
    let mut new: Vec<Sk> = old[..3].to_vec();
    new.push(ids[4].clone());
    new.sort_by_key(|k| k.public_key());
    let k0 = local::dkg(&old, FAST).unwrap();
    let k1 = local::reshare(&k0, &old, &new, FAST).unwrap();
    assert_eq!(k1.outcome.key.id(), k0.outcome.key.id());
    assert_eq!(k1.outcome.key_epoch, 1);
    // peers: the union, sorted; each epoch's roster maps member index -> peer
    let mut union: Vec<Pk> = ids.iter().map(|k| k.public_key()).collect();
    union.sort();
    let peer = |pk: &Pk| union.iter().position(|p| p == pk).unwrap() as u32;
    let roster = BTreeMap::from([
        (
            KeyEpoch(0),
            old.iter().map(|k| peer(&k.public_key())).collect(),
        ),
        (
            KeyEpoch(1),
            new.iter()
                .map(|k| peer(&k.public_key()))
                .collect::<Vec<_>>(),
        ),
    ]);
    let (h_switch, drain) = (3, 1);
    let table = EpochTable::new(
        vec![(KeyEpoch(0), Height(0)), (KeyEpoch(1), Height(h_switch))],
        drain,
    )
    .unwrap();
    let keys = BTreeMap::from([
        (KeyEpoch(0), Arc::new(k0.outcome.key.clone())),
        (KeyEpoch(1), Arc::new(k1.outcome.key.clone())),
    ]);
    let identity = |ks: &[ed25519::PrivateKey], epoch: u8| CommitteeIdentity {
        id: [epoch; 32],
        members: ks.iter().map(identity_of).collect(),
    };
    let signatures = BTreeMap::from([
        (KeyEpoch(0), identity(&old, 0)),
        (KeyEpoch(1), identity(&new, 1)),
    ]);
    let mut peers: Vec<Peer> = union
        .iter()
        .map(|pk| {
            let sk = old
                .iter()
                .chain(&new)
                .find(|k| k.public_key() == *pk)
                .unwrap();
            let mut shares: BTreeMap<KeyEpoch, KeyShare> = BTreeMap::new();
            if let Some(s) = k0.shares.get(pk) {
                shares.insert(KeyEpoch(0), s.key_share());
            }
            if let Some(s) = k1.shares.get(pk) {
                shares.insert(KeyEpoch(1), s.key_share());
            }
            Peer {
                collector: Collector::new(
                    CollectorConfig::default(),
                    keys.clone(),
                    shares,
                    Height(1),
                    Attestor::new(sk.clone(), signatures.clone()),
                )
                .with_epochs(table.clone(), roster.clone()),
                released: Vec::new(),
                sent: Vec::new(),
            }
        })
        .collect();
    // blocks 1..=5: old labels before the switch, both around it, new ones after
    let mut r = rng(3);
    let key = &k0.outcome.key;
    let mut parent = Block::genesis();
    let mut blocks = Vec::new();
    for h in 1..=5u64 {
        let epochs: &[u64] = match h {
            1 | 2 => &[0, 0],
            3 => &[0, 1],
            _ => &[1, 1],
        };
        let cts: Vec<Arc<Verified>> = epochs
            .iter()
            .enumerate()
            .map(|(i, e)| Arc::new(labelled(key, *e, format!("h{h} {i}").as_bytes(), &mut r)))
            .collect();
        let b = Block::new(
            parent.digest(),
            Height(h),
            vec![crate::ledger::block::NamespaceBatch {
                namespace: Namespace(1),
                ids: cts.iter().map(|c| c.id()).collect(),
            }],
        );
        blocks.push(FinalizedBlock::new(b.clone(), Vec::new(), cts));
        parent = b;
    }
    // a peer cannot pass off another member's batch as its own
    let s = k0.shares.values().next().unwrap().key_share();
    let digest = blocks[0].block().digest();
    let forged = Attestor::new(old[s.index() as usize].clone(), signatures.clone())
        .sign_batch(
            KeyEpoch(0),
            Height(1),
            digest,
            s.decryption_shares(batch_id(&digest, KeyEpoch(0)), &[]),
        )
        .unwrap();
    let wrong_peer = (0..5)
        .find(|p| roster[&KeyEpoch(0)][s.index() as usize] != *p)
        .unwrap();
    assert!(peers[0]
        .collector
        .on_shares(wrong_peer, forged, 0, &mut r)
        .is_err());
    for (i, fin) in blocks.iter().enumerate() {
        let now = (i as u64 + 1) * 10_000;
        let mut inbox: Vec<(u32, super::reveal::Effect)> = Vec::new();
        for (p, peer) in peers.iter_mut().enumerate() {
            let fx = peer
                .collector
                .on_finalized(fin.clone(), now, &mut r)
                .unwrap();
            inbox.extend(fx.into_iter().map(|e| (p as u32, e)));
        }
        // the fallback tick makes the undesignated members share too (not needed here, but a
        // lost designated member must not stall a switch height)
        for (p, peer) in peers.iter_mut().enumerate() {
            let fx = peer.collector.on_tick(now + 60_000, &mut r);
            inbox.extend(fx.into_iter().map(|e| (p as u32, e)));
        }
        while let Some((from, e)) = inbox.pop() {
            match e {
                Effect::Broadcast(b) => {
                    peers[from as usize].sent.push((fin.height(), b.batch_id()));
                    for (p, peer) in peers.iter_mut().enumerate() {
                        if p as u32 != from {
                            let fx = peer
                                .collector
                                .on_shares(from, b.clone(), now, &mut r)
                                .unwrap();
                            inbox.extend(fx.into_iter().map(|e| (p as u32, e)));
                        }
                    }
                }
                Effect::Release(b) => peers[from as usize].released.push(b),
                Effect::Fault(f) => panic!("an honest member was named: {:?}", f.accused()),
            }
        }
    }
    let first = peers[0]
        .released
        .iter()
        .map(|b| b.content_bytes())
        .collect::<Vec<_>>();
    for (p, peer) in peers.iter().enumerate() {
        let mine: Vec<_> = peer.released.iter().map(|b| b.content_bytes()).collect();
        assert_eq!(mine, first, "peer {p} released the same");
        assert_eq!(peer.released.len(), 5);
        for b in &peer.released {
            for e in b.entries() {
                let Decryption::Plaintext(p) = &e.outcome else {
                    panic!("undecryptable")
                };
                assert!(p.starts_with(format!("h{} ", b.height).as_bytes()));
            }
            // a third party checks the openings under the label's epoch key
            b.verify(|e| keys.get(&e).cloned(), |_, _, _| true, &mut r)
                .unwrap();
        }
        // batches named the committee active at their height
        for (h, id) in &peer.sent {
            let epoch = table.epoch_at(Height(*h));
            assert_eq!(
                *id,
                batch_id(&blocks[*h as usize - 1].block().digest(), epoch)
            );
        }
    }
    let p_leaver = peer(&leaver.public_key()) as usize;
    let p_joiner = peer(&ids[4].public_key()) as usize;
    assert!(peers[p_leaver].sent.iter().all(|(h, _)| *h < h_switch));
    assert!(peers[p_joiner].sent.iter().all(|(h, _)| *h >= h_switch));
    assert!(!peers[p_joiner].sent.is_empty() && !peers[p_leaver].sent.is_empty());
    // everything below H + drain is released: old shares are gone
    for (p, peer) in peers.iter().enumerate() {
        let held: Vec<KeyEpoch> = peer.collector.share_epochs().collect();
        let want: Vec<KeyEpoch> = if p == p_leaver {
            vec![]
        } else {
            vec![KeyEpoch(1)]
        };
        assert_eq!(held, want, "peer {p}");
    }
}

/// node.toml's committees must chain: same keys, consecutive epochs, the first at genesis,
/// later ones with increasing activation heights; each refusal is a typed error.
#[test]
fn committee_files_must_chain_into_one_epoch_table() {
    use super::epochs::EpochError;
    use crate::node::settings::{epoch_table, Committee, EpochChainError};
    let members = identities(4, 11);
    let k0 = local::dkg(&members, FAST).unwrap();
    let k1 = local::reshare(&k0, &members, &members, FAST).unwrap();
    let other = local::dkg(&identities(4, 12), FAST).unwrap();
    let file = |k: &local::EpochKeys, epoch: u64, activation: Option<u64>| Committee {
        participants: Vec::new(),
        identities: k.outcome.players.iter().cloned().collect(),
        consensus_public: k.outcome.consensus.public().clone(),
        encryption_key: k.outcome.key.clone(),
        key_epoch: KeyEpoch(epoch),
        activation_height: activation.map(Height),
        namespaces: None,
        rln: None,
        dkg: None,
    };
    let (c0, c1) = (file(&k0, 0, None), file(&k1, 1, Some(40)));
    let t = epoch_table(&[&c0, &c1], 7).unwrap();
    assert_eq!(
        (t.epochs(), t.drain()),
        (
            &[(KeyEpoch(0), Height(0)), (KeyEpoch(1), Height(40))][..],
            7
        )
    );
    assert!(matches!(
        epoch_table(&[&c0, &file(&k1, 1, None)], 7),
        Err(EpochChainError::Mismatch {
            epoch: KeyEpoch(1),
            ..
        })
    ));
    assert!(matches!(
        epoch_table(&[&c0, &file(&other, 1, Some(40))], 7),
        Err(EpochChainError::Mismatch {
            epoch: KeyEpoch(1),
            ..
        })
    ));
    assert!(matches!(
        epoch_table(&[&c0, &file(&k1, 2, Some(40))], 7),
        Err(EpochChainError::Table(EpochError::NotConsecutive { .. }))
    ));
    assert!(matches!(
        epoch_table(&[&file(&k0, 0, Some(5)), &c1], 7),
        Err(EpochChainError::Table(EpochError::FirstNotAtGenesis { .. }))
    ));
    assert!(matches!(
        epoch_table(&[&c0, &file(&k1, 1, Some(0))], 7),
        Err(EpochChainError::Table(EpochError::NotIncreasing { .. }))
    ));
    assert!(matches!(
        epoch_table(&[], 7),
        Err(EpochChainError::Table(EpochError::Empty))
    ));
}
