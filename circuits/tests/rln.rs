//! End-to-end: dev setup at depth 20, proving, single and batch verification, recovery, and
//! hostile encodings of proofs, statements and key files.

use curtain_circuits::{
    commitment, find_invalid, fr_to_be_bytes, prove, recover_secret, setup_dev, signal_hash,
    verify, verify_batch, CircuitParams, DecodeError, Fr, Identity, KeyError, MerklePath,
    MerkleTree, Proof, ProveError, ProvingKey, RecoverError, Statement, VerifyError, VerifyingKey,
    Witness, WitnessError, PROOF_BYTES, STATEMENT_BYTES,
};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::sync::OnceLock;

const EPOCH: u64 = 42;

fn keys() -> &'static (ProvingKey, VerifyingKey) {
    static KEYS: OnceLock<(ProvingKey, VerifyingKey)> = OnceLock::new();
    KEYS.get_or_init(|| setup_dev(CircuitParams::default(), [7; 32]))
}

/// A depth-20 tree with `identities` at indices 0, 1, … and a few unrelated leaves after them.
struct Members {
    identities: Vec<Identity>,
    tree: MerkleTree,
}

impl Members {
    fn new(n: usize, limit: u32) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(n as u64);
        let identities: Vec<Identity> = (0..n).map(|_| Identity::random(limit, &mut rng)).collect();
        let mut tree = MerkleTree::new(20).unwrap();
        for id in &identities {
            tree.push(id.commitment()).unwrap();
        }
        for i in 0..3u64 {
            tree.push(Fr::from(i + 99)).unwrap();
        }
        Self { identities, tree }
    }

    fn path(&self, i: usize) -> MerklePath {
        self.tree.path(i as u64).unwrap()
    }

    /// Member `i`'s witness for message `k` of [`EPOCH`], signalling `payload`.
    fn witness<'a>(
        &'a self,
        path: &'a MerklePath,
        i: usize,
        k: u32,
        payload: &[u8],
    ) -> Witness<'a> {
        Witness {
            identity: &self.identities[i],
            path,
            root: self.tree.root(),
            epoch: EPOCH,
            message_index: k,
            signal: signal_hash(payload),
        }
    }

    /// Proves member `i`'s message `k` for `payload`.
    fn signal(
        &self,
        i: usize,
        k: u32,
        payload: &[u8],
        rng: &mut ChaCha20Rng,
    ) -> (Statement, Proof) {
        let path = self.path(i);
        let witness = self.witness(&path, i, k, payload);
        let proof = prove(&keys().0, &witness, rng).unwrap();
        (witness.statement(), proof)
    }
}

#[test]
fn valid_proof_verifies_and_every_tampered_statement_fails() {
    let (_, vk) = keys();
    let members = Members::new(2, 4);
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let (statement, proof) = members.signal(0, 0, b"tx", &mut rng);
    verify(vk, &statement, &proof).unwrap();

    let one = Fr::from(1u64);
    let tampered = [
        Statement {
            root: statement.root + one,
            ..statement
        },
        Statement {
            epoch: EPOCH + 1,
            ..statement
        },
        Statement {
            nullifier: statement.nullifier + one,
            ..statement
        },
        Statement {
            x: signal_hash(b"other tx"),
            ..statement
        },
        Statement {
            y: statement.y + one,
            ..statement
        },
    ];
    for s in &tampered {
        assert_eq!(verify(vk, s, &proof), Err(VerifyError::Invalid));
    }
    // A valid proof of another statement (another member) does not verify this one.
    let (other_statement, other_proof) = members.signal(1, 0, b"tx", &mut rng);
    verify(vk, &other_statement, &other_proof).unwrap();
    assert_eq!(
        verify(vk, &statement, &other_proof),
        Err(VerifyError::Invalid)
    );
}

#[test]
fn batch_verification_and_fallback() {
    let (_, vk) = keys();
    let members = Members::new(3, 2);
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let mut batch: Vec<(Statement, Proof)> = (0..4)
        .map(|i| members.signal(i % 3, (i / 3) as u32, &[i as u8], &mut rng))
        .collect();
    verify_batch(vk, &batch, &mut rng).unwrap();
    verify_batch(vk, &[], &mut rng).unwrap();
    assert!(find_invalid(vk, &batch).is_empty());

    // Proof 2 swapped for proof 3's: both now fail.
    batch[2].1 = batch[3].1.clone();
    assert_eq!(
        verify_batch(vk, &batch, &mut rng),
        Err(VerifyError::BatchInvalid)
    );
    assert_eq!(find_invalid(vk, &batch), vec![2]);
    // A wrong public input alone also sinks the batch.
    batch[2].1 = members.signal(2, 0, &[2], &mut rng).1;
    verify_batch(vk, &batch, &mut rng).unwrap();
    batch[1].0.epoch += 1;
    assert_eq!(
        verify_batch(vk, &batch, &mut rng),
        Err(VerifyError::BatchInvalid)
    );
    assert_eq!(find_invalid(vk, &batch), vec![1]);
}

