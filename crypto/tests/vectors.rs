//! Encryption test vectors (`tests/vectors/encryption.json` at the repository root, format in
//! SPEC.md Appendix A): a fixed committee key with its key shares, and for each case the label,
//! the 32-byte seed encryption draws, the message and padding, and what they give: the
//! ciphertext, its id, every member's decryption share, the opening and the plaintext.
//!
//! `cargo test -p curtain-crypto --test vectors` recomputes the file from its own inputs (the
//! key and shares it holds, each case's label, seed, message and padding) and requires it to be
//! byte-for-byte what is committed. `CURTAIN_WRITE_VECTORS=1` writes it instead, from a key
//! dealt with a seeded RNG.

use curtain_crypto::{
    combine, deal, encrypt, open, verify, verify_openings, CommitteeKey, Decryption, KeyEpoch,
    KeyShare, Label, Namespace, Padding, ShareBatch,
};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde::{Deserialize, Serialize};

const PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/vectors/encryption.json"
);
/// The dealer's RNG seed when writing (any fixed value; the file holds the key it gave).
const DEALER_SEED: u64 = 0x6375_7274_6169_6e00;
const ABOUT: &str = "curtain encryption test vectors, format: SPEC.md Appendix A";

#[derive(Serialize, Deserialize)]
struct Vectors {
    about: String,
    /// CommitteeKey encoding (SPEC §3), hex.
    committee_key: String,
    /// H_key-id(PK1), hex.
    key_id: String,
    /// PK1 compressed (the EncryptionKey encoding), hex.
    encryption_key: String,
    /// Every member's KeyShare encoding `0x01 ‖ index(4) ‖ x_i(32)`, hex, by index.
    key_shares: Vec<String>,
    cases: Vec<Case>,
}

#[derive(Serialize, Deserialize)]
struct Case {
    label: LabelFields,
    /// enc(L) (SPEC §3), hex.
    label_encoding: String,
    /// The 32 bytes encryption draws from its RNG, hex.
    seed: String,
    message: String,
    /// "none" or "buckets".
    padding: String,
    ciphertext: String,
    ciphertext_id: String,
    /// `x_i·û` for every member i, uncompressed G1 (96 bytes), hex.
    shares: Vec<String>,
    /// `Z = h_eff·Δ·x·û`, compressed G1, hex.
    opening: String,
    /// What opening gives, hex (every case here decrypts).
    plaintext: String,
}

#[derive(Serialize, Deserialize)]
struct LabelFields {
    key_id: String,
    /// u64s as decimal strings (JSON numbers lose precision above 2^53).
    key_epoch: String,
    namespace: String,
    sender: String,
}

/// The inputs of one case.
struct Input {
    key_epoch: u64,
    namespace: u64,
    sender: Vec<u8>,
    seed: [u8; 32],
    message: Vec<u8>,
    padding: Padding,
}

/// An RNG that yields exactly one 32-byte seed: encryption must draw that and nothing else.
struct SeedRng(Option<[u8; 32]>);

impl rand_core::TryRng for SeedRng {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        panic!("encryption draws only its 32-byte seed")
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        panic!("encryption draws only its 32-byte seed")
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        let seed = self.0.take().expect("encryption draws one seed");
        assert_eq!(dst.len(), 32, "the seed is 32 bytes");
        dst.copy_from_slice(&seed);
        Ok(())
    }
}
impl rand_core::TryCryptoRng for SeedRng {}

fn padding_name(p: Padding) -> &'static str {
    match p {
        Padding::None => "none",
        Padding::Buckets => "buckets",
    }
}

fn default_inputs() -> Vec<Input> {
    vec![
        Input {
            key_epoch: 0,
            namespace: 1,
            sender: b"alice".to_vec(),
            seed: [0; 32],
            message: b"hello curtain".to_vec(),
            padding: Padding::None,
        },
        Input {
            key_epoch: 3,
            namespace: 42,
            sender: b"alice".to_vec(),
            seed: [0; 32],
            message: b"hello curtain!".to_vec(),
            padding: Padding::None,
        },
        Input {
            key_epoch: 0,
            namespace: 7,
            sender: Vec::new(),
            seed: [0xff; 32],
            message: Vec::new(),
            padding: Padding::Buckets,
        },
        Input {
            key_epoch: u64::MAX,
            namespace: u64::MAX,
            sender: vec![0x5a; 64],
            seed: core::array::from_fn(|i| i as u8),
            message: (0..300u32).map(|i| (i % 251) as u8).collect(),
            padding: Padding::Buckets,
        },
    ]
}

