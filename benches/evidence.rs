//! What accountability costs (SPEC.md §2.6, §5.9), medians on this machine: a member signing
//! its share batch for a block of B ciphertexts, a receiver decoding and checking a signed
//! batch (what every member does for each batch it gets), and a third party verifying a piece
//! of wrong-shares evidence; with the sizes of the batch and of the evidence (256-byte
//! payloads). Committee (4, 3); one thread (`RAYON_NUM_THREADS` as set).
//!
//! Run: cargo bench --bench evidence [-- 512 2048]

mod common;

use commonware_cryptography::{ed25519, Signer as _};
use curtain::ledger::block::{Block, NamespaceBatch};
use curtain::ledger::committee::CheckedCommittee;
use curtain::ledger::evidence::{Evidence, Judge, WrongShares};
use curtain::ledger::finality::ConsensusPublic;
use curtain::ledger::signed::{batch_id, SignedBatch};
use curtain::ledger::{Digest, Height, KeyEpoch, Namespace};
use curtain::node::core::attest::{Attestor, CommitteeIdentity};
use curtain_crypto::{deal, encrypt, verify, Label, Padding, ShareBatch};
use rand::SeedableRng as _;
use rand_chacha::ChaCha20Rng;
use std::collections::BTreeMap;
use std::time::Instant;

const SAMPLES: usize = 21;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median milliseconds of `f` over `SAMPLES` runs.
fn time(mut f: impl FnMut()) -> f64 {
    median(
        (0..SAMPLES)
            .map(|_| {
                let t0 = Instant::now();
                f();
                t0.elapsed().as_secs_f64() * 1e3
            })
            .collect(),
    )
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![512, 2048]
    } else {
        sizes
    };
    println!(
        "evidence bench, (n, t) = (4, 3), rayon threads {}, load {:?}",
        rayon::current_num_threads(),
        common::load_average()
    );
    println!(
        "| B | sign ms | receive (decode + check) ms | decode only ms | signed batch bytes | evidence verify ms | evidence bytes |"
    );
    println!("|---|---|---|---|---|---|---|");
    for b in sizes {
        row(b);
    }
}

fn row(b: usize) {
    let mut rng = ChaCha20Rng::seed_from_u64(b as u64);
    let (key, shares) = deal(4, 3, &mut rng).unwrap();
    let ids: Vec<ed25519::PrivateKey> = (0..4).map(ed25519::PrivateKey::from_seed).collect();
    let members: Vec<[u8; 32]> = ids
        .iter()
        .map(|k| k.public_key().as_ref().try_into().unwrap())
        .collect();
    let committee_id = [7u8; 32];
    let attestor = Attestor::new(
        ids[3].clone(),
        BTreeMap::from([(
            KeyEpoch(0),
            CommitteeIdentity {
                id: committee_id,
                members: members.clone(),
            },
        )]),
    );
    let label = Label::new(key.id(), KeyEpoch(0), Namespace(1), b"wallet").unwrap();
    let cts: Vec<_> = (0..b)
        .map(|i| {
            let msg = [i as u8; 256];
            encrypt(key.encryption_key(), &label, &msg, Padding::None, &mut rng).unwrap()
        })
        .collect();
    let block = Block::new(
        Digest::default(),
        Height(1),
        vec![NamespaceBatch {
            namespace: Namespace(1),
            ids: cts.iter().map(|c| c.id()).collect(),
        }],
    );
    let verified: Vec<_> = cts
        .iter()
        .map(|c| verify(&key, c.clone()).unwrap())
        .collect();
    let bid = batch_id(&block.digest(), KeyEpoch(0));
    let batch = shares[3].decryption_shares(bid, &verified);
    let sign_ms = time(|| {
        attestor
            .sign_batch(KeyEpoch(0), Height(1), block.digest(), batch.clone())
            .unwrap();
    });
    let signed = attestor
        .sign_batch(KeyEpoch(0), Height(1), block.digest(), batch.clone())
        .unwrap();
    let wire = signed.to_bytes();
    let receive_ms = time(|| {
        let s = SignedBatch::from_bytes_capped(&wire, 1 << 16).unwrap();
        assert!(attestor.check_batch(&s));
    });
    // what receiving cost before batches were signed: decoding the shares
    let plain = batch.to_bytes();
    let decode_ms = time(|| {
        ShareBatch::from_bytes_capped(&plain, 1 << 16).unwrap();
    });
    // a wrong batch (the first two shares swapped), signed by its member
    let mut bytes = batch.to_bytes();
    let (head, tail) = bytes[41..].split_at_mut(96);
    head.swap_with_slice(&mut tail[..96]);
    let wrong = attestor
        .sign_batch(
            KeyEpoch(0),
            Height(1),
            block.digest(),
            ShareBatch::from_bytes(&bytes).unwrap(),
        )
        .unwrap();
    let evidence = Evidence::WrongShares(Box::new(WrongShares::new(
        wrong,
        block.clone(),
        cts.iter().map(|c| c.encoded().clone()).collect(),
    )));
    let committee = CheckedCommittee {
        id: committee_id,
        key_epoch: KeyEpoch(0),
        key: key.clone(),
        verifier: placeholder().verifier(),
        consensus: placeholder(),
        members,
    };
    let committees = [committee];
    let judge = Judge {
        committees: &committees,
        rln: None,
    };
    let encoded = evidence.to_bytes();
    let verify_ms = time(|| {
        let e = Evidence::from_bytes(&encoded).unwrap();
        e.verify(&judge, &mut rng).unwrap();
    });
    println!(
        "| {b} | {sign_ms:.2} | {receive_ms:.2} | {decode_ms:.2} | {} | {verify_ms:.1} | {} |",
        wire.len(),
        encoded.len()
    );
}

/// A consensus polynomial for the committee description (no votes are checked here).
fn placeholder() -> ConsensusPublic {
    use commonware_codec::Encode as _;
    use commonware_cryptography::bls12381::dkg::feldman_desmedt::deal as consensus_deal;
    use commonware_cryptography::bls12381::primitives::{sharing::Mode, variant::MinSig};
    use commonware_utils::{ordered::Set, N3f1};
    let mut pks: Vec<ed25519::PublicKey> = (0..4)
        .map(|i| ed25519::PrivateKey::from_seed(i).public_key())
        .collect();
    pks.sort();
    let (output, _) = consensus_deal::<MinSig, _, N3f1>(
        &mut ChaCha20Rng::seed_from_u64(0),
        Mode::NonZeroCounter,
        Set::try_from(pks).unwrap(),
    )
    .unwrap();
    ConsensusPublic::from_bytes(&output.public().encode(), 4).unwrap()
}
