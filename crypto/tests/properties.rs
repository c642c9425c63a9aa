//! Property tests of the whole scheme over random committees (n from 1 to 64, any valid t).
//! Case counts are modest because each case deals a committee; raise them with
//! PROPTEST_CASES for a longer run.

use curtain_crypto::*;
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const BATCH_ID: [u8; 32] = [0xb1; 32];

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// (n, t) with 1 <= t <= n <= 64.
fn committee() -> impl Strategy<Value = (usize, usize)> {
    (1usize..=64).prop_flat_map(|n| (Just(n), threshold_range(n)))
}

fn label(key: &CommitteeKey, ns: u64) -> Label {
    Label::new(key.id(), KeyEpoch(1), Namespace(ns), b"wallet-7").unwrap()
}

fn encrypt_many(
    key: &CommitteeKey,
    msgs: &[Vec<u8>],
    r: &mut ChaCha20Rng,
) -> Vec<VerifiedCiphertext> {
    msgs.iter()
        .enumerate()
        .map(|(i, m)| {
            let ct = encrypt(
                key.encryption_key(),
                &label(key, i as u64),
                m,
                Padding::None,
                r,
            )
            .unwrap();
            verify(key, ct).unwrap()
        })
        .collect()
}

/// Picks `k` distinct members in a random order.
fn subset(n: usize, k: usize, r: &mut ChaCha20Rng) -> Vec<usize> {
    use rand::seq::SliceRandom;
    let mut all: Vec<usize> = (0..n).collect();
    all.shuffle(r);
    all.truncate(k);
    all
}

