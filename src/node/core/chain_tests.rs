//! Blocks and their checks: the block encoding, proposals checked against their parent and
//! the mempool, and chain blocks (a block with its bodies, commonware's codec) verified by a
//! member that knows only some of the bodies.

use super::mempool::{Mempool, MempoolConfig, Reject};
use super::testkit::{accepted, committee, ct, rng, CLIENT};
use crate::ledger::block::*;
use crate::ledger::envelope::Envelope;
use crate::ledger::{CtId, Digest, Height, KeyEpoch, Namespace};
use curtain_crypto::{encrypt, EncodedCiphertext, Label, Padding};
use rand::RngExt as _;
use std::collections::HashSet;

#[test]
fn block_encoding_round_trips_and_rejects_non_canonical() {
    let limits = BlockLimits::default();
    let b = Block::new(
        Digest([1; 32]),
        Height(7),
        vec![
            NamespaceBatch {
                namespace: Namespace(1),
                ids: vec![[1; 32], [2; 32]],
            },
            NamespaceBatch {
                namespace: Namespace(9),
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
            Height(1),
            vec![
                NamespaceBatch {
                    namespace: Namespace(9),
                    ids: vec![[1; 32]],
                },
                NamespaceBatch {
                    namespace: Namespace(1),
                    ids: vec![[2; 32]],
                },
            ],
        ),
        // duplicate id across namespaces
        Block::new(
            Digest::default(),
            Height(1),
            vec![
                NamespaceBatch {
                    namespace: Namespace(1),
                    ids: vec![[1; 32]],
                },
                NamespaceBatch {
                    namespace: Namespace(2),
                    ids: vec![[1; 32]],
                },
            ],
        ),
        // empty group
        Block::new(
            Digest::default(),
            Height(1),
            vec![NamespaceBatch {
                namespace: Namespace(1),
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
    let mut pool = Mempool::new(MempoolConfig::default(), KeyEpoch(0), c.key.clone());
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

    let wrong_parent = Block::new(Digest([9; 32]), Height(1), b.batches.clone());
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
        Height(1),
        vec![NamespaceBatch {
            namespace: Namespace(0),
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
        Height(1),
        vec![NamespaceBatch {
            namespace: Namespace(5),
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
    pool.on_finalized(Height(1), &got);
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

// ---------------------------------------------------------------- chain blocks (commonware codec)

#[test]
fn chain_blocks_round_trip_and_refuse_mismatched_bodies() {
    use super::chain::ChainBlock;
    use commonware_codec::{Decode as _, Encode as _};
    use commonware_consensus::Heightable as _;
    use commonware_cryptography::Digestible as _;
    let mut r = rng(11);
    let c = committee(4, 3, &mut r);
    let mut pool = Mempool::new(MempoolConfig::default(), KeyEpoch(0), c.key.clone());
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
    let mut proposer = Mempool::new(MempoolConfig::default(), KeyEpoch(0), c.key.clone());
    let mut checker = Mempool::new(MempoolConfig::default(), KeyEpoch(0), c.key.clone());
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
        let lying_block = Block::new(g.digest(), Height(1), lying);
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
    let other_epoch = Label::new(c.key.id(), KeyEpoch(9), Namespace(0), b"w").unwrap();
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
        Height(1),
        vec![NamespaceBatch {
            namespace: Namespace(0),
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
        BlockError::UnknownEpoch(KeyEpoch(9))
    );
}
