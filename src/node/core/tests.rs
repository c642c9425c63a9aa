//! Unit tests of the node's pure cores.

use super::mempool::*;
use super::reveal::*;
use crate::ledger::block::*;
use crate::ledger::envelope::Envelope;
use crate::ledger::release::*;
use crate::ledger::{CtId, Digest};
use curtain_crypto::{
    deal, encrypt, CommitteeKey, Decryption, EncodedCiphertext, KeyShare, Label, Padding,
    ShareBatch,
};
use rand::{RngExt as _, SeedableRng};
use rand_chacha::ChaCha20Rng;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

struct Committee {
    key: Arc<CommitteeKey>,
    shares: Vec<KeyShare>,
}

fn committee(n: usize, t: usize, r: &mut ChaCha20Rng) -> Committee {
    let (key, shares) = deal(n, t, r).unwrap();
    Committee {
        key: Arc::new(key),
        shares,
    }
}

fn ct(key: &CommitteeKey, ns: u64, msg: &[u8], r: &mut ChaCha20Rng) -> EncodedCiphertext {
    let label = Label::new(key.id(), 0, ns, b"wallet").unwrap();
    encrypt(key.encryption_key(), &label, msg, Padding::None, r)
        .unwrap()
        .encoded()
        .clone()
}

const CLIENT: Source = Source::Client(IpAddr::V4(Ipv4Addr::LOCALHOST));

fn accepted(a: &[Admission]) -> usize {
    a.iter().filter(|a| a.result.is_ok()).count()
}

// ---------------------------------------------------------------- blocks

#[test]
fn block_encoding_round_trips_and_rejects_non_canonical() {
    let limits = BlockLimits::default();
    let b = Block::new(
        Digest([1; 32]),
        7,
        vec![
            NamespaceBatch {
                namespace: 1,
                ids: vec![[1; 32], [2; 32]],
            },
            NamespaceBatch {
                namespace: 9,
                ids: vec![[3; 32]],
            },
        ],
    );
    let bytes = b.to_bytes();
    assert_eq!(Block::from_bytes(&bytes, &limits).unwrap(), b);
    assert_eq!(b.len(), 3);

    let bad = [
        // unsorted namespaces
        Block::new(
            Digest::default(),
            1,
            vec![
                NamespaceBatch {
                    namespace: 9,
                    ids: vec![[1; 32]],
                },
                NamespaceBatch {
                    namespace: 1,
                    ids: vec![[2; 32]],
                },
            ],
        ),
        // duplicate id across namespaces
        Block::new(
            Digest::default(),
            1,
            vec![
                NamespaceBatch {
                    namespace: 1,
                    ids: vec![[1; 32]],
                },
                NamespaceBatch {
                    namespace: 2,
                    ids: vec![[1; 32]],
                },
            ],
        ),
        // empty group
        Block::new(
            Digest::default(),
            1,
            vec![NamespaceBatch {
                namespace: 1,
                ids: vec![],
            }],
        ),
    ];
    for b in bad {
        assert!(b.check_shape(&limits).is_err());
        assert!(Block::from_bytes(&b.to_bytes(), &limits).is_err());
    }
    let tight = BlockLimits {
        max_ciphertexts: 2,
        ..limits
    };
    assert!(matches!(
        Block::from_bytes(&bytes, &tight),
        Err(BlockError::Decode(_))
    ));
    // every truncation and random garbage: a typed error, never a panic
    for cut in 0..bytes.len() {
        assert!(Block::from_bytes(&bytes[..cut], &limits).is_err());
    }
    let mut r = rng(1);
    for _ in 0..2000 {
        let len = r.random_range(0..200);
        let mut g: Vec<u8> = (0..len).map(|_| r.random()).collect();
        if !g.is_empty() {
            g[0] = 1;
        }
        let _ = Block::from_bytes(&g, &limits);
    }
}

#[test]
fn proposals_are_checked_against_parent_and_mempool() {
    let mut r = rng(2);
    let c = committee(4, 3, &mut r);
    let mut pool = Mempool::new(MempoolConfig::default(), 0, c.key.clone());
    let cts: Vec<EncodedCiphertext> = (0..4).map(|i| ct(&c.key, i % 2, b"tx", &mut r)).collect();
    assert_eq!(accepted(&pool.admit(0, CLIENT, cts.clone(), &mut r)), 4);
    let genesis = Block::genesis();
    let limits = BlockLimits::default();
    let b = pool.build(&genesis, &limits, &HashSet::new());
    assert_eq!(b.len(), 4);
    let lookup = |id: &CtId| match pool.get(id) {
        Some(c) => Lookup::Pending(c.clone()),
        None if pool.is_ordered(id) => Lookup::Finalized,
        None => Lookup::Unknown,
    };
    let got = check_proposal(&b, &genesis, &limits, &HashSet::new(), lookup).unwrap();
    assert!(got.iter().map(|c| c.id()).eq(b.ids().copied()));

    let wrong_parent = Block::new(Digest([9; 32]), 1, b.batches.clone());
    assert_eq!(
        check_proposal(&wrong_parent, &genesis, &limits, &HashSet::new(), lookup).unwrap_err(),
        BlockError::WrongParent
    );
    let first = *b.ids().next().unwrap();
    let ancestors = HashSet::from([first]);
    assert!(matches!(
        check_proposal(&b, &genesis, &limits, &ancestors, lookup),
        Err(BlockError::AlreadyOrdered(id)) if id == first
    ));
    let unknown = Block::new(
        genesis.digest(),
        1,
        vec![NamespaceBatch {
            namespace: 0,
            ids: vec![[7; 32]],
        }],
    );
    assert_eq!(
        check_proposal(&unknown, &genesis, &limits, &HashSet::new(), lookup).unwrap_err(),
        BlockError::Missing(vec![[7; 32]])
    );
    // a ciphertext listed under another namespace than its label's
    let moved = Block::new(
        genesis.digest(),
        1,
        vec![NamespaceBatch {
            namespace: 5,
            ids: vec![first],
        }],
    );
    assert!(matches!(
        check_proposal(&moved, &genesis, &limits, &HashSet::new(), lookup),
        Err(BlockError::WrongNamespace(_))
    ));
    let small = BlockLimits {
        max_bytes: 100,
        ..limits
    };
    assert!(matches!(
        check_proposal(&b, &genesis, &small, &HashSet::new(), lookup),
        Err(BlockError::TooLarge(_))
    ));
    // once final, the same ids are refused by checker and mempool alike
    pool.on_finalized(1, &got);
    assert!(pool.is_empty());
    let lookup = |id: &CtId| match pool.get(id) {
        Some(c) => Lookup::Pending(c.clone()),
        None if pool.is_ordered(id) => Lookup::Finalized,
        None => Lookup::Unknown,
    };
    assert!(matches!(
        check_proposal(&b, &genesis, &limits, &HashSet::new(), lookup),
        Err(BlockError::AlreadyOrdered(_))
    ));
    let again = pool.admit(1, CLIENT, vec![cts[0].clone()], &mut r);
    assert_eq!(
        again[0].result.as_ref().unwrap_err(),
        &Reject::AlreadyOrdered
    );
}