#[test]
fn exceeding_the_rate_reveals_the_secret() {
    let (_, vk) = keys();
    let members = Members::new(1, 3);
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let (s1, p1) = members.signal(0, 1, b"first", &mut rng);
    let (s2, p2) = members.signal(0, 1, b"second", &mut rng);
    verify(vk, &s1, &p1).unwrap();
    verify(vk, &s2, &p2).unwrap();
    assert_eq!(s1.nullifier, s2.nullifier);
    let secret = recover_secret(&s1, &s2).unwrap();
    let identity = &members.identities[0];
    assert_eq!(fr_to_be_bytes(&secret), *identity.secret_bytes());
    assert_eq!(commitment(&secret, 3), identity.commitment());

    // Within the quota: another index, another nullifier, nothing revealed.
    let (s3, _) = members.signal(0, 2, b"second", &mut rng);
    assert_ne!(s3.nullifier, s1.nullifier);
    assert_eq!(
        recover_secret(&s1, &s3),
        Err(RecoverError::DifferentNullifiers)
    );
    assert_eq!(recover_secret(&s1, &s1), Err(RecoverError::SameSignal));
}

#[test]
fn inconsistent_witnesses_are_refused_before_proving() {
    let (pk, _) = keys();
    let members = Members::new(1, 3);
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let path = members.path(0);
    let base = members.witness(&path, 0, 0, b"tx");
    let greedy = Identity::random(1 << 17, &mut rng);
    let mut err = |w: &Witness<'_>| match prove(pk, w, &mut rng) {
        Err(ProveError::Witness(e)) => e,
        other => panic!("expected a witness error, got {other:?}"),
    };
    assert_eq!(
        err(&Witness {
            message_index: 3,
            ..base
        }),
        WitnessError::MessageIndex { index: 3, limit: 3 }
    );
    assert_eq!(
        err(&Witness {
            root: Fr::from(5u64),
            ..base
        }),
        WitnessError::PathMismatch
    );
    let other = members.path(1);
    assert_eq!(
        err(&Witness {
            path: &other,
            ..base
        }),
        WitnessError::PathMismatch
    );
    let short = MerkleTree::new(4).unwrap().path(0).unwrap();
    assert_eq!(
        err(&Witness {
            path: &short,
            ..base
        }),
        WitnessError::PathDepth {
            path: 4,
            circuit: 20
        }
    );
    assert_eq!(
        err(&Witness {
            identity: &greedy,
            ..base
        }),
        WitnessError::Limit {
            limit: 1 << 17,
            max: 1 << 16
        }
    );
}

