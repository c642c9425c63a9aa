//! Inclusion lists: the list core (encoding, who names what since when, the sender's cadence)
//! and the vote rule and proposer priority in the member core (SPEC.md §5.7).

use super::chain::ChainBlock;
use super::epochs::EpochTable;
use super::inclusion::{decode_list, encode_list, list_quorum, Inclusion, InclusionConfig};
use super::member::{Member, Refusal};
use super::mempool::{Mempool, MempoolConfig, Source};
use super::reveal::CollectorConfig;
use super::testkit::{accepted, committee, ct, rng, Committee, CLIENT};
use crate::ledger::block::{Block, BlockLimits, NamespaceBatch};
use crate::ledger::{CtId, Height, KeyEpoch, Namespace};
use std::collections::BTreeMap;

const CFG: InclusionConfig = InclusionConfig {
    tick_ms: 250,
    list_after_ms: 1_000,
    enforce_after_ms: 1_500,
    max_list: 4,
    resend_every_ms: 2_000,
    regossip_every_ms: 2_000,
    list_ttl_ms: 6_000,
};

fn id(i: u8) -> CtId {
    [i; 32]
}

#[test]
fn lists_encode_canonically_and_decode_bounded() {
    let ids = vec![id(1), id(2), id(3)];
    let bytes = encode_list(&ids);
    assert_eq!(bytes.len(), 5 + 3 * 32);
    assert_eq!(decode_list(&bytes, 3).unwrap(), ids);
    assert!(decode_list(&bytes, 2).is_err(), "longer than the bound");
    assert!(
        decode_list(&bytes[..bytes.len() - 1], 3).is_err(),
        "truncated"
    );
    assert!(
        decode_list(&[bytes.as_slice(), &[0]].concat(), 3).is_err(),
        "trailing"
    );
    let mut v2 = bytes.clone();
    v2[0] = 2;
    assert!(decode_list(&v2, 3).is_err(), "unknown version");
    assert!(
        decode_list(&encode_list(&[id(1), id(1)]), 3).is_err(),
        "a repeated id"
    );
    assert_eq!(
        decode_list(&encode_list(&[]), 3).unwrap(),
        Vec::<CtId>::new()
    );
    // a count announcing more than the bytes hold allocates nothing big
    let mut lie = vec![1u8];
    lie.extend_from_slice(&u32::MAX.to_be_bytes());
    assert!(decode_list(&lie, usize::MAX).is_err());
}

#[test]
fn an_id_is_named_by_a_quorum_from_the_quorums_last_arrival() {
    let mut inc = Inclusion::new(CFG);
    let roster = [0, 1, 2, 3];
    inc.on_list(100, 0, vec![id(1), id(2)]);
    inc.on_list(200, 1, vec![id(1)]);
    assert_eq!(inc.named_since(&id(1), &roster, 2), Some(200));
    assert_eq!(inc.named_since(&id(2), &roster, 2), None);
    // a refreshed list keeps `since` for an id it still names
    inc.on_list(300, 0, vec![id(1)]);
    assert_eq!(inc.named_since(&id(1), &roster, 2), Some(200));
    // an id dropped and named again starts over
    inc.on_list(400, 1, vec![]);
    assert_eq!(inc.named_since(&id(1), &roster, 2), None);
    inc.on_list(500, 1, vec![id(1)]);
    assert_eq!(inc.named_since(&id(1), &roster, 2), Some(500));
    // only the height's committee counts
    assert_eq!(inc.named_since(&id(1), &[0, 2, 3], 2), None);
    assert_eq!(inc.named(&roster, 2), vec![(id(1), 500)]);
    // one list per author per half tick: a flood costs a lookup
    assert!(!inc.takes_list(500 + CFG.tick_ms / 2 - 1, 1));
    assert!(inc.takes_list(500 + CFG.tick_ms / 2, 1));
    assert!(inc.takes_list(0, 7), "a new author");
    // a list not refreshed within the ttl no longer counts
    inc.expire(300 + CFG.list_ttl_ms + 1);
    assert_eq!(inc.named_since(&id(1), &roster, 1), Some(500));
    assert_eq!(inc.named_since(&id(1), &roster, 2), None);
    assert_eq!(list_quorum(4), 2);
    assert_eq!(list_quorum(7), 3);
    assert_eq!(list_quorum(128), 43);
}