// ---------------------------------------------------------------- mempool

#[test]
fn admission_verdicts() {
    let mut r = rng(3);
    let c = committee(4, 3, &mut r);
    let other = committee(4, 3, &mut r);
    let cfg = MempoolConfig {
        namespaces: Some(BTreeSet::from([1, 2])),
        ..MempoolConfig::default()
    };
    let mut pool = Mempool::new(cfg, 0, c.key.clone());
    let good = ct(&c.key, 1, b"a", &mut r);
    let flip = |at: usize| {
        let mut b = good.as_bytes().to_vec();
        b[at] ^= 1;
        EncodedCiphertext::parse(&b).unwrap()
    };
    // a payload bit: the proof's challenge no longer matches
    let tampered = flip(good.encoded_len() - 1);
    // u's x coordinate ≥ p (after the version and the 55-byte label): parses, but the point
    // does not decode
    let bad_point = {
        let mut b = good.as_bytes().to_vec();
        // uncompressed (flag bits clear), then x all ones
        b[1 + 55] = 0x1f;
        b[1 + 55 + 1..1 + 55 + 48].fill(0xff);
        EncodedCiphertext::parse(&b).unwrap()
    };
    let foreign = ct(&other.key, 1, b"b", &mut r);
    let wrong_ns = ct(&c.key, 3, b"c", &mut r);
    let epoch_label = Label::new(c.key.id(), 5, 1, b"w").unwrap();
    let wrong_epoch = encrypt(
        c.key.encryption_key(),
        &epoch_label,
        b"d",
        Padding::None,
        &mut r,
    )
    .unwrap()
    .encoded()
    .clone();
    let out = pool.admit(
        0,
        CLIENT,
        vec![
            good.clone(),
            good.clone(),
            tampered,
            foreign,
            wrong_ns,
            wrong_epoch,
        ],
        &mut r,
    );
    let verdicts: Vec<_> = out
        .iter()
        .map(|a| a.result.as_ref().err().cloned())
        .collect();
    assert_eq!(
        verdicts,
        vec![
            None,
            Some(Reject::Duplicate),
            Some(Reject::Invalid(curtain_crypto::ValidityError::InvalidProof)),
            Some(Reject::WrongKey),
            Some(Reject::UnknownNamespace(3)),
            Some(Reject::UnknownEpoch(5)),
        ]
    );
    assert_eq!(pool.len(), 1);
    assert_eq!(pool.bytes(), good.encoded_len());
    let out = pool.admit(0, CLIENT, vec![bad_point], &mut r);
    assert!(matches!(
        out[0].result.as_ref().unwrap_err(),
        Reject::Malformed(curtain_crypto::DecodeError::Point {
            field: "ciphertext.u",
            ..
        })
    ));
    let dup = pool.admit(0, Source::Peer(2), vec![good], &mut r);
    assert_eq!(dup[0].result.as_ref().unwrap_err(), &Reject::Duplicate);
}

#[test]
fn rate_limits_and_caps_push_back() {
    let mut r = rng(4);
    let c = committee(4, 3, &mut r);
    let cfg = MempoolConfig {
        client_rate_per_s: 2,
        client_burst: 3,
        max_pending: 5,
        max_sources: 2,
        ..MempoolConfig::default()
    };
    let mut pool = Mempool::new(cfg, 0, c.key.clone());
    let cts: Vec<EncodedCiphertext> = (0..12).map(|_| ct(&c.key, 1, b"x", &mut r)).collect();
    let out = pool.admit(0, CLIENT, cts[..4].to_vec(), &mut r);
    assert_eq!(accepted(&out), 3);
    assert_eq!(out[3].result.as_ref().unwrap_err(), &Reject::RateLimited);
    // 500 ms at 2/s refills one token
    let out = pool.admit(499, CLIENT, cts[3..4].to_vec(), &mut r);
    assert_eq!(out[0].result.as_ref().unwrap_err(), &Reject::RateLimited);
    assert_eq!(
        accepted(&pool.admit(500, CLIENT, cts[3..4].to_vec(), &mut r)),
        1
    );
    // another client has its own bucket; the global cap stops it at 5 pending
    let other = Source::Client(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)));
    let out = pool.admit(500, other, cts[4..7].to_vec(), &mut r);
    assert_eq!(accepted(&out), 1);
    assert_eq!(out[1].result.as_ref().unwrap_err(), &Reject::Full);
    // a third source while two are tracked and busy: refused, not tracked
    let third = Source::Client(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3)));
    let out = pool.admit(500, third, cts[7..8].to_vec(), &mut r);
    assert_eq!(out[0].result.as_ref().unwrap_err(), &Reject::RateLimited);
    // bodies fetched for a proposal are exempt from caps
    assert_eq!(
        accepted(&pool.admit(500, Source::Internal, cts[8..10].to_vec(), &mut r)),
        2
    );
    assert_eq!(pool.len(), 7);
    // once the busy buckets refill they are forgotten, and the third source gets in
    let mut small = pool;
    let _ = small.end_epoch(0);
    small.open_epoch(0, c.key.clone());
    assert_eq!(
        accepted(&small.admit(10_000, third, cts[10..11].to_vec(), &mut r)),
        1
    );
}

