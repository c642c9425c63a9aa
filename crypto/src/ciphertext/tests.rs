use super::*;
use crate::key::deal;
use crate::{KeyEpoch, Namespace};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

#[test]
fn encrypt_verify_roundtrip_and_batch_bisection() {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let (key, _) = deal(4, 3, &mut rng).unwrap();
    let label = Label::new(key.id(), KeyEpoch(0), Namespace(9), b"bob").unwrap();
    let mut cts: Vec<Ciphertext> = (0..9)
        .map(|i| {
            encrypt(
                key.encryption_key(),
                &label,
                &[i as u8; 100],
                Padding::None,
                &mut rng,
            )
            .unwrap()
        })
        .collect();
    for ct in &cts {
        assert_eq!(
            Ciphertext::from_bytes(&ct.to_bytes()).unwrap().id(),
            ct.id()
        );
        assert!(verify(&key, ct.clone()).is_ok());
    }
    // break two proofs: swap f between ciphertexts
    let f3 = cts[3].f;
    let swap = |ct: &Ciphertext, f: Scalar| {
        Ciphertext::assemble(ct.label(), &ct.u, &ct.w, f, ct.e, ct.payload())
    };
    cts[3] = swap(&cts[3], cts[5].f);
    cts[5] = swap(&cts[5], f3);
    let res = verify_batch(&key, cts, &mut rng);
    let bad: Vec<usize> = res
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_err())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(bad, vec![3, 5]);
}

#[test]
fn torsion_in_u_and_w_is_ignored() {
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let (key, _) = deal(4, 3, &mut rng).unwrap();
    let label = Label::new(key.id(), KeyEpoch(0), Namespace(1), b"t").unwrap();
    let t = group::torsion_point();
    assert!(!group::g1_in_subgroup(&t));
    // a sender that knows r and s can put torsion into w and still prove knowledge of r
    let twisted = |torsion_in_u: bool, rng: &mut ChaCha20Rng| {
        let (r, s) = (Scalar::random(rng), Scalar::random(rng));
        let g = generator_table();
        let add_t = |p: blst_p1| group::p1_to_affine(&group::p1_add_affine(&p, &t));
        let u = if torsion_in_u {
            add_t(g.mul(&r))
        } else {
            group::p1_to_affine(&g.mul(&r))
        };
        let w = if torsion_in_u {
            group::p1_to_affine(&g.mul(&s))
        } else {
            add_t(g.mul(&s))
        };
        let payload = vec![7u8; 40];
        let e = challenge_for(&label, &u, &w, &payload);
        Ciphertext::assemble(&label, &u, &w, s.add(&e.mul(&r)), e, &payload)
    };
    // validity constrains only w's G1 component: single and batched checks agree
    let cts: Vec<Ciphertext> = (0..6)
        .map(|i| {
            let ct = twisted(false, &mut rng);
            let ct = Ciphertext::from_bytes(&ct.to_bytes()).unwrap();
            if i % 2 == 0 {
                ct
            } else {
                encrypt(key.encryption_key(), &label, b"m", Padding::None, &mut rng).unwrap()
            }
        })
        .collect();
    for ct in &cts {
        assert!(verify(&key, ct.clone()).is_ok());
    }
    assert!(verify_batch(&key, cts, &mut rng).iter().all(Result::is_ok));
    // torsion plus a wrong G1 part is invalid in both
    let bad = twisted(false, &mut rng);
    let bad = Ciphertext::assemble(
        &label,
        &bad.u,
        &bad.w,
        bad.f.add(&Scalar::from_u64(1)),
        bad.e,
        bad.payload(),
    );
    assert!(verify(&key, bad.clone()).is_err());
    let mixed = vec![bad, twisted(false, &mut rng), twisted(false, &mut rng)];
    let verdicts: Vec<bool> = verify_batch(&key, mixed, &mut rng)
        .iter()
        .map(Result::is_ok)
        .collect();
    assert_eq!(verdicts, vec![false, true, true]);
    // torsion in u is as harmless: valid, and û (what shares use) is the honest one
    let in_u = twisted(true, &mut rng);
    let decoded = Ciphertext::from_bytes(&in_u.to_bytes()).unwrap();
    assert!(!group::g1_in_subgroup(decoded.u()));
    assert!(group::g1_in_subgroup(decoded.u_hat()));
    assert!(verify(&key, decoded.clone()).is_ok());
    assert!(verify_batch(&key, vec![decoded], &mut rng)[0].is_ok());
    // adding torsion to u does not change û
    let honest = encrypt(key.encryption_key(), &label, b"m", Padding::None, &mut rng).unwrap();
    let honest = Ciphertext::from_bytes(&honest.to_bytes()).unwrap();
    let twisted_u = group::p1_from_affine(honest.u());
    let twisted_u = group::p1_to_affine(&group::p1_add_affine(&twisted_u, &group::torsion_point()));
    let twisted_hat = group::p1_to_affine(&group::clear_cofactor_affine(&twisted_u));
    assert!(group::g1_eq(&twisted_hat, honest.u_hat()));
    // a u that is torsion only has no G1 component: never decodes
    let mut pure = in_u.to_bytes();
    let at = in_u.encoded().points_at;
    pure[at..at + 96].copy_from_slice(&group::g1_serialize(&group::torsion_point()));
    assert!(matches!(
        Ciphertext::from_bytes(&pure),
        Err(DecodeError::Point {
            field: "ciphertext.u",
            error: crate::error::PointError::NoG1Component
        })
    ));
}