#[test]
fn a_members_list_is_sent_when_it_changes_and_bodies_are_gossiped_again() {
    let mut inc = Inclusion::new(CFG);
    let t = inc.tick(0, vec![]);
    assert_eq!(t.list, Some(vec![]), "the first list is always sent");
    assert_eq!(inc.tick(250, vec![]).list, None, "unchanged");
    let t = inc.tick(500, vec![id(1), id(2)]);
    assert_eq!(t.list, Some(vec![id(1), id(2)]));
    assert_eq!(
        t.regossip,
        vec![id(1), id(2)],
        "first listed: gossiped again"
    );
    let t = inc.tick(750, vec![id(1), id(2), id(3), id(4), id(5)]);
    assert_eq!(
        t.list,
        Some(vec![id(1), id(2), id(3), id(4)]),
        "at most max_list"
    );
    assert_eq!(t.regossip, vec![id(3), id(4)]);
    assert_eq!(inc.own_len(), 4);
    let t = inc.tick(2_500, vec![id(1), id(2), id(3), id(4)]);
    assert_eq!(t.list, None);
    assert_eq!(t.regossip, vec![id(1), id(2)], "every regossip interval");
    let t = inc.tick(2_750, vec![id(1), id(2), id(3), id(4)]);
    assert_eq!(t.list, Some(vec![id(1), id(2), id(3), id(4)]), "resent");
}

/// Four member cores with lists enabled (peers 0..4 at key epoch 0) and `limits`.
fn members(c: &Committee, limits: BlockLimits) -> Vec<Member> {
    c.shares
        .iter()
        .map(|s| {
            let mut m = Member::new(
                Mempool::new(MempoolConfig::default(), KeyEpoch(0), c.key.clone()),
                c.collector(s, CollectorConfig::default()),
                limits,
            )
            .with_inclusion(CFG);
            m.set_epochs(
                EpochTable::single(KeyEpoch(0)),
                BTreeMap::from([(KeyEpoch(0), vec![0, 1, 2, 3])]),
            );
            m
        })
        .collect()
}

/// A proposal at height 1 carrying `ids` (held by `m`) in namespace order.
fn block_with(m: &Member, ids: &[CtId]) -> ChainBlock {
    let mut by_ns: BTreeMap<Namespace, Vec<CtId>> = BTreeMap::new();
    let mut bodies = BTreeMap::new();
    for id in ids {
        let v = m.mempool.get(id).unwrap();
        by_ns.entry(v.label().namespace()).or_default().push(*id);
        bodies.insert(*id, v.envelope());
    }
    let batches: Vec<NamespaceBatch> = by_ns
        .into_iter()
        .map(|(namespace, ids)| NamespaceBatch { namespace, ids })
        .collect();
    let order: Vec<_> = batches
        .iter()
        .flat_map(|b| b.ids.iter().map(|id| bodies[id].clone()))
        .collect();
    let genesis = ChainBlock::genesis();
    ChainBlock::new(
        Block::new(genesis.block().digest(), Height(1), batches),
        order,
    )
    .unwrap()
}

#[test]
fn a_voter_refuses_a_block_leaving_out_what_f_plus_one_lists_named_for_delta_prime() {
    let mut r = rng(40);
    let c = committee(4, 3, &mut r);
    let mut ms = members(&c, BlockLimits::default());
    let x = ct(&c.key, 7, b"censored", &mut r);
    let y = ct(&c.key, 8, b"other", &mut r);
    let (xid, yid) = (x.id(), y.id());
    for m in &mut ms {
        assert_eq!(
            accepted(
                &m.mempool
                    .admit(0, CLIENT, vec![x.clone(), y.clone()], &mut r)
            ),
            2
        );
    }
    let genesis = [ChainBlock::genesis()];
    let omits = block_with(&ms[0], &[yid]);
    let voter = &mut ms[1];
    // one list (f = 1) is not enough, whatever its age
    voter
        .on_inclusion_list(1_000, 0, &encode_list(&[xid]))
        .unwrap();
    assert_eq!(voter.verify(&omits, &genesis, 10_000, &mut r), Ok(()));
    // f + 1 lists, but not for Δ' yet
    voter
        .on_inclusion_list(2_000, 2, &encode_list(&[xid]))
        .unwrap();
    assert_eq!(voter.verify(&omits, &genesis, 3_499, &mut r), Ok(()));
    // for Δ': the omission is refused, a block carrying it is not
    assert_eq!(
        voter.verify(&omits, &genesis, 3_500, &mut r),
        Err(Refusal::Omits(xid))
    );
    let carries = block_with(&ms[0], &[xid, yid]);
    assert_eq!(ms[1].verify(&carries, &genesis, 3_500, &mut r), Ok(()));
    // lists from members outside the height's committee do not count
    let mut outsider = members(&c, BlockLimits::default()).remove(1);
    outsider.mempool.admit(0, CLIENT, vec![x, y], &mut r);
    outsider
        .on_inclusion_list(0, 0, &encode_list(&[xid]))
        .unwrap();
    outsider
        .on_inclusion_list(0, 9, &encode_list(&[xid]))
        .unwrap();
    assert_eq!(outsider.verify(&omits, &genesis, 10_000, &mut r), Ok(()));
}