#[test]
fn building_is_fair_ordered_and_bounded() {
    let mut r = rng(5);
    let c = committee(4, 3, &mut r);
    let mut pool = Mempool::new(MempoolConfig::default(), 0, c.key.clone());
    // namespace 1 floods; namespaces 2 and 3 send a little
    let mut cts = Vec::new();
    for i in 0..20 {
        cts.push(ct(&c.key, 1, &[i], &mut r));
    }
    cts.push(ct(&c.key, 2, b"two", &mut r));
    cts.push(ct(&c.key, 3, b"three", &mut r));
    assert_eq!(
        accepted(&pool.admit(0, Source::Internal, cts.clone(), &mut r)),
        22
    );
    let limits = BlockLimits {
        max_ciphertexts: 6,
        ..BlockLimits::default()
    };
    let g = Block::genesis();
    let b = pool.build(&g, &limits, &HashSet::new());
    assert_eq!(b.len(), 6);
    let nss: Vec<u64> = b.batches.iter().map(|x| x.namespace).collect();
    assert_eq!(nss, vec![1, 2, 3], "small namespaces are not starved");
    // FIFO inside namespace 1
    let ns1: Vec<CtId> = cts[..4].iter().map(|c| c.id()).collect();
    assert_eq!(b.batches[0].ids, ns1);
    // excluded ids (in an unfinalized ancestor) are skipped
    let exclude: HashSet<CtId> = b.ids().copied().collect();
    let b2 = pool.build(&b, &limits, &exclude);
    assert_eq!(b2.height, 2);
    assert!(b2.ids().all(|id| !exclude.contains(id)));
    assert_eq!(b2.len(), 6);
    // byte limit: stops before exceeding
    let one = cts[0].encoded_len();
    let tight = BlockLimits {
        max_bytes: one * 2 + one / 2,
        ..limits
    };
    assert_eq!(pool.build(&g, &tight, &HashSet::new()).len(), 2);
    assert!(pool
        .build(&g, &limits, &HashSet::new())
        .check_shape(&limits)
        .is_ok());
}

// ---------------------------------------------------------------- reveal, collect, release

struct Member {
    collector: Collector,
    log: ReleaseLog,
    released: Vec<Vec<u8>>,
    faults: Vec<u32>,
    /// Batch ids this member sent its batch for, in order.
    shared: Vec<[u8; 32]>,
}

/// The collector's fallback delay in these tests (the default).
const FALLBACK_MS: u64 = 1_000;

/// When the tests finalize height `h` everywhere (far enough apart for a fallback in between).
fn final_at(h: u64) -> u64 {
    h * 10 * FALLBACK_MS
}

/// Key shares are deliberately not `Clone`; tests copy one through its encoding.
fn dup(s: &KeyShare) -> KeyShare {
    KeyShare::from_bytes(&s.to_bytes()).unwrap()
}

fn members(c: &Committee) -> Vec<Member> {
    members_with(c, CollectorConfig::default())
}

fn members_with(c: &Committee, cfg: CollectorConfig) -> Vec<Member> {
    c.shares
        .iter()
        .map(|s| Member {
            collector: Collector::new(
                cfg,
                BTreeMap::from([(0, c.key.clone())]),
                BTreeMap::from([(0, dup(s))]),
                1,
            ),
            log: ReleaseLog::after(&Block::genesis()),
            released: Vec::new(),
            faults: Vec::new(),
            shared: Vec::new(),
        })
        .collect()
}

/// Finalized blocks at heights 1..=k with `per` ciphertexts each (mixed namespaces and one
/// undecryptable ciphertext per block).
fn chain(c: &Committee, k: u64, per: usize, r: &mut ChaCha20Rng) -> Vec<FinalizedBlock> {
    let mut pool = Mempool::new(MempoolConfig::default(), 0, c.key.clone());
    let mut parent = Block::genesis();
    let mut out = Vec::new();
    for h in 1..=k {
        let cts: Vec<EncodedCiphertext> = (0..per)
            .map(|i| ct(&c.key, (i % 3) as u64, format!("h{h} tx{i}").as_bytes(), r))
            .collect();
        assert_eq!(accepted(&pool.admit(0, Source::Internal, cts, r)), per);
        let b = pool.build(&parent, &BlockLimits::default(), &HashSet::new());
        let verified: Vec<_> = b.ids().map(|id| pool.get(id).unwrap().clone()).collect();
        pool.on_finalized(h, &verified);
        out.push(FinalizedBlock::new(
            b.clone(),
            format!("cert{h}").into_bytes(),
            verified,
        ));
        parent = b;
    }
    out
}

/// Delivers every broadcast to every other member, applying `tamper` to what `from` sends;
/// returns when nothing is in flight.
fn deliver(
    ms: &mut [Member],
    now_ms: u64,
    mut inbox: Vec<(u32, ShareBatch)>,
    withhold: Option<u32>,
    tamper: Option<u32>,
    r: &mut ChaCha20Rng,
) {
    while let Some((from, batch)) = inbox.pop() {
        if Some(from) == withhold {
            continue;
        }
        let batch = if Some(from) == tamper {
            corrupt(&batch)
        } else {
            batch
        };
        for (i, m) in ms.iter_mut().enumerate() {
            if i as u32 == from {
                continue;
            }
            let fx = m
                .collector
                .on_shares(from, batch.clone(), now_ms, r)
                .unwrap();
            apply(m, i as u32, fx, &mut inbox);
        }
    }
}

