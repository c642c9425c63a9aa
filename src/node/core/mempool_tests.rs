//! The mempool core: admission verdicts, rate limits and caps, and what a proposal takes
//! from the pending entries.

use super::mempool::*;
use super::testkit::{accepted, committee, ct, rng, CLIENT};
use crate::ledger::block::{Block, BlockLimits};
use crate::ledger::{CtId, Height, KeyEpoch, Namespace};
use curtain_crypto::{encrypt, EncodedCiphertext, Label, Padding};
use std::collections::{BTreeSet, HashSet};
use std::net::{IpAddr, Ipv4Addr};

#[test]
fn admission_verdicts() {
    let mut r = rng(3);
    let c = committee(4, 3, &mut r);
    let other = committee(4, 3, &mut r);
    let cfg = MempoolConfig {
        namespaces: Some(BTreeSet::from([Namespace(1), Namespace(2)])),
        ..MempoolConfig::default()
    };
    let mut pool = Mempool::new(cfg, KeyEpoch(0), c.key.clone());
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
    let epoch_label = Label::new(c.key.id(), KeyEpoch(5), Namespace(1), b"w").unwrap();
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
            Some(Reject::UnknownNamespace(Namespace(3))),
            Some(Reject::UnknownEpoch(KeyEpoch(5))),
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
    let mut pool = Mempool::new(cfg, KeyEpoch(0), c.key.clone());
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
    let _ = small.end_epoch(KeyEpoch(0));
    small.open_epoch(KeyEpoch(0), c.key.clone());
    assert_eq!(
        accepted(&small.admit(10_000, third, cts[10..11].to_vec(), &mut r)),
        1
    );
}

#[test]
fn building_is_fair_ordered_and_bounded() {
    let mut r = rng(5);
    let c = committee(4, 3, &mut r);
    let mut pool = Mempool::new(MempoolConfig::default(), KeyEpoch(0), c.key.clone());
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
    let nss: Vec<Namespace> = b.batches.iter().map(|x| x.namespace).collect();
    assert_eq!(
        nss,
        vec![Namespace(1), Namespace(2), Namespace(3)],
        "small namespaces are not starved"
    );
    // FIFO inside namespace 1
    let ns1: Vec<CtId> = cts[..4].iter().map(|c| c.id()).collect();
    assert_eq!(b.batches[0].ids, ns1);
    // excluded ids (in an unfinalized ancestor) are skipped
    let exclude: HashSet<CtId> = b.ids().copied().collect();
    let b2 = pool.build(&b, &limits, &exclude);
    assert_eq!(b2.height, Height(2));
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