fn cases(default: u32) -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(cases(24))]

    /// decrypt(encrypt(m)) = m for any t-subset; t-1 shares never combine.
    #[test]
    fn roundtrip_any_t_subset((n, t) in committee(), seed in any::<u64>(),
                              msgs in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 1..4)) {
        let mut r = rng(seed);
        let (key, shares) = deal(n, t, &mut r).unwrap();
        let cts = encrypt_many(&key, &msgs, &mut r);
        let members = subset(n, t, &mut r);
        let batches: Vec<ShareBatch> = members
            .iter()
            .map(|&i| ShareBatch::from_bytes(&shares[i].decryption_shares(BATCH_ID, &cts).to_bytes()).unwrap())
            .collect();
        let out = combine(&key, BATCH_ID, &cts, &batches, &mut r).unwrap();
        prop_assert!(out.optimistic);
        prop_assert!(out.faults.is_empty());
        for (d, m) in out.decryptions.iter().zip(&msgs) {
            prop_assert_eq!(d, &Decryption::Plaintext(m.clone()));
        }
        // the openings convince a third party
        prop_assert!(verify_openings(&key, &cts, &out.openings, &mut r));

        // t-1 shares never combine
        let err = combine(&key, BATCH_ID, &cts, &batches[..t - 1], &mut r).unwrap_err();
        let is_not_enough = matches!(err, CombineError::NotEnoughShares { valid, needed, .. } if valid == t - 1 && needed == t);
        prop_assert!(is_not_enough);
    }

    /// A member that sends wrong shares is named in verifiable fault evidence, and decryption
    /// still succeeds from the others whenever t honest batches exist.
    #[test]
    fn wrong_shares_are_attributed((n, t) in (2usize..=24).prop_flat_map(|n| {
                                       let r = threshold_range(n);
                                       (Just(n), *r.start()..=(*r.end()).min(n - 1))
                                   }),
                                   seed in any::<u64>(), kind in 0u8..3) {
        // with t = 1 every member holds the same share, so another member's shares are correct
        prop_assume!(t > 1 || kind != 0);
        let mut r = rng(seed);
        let (key, shares) = deal(n, t, &mut r).unwrap();
        let msgs: Vec<Vec<u8>> = (0..3).map(|i| vec![i as u8; 40]).collect();
        let cts = encrypt_many(&key, &msgs, &mut r);
        let mut batches: Vec<ShareBatch> = shares.iter().map(|s| s.decryption_shares(BATCH_ID, &cts)).collect();
        // combine tries the lowest t member indices first: make sure the bad one is among them
        let bad = subset(t, 1, &mut r)[0];
        // corrupt member `bad`: another member's shares, shares for other ciphertexts, or
        // its shares in the wrong order
        let mut bytes = batches[bad].to_bytes();
        match kind {
            0 => {
                let other = (bad + 1) % n;
                let donor = shares[other].decryption_shares(BATCH_ID, &cts).to_bytes();
                bytes[41..].copy_from_slice(&donor[41..]);
            }
            1 => {
                let other_cts = encrypt_many(&key, &msgs, &mut r);
                let donor = shares[bad].decryption_shares(BATCH_ID, &other_cts).to_bytes();
                bytes[41..].copy_from_slice(&donor[41..]);
            }
            _ => {
                let (a, b) = bytes[41..].split_at_mut(96);
                a.swap_with_slice(&mut b[..96]);
            }
        }
        batches[bad] = ShareBatch::from_bytes(&bytes).unwrap();
        let out = combine(&key, BATCH_ID, &cts, &batches, &mut r).unwrap();
        prop_assert!(!out.optimistic);
        prop_assert_eq!(out.faults.len(), 1);
        prop_assert_eq!(out.faults[0].member(), bad as u32);
        prop_assert!(out.faults[0].verify(&key, &cts, &mut r));
        prop_assert!(!out.members.contains(&(bad as u32)));
        for (d, m) in out.decryptions.iter().zip(&msgs) {
            prop_assert_eq!(d, &Decryption::Plaintext(m.clone()));
        }
        // honest batches never make valid evidence
        let honest = FaultEvidence { batch: batches[(bad + 1) % n].clone(), reason: FaultReason::PairingMismatch };
        prop_assert!(!honest.verify(&key, &cts, &mut r));
    }

    /// Any single bit flip anywhere in an encoded ciphertext (label, points, proof, payload)
    /// is rejected by decoding or by the validity check; nothing flipped ever decrypts.
    #[test]
    fn bit_flips_are_rejected(seed in any::<u64>(), pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let mut r = rng(seed);
        let (key, _) = deal(4, 3, &mut r).unwrap();
        let ct = encrypt(key.encryption_key(), &label(&key, 5), b"transfer 10 to bob", Padding::None, &mut r).unwrap();
        let mut bytes = ct.to_bytes();
        let i = pos.index(bytes.len());
        bytes[i] ^= 1 << bit;
        if let Ok(mauled) = Ciphertext::from_bytes(&bytes) {
            prop_assert!(verify(&key, mauled.clone()).is_err());
            let batch = verify_batch(&key, vec![mauled], &mut r);
            prop_assert!(batch[0].is_err());
        }
    }

    /// Decoding arbitrary bytes never panics and, for each type, either fails with a typed
    /// error or yields a value whose encoding is exactly the input (canonical encodings).
    #[test]
    fn decoders_are_total_and_canonical(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(ct) = Ciphertext::from_bytes(&bytes) { prop_assert_eq!(ct.to_bytes(), bytes.clone()); }
        if let Ok(b) = ShareBatch::from_bytes(&bytes) { prop_assert_eq!(b.to_bytes(), bytes.clone()); }
        if let Ok(k) = CommitteeKey::from_bytes(&bytes) { prop_assert_eq!(k.to_bytes(), bytes.clone()); }
        if let Ok(l) = Label::from_bytes(&bytes) { prop_assert_eq!(l.to_bytes(), bytes.clone()); }
        if let Ok(o) = Opening::from_bytes(&bytes) { prop_assert_eq!(o.to_bytes().to_vec(), bytes.clone()); }
        let _ = KeyShare::from_bytes(&bytes);
        let _ = EncryptionKey::from_bytes(&bytes);
    }
}

