//! Writes a small seed corpus (valid encodings) for every target to `fuzz/corpus/<target>/`,
//! deterministically, then exits: `cargo fuzz run seeds`. Not a fuzz target.
#![no_main]
// the init block exits before libFuzzer starts
#![allow(unreachable_code)]
use commonware_codec::Encode as _;
use commonware_cryptography::Signer as _;
use commonware_math::algebra::Random as _;
use commonware_utils::ordered::Set;
use curtain::dkg::ceremony::{Ceremony, Effect, RoundConfig, Secrets, Timeouts};
use curtain::dkg::keystore::{EpochShares, MemberSecrets};
use curtain::dkg::msg::{Entry, Msg};
use curtain::dkg::{Pk, Sk};
use curtain::secrets::sealed::{seal, KdfParams, Passphrase};
use curtain::ledger::block::{Block, NamespaceBatch};
use curtain::ledger::envelope::{admissions_digest, Envelope, RlnProof};
use curtain::ledger::evidence::{Evidence, WrongShares};
use curtain::ledger::signed::SignedBatch;
use curtain::ledger::release::{ReleasedBatch, ReleasedEntry, ReleasedNamespace};
use curtain::ledger::{Digest, Height, KeyEpoch, Namespace};
use curtain::node::core::chain::ChainBlock;
use curtain::node::core::member::ShareMessage;
use curtain::protocol::quic::{frame, Request};
use curtain_circuits::{Fr, Statement, STATEMENT_BYTES};
use curtain_crypto::{
    deal, encrypt, verify, Decryption, EncodedCiphertext, Label, Opening, Padding, Undecryptable,
};
use libfuzzer_sys::fuzz_target;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng as _;
use std::path::PathBuf;

const G1: &str = "97f1d3a73197d7942695638c4fa9ac0fc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb";
const G2: &str = "93e02b6052719f607dacd3a088274f65596bd0d09920b61ab5da61bbdc7f5049334cf11213945d57e5ac7d055d042b7e024aa2b2f08f0a91260805272dc51051c6e47ad4fa403b02b4510b647ae3d1770bac0326a805bbefd48056c8c121bdb8";

fn put(target: &str, name: &str, bytes: &[u8]) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn tagged(tag: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend_from_slice(bytes);
    out
}