#[test]
fn proof_and_statement_encodings() {
    let (_, vk) = keys();
    let members = Members::new(1, 1);
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let (statement, proof) = members.signal(0, 0, b"tx", &mut rng);

    let bytes = proof.to_bytes();
    assert_eq!(bytes.len(), PROOF_BYTES);
    assert_eq!(Proof::from_bytes(&bytes).unwrap(), proof);
    assert_eq!(
        Proof::from_bytes(&bytes[..191]),
        Err(DecodeError::Length {
            expected: 192,
            got: 191
        })
    );
    // Flipping the compression flag, or a byte of each point's x, gives a typed error.
    for at in [0, 20, 48, 100, 150] {
        let mut bad = bytes;
        bad[at] ^= if at % 48 == 0 { 0x80 } else { 0x01 };
        match Proof::from_bytes(&bad) {
            Err(DecodeError::Point(_) | DecodeError::NonCanonical) => {}
            Ok(p) => assert!(verify(vk, &statement, &p).is_err()),
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    // Identity points are refused; the point at infinity with a stray bit set is malformed.
    let mut inf = [0u8; PROOF_BYTES];
    inf[0] = 0xc0;
    inf[48] = 0xc0;
    inf[144] = 0xc0;
    assert_eq!(Proof::from_bytes(&inf), Err(DecodeError::Identity));
    inf[47] = 1;
    assert!(matches!(
        Proof::from_bytes(&inf),
        Err(DecodeError::Point(_))
    ));

    let sb = statement.to_bytes();
    assert_eq!(sb.len(), STATEMENT_BYTES);
    assert_eq!(Statement::from_bytes(&sb).unwrap(), statement);
    assert!(matches!(
        Statement::from_bytes(&sb[1..]),
        Err(DecodeError::Length { .. })
    ));
    let mut unreduced = sb;
    unreduced[40..72].fill(0xff);
    assert_eq!(
        Statement::from_bytes(&unreduced),
        Err(DecodeError::ScalarOutOfRange)
    );
}

#[test]
fn key_files_round_trip_and_hostile_files_are_refused() {
    let (pk, vk) = keys();
    assert_eq!(pk.digest(), vk.digest());
    assert_eq!(pk.verifying_key().digest(), vk.digest());

    let vk_bytes = vk.to_bytes();
    let loaded = VerifyingKey::from_bytes(&vk_bytes).unwrap();
    assert_eq!(loaded.digest(), vk.digest());
    assert_eq!(loaded.params(), CircuitParams::default());
    VerifyingKey::from_bytes_pinned(&vk_bytes, &vk.digest()).unwrap();
    assert_eq!(
        VerifyingKey::from_bytes_pinned(&vk_bytes, &[0; 32]).err(),
        Some(KeyError::Unexpected)
    );

    let pk_bytes = pk.to_bytes();
    let dir = std::env::temp_dir().join(format!("curtain-circuits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("rln.pk"), &pk_bytes).unwrap();
    std::fs::write(dir.join("rln.vk"), &vk_bytes).unwrap();
    let pk2 = ProvingKey::load(&dir.join("rln.pk")).unwrap();
    assert_eq!(pk2.digest(), vk.digest());
    assert_eq!(
        VerifyingKey::load(&dir.join("rln.vk")).unwrap().digest(),
        vk.digest()
    );
    assert!(matches!(
        VerifyingKey::load(&dir.join("missing")),
        Err(KeyError::Io(_))
    ));
    std::fs::remove_dir_all(&dir).unwrap();
    // The reloaded proving key proves.
    let members = Members::new(1, 1);
    let path = members.path(0);
    let witness = members.witness(&path, 0, 0, b"tx");
    let proof = prove(&pk2, &witness, &mut ChaCha20Rng::seed_from_u64(6)).unwrap();
    verify(vk, &witness.statement(), &proof).unwrap();

    let vk_err = |b: &[u8]| VerifyingKey::from_bytes(b).err().expect("must be refused");
    assert_eq!(vk_err(&vk_bytes[..20]), KeyError::Truncated("header"));
    assert_eq!(
        vk_err(&vk_bytes[..vk_bytes.len() - 1]),
        KeyError::Truncated("body")
    );
    assert_eq!(
        vk_err(&[&vk_bytes[..], &[0]].concat()),
        KeyError::TrailingBytes
    );
    assert_eq!(
        vk_err(&pk_bytes),
        KeyError::Kind {
            found: 1,
            expected: 2
        }
    );
    let patched = |at: usize, value: u8| {
        let mut b = vk_bytes.clone();
        b[at] = value;
        b
    };
    assert_eq!(vk_err(&patched(0, b'X')), KeyError::Magic);
    assert_eq!(vk_err(&patched(9, 2)), KeyError::Version(2));
    assert!(matches!(vk_err(&patched(11, 0)), KeyError::Params(_)));
    assert!(matches!(vk_err(&patched(12, 33)), KeyError::Params(_)));
    // Same key, header claiming another depth: the digest no longer matches.
    assert_eq!(vk_err(&patched(11, 19)), KeyError::Digest);
    assert_eq!(vk_err(&patched(13, vk_bytes[13] ^ 1)), KeyError::Digest);
    // A huge declared body is refused before anything is read.
    let mut huge = vk_bytes.clone();
    huge[45..53].copy_from_slice(&u64::MAX.to_be_bytes());
    assert!(matches!(vk_err(&huge), KeyError::TooLarge { .. }));
    // A huge length prefix inside the body (the IC vector's, after α, β, γ, δ) fails at the
    // end of the input instead of allocating.
    let mut prefix = vk_bytes.clone();
    prefix[53 + 48 + 3 * 96..53 + 48 + 3 * 96 + 8].fill(0xff);
    assert!(matches!(vk_err(&prefix), KeyError::Body(_)));
    // Corrupted points in the body.
    for at in [53 + 8, 53 + 60, vk_bytes.len() - 1] {
        assert!(
            matches!(vk_err(&patched(at, vk_bytes[at] ^ 0x04)), KeyError::Body(_)),
            "{at}"
        );
    }
    // A proving key file whose queries are cut short, with a consistent header.
    let mut short = pk_bytes[..pk_bytes.len() - 48].to_vec();
    let len = (short.len() - 53) as u64;
    short[45..53].copy_from_slice(&len.to_be_bytes());
    assert!(matches!(
        ProvingKey::from_bytes(&short),
        Err(KeyError::Body(_))
    ));
}