fn apply(m: &mut Member, me: u32, fx: Vec<Effect>, inbox: &mut Vec<(u32, ShareBatch)>) {
    for e in fx {
        match e {
            Effect::Broadcast(b) => {
                m.shared.push(b.batch_id());
                inbox.push((me, b));
            }
            Effect::Release(rb) => {
                m.log.append(&rb).unwrap();
                m.released.push(rb.to_bytes());
            }
            Effect::Fault(f) => m.faults.push(f.member()),
        }
    }
}

/// Swaps a batch's first two shares: well-formed, on the curve, and wrong.
fn corrupt(b: &ShareBatch) -> ShareBatch {
    let mut bytes = b.to_bytes();
    if b.len() >= 2 {
        let (head, tail) = bytes[41..].split_at_mut(96);
        head.swap_with_slice(&mut tail[..96]);
    }
    ShareBatch::from_bytes(&bytes).unwrap()
}

/// Every member finalizes each block at `final_at(h)`; shares are delivered; then the clock
/// reaches the fallback and whatever it produces is delivered too.
fn finalize_all(
    ms: &mut [Member],
    fins: &[FinalizedBlock],
    withhold: Option<u32>,
    tamper: Option<u32>,
    r: &mut ChaCha20Rng,
) {
    for fin in fins {
        let inbox = finalize_everywhere(ms, fin, final_at(fin.height()), r);
        deliver(ms, final_at(fin.height()), inbox, withhold, tamper, r);
        tick_all(
            ms,
            final_at(fin.height()) + FALLBACK_MS,
            withhold,
            tamper,
            r,
        );
    }
}

/// Every member finalizes `fin` at `now_ms`; returns what they broadcast (undelivered).
fn finalize_everywhere(
    ms: &mut [Member],
    fin: &FinalizedBlock,
    now_ms: u64,
    r: &mut ChaCha20Rng,
) -> Vec<(u32, ShareBatch)> {
    let mut inbox = Vec::new();
    for (i, m) in ms.iter_mut().enumerate() {
        let fx = m.collector.on_finalized(fin.clone(), now_ms, r).unwrap();
        apply(m, i as u32, fx, &mut inbox);
    }
    inbox
}

/// Every member's clock reaches `now_ms`; returns what they broadcast (undelivered).
fn tick_everywhere(ms: &mut [Member], now_ms: u64, r: &mut ChaCha20Rng) -> Vec<(u32, ShareBatch)> {
    let mut inbox = Vec::new();
    for (i, m) in ms.iter_mut().enumerate() {
        let fx = m.collector.on_tick(now_ms, r);
        apply(m, i as u32, fx, &mut inbox);
    }
    inbox
}

fn tick_all(
    ms: &mut [Member],
    now_ms: u64,
    withhold: Option<u32>,
    tamper: Option<u32>,
    r: &mut ChaCha20Rng,
) {
    let inbox = tick_everywhere(ms, now_ms, r);
    deliver(ms, now_ms, inbox, withhold, tamper, r);
}

#[test]
fn honest_members_release_identical_verifiable_logs() {
    let mut r = rng(7);
    let c = committee(4, 3, &mut r);
    let fins = chain(&c, 3, 7, &mut r);
    let mut ms = members(&c);
    finalize_all(&mut ms, &fins, None, None, &mut r);
    for (i, m) in ms.iter().enumerate() {
        assert_eq!(m.released.len(), 3);
        assert_eq!(m.released, ms[0].released);
        assert!(m.faults.is_empty());
        // only the t designated members share for each height, and no fallback fires
        let expected: Vec<[u8; 32]> = fins
            .iter()
            .filter(|f| designated(f.height(), i as u32, 4, 3))
            .map(|f| batch_id(&f.block().digest(), 0))
            .collect();
        assert_eq!(m.shared, expected, "member {i}");
        // it can answer a peer's retry with exactly the batches it made
        for f in &fins {
            let id = batch_id(&f.block().digest(), 0);
            assert_eq!(m.collector.my_batch(&id).is_some(), expected.contains(&id));
        }
    }
    for (h, bytes) in ms[0].released.iter().enumerate() {
        let rb = ReleasedBatch::from_bytes(bytes).unwrap();
        assert_eq!(rb.height, h as u64 + 1);
        assert_eq!(rb.to_bytes(), *bytes);
        let key = c.key.clone();
        rb.verify(
            |e| (e == 0).then(|| key.clone()),
            |_, _, cert| cert == format!("cert{}", h + 1).as_bytes(),
            &mut r,
        )
        .unwrap();
        // plaintexts in committed order, per namespace
        let block = fins[h].block();
        assert_eq!(rb.rebuild_block(), *block);
        for (ns, nb) in rb.namespaces.iter().zip(&block.batches) {
            assert_eq!(ns.namespace, nb.namespace);
            for e in &ns.entries {
                let Decryption::Plaintext(p) = &e.outcome else {
                    panic!("undecryptable")
                };
                assert!(p.starts_with(format!("h{} tx", h + 1).as_bytes()));
            }
        }
    }
}