fn inputs_of(v: &Vectors) -> Vec<Input> {
    v.cases
        .iter()
        .map(|c| Input {
            key_epoch: c.label.key_epoch.parse().expect("key_epoch"),
            namespace: c.label.namespace.parse().expect("namespace"),
            sender: hex::decode(&c.label.sender).expect("sender"),
            seed: hex::decode(&c.seed)
                .expect("seed")
                .try_into()
                .expect("32-byte seed"),
            message: hex::decode(&c.message).expect("message"),
            padding: match c.padding.as_str() {
                "none" => Padding::None,
                "buckets" => Padding::Buckets,
                other => panic!("unknown padding {other}"),
            },
        })
        .collect()
}

/// Everything the file states, computed from the key, its shares and the cases' inputs.
fn build(key: &CommitteeKey, shares: &[KeyShare], inputs: &[Input]) -> Vectors {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let cases = inputs
        .iter()
        .map(|i| {
            let label = Label::new(
                key.id(),
                KeyEpoch(i.key_epoch),
                Namespace(i.namespace),
                &i.sender,
            )
            .expect("label");
            let ct = encrypt(
                key.encryption_key(),
                &label,
                &i.message,
                i.padding,
                &mut SeedRng(Some(i.seed)),
            )
            .expect("encrypt");
            let cts = vec![verify(key, ct.clone()).expect("valid")];
            let batches: Vec<ShareBatch> = shares
                .iter()
                .map(|s| s.decryption_shares([0; 32], &cts))
                .collect();
            let combined = combine(key, [0; 32], &cts, &batches, &mut rng).expect("combine");
            let opening = combined.openings[0];
            assert!(verify_openings(key, &cts, &[opening], &mut rng));
            let plaintext = match open(&ct, &opening) {
                Decryption::Plaintext(p) => p,
                Decryption::Undecryptable(u) => panic!("{u}"),
            };
            assert_eq!(plaintext, i.message);
            Case {
                label: LabelFields {
                    key_id: hex::encode(label.key_id()),
                    key_epoch: i.key_epoch.to_string(),
                    namespace: i.namespace.to_string(),
                    sender: hex::encode(&i.sender),
                },
                label_encoding: hex::encode(label.to_bytes()),
                seed: hex::encode(i.seed),
                message: hex::encode(&i.message),
                padding: padding_name(i.padding).to_string(),
                ciphertext: hex::encode(ct.to_bytes()),
                ciphertext_id: hex::encode(ct.id()),
                // a batch of one: the share is the last 96 bytes of its encoding
                shares: batches
                    .iter()
                    .map(|b| hex::encode(&b.to_bytes()[41..]))
                    .collect(),
                opening: hex::encode(opening.to_bytes()),
                plaintext: hex::encode(&plaintext),
            }
        })
        .collect();
    Vectors {
        about: ABOUT.to_string(),
        committee_key: hex::encode(key.to_bytes()),
        key_id: hex::encode(key.id()),
        encryption_key: hex::encode(key.encryption_key().to_bytes()),
        key_shares: shares
            .iter()
            .map(|s| hex::encode(s.to_bytes().as_slice()))
            .collect(),
        cases,
    }
}

fn render(v: &Vectors) -> String {
    serde_json::to_string_pretty(v).expect("serialise") + "\n"
}

#[test]
fn encryption_vectors_match() {
    if std::env::var_os("CURTAIN_WRITE_VECTORS").is_some_and(|v| v == "1") {
        let (key, shares) = deal(4, 3, &mut ChaCha20Rng::seed_from_u64(DEALER_SEED)).unwrap();
        let text = render(&build(&key, &shares, &default_inputs()));
        std::fs::create_dir_all(std::path::Path::new(PATH).parent().unwrap()).unwrap();
        std::fs::write(PATH, text).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(PATH)
        .expect("tests/vectors/encryption.json (write it with CURTAIN_WRITE_VECTORS=1)");
    let file: Vectors = serde_json::from_str(&committed).expect("vector file format");
    let key = CommitteeKey::from_bytes(&hex::decode(&file.committee_key).unwrap()).unwrap();
    let shares: Vec<KeyShare> = file
        .key_shares
        .iter()
        .map(|s| KeyShare::from_bytes(&hex::decode(s).unwrap()).unwrap())
        .collect();
    for s in &shares {
        s.check(&key).expect("the file's shares are the key's");
    }
    assert_eq!(shares.len(), key.n());
    let fresh = render(&build(&key, &shares, &inputs_of(&file)));
    assert!(
        fresh == committed,
        "tests/vectors/encryption.json differs from a fresh computation; if the scheme \
         changed on purpose, regenerate it with CURTAIN_WRITE_VECTORS=1 and update SPEC.md"
    );
}