#[test]
fn a_full_block_and_an_ancestor_may_leave_a_listed_id_out() {
    let mut r = rng(41);
    let c = committee(4, 3, &mut r);
    let one = BlockLimits {
        max_ciphertexts: 1,
        ..BlockLimits::default()
    };
    let mut ms = members(&c, one);
    let x = ct(&c.key, 7, b"listed", &mut r);
    let y = ct(&c.key, 8, b"other", &mut r);
    let (xid, yid) = (x.id(), y.id());
    for m in &mut ms {
        m.mempool
            .admit(0, CLIENT, vec![x.clone(), y.clone()], &mut r);
        for from in [0, 2] {
            m.on_inclusion_list(0, from, &encode_list(&[xid])).unwrap();
        }
    }
    let genesis = [ChainBlock::genesis()];
    // full: one ciphertext is all a block may carry
    let full = block_with(&ms[0], &[yid]);
    assert_eq!(ms[1].verify(&full, &genesis, 5_000, &mut r), Ok(()));
    // an honest leader takes the listed id first, though `y` is as old
    let proposal = ms[3].propose(&genesis).unwrap();
    assert_eq!(
        proposal.block().ids().copied().collect::<Vec<_>>(),
        vec![xid]
    );
    assert_eq!(ms[1].verify(&proposal, &genesis, 5_000, &mut r), Ok(()));
    // on top of a block carrying it, the next may leave it out
    let empty_child = ChainBlock::new(
        Block::new(proposal.block().digest(), Height(2), vec![]),
        vec![],
    )
    .unwrap();
    let ancestors = [proposal.clone(), ChainBlock::genesis()];
    assert_eq!(
        ms[1].verify(&empty_child, &ancestors, 5_000, &mut r),
        Ok(())
    );
    // but not on genesis: the same empty block at height 1 is refused
    let empty = ChainBlock::new(
        Block::new(genesis[0].block().digest(), Height(1), vec![]),
        vec![],
    )
    .unwrap();
    assert_eq!(
        ms[1].verify(&empty, &genesis, 5_000, &mut r),
        Err(Refusal::Omits(xid))
    );
}

#[test]
fn a_listed_id_the_voter_does_not_hold_or_that_is_ordered_is_not_enforced() {
    let mut r = rng(42);
    let c = committee(4, 3, &mut r);
    let mut ms = members(&c, BlockLimits::default());
    let x = ct(&c.key, 7, b"x", &mut r);
    let xid = x.id();
    let unknown = id(9);
    for from in [0, 2, 3] {
        ms[1]
            .on_inclusion_list(0, from, &encode_list(&[xid, unknown]))
            .unwrap();
    }
    let genesis = [ChainBlock::genesis()];
    let empty = ChainBlock::new(
        Block::new(genesis[0].block().digest(), Height(1), vec![]),
        vec![],
    )
    .unwrap();
    // not held here: invalid or unknown ids on lists cannot stall a leader
    assert_eq!(ms[1].verify(&empty, &genesis, 10_000, &mut r), Ok(()));
    ms[1].mempool.admit(0, Source::Peer(0), vec![x], &mut r);
    assert_eq!(
        ms[1].verify(&empty, &genesis, 10_000, &mut r),
        Err(Refusal::Omits(xid))
    );
    // once ordered (final here), it is no longer pending and the rule is moot
    let carries = block_with(&ms[1], &[xid]);
    ms[1].verify(&carries, &genesis, 10_000, &mut r).unwrap();
    ms[1]
        .on_finalized(carries.clone(), b"cert".to_vec(), 10_000, &mut r)
        .unwrap();
    let next = ChainBlock::new(
        Block::new(carries.block().digest(), Height(2), vec![]),
        vec![],
    )
    .unwrap();
    assert_eq!(
        ms[1].verify(&next, &[carries, ChainBlock::genesis()], 10_000, &mut r),
        Ok(())
    );
}

#[test]
fn a_member_lists_what_it_held_for_delta_oldest_first() {
    let mut r = rng(43);
    let c = committee(4, 3, &mut r);
    let mut ms = members(&c, BlockLimits::default());
    let old = ct(&c.key, 1, b"old", &mut r);
    let new = ct(&c.key, 1, b"new", &mut r);
    ms[0].mempool.admit(100, CLIENT, vec![old.clone()], &mut r);
    ms[0].mempool.admit(700, CLIENT, vec![new.clone()], &mut r);
    let t = ms[0].list_tick(1_099);
    assert_eq!(
        decode_list(&t.list.unwrap(), 4).unwrap(),
        Vec::<CtId>::new()
    );
    let t = ms[0].list_tick(1_100);
    assert_eq!(decode_list(&t.list.unwrap(), 4).unwrap(), vec![old.id()]);
    assert_eq!(t.regossip.len(), 1);
    let t = ms[0].list_tick(1_700);
    assert_eq!(
        decode_list(&t.list.unwrap(), 4).unwrap(),
        vec![old.id(), new.id()]
    );
    assert_eq!(t.overdue, 2);
    assert_eq!(t.regossip[0].id(), new.id());
}