#[test]
fn wrong_shares_are_named_and_withheld_shares_do_not_stall() {
    let mut r = rng(8);
    let c = committee(4, 3, &mut r);
    let fins = chain(&c, 2, 5, &mut r);
    let mut ms = members(&c);
    // member 3 lies: every honest member names it and still releases
    finalize_all(&mut ms, &fins, None, Some(3), &mut r);
    for m in &ms[..3] {
        assert_eq!(m.released.len(), 2);
        assert_eq!(m.released, ms[0].released);
        assert_eq!(m.faults, vec![3], "named once, then ignored");
    }
    // member 1 withholds: the other three suffice (t = 3)
    let mut ms = members(&c);
    finalize_all(&mut ms, &fins, Some(1), None, &mut r);
    for (i, m) in ms.iter().enumerate() {
        if i != 1 {
            assert_eq!(m.released.len(), 2);
        }
    }
    // two withhold: members 0 and 1 hold 2 < t batches and release nothing (2 and 3 have
    // their own share on top of the two they receive, so they can)
    let mut ms = members(&c);
    for fin in &fins {
        let mut inbox = finalize_everywhere(&mut ms, fin, final_at(fin.height()), &mut r);
        // after the fallback every member has made its batch
        inbox.extend(tick_everywhere(
            &mut ms,
            final_at(fin.height()) + FALLBACK_MS,
            &mut r,
        ));
        inbox.retain(|(from, _)| *from < 2);
        deliver(
            &mut ms,
            final_at(fin.height()) + FALLBACK_MS,
            inbox,
            None,
            None,
            &mut r,
        );
    }
    assert!(ms[..2].iter().all(|m| m.released.is_empty()));
    assert!(ms[2..].iter().all(|m| m.released.len() == 2));
    assert_eq!(ms[0].collector.waiting().collect::<Vec<_>>(), vec![1, 2]);
}

#[test]
fn a_silent_designated_member_costs_one_fallback_then_everyone_shares_for_a_while() {
    let mut r = rng(11);
    let c = committee(4, 3, &mut r);
    let fins = chain(&c, 3, 2, &mut r);
    let cfg = CollectorConfig {
        eager_heights: 1,
        ..CollectorConfig::default()
    };
    let mut ms = members_with(&c, cfg);
    let silent = Some(1);
    let finalize = |ms: &mut [Member], fin: &FinalizedBlock, r: &mut ChaCha20Rng| {
        let inbox = finalize_everywhere(ms, fin, final_at(fin.height()), r);
        deliver(ms, final_at(fin.height()), inbox, silent, None, r);
    };
    let released = |ms: &[Member]| [0, 2, 3].map(|i| ms[i].released.len());
    // height 1: designated {1, 2, 3}; member 1 is silent, so nobody has t batches
    assert!(designated(1, 1, 4, 3) && !designated(1, 0, 4, 3));
    finalize(&mut ms, &fins[0], &mut r);
    assert_eq!(released(&ms), [0, 0, 0]);
    tick_all(&mut ms, final_at(1) + FALLBACK_MS - 1, silent, None, &mut r);
    assert_eq!(released(&ms), [0, 0, 0]);
    assert!(ms[0].shared.is_empty());
    // at the fallback member 0 shares and everyone releases
    tick_all(&mut ms, final_at(1) + FALLBACK_MS, silent, None, &mut r);
    assert_eq!(ms[0].shared.len(), 1);
    assert_eq!(released(&ms), [1, 1, 1]);
    // height 2 is within the eager window of those that stalled: they share at once, no
    // waiting (member 1 had its own batch and two others at height 1, so it never stalled)
    finalize(&mut ms, &fins[1], &mut r);
    assert_eq!(released(&ms), [2, 2, 2]);
    assert_eq!(
        ms.iter().map(|m| m.shared.len()).collect::<Vec<_>>(),
        [2, 1, 2, 2]
    );
    // height 3 is past it: designated {3, 0, 1} again, member 1 silent, one more fallback
    assert!(designated(3, 1, 4, 3) && !designated(3, 2, 4, 3));
    finalize(&mut ms, &fins[2], &mut r);
    assert_eq!(released(&ms), [2, 2, 2]);
    assert_eq!(ms[2].shared.len(), 2);
    tick_all(&mut ms, final_at(3) + FALLBACK_MS, silent, None, &mut r);
    assert_eq!(released(&ms), [3, 3, 3]);
    assert_eq!(ms[2].shared.len(), 3);
    assert_eq!(ms[0].released, ms[3].released);
}

#[test]
fn a_request_for_a_batch_never_made_makes_it_from_the_pending_height() {
    let mut r = rng(12);
    let c = committee(4, 3, &mut r);
    let fins = chain(&c, 1, 2, &mut r);
    let mut ms = members(&c);
    let silent = Some(1);
    // height 1: designated {1, 2, 3}, member 1 silent: nobody reaches t
    let inbox = finalize_everywhere(&mut ms, &fins[0], final_at(1), &mut r);
    deliver(&mut ms, final_at(1), inbox, silent, None, &mut r);
    assert!(ms[0].shared.is_empty() && ms[0].released.is_empty());
    let id = batch_id(&fins[0].block().digest(), 0);
    // a stalled peer asks member 0, which never made its batch: made from the pending group,
    // broadcast, and with it member 0 itself reaches t and releases
    let Answer::Made(fx) = ms[0].collector.on_request(1, 1, &id, final_at(1), &mut r) else {
        panic!("member 0 should make its batch");
    };
    let mut inbox = Vec::new();
    apply(&mut ms[0], 0, fx, &mut inbox);
    assert_eq!(ms[0].shared, vec![id]);
    assert_eq!(ms[0].released.len(), 1);
    deliver(&mut ms, final_at(1), inbox, silent, None, &mut r);
    assert!([0, 2, 3].iter().all(|&i| ms[i].released.len() == 1));
    assert_eq!(ms[0].released, ms[2].released);
    // asked again: the same batch, from memory, not made twice
    match ms[0].collector.on_request(2, 1, &id, final_at(1), &mut r) {
        Answer::Batch(b) => assert_eq!(b.batch_id(), id),
        other => panic!("expected the remembered batch, got {other:?}"),
    }
    assert_eq!(ms[0].shared.len(), 1);
    // a batch id neither pending nor released here costs a lookup and gets nothing
    assert!(matches!(
        ms[0]
            .collector
            .on_request(1, 1, &[9; 32], final_at(1), &mut r),
        Answer::Unanswered(Unanswered::Unknown)
    ));
}