/// Moving a ciphertext to another label (namespace, sender, epoch or key) invalidates it:
/// the copy attack (FIELD attack 2).
#[test]
fn label_mismatch_is_rejected() {
    let mut r = rng(11);
    let (key, _) = deal(4, 3, &mut r).unwrap();
    let (other_key, _) = deal(4, 3, &mut r).unwrap();
    let original = Label::new(key.id(), KeyEpoch(1), Namespace(7), b"alice").unwrap();
    let ct = encrypt(
        key.encryption_key(),
        &original,
        b"secret order",
        Padding::None,
        &mut r,
    )
    .unwrap();
    let bytes = ct.to_bytes();
    let label_len = original.to_bytes().len();
    for copy in [
        Label::new(key.id(), KeyEpoch(1), Namespace(7), b"mallory").unwrap(),
        Label::new(key.id(), KeyEpoch(1), Namespace(8), b"alice").unwrap(),
        Label::new(key.id(), KeyEpoch(2), Namespace(7), b"alice").unwrap(),
        Label::new(other_key.id(), KeyEpoch(1), Namespace(7), b"alice").unwrap(),
    ] {
        let mut moved = vec![bytes[0]];
        moved.extend_from_slice(&copy.to_bytes());
        moved.extend_from_slice(&bytes[1 + label_len..]);
        let moved = Ciphertext::from_bytes(&moved).unwrap();
        assert!(verify(&key, moved).is_err(), "copy under {copy:?} accepted");
    }
    // a wallet cannot encrypt under a label for another key
    let foreign = Label::new(other_key.id(), KeyEpoch(1), Namespace(7), b"alice").unwrap();
    assert_eq!(
        encrypt(key.encryption_key(), &foreign, b"x", Padding::None, &mut r).unwrap_err(),
        EncryptError::WrongKey
    );
}

/// An opening is bound to its ciphertext: another ciphertext's opening fails the third-party
/// check and, used anyway, gives an AEAD failure, never a wrong plaintext.
#[test]
fn openings_are_bound_to_their_ciphertext() {
    let mut r = rng(12);
    let (key, shares) = deal(4, 3, &mut r).unwrap();
    let cts = encrypt_many(&key, &[b"a".to_vec(), b"b".to_vec()], &mut r);
    let batches: Vec<ShareBatch> = shares[1..]
        .iter()
        .map(|s| s.decryption_shares(BATCH_ID, &cts))
        .collect();
    let out = combine(&key, BATCH_ID, &cts, &batches, &mut r).unwrap();
    assert_eq!(
        open(&cts[0], &out.openings[0]),
        Decryption::Plaintext(b"a".to_vec())
    );
    assert!(!verify_openings(
        &key,
        &cts[..1],
        &out.openings[1..],
        &mut r
    ));
    assert_eq!(
        open(&cts[0], &out.openings[1]),
        Decryption::Undecryptable(Undecryptable::AeadFailure)
    );
}