#[test]
fn decode_all_agrees_with_decode_across_chunks() {
    let mut rng = ChaCha20Rng::seed_from_u64(6);
    let (key, _) = deal(4, 3, &mut rng).unwrap();
    let label = Label::new(key.id(), KeyEpoch(0), Namespace(1), b"d").unwrap();
    let pure_torsion = group::g1_serialize(&group::torsion_point());
    // 150 entries (three chunks), every seventh with a torsion-only u
    let encoded: Vec<EncodedCiphertext> = (0..150)
        .map(|i| {
            let ct = encrypt(
                key.encryption_key(),
                &label,
                &[i as u8],
                Padding::None,
                &mut rng,
            )
            .unwrap();
            let mut bytes = ct.to_bytes();
            if i % 7 == 3 {
                let at = ct.encoded().points_at;
                bytes[at..at + 96].copy_from_slice(&pure_torsion);
            }
            EncodedCiphertext::parse(&bytes).unwrap()
        })
        .collect();
    let all = decode_all(&encoded);
    assert_eq!(all.len(), encoded.len());
    for (i, (enc, got)) in encoded.iter().zip(&all).enumerate() {
        match (enc.decode(), got) {
            (Ok(one), Ok(batch)) => {
                assert_eq!(one.id(), batch.id());
                assert!(group::g1_eq(one.u_hat(), batch.u_hat()), "entry {i}");
            }
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
            _ => panic!("entry {i}: decode and decode_all disagree"),
        }
        assert_eq!(got.is_err(), i % 7 == 3);
    }
}

/// An RNG that returns all-zero bytes: the weakest seed there is.
struct ZeroRng;
impl rand_core::TryRng for ZeroRng {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(0)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(0)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        dst.fill(0);
        Ok(())
    }
}
impl rand_core::TryCryptoRng for ZeroRng {}

/// With a guessable seed, `s` must still be unknown: otherwise `w = s·g1` confirms the
/// guess and `r = (f − s)/e` follows from the public ciphertext, before any ordering.
#[test]
fn weak_seed_does_not_expose_the_randomness() {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let (key, _) = deal(4, 3, &mut rng).unwrap();
    let label = Label::new(key.id(), KeyEpoch(0), Namespace(1), b"victim").unwrap();
    let enc = |msg: &[u8]| {
        let ct = encrypt(
            key.encryption_key(),
            &label,
            msg,
            Padding::None,
            &mut ZeroRng,
        );
        ct.unwrap()
    };
    let (a, b) = (enc(b"buy 100"), enc(b"sell 100"));
    // the attack on s = H_hedge-s(seed): guess the seed, derive s, check w, solve for r
    let guessed_s = {
        let mut t = Transcript::new(DST_HEDGE_S);
        t.append(&[0u8; 32]);
        t.challenge_scalar()
    };
    let guessed_w = group::p1_to_affine(&generator_table().mul(&guessed_s));
    for ct in [&a, &b] {
        assert!(!group::g1_eq(&guessed_w, &ct.w));
        let r = ct.f.sub(&guessed_s).mul(&ct.e.inverse().unwrap());
        let u = group::p1_to_affine(&generator_table().mul(&r));
        assert!(!group::g1_eq(&u, &ct.u));
    }
    // the same seed under two messages gives unrelated s (and r)
    assert!(!group::g1_eq(&a.w, &b.w));
    assert!(!group::g1_eq(&a.u, &b.u));
    // and the ciphertexts are still valid and deterministic in (seed, label, message)
    assert!(verify(&key, a.clone()).is_ok());
    assert_eq!(enc(b"buy 100").id(), a.id());
}

#[test]
fn padding_hides_length() {
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let (key, _) = deal(1, 1, &mut rng).unwrap();
    let label = Label::new(key.id(), KeyEpoch(0), Namespace(0), b"").unwrap();
    let a = encrypt(
        key.encryption_key(),
        &label,
        &[1; 10],
        Padding::Buckets,
        &mut rng,
    )
    .unwrap();
    let b = encrypt(
        key.encryption_key(),
        &label,
        &[1; 50],
        Padding::Buckets,
        &mut rng,
    )
    .unwrap();
    assert_eq!(a.payload_len(), b.payload_len());
    assert!(encrypt(
        key.encryption_key(),
        &label,
        &vec![0; MAX_PLAINTEXT_LEN],
        Padding::Buckets,
        &mut rng
    )
    .is_ok());
    assert!(matches!(
        encrypt(
            key.encryption_key(),
            &label,
            &vec![0; MAX_PLAINTEXT_LEN + 1],
            Padding::None,
            &mut rng
        ),
        Err(EncryptError::PlaintextTooLong { .. })
    ));
}