#[test]
fn a_slow_designated_member_is_waited_for_and_a_skipping_one_is_not() {
    let mut r = rng(12);
    let c = committee(4, 3, &mut r);
    let fins = chain(&c, 2, 2, &mut r);
    // member 3 is designated at heights 1 and 2; member 1 only at 1
    assert!(designated(1, 3, 4, 3) && designated(2, 3, 4, 3) && !designated(2, 1, 4, 3));
    let t0 = final_at(1);
    // everyone finalizes both heights at t0; member 3's batches are held back
    let start = |r: &mut ChaCha20Rng| {
        let mut ms = members(&c);
        let mut held = Vec::new();
        for fin in &fins {
            let mut inbox = finalize_everywhere(&mut ms, fin, t0, r);
            held.extend(inbox.iter().filter(|(from, _)| *from == 3).cloned());
            inbox.retain(|(from, _)| *from != 3);
            deliver(&mut ms, t0, inbox, None, None, r);
        }
        // member 3 has its own batches; the others lack one for each height
        assert!(ms[..3].iter().all(|m| m.released.is_empty()));
        (ms, held)
    };
    let released = |ms: &[Member]| [0, 1, 2].map(|i| ms[i].released.len());

    // slow: its batch for height 1 arrives after 900 ms; nobody falls back for height 2
    // while it was heard less than `fallback_ms` ago, and everybody does once it was not
    let (mut ms, mut held) = start(&mut r);
    held.pop(); // its batch for height 2 never arrives
    deliver(&mut ms, t0 + 900, held, None, None, &mut r);
    assert_eq!(released(&ms), [1, 1, 1]);
    tick_all(&mut ms, t0 + FALLBACK_MS, None, None, &mut r);
    assert_eq!(released(&ms), [1, 1, 1]);
    assert_eq!(ms[1].shared.len(), 1, "no fallback for an alive member");
    tick_all(&mut ms, t0 + 900 + FALLBACK_MS, None, None, &mut r);
    assert_eq!(released(&ms), [2, 2, 2]);
    assert_eq!(ms[1].shared.len(), 2, "fallback once it was silent");

    // skipping: its batch for height 2 arrives, the one for height 1 never does; height 1
    // falls back as soon as it has waited `fallback_ms`
    let (mut ms, mut held) = start(&mut r);
    let h2 = held.pop().unwrap();
    deliver(&mut ms, t0 + 100, vec![h2], None, None, &mut r);
    assert_eq!(released(&ms), [0, 0, 0]);
    tick_all(&mut ms, t0 + FALLBACK_MS, None, None, &mut r);
    assert_eq!(released(&ms), [2, 2, 2]);
    assert_eq!(ms[0].shared.len(), 2, "member 0 shared for height 1 too");
}

#[test]
fn designated_windows_cover_t_members_and_rotate() {
    for (n, t) in [(1, 1), (4, 3), (7, 5), (10, 7), (16, 11)] {
        let mut per_member = vec![0; n];
        for h in 0..(3 * n as u64) {
            let d: Vec<u32> = (0..n as u32).filter(|&i| designated(h, i, n, t)).collect();
            assert_eq!(d.len(), t, "n={n} t={t} h={h}");
            for i in d {
                per_member[i as usize] += 1;
            }
        }
        assert!(
            per_member.iter().all(|&k| k == 3 * t),
            "n={n} t={t}: {per_member:?}"
        );
    }
}

#[test]
fn early_shares_are_kept_and_heights_release_in_order() {
    let mut r = rng(9);
    let c = committee(4, 3, &mut r);
    let fins = chain(&c, 3, 3, &mut r);
    let mut ms = members(&c);
    // members 1..3 finalize every height and share; member 0 is behind and sees the shares
    // first, then finalizes the heights in reverse order
    let mut inbox = Vec::new();
    for fin in &fins {
        for (i, m) in ms.iter_mut().enumerate().skip(1) {
            let fx = m
                .collector
                .on_finalized(fin.clone(), final_at(fin.height()), &mut r)
                .unwrap();
            apply(m, i as u32, fx, &mut inbox);
        }
    }
    deliver(&mut ms, final_at(3), inbox, None, None, &mut r);
    assert!(ms[0].released.is_empty());
    // height 1 has its three designated batches (members 1..3); 2 and 3 need member 0's
    assert_eq!(ms[1].released.len(), 1);
    for fin in fins.iter().rev() {
        let h = fin.height();
        let fx = ms[0]
            .collector
            .on_finalized(fin.clone(), final_at(3), &mut r)
            .unwrap();
        let mut inbox = Vec::new();
        apply(&mut ms[0], 0, fx, &mut inbox);
        assert_eq!(
            inbox.len(),
            usize::from(designated(h, 0, 4, 3)),
            "height {h}"
        );
        deliver(&mut ms, final_at(3), inbox, None, None, &mut r);
    }
    assert_eq!(ms[0].released, ms[1].released);
    assert_eq!(ms[0].released.len(), 3);
    // impersonation is refused
    let b = reveal(
        &BTreeMap::from([(0, Arc::new(dup(&c.shares[2])))]),
        0,
        &fins[0],
    )
    .remove(0);
    assert_eq!(
        ms[0].collector.on_shares(1, b, 0, &mut r).unwrap_err(),
        ShareError::Impersonation {
            from: 1,
            claimed: 2
        }
    );
}