/// Non-canonical and out-of-subgroup encodings get typed errors.
#[test]
fn bad_point_encodings_have_typed_errors() {
    let mut r = rng(13);
    let (key, shares) = deal(4, 3, &mut r).unwrap();
    let ct = encrypt(
        key.encryption_key(),
        &label(&key, 0),
        b"m",
        Padding::None,
        &mut r,
    )
    .unwrap();
    let bytes = ct.to_bytes();
    let u_at = 1 + label(&key, 0).to_bytes().len();

    // identity for u (uncompressed, infinity flag)
    let mut b = bytes.clone();
    b[u_at..u_at + 96].fill(0);
    b[u_at] = 0x40;
    assert!(matches!(
        Ciphertext::from_bytes(&b),
        Err(DecodeError::Point {
            field: "ciphertext.u",
            error: PointError::Identity
        })
    ));
    // u in compressed form (the compression flag set) is not the encoding
    let mut b = bytes.clone();
    b[u_at] |= 0x80;
    assert!(Ciphertext::from_bytes(&b).is_err());
    // u's x ≥ p
    let mut b = bytes.clone();
    b[u_at..u_at + 48].fill(0xff);
    b[u_at] = 0x1f;
    assert!(matches!(
        Ciphertext::from_bytes(&b),
        Err(DecodeError::Point {
            field: "ciphertext.u",
            error: PointError::Encoding
        })
    ));
    // u off the curve
    let mut b = bytes.clone();
    b[u_at + 95] ^= 1;
    assert!(matches!(
        Ciphertext::from_bytes(&b),
        Err(DecodeError::Point {
            field: "ciphertext.u",
            error: PointError::NotOnCurve
        })
    ));
    // an on-curve point outside G1 for u decodes (only its G1 component matters, SPEC §2.5),
    // and the proof, made for another u, fails
    let outside = (1u8..=255)
        .filter_map(uncompressed_from_x)
        .find_map(|p| {
            let mut b = bytes.clone();
            b[u_at..u_at + 96].copy_from_slice(&p);
            Ciphertext::from_bytes(&b).ok()
        })
        .expect("some small x is on the curve");
    assert!(verify(&key, outside).is_err());
    // non-canonical f (>= r)
    let f_at = u_at + 192;
    let mut b = bytes.clone();
    b[f_at..f_at + 32].fill(0xff);
    assert_eq!(
        Ciphertext::from_bytes(&b).unwrap_err(),
        DecodeError::Scalar("ciphertext.f")
    );
    // oversized payload length is refused before allocation
    let len_at = f_at + 32;
    let mut b = bytes.clone();
    b[len_at..len_at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(
        Ciphertext::from_bytes(&b),
        Err(DecodeError::Length { .. })
    ));
    // wrong version
    let mut b = bytes.clone();
    b[0] = 9;
    assert!(matches!(
        Ciphertext::from_bytes(&b),
        Err(DecodeError::UnsupportedVersion { .. })
    ));

    // share batches: off-curve and non-canonical coordinates
    let vct = verify(&key, ct).unwrap();
    let sb = shares[0]
        .decryption_shares(BATCH_ID, std::slice::from_ref(&vct))
        .to_bytes();
    let mut b = sb.clone();
    b[41 + 95] ^= 1; // y changes: off the curve
    assert!(matches!(
        ShareBatch::from_bytes(&b),
        Err(DecodeError::Point {
            error: PointError::NotOnCurve,
            ..
        })
    ));
    let mut b = sb.clone();
    b[41] |= 0x1f; // x >= p
    assert!(ShareBatch::from_bytes(&b).is_err());
    // count larger than the cap
    let mut b = sb.clone();
    b[37..41].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(
        ShareBatch::from_bytes(&b),
        Err(DecodeError::Length { .. })
    ));
}

/// A share batch containing an on-curve point outside G1 is caught on the pessimistic path
/// with evidence naming the position.
#[test]
fn out_of_subgroup_share_is_evidence() {
    let mut r = rng(14);
    let (key, shares) = deal(4, 2, &mut r).unwrap();
    let cts = encrypt_many(&key, &[b"x".to_vec(), b"y".to_vec()], &mut r);
    let mut batches: Vec<ShareBatch> = shares
        .iter()
        .map(|s| s.decryption_shares(BATCH_ID, &cts))
        .collect();
    // an on-curve point outside G1 (its compressed form decodes to NotInSubgroup), written
    // uncompressed into member 0's second share
    let mut point = None;
    for x in 1u8..=255 {
        let mut p = [0u8; 48];
        p[0] = 0x80;
        p[47] = x;
        if let Err(DecodeError::Point {
            error: PointError::NotInSubgroup,
            ..
        }) = Opening::from_bytes(&p)
        {
            point = Some(x);
            break;
        }
    }
    let x = point.expect("a small x on the curve outside G1");
    let mut bytes = batches[0].to_bytes();
    let uncompressed = uncompressed_from_x(x).expect("x is on the curve");
    bytes[41 + 96..41 + 192].copy_from_slice(&uncompressed);
    batches[0] = ShareBatch::from_bytes(&bytes).unwrap();
    let out = combine(&key, BATCH_ID, &cts, &batches, &mut r).unwrap();
    assert_eq!(out.faults.len(), 1);
    assert_eq!(
        out.faults[0].reason,
        FaultReason::NotInSubgroup { position: 1 }
    );
    assert!(out.faults[0].verify(&key, &cts, &mut r));
    assert_eq!(out.decryptions[1], Decryption::Plaintext(b"y".to_vec()));
}