fn write_all() {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let g1 = hex::decode(G1).unwrap();
    let g2 = hex::decode(G2).unwrap();

    // crypto: a committee key, ciphertexts, shares
    let (key, shares) = deal(4, 3, &mut rng).unwrap();
    let ct = |ns: u64, sender: &[u8], msg: &[u8], rng: &mut ChaCha20Rng| {
        let label = Label::new(key.id(), KeyEpoch(0), Namespace(ns), sender).unwrap();
        encrypt(key.encryption_key(), &label, msg, Padding::None, rng).unwrap()
    };
    let cts = [
        ct(1, b"", b"", &mut rng),
        ct(1, b"alice", b"hello", &mut rng),
        ct(7, &[0xab; 32], &[0x55; 100], &mut rng),
    ];
    let enc: Vec<EncodedCiphertext> = cts
        .iter()
        .map(|c| EncodedCiphertext::parse(&c.to_bytes()).unwrap())
        .collect();
    for (i, c) in cts.iter().enumerate() {
        put("ciphertext", &format!("ct{i}"), &c.to_bytes());
        put("ciphertext", &format!("label{i}"), &c.label().to_bytes());
    }
    put("crypto_keys", "committee_key", &key.to_bytes());
    put("crypto_keys", "encryption_key", &key.encryption_key().to_bytes());
    put("crypto_keys", "key_share", &shares[0].to_bytes());
    put("crypto_keys", "opening", &g1);

    // envelopes: open and anonymous (the statement's nullifier is the sender tag; the proof
    // is kept as bytes by parsing, so the generators' points stand in)
    let mut st = [0u8; STATEMENT_BYTES];
    st[32..40].copy_from_slice(&5u64.to_be_bytes());
    st[40..72].copy_from_slice(&[0x0b; 32]);
    st[72] = 0;
    st[103] = 9;
    let statement = Statement::from_bytes(&st).unwrap();
    let _: Fr = statement.x;
    let mut proof_bytes = g1.clone();
    proof_bytes.extend_from_slice(&g2);
    proof_bytes.extend_from_slice(&g1);
    let rln = RlnProof {
        statement,
        proof: proof_bytes.clone().try_into().unwrap(),
    };
    let envs = vec![
        Envelope::from(enc[0].clone()),
        Envelope::from(enc[1].clone()),
        Envelope::anonymous(enc[2].clone(), rln.clone()),
    ];
    for (i, e) in envs.iter().enumerate() {
        put("envelope", &format!("env{i}"), &e.to_bytes());
    }
    put("envelope", "rln_proof", &rln.to_bytes());

    // blocks
    let by_ns = |envs: &[Envelope]| -> Vec<NamespaceBatch> {
        let mut out: Vec<NamespaceBatch> = Vec::new();
        for e in envs {
            let ns = e.ciphertext().label().namespace();
            match out.last_mut() {
                Some(b) if b.namespace == ns => b.ids.push(e.id()),
                _ => out.push(NamespaceBatch {
                    namespace: ns,
                    ids: vec![e.id()],
                }),
            }
        }
        out
    };
    let open2 = &envs[..2];
    let b1 = Block::new(Digest([3; 32]), Height(5), by_ns(open2));
    let b2 = Block::with_admissions(
        b1.digest(),
        Height(6),
        by_ns(&envs),
        admissions_digest(envs.iter().map(|e| e.rln().map(|p| &**p))),
    );
    put("block", "genesis", &Block::genesis().to_bytes());
    put("block", "open", &b1.to_bytes());
    put("block", "anonymous", &b2.to_bytes());
    let cb1 = ChainBlock::new(b1.clone(), open2.to_vec()).unwrap();
    let cb2 = ChainBlock::new(b2.clone(), envs.clone()).unwrap();
    put("chain_block", "genesis", &ChainBlock::genesis().encode());
    put("chain_block", "open", &cb1.encode());
    put("chain_block", "anonymous", &cb2.encode());

    // released batches
    let opening = Opening::from_bytes(&g1).unwrap();
    let entry = |e: &Envelope, outcome: Decryption| ReleasedEntry {
        ciphertext: e.ciphertext().clone(),
        rln: e.rln().cloned(),
        opening,
        outcome,
    };
    let rb = ReleasedBatch {
        height: Height(6),
        parent: b1.digest(),
        block: b2.digest(),
        certificate: vec![1, 2, 3],
        namespaces: vec![
            ReleasedNamespace {
                namespace: Namespace(1),
                entries: vec![
                    entry(&envs[0], Decryption::Plaintext(vec![])),
                    entry(&envs[1], Decryption::Plaintext(b"hello".to_vec())),
                ],
            },
            ReleasedNamespace {
                namespace: Namespace(7),
                entries: vec![entry(
                    &envs[2],
                    Decryption::Undecryptable(Undecryptable::AeadFailure),
                )],
            },
        ],
    };
    put("release", "batch", &rb.to_bytes());
    let rb_empty = ReleasedBatch {
        namespaces: vec![],
        certificate: vec![],
        ..rb.clone()
    };
    put("release", "empty", &rb_empty.to_bytes());

    // shares and gossip
    let verified: Vec<_> = cts.iter().map(|c| verify(&key, c.clone()).unwrap()).collect();
    let batch = shares[1].decryption_shares([9; 32], &verified);
    // a decode seed: the signature is not checked by the decoder
    let signed = SignedBatch::sign(
        &[7; 32],
        KeyEpoch(0),
        Height(6),
        Digest([3; 32]),
        batch.clone(),
        |_| [5; 64],
    );
    put("share_message", "batch", &ShareMessage::Batch(signed.clone()).encode());
    // evidence: a (not necessarily holding) wrong-shares piece, well-formed
    let evidence_block = Block::new(
        Digest([3; 32]),
        Height(6),
        vec![NamespaceBatch {
            namespace: Namespace(1),
            ids: cts.iter().map(|c| c.id()).collect(),
        }],
    );
    let evidence = Evidence::WrongShares(Box::new(WrongShares::new(
        signed,
        evidence_block,
        cts.iter().map(|c| c.encoded().clone()).collect(),
    )));
    put("evidence", "wrong_shares", &evidence.to_bytes());
    put(
        "share_message",
        "evidence",
        &ShareMessage::Evidence(evidence.to_bytes()).encode(),
    );
    put(
        "share_message",
        "request",
        &ShareMessage::Request {
            height: 6,
            batch_id: [9; 32],
        }
        .encode(),
    );
    put("share_message", "raw_batch", &batch.to_bytes());
    let mut gossip = vec![1u8];
    gossip.extend_from_slice(&(envs.len() as u32).to_be_bytes());
    for e in &envs {
        let b = e.to_bytes();
        gossip.extend_from_slice(&(b.len() as u32).to_be_bytes());
        gossip.extend_from_slice(&b);
    }
    put("gossip", "three", &gossip);
    put("gossip", "empty", &[1, 0, 0, 0, 0]);
    put(
        "inclusion_list",
        "two",
        &curtain::node::core::inclusion::encode_list(&[[1; 32], [2; 32]]),
    );
    put("inclusion_list", "empty", &[1, 0, 0, 0, 0]);

    // QUIC requests, framed
    let reqs = [
        Request::Submit(envs[1].to_bytes()),
        Request::Subscribe {
            namespace: Namespace(7),
            from: Height(3),
        },
        Request::Release { height: Height(6) },
        Request::Committee,
    ];
    let mut stream = Vec::new();
    for (i, r) in reqs.iter().enumerate() {
        put("quic", &format!("req{i}"), &frame(&r.to_bytes()));
        stream.extend_from_slice(&frame(&r.to_bytes()));
    }
    put("quic", "stream", &stream);

    // RLN (the target's first byte picks the decoder)
    put("rln", "proof", &tagged(0, &proof_bytes));
    put("rln", "statement", &tagged(1, &st));
    let mut reg = vec![1u8];
    reg.extend_from_slice(&[0; 31]);
    reg.push(5);
    reg.extend_from_slice(&3u32.to_be_bytes());
    put("rln", "register", &tagged(2, &reg));
    let mut ev = Vec::new();
    for id in [[1u8; 32], [2u8; 32]] {
        ev.extend_from_slice(&id);
        ev.extend_from_slice(&rln.to_bytes());
    }
    put("rln", "slash", &tagged(2, &tagged(2, &ev)));

    // finality: varints epoch, view, parent ‖ payload ‖ signature
    let mut fin = vec![0u8, 0x96, 0x01, 0x95, 0x01];
    fin.extend_from_slice(&b2.digest().0);
    fin.extend_from_slice(&g1);
    put("finality", "finalization", &fin);

    // DKG: the first messages and journal entries of a 4-member ceremony
    let keys: Vec<Sk> = (0..4).map(|_| Sk::random(&mut rng)).collect();
    let set = Set::try_from(keys.iter().map(|k| k.public_key()).collect::<Vec<Pk>>()).unwrap();
    let cfg = RoundConfig {
        round: 0,
        dealers: set.clone(),
        players: set,
        previous: None,
        timeouts: Timeouts {
            deal_ms: 1_000,
            logs_ms: 1_000,
            agree_ms: 1_000,
            publish_ms: 1_000,
        },
    };
    let secrets = Secrets {
        identity: keys[0].clone(),
        consensus: None,
        encryption: None,
    };
    let (_, out) = Ceremony::new(cfg, secrets, [1; 32]).unwrap();
    let mut n = 0;
    for e in out {
        match e {
            Effect::Send(to, msg) if n < 2 => {
                put("dkg_msg", &format!("deal{n}"), &msg.encode());
                let entry = Entry::Received { from: to, msg };
                put("dkg_msg", &format!("entry{n}"), &entry.encode());
                n += 1;
            }
            Effect::Persist(entry) if n < 4 => {
                put("dkg_msg", &format!("persist{n}"), &entry.encode());
                n += 1;
            }
            _ => {}
        }
    }
    let sig = keys[1].sign(b"curtain", &[7; 32]);
    let msgs = [
        Msg::Resync,
        Msg::Public(g1.clone().try_into().unwrap()),
        Msg::Ack {
            consensus: None,
            encryption: None,
        },
        Msg::Echo {
            digest: [7; 32],
            sig: sig.clone(),
        },
        Msg::Commit {
            digest: [7; 32],
            proposal: None,
            echoes: vec![(1, sig)],
        },
    ];
    for (i, m) in msgs.iter().enumerate() {
        put("dkg_msg", &format!("msg{i}"), &m.encode());
    }
    put("dkg_msg", "decided", &Entry::Decided(Msg::Resync).encode());

    // keystores (first byte picks the decoder)
    let pass = Passphrase::new("fuzz");
    let member = MemberSecrets {
        identity: keys[0].clone(),
        shares: Some(EpochShares {
            key_epoch: 3,
            consensus: commonware_cryptography::bls12381::primitives::group::Share::new(
                commonware_utils::Participant::new(2),
                commonware_cryptography::bls12381::primitives::group::Private::new(
                    commonware_cryptography::bls12381::primitives::group::Scalar::random(&mut rng),
                ),
            ),
            encryption: commonware_cryptography::bls12381::primitives::group::Share::new(
                commonware_utils::Participant::new(2),
                commonware_cryptography::bls12381::primitives::group::Private::new(
                    commonware_cryptography::bls12381::primitives::group::Scalar::random(&mut rng),
                ),
            ),
        }),
    };
    let payload = member.encode();
    let sealed = seal(b"CURTAINK", &payload, &pass, KdfParams::INSECURE_FAST, &mut rng).unwrap();
    put("keystore", "member", &tagged(0, &sealed));
    put("keystore", "member_payload", &tagged(1, &payload));
    let only = MemberSecrets {
        identity: keys[1].clone(),
        shares: None,
    };
    put("keystore", "identity_only_payload", &tagged(1, &only.encode()));
    let mut id = vec![0u8; 31];
    id.push(42);
    id.extend_from_slice(&10u32.to_be_bytes());
    put("keystore", "rln_identity_payload", &tagged(2, &id));
    let sealed = seal(b"CURTAINI", &id, &pass, KdfParams::INSECURE_FAST, &mut rng).unwrap();
    put("keystore", "rln_identity", &tagged(0, &sealed));

    // committee.json from an in-process ceremony
    let cfg = RoundConfig {
        round: 0,
        dealers: Set::try_from(keys.iter().map(|k| k.public_key()).collect::<Vec<Pk>>())
            .unwrap(),
        players: Set::try_from(keys.iter().map(|k| k.public_key()).collect::<Vec<Pk>>())
            .unwrap(),
        previous: None,
        timeouts: Timeouts {
            deal_ms: 1_000,
            logs_ms: 1_000,
            agree_ms: 1_000,
            publish_ms: 1_000,
        },
    };
    let mut sorted = keys.clone();
    sorted.sort_by_key(|k| k.public_key());
    let results = curtain::dkg::local::run(&sorted, &cfg, &Default::default()).unwrap();
    let Some(Some(Ok(o))) = results.into_iter().next() else {
        panic!("the in-process ceremony failed")
    };
    put(
        "finality",
        "consensus_public",
        &tagged(3, &o.consensus.public().encode()),
    );
    let participants: Vec<_> = sorted
        .iter()
        .enumerate()
        .map(|(i, k)| {
            serde_json::json!({
                "identity": hex::encode(k.public_key().encode()),
                "p2p": format!("127.0.0.1:{}", 9000 + i),
                "api": format!("127.0.0.1:{}", 8000 + i),
            })
        })
        .collect();
    let committee = serde_json::json!({
        "participants": participants,
        "consensus_public": hex::encode(o.consensus.public().encode()),
        "encryption_key": hex::encode(o.key.to_bytes()),
        "key_epoch": 0,
    });
    put("committee", "plain", serde_json::to_string(&committee).unwrap().as_bytes());
    let mut with_ns = committee.clone();
    with_ns["namespaces"] = serde_json::json!([{"id": 1, "admission": "open"}, {"id": 2, "admission": "open"}]);
    with_ns["activation_height"] = serde_json::json!(10);
    put("committee", "namespaces", serde_json::to_string_pretty(&with_ns).unwrap().as_bytes());
}

fuzz_target!(
    init: {
        write_all();
        std::process::exit(0)
    },
    |_data: &[u8]| {}
);