#[test]
fn released_batches_reject_tampering_and_bad_bytes() {
    let mut r = rng(10);
    let c = committee(4, 3, &mut r);
    let fins = chain(&c, 1, 4, &mut r);
    let mut ms = members(&c);
    finalize_all(&mut ms, &fins, None, None, &mut r);
    let bytes = &ms[0].released[0];
    let rb = ReleasedBatch::from_bytes(bytes).unwrap();
    let key = c.key.clone();
    let keys = move |e: u64| (e == 0).then(|| key.clone());
    // a different plaintext
    let mut lie = rb.clone();
    lie.namespaces[0].entries[0].outcome = Decryption::Plaintext(b"forged".to_vec());
    assert!(matches!(
        lie.verify(&keys, |_, _, _| true, &mut r),
        Err(ReleaseError::WrongOutcome(_))
    ));
    // reordered entries no longer match the finalized block
    let mut swapped = rb.clone();
    swapped.namespaces[0].entries.swap(0, 1);
    assert_eq!(
        swapped.verify(&keys, |_, _, _| true, &mut r),
        Err(ReleaseError::BlockMismatch)
    );
    assert_eq!(
        rb.verify(&keys, |_, _, _| false, &mut r),
        Err(ReleaseError::BadCertificate)
    );
    // out-of-order appends are refused
    let mut log = ReleaseLog::after(&Block::genesis());
    let mut later = rb.clone();
    later.height = 2;
    assert!(matches!(
        log.append(&later),
        Err(ReleaseError::OutOfOrder { .. })
    ));
    log.append(&rb).unwrap();
    assert_eq!(log.next_height(), 2);
    // truncations and flips decode to typed errors, never panics
    for cut in 0..bytes.len() {
        assert!(ReleasedBatch::from_bytes(&bytes[..cut]).is_err());
    }
    for i in (0..bytes.len()).step_by(7) {
        let mut b = bytes.clone();
        b[i] ^= 0x40;
        if let Ok(x) = ReleasedBatch::from_bytes(&b) {
            assert!(x.verify(&keys, |_, _, c| c == b"cert1", &mut r).is_err() || x == rb);
        }
    }
}

// ---------------------------------------------------------------- chain blocks (commonware codec)

#[test]
fn chain_blocks_round_trip_and_refuse_mismatched_bodies() {
    use super::chain::ChainBlock;
    use commonware_codec::{Decode as _, Encode as _};
    use commonware_consensus::Heightable as _;
    use commonware_cryptography::Digestible as _;
    let mut r = rng(11);
    let c = committee(4, 3, &mut r);
    let mut pool = Mempool::new(MempoolConfig::default(), 0, c.key.clone());
    let cts: Vec<EncodedCiphertext> = (0..5).map(|i| ct(&c.key, i % 2, b"tx", &mut r)).collect();
    assert_eq!(accepted(&pool.admit(0, CLIENT, cts, &mut r)), 5);
    let limits = BlockLimits::default();
    let block = pool.build(&Block::genesis(), &limits, &HashSet::new());
    let bodies: Vec<Envelope> = block
        .ids()
        .map(|id| pool.get(id).unwrap().envelope())
        .collect();
    let cb = ChainBlock::new(block.clone(), bodies.clone()).unwrap();
    assert_eq!(cb.digest().0, block.digest().0);
    assert_eq!(cb.height().get(), 1);
    let bytes = cb.encode();
    assert_eq!(ChainBlock::decode_cfg(bytes.clone(), &limits).unwrap(), cb);
    // bodies out of order or missing
    let mut swapped = bodies.clone();
    swapped.swap(0, 1);
    assert_eq!(
        ChainBlock::new(block.clone(), swapped).unwrap_err(),
        BlockError::BodiesMismatch
    );
    assert!(ChainBlock::new(block.clone(), bodies[1..].to_vec()).is_err());
    // every truncation, and a byte limit below the bodies, decode to errors
    for cut in 0..bytes.len() {
        assert!(ChainBlock::decode_cfg(bytes.slice(..cut), &limits).is_err());
    }
    let tight = BlockLimits {
        max_bytes: 100,
        ..limits
    };
    assert!(ChainBlock::decode_cfg(bytes.clone(), &tight).is_err());
    for i in (0..bytes.len()).step_by(5) {
        let mut b = bytes.to_vec();
        b[i] ^= 0x10;
        if let Ok(x) = ChainBlock::decode_cfg(bytes::Bytes::from(b), &limits) {
            assert_ne!(
                x.digest(),
                cb.digest(),
                "a flip is either refused or changes the block"
            );
        }
    }
}

