use super::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

#[test]
fn dealt_shares_match_verification_keys() {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let (key, shares) = deal(5, 3, &mut rng).unwrap();
    for s in &shares {
        s.check(&key).unwrap();
    }
    let wrong = KeyShare::from_be_bytes(1, &shares[0].secret.to_be_bytes()).unwrap();
    assert_eq!(wrong.check(&key), Err(KeyError::ShareMismatch));
    let back = CommitteeKey::from_bytes(&key.to_bytes()).unwrap();
    assert_eq!(back, key);
    assert_eq!(back.id(), key.id());
    let share_back = KeyShare::from_bytes(&shares[2].to_bytes()).unwrap();
    assert_eq!(share_back.index(), 2);
    share_back.check(&key).unwrap();
    assert!(!format!("{:?}", shares[0]).contains(&hex::encode(shares[0].secret.to_be_bytes())));
}

/// The share's serde forms: hex text through a wiped string (`to_hex` is that string),
/// raw bytes in binary formats; both decode back, and malformed hex is an error.
#[test]
fn key_share_serde_keeps_the_secret_in_wiped_buffers() {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let (key, shares) = deal(4, 3, &mut rng).unwrap();
    let hex_text: Zeroizing<String> = shares[1].to_hex();
    assert_eq!(
        hex_text.as_str(),
        hex::encode(shares[1].to_bytes().as_slice())
    );
    assert_eq!(hex_text.capacity(), hex_text.len());
    let json = serde_json::to_string(&shares[1]).unwrap();
    assert_eq!(json, format!("\"{}\"", hex_text.as_str()));
    let back: KeyShare = serde_json::from_str(&json).unwrap();
    assert_eq!(back.index(), 1);
    back.check(&key).unwrap();
    let back: KeyShare = bincode::deserialize(&bincode::serialize(&shares[2]).unwrap()).unwrap();
    assert_eq!(back.index(), 2);
    back.check(&key).unwrap();
    for bad in [
        "\"00\"",
        &json.replace('0', "g"),
        &format!("\"{}00\"", hex_text.as_str()),
    ] {
        assert!(serde_json::from_str::<KeyShare>(bad).is_err(), "{bad}");
    }
}

#[test]
fn key_from_partials_and_reshared_key() {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let (key, shares) = deal(7, 5, &mut rng).unwrap();
    let commitments: Vec<[u8; 96]> = key.commitments.iter().map(group::g2_compress).collect();
    let partials: Vec<([u8; 48], u32)> =
        shares.iter().map(|s| (s.public_g1(), s.index())).collect();
    for s in &shares {
        assert!(partial_g1_matches(
            &key.verification_key(s.index()).unwrap(),
            &s.public_g1()
        ));
    }
    assert!(!partial_g1_matches(
        &key.verification_key(0).unwrap(),
        &shares[1].public_g1()
    ));
    // any 5 valid partials give the same key; invalid and duplicate ones are skipped
    let mut mixed = vec![partials[1], partials[1], (partials[2].0, 0)];
    mixed.extend_from_slice(&partials[2..6]);
    let a = CommitteeKey::from_partials(7, &commitments, &mixed).unwrap();
    let b = CommitteeKey::from_partials(7, &commitments, &partials[2..]).unwrap();
    assert_eq!(a, key);
    assert_eq!(b, key);
    assert_eq!(
        CommitteeKey::from_partials(7, &commitments, &mixed[..5]).unwrap_err(),
        KeyError::NotEnoughPartials {
            valid: 3,
            needed: 5
        }
    );

    // a resharing to 4 members keeps PK1, Δ and the id; the new shares combine with Δ_old
    let x = lagrange_at_zero(&[0, 1, 2, 3, 4])
        .iter()
        .zip(&shares)
        .fold(Scalar::zero(), |acc, (l, s)| acc.add(&l.mul(&s.secret)));
    let b1 = Scalar::random(&mut rng);
    let b2 = Scalar::random(&mut rng);
    let g2 = |s: &Scalar| {
        group::g2_compress(&group::p2_to_affine(&group::g2_mul_ct(
            &group::g2_generator(),
            s,
        )))
    };
    let new_commitments = [g2(&x), g2(&b1), g2(&b2)];
    let reshared = key.reshared(4, &new_commitments).unwrap();
    assert_eq!(reshared.id(), key.id());
    assert_eq!(
        reshared.encryption_key().to_bytes(),
        key.encryption_key().to_bytes()
    );
    assert_eq!((reshared.n(), reshared.t()), (4, 3));
    let other = [g2(&b1), g2(&b2), g2(&x)];
    assert_eq!(
        key.reshared(4, &other).unwrap_err(),
        KeyError::InconsistentKey
    );
    let back = CommitteeKey::from_bytes(&reshared.to_bytes()).unwrap();
    assert_eq!(back, reshared);
}