/// The uncompressed encoding of the curve point with the given small x (y = sqrt(x^3 + 4)), if
/// there is one, computed with a tiny big-integer square root modulo p (p ≡ 3 mod 4:
/// y = a^((p+1)/4)).
fn uncompressed_from_x(x: u8) -> Option<[u8; 96]> {
    use num_bigint::BigUint;
    let p = BigUint::parse_bytes(
        b"1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab",
        16,
    )
    .unwrap();
    let xb = BigUint::from(x);
    let a = (&xb * &xb * &xb + BigUint::from(4u8)) % &p;
    let e = (&p + BigUint::from(1u8)) >> 2;
    let y = a.modpow(&e, &p);
    if (&y * &y) % &p != a {
        return None;
    }
    let mut out = [0u8; 96];
    let xs = xb.to_bytes_be();
    out[48 - xs.len()..48].copy_from_slice(&xs);
    let ys = y.to_bytes_be();
    out[96 - ys.len()..].copy_from_slice(&ys);
    Some(out)
}

/// serde: canonical bytes in binary formats, hex in human-readable ones; deserialising runs
/// the checked decoder (a mauled value does not deserialise).
#[test]
fn serde_roundtrips_through_the_decoders() {
    let mut r = rng(15);
    let (key, shares) = deal(4, 3, &mut r).unwrap();
    let ct = encrypt(
        key.encryption_key(),
        &label(&key, 2),
        b"m",
        Padding::Buckets,
        &mut r,
    )
    .unwrap();
    let json = serde_json::to_string(&ct).unwrap();
    assert_eq!(json, format!("\"{}\"", hex_of(&ct.to_bytes())));
    assert_eq!(serde_json::from_str::<Ciphertext>(&json).unwrap(), ct);
    let bin = bincode::serialize(&ct).unwrap();
    assert_eq!(bincode::deserialize::<Ciphertext>(&bin).unwrap(), ct);
    let mut mauled = ct.to_bytes();
    mauled[60] ^= 0x40;
    if let Ok(c) = serde_json::from_str::<Ciphertext>(&format!("\"{}\"", hex_of(&mauled))) {
        assert!(verify(&key, c).is_err());
    }

    let k2: CommitteeKey = serde_json::from_str(&serde_json::to_string(&key).unwrap()).unwrap();
    assert_eq!(k2, key);
    let s2: KeyShare = bincode::deserialize(&bincode::serialize(&shares[1]).unwrap()).unwrap();
    s2.check(&key).unwrap();
    let v = verify(&key, ct).unwrap();
    let batch = shares[0].decryption_shares(BATCH_ID, std::slice::from_ref(&v));
    let b2: ShareBatch = bincode::deserialize(&bincode::serialize(&batch).unwrap()).unwrap();
    assert_eq!(b2, batch);
    let out = combine(
        &key,
        BATCH_ID,
        &[v],
        &[
            batch.clone(),
            shares[1].decryption_shares(BATCH_ID, &[]),
            batch,
        ],
        &mut r,
    );
    let faults = match out {
        Err(CombineError::NotEnoughShares { faults, .. }) => faults,
        other => panic!("unexpected {other:?}"),
    };
    let f2: Vec<FaultEvidence> =
        serde_json::from_str(&serde_json::to_string(&faults).unwrap()).unwrap();
    assert_eq!(f2, faults);
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