#[test]
fn proposals_with_bodies_verify_unknown_bodies_once() {
    use super::chain::{verify_chain_block, ChainBlock};
    let mut r = rng(12);
    let c = committee(4, 3, &mut r);
    let limits = BlockLimits::default();
    // the proposer knows five ciphertexts; the checker knows only the first two
    let mut proposer = Mempool::new(MempoolConfig::default(), 0, c.key.clone());
    let mut checker = Mempool::new(MempoolConfig::default(), 0, c.key.clone());
    let cts: Vec<EncodedCiphertext> = (0..5).map(|i| ct(&c.key, i % 2, b"tx", &mut r)).collect();
    assert_eq!(accepted(&proposer.admit(0, CLIENT, cts.clone(), &mut r)), 5);
    assert_eq!(
        accepted(&checker.admit(0, CLIENT, cts[..2].to_vec(), &mut r)),
        2
    );
    let g = Block::genesis();
    let block = proposer.build(&g, &limits, &HashSet::new());
    let bodies: Vec<EncodedCiphertext> = block
        .ids()
        .map(|id| proposer.get(id).unwrap().encoded().clone())
        .collect();
    let cb = ChainBlock::new(
        block.clone(),
        bodies.iter().cloned().map(Envelope::from).collect(),
    )
    .unwrap();
    let got = verify_chain_block(
        &cb,
        &g,
        &limits,
        &HashSet::new(),
        &checker,
        &HashSet::new(),
        &mut r,
    )
    .unwrap();
    assert!(got.iter().map(|v| v.id()).eq(block.ids().copied()));

    // a body that fails validity (the proposer lies about a ciphertext it made up)
    // and one whose point does not decode (blocks carry encodings; points are decoded only
    // when a body is verified)
    let lie = |at: usize| {
        let mut bad = bodies[4].as_bytes().to_vec();
        let at = if at == usize::MAX { bad.len() - 1 } else { at };
        bad[at] ^= 1;
        let bad = EncodedCiphertext::parse(&bad).unwrap();
        let mut lying = block.batches.clone();
        for nb in &mut lying {
            for id in &mut nb.ids {
                if *id == bodies[4].id() {
                    *id = bad.id();
                }
            }
        }
        let lying_block = Block::new(g.digest(), 1, lying);
        let lying_bodies: Vec<Envelope> = lying_block
            .ids()
            .map(|id| {
                if *id == bad.id() {
                    bad.clone().into()
                } else {
                    bodies
                        .iter()
                        .find(|b| b.id() == *id)
                        .unwrap()
                        .clone()
                        .into()
                }
            })
            .collect();
        (
            ChainBlock::new(lying_block, lying_bodies).unwrap(),
            bad.id(),
        )
    };
    // the last payload byte; then the first byte of u's x coordinate (after the version and
    // the label with its 6-byte sender)
    for at in [usize::MAX, 1 + 49 + 6 + 1] {
        let (cb_bad, bad_id) = lie(at);
        assert_eq!(
            verify_chain_block(
                &cb_bad,
                &g,
                &limits,
                &HashSet::new(),
                &checker,
                &HashSet::new(),
                &mut r
            )
            .unwrap_err(),
            BlockError::InvalidCiphertext(bad_id)
        );
    }
    // a body for a key epoch that is not open here
    let other_epoch = Label::new(c.key.id(), 9, 0, b"w").unwrap();
    let e9 = encrypt(
        c.key.encryption_key(),
        &other_epoch,
        b"x",
        Padding::None,
        &mut r,
    )
    .unwrap();
    let b9 = Block::new(
        g.digest(),
        1,
        vec![NamespaceBatch {
            namespace: 0,
            ids: vec![e9.id()],
        }],
    );
    let cb9 = ChainBlock::new(b9, vec![e9.encoded().clone().into()]).unwrap();
    assert_eq!(
        verify_chain_block(
            &cb9,
            &g,
            &limits,
            &HashSet::new(),
            &checker,
            &HashSet::new(),
            &mut r
        )
        .unwrap_err(),
        BlockError::UnknownEpoch(9)
    );
}

// ---------------------------------------------------------------- member core

/// One member core per share of `c`, with default limits, at height 0.
fn core_members(c: &Committee) -> Vec<super::member::Member> {
    c.shares
        .iter()
        .map(|s| {
            super::member::Member::new(
                Mempool::new(MempoolConfig::default(), 0, c.key.clone()),
                Collector::new(
                    CollectorConfig::default(),
                    BTreeMap::from([(0, c.key.clone())]),
                    BTreeMap::from([(0, dup(s))]),
                    1,
                ),
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
            m.verify(&proposal, &ancestors, &mut r).unwrap();
        }
        // a replay of the same ids on top of the proposal is refused before finality
        let mut with_proposal = vec![proposal.clone()];
        with_proposal.extend(ancestors.iter().cloned());
        if !proposal.block().is_empty() {
            let replay = ChainBlock::new(
                Block::new(
                    proposal.block().digest(),
                    h + 1,
                    proposal.block().batches.clone(),
                ),
                proposal.bodies().to_vec(),
            )
            .unwrap();
            assert!(matches!(
                ms[2].verify(&replay, &with_proposal, &mut r),
                Err(BlockError::AlreadyOrdered(_))
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
        .all(|m| m.mempool.is_empty() && m.finalized_height() == 2));
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
    let id = batch_id(&chain[1].block().digest(), 0);
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
fn share_requests_for_released_heights_are_rate_limited_per_peer() {
    let mut r = rng(31);
    let c = committee(4, 3, &mut r);
    let fins = chain(&c, 1, 2, &mut r);
    let mut ms = members(&c);
    let inbox = finalize_everywhere(&mut ms, &fins[0], final_at(1), &mut r);
    deliver(&mut ms, final_at(1), inbox, None, None, &mut r);
    assert!(ms.iter().all(|m| m.released.len() == 1));
    let id = batch_id(&fins[0].block().digest(), 0);
    // member 0 made no batch for height 1 (not designated), so each request is a
    // recomputation, within the asker's budget
    let ask = |ms: &mut [Member], peer, now_ms, r: &mut ChaCha20Rng| {
        ms[0].collector.on_request(peer, 1, &id, now_ms, r)
    };
    let t0 = final_at(1);
    for _ in 0..4 {
        assert!(matches!(ask(&mut ms, 1, t0, &mut r), Answer::Recompute(_)));
    }
    assert!(matches!(
        ask(&mut ms, 1, t0, &mut r),
        Answer::Unanswered(Unanswered::RateLimited)
    ));
    // another peer has its own budget; the first one earns a token back in time
    assert!(matches!(ask(&mut ms, 2, t0, &mut r), Answer::Recompute(_)));
    assert!(matches!(
        ask(&mut ms, 1, t0 + 500, &mut r),
        Answer::Recompute(_)
    ));
    // heights older than the window are not recomputed at all
    ms[0].collector.resume_after(RESHARE_WINDOW + 5);
    assert!(matches!(
        ask(&mut ms, 3, t0 + 10_000, &mut r),
        Answer::Unanswered(Unanswered::Unknown)
    ));
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
        m.mempool.restore_ordered([(bad_id, 0)]);
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
                m.verify(&mine, &ancestors, &mut r),
                Err(BlockError::AlreadyOrdered(id)) if id == bad_id
            ));
        }
        // the next view's leader, member 1, proposes at the same height and is finalized
        let theirs = ms[1].propose(&ancestors).unwrap();
        ms[1].proposed(&theirs);
        assert_eq!(theirs.block().height, h);
        for m in &mut ms {
            m.verify(&theirs, &ancestors, &mut r).unwrap();
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
        m.verify(&next, &ancestors, &mut r).unwrap();
    }
}