#[test]
fn integer_lagrange_weights_are_small() {
    // Δ·λ_i is an integer; for (16, 11) it fits in ~61 bits, for (4, 3) in 5.
    let members: Vec<u32> = (0..11).collect();
    let w: Vec<Scalar> = lagrange_at_zero(&members)
        .into_iter()
        .map(|l| l.mul(&default_delta(16)))
        .collect();
    assert!(crate::group::SharedWeights::new(&w).bits() <= 64);
    let w: Vec<Scalar> = lagrange_at_zero(&[0, 1, 2])
        .into_iter()
        .map(|l| l.mul(&default_delta(4)))
        .collect();
    assert!(crate::group::SharedWeights::new(&w).bits() <= 6);
}

#[test]
fn thresholds_outside_what_privacy_and_liveness_need_are_refused() {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    // (n, f + 1, n - f) with f = ⌊(n − 1)/3⌋
    for (n, min, max) in [(1, 1, 1), (4, 2, 3), (7, 3, 5), (10, 4, 7)] {
        assert_eq!(threshold_range(n), min..=max);
        let f = (n - 1) / 3;
        assert!(
            threshold_range(n).contains(&(2 * f + 1)),
            "the default t, n={n}"
        );
        for t in [min, max] {
            let (key, _) = deal(n, t, &mut rng).unwrap();
            assert_eq!(CommitteeKey::from_bytes(&key.to_bytes()).unwrap().t(), t);
        }
        for t in [min - 1, max + 1] {
            let err = deal(n, t, &mut rng).unwrap_err();
            if t == 0 || t > n {
                assert!(
                    matches!(err, KeyError::InvalidParameters { .. }),
                    "n={n} t={t}"
                );
            } else {
                assert_eq!(err, KeyError::ThresholdOutOfRange { n, t, min, max });
            }
        }
    }
    // a stored key whose n was changed so that its t no longer fits is refused on load
    let (key, _) = deal(4, 3, &mut rng).unwrap();
    let mut b = key.to_bytes();
    b[1..5].copy_from_slice(&10u32.to_be_bytes());
    assert!(matches!(
        CommitteeKey::from_bytes(&b),
        Err(DecodeError::Invalid {
            field: "committee key n/t",
            ..
        })
    ));
}

#[test]
fn rejects_bad_parameters_and_inconsistent_keys() {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    assert!(deal(3, 0, &mut rng).is_err());
    assert!(deal(3, 4, &mut rng).is_err());
    let (key, _) = deal(4, 3, &mut rng).unwrap();
    let (other, _) = deal(4, 3, &mut rng).unwrap();
    // splice other's PK1 into key's encoding
    let mut b = key.to_bytes();
    let ob = other.to_bytes();
    b[41..89].copy_from_slice(&ob[41..89]);
    assert!(CommitteeKey::from_bytes(&b).is_err());
    assert!(CommitteeKey::from_bytes(&key.to_bytes()[..100]).is_err());
}
