//! Anonymous admission through real `curtain node` processes: `curtain circuits setup`
//! keys, a committee with an anonymous namespace, an SDK wallet that registers and sends;
//! strangers, missing and mauled proofs and an over-quota sender get their documented errors;
//! the double signal becomes slashing evidence anyone can check and, through a slashing
//! transaction, the removal of the sender's leaf at every member; the release shows only the
//! nullifier.

mod common;

use common::{http, poll, Nodes};
use curtain::ledger::envelope::Envelope;
use curtain::ledger::{KeyEpoch, Namespace};
use curtain::node::core::rln::{seal_anonymous, Membership, SlashingEvidence};
use curtain::protocol::json::{ErrorBody, SlashingList, TxStatus};
use curtain::sdk::rln::{create_identity, load_identity, AnonymousWallet};
use curtain::sdk::{Client, SdkError};
use curtain::secrets::sealed::{KdfParams, KeystoreError, Passphrase};
use curtain_circuits::{fr_to_be_bytes, Identity, MerkleTree, ProvingKey, VerifyingKey};
use std::process::Command;
use std::time::Duration;

const OPEN: u64 = 1;
const ANON: u64 = 5;
const STARTUP: Duration = Duration::from_secs(60);

fn code(answer: &(u16, Vec<u8>)) -> (u16, String) {
    let body: ErrorBody = serde_json::from_slice(&answer.1)
        .unwrap_or_else(|_| panic!("error body: {}", String::from_utf8_lossy(&answer.1)));
    (answer.0, body.error.code)
}

#[test]
fn anonymous_namespace_admits_members_and_slashes_double_signals() {
    let base = common::free_ports(20_000, 25_000, 8);
    let keys = std::env::temp_dir().join(format!("curtain-rln-keys-{}", std::process::id()));
    // a small circuit keeps the dev setup and proofs fast
    let status = Command::new(env!("CARGO_BIN_EXE_curtain"))
        .args([
            "circuits",
            "setup",
            "--depth",
            "6",
            "--range-bits",
            "4",
            "--out",
        ])
        .arg(&keys)
        .status()
        .unwrap();
    assert!(status.success(), "curtain circuits setup");
    let vk_path = keys.join("rln.vk");
    let pk = std::sync::Arc::new(ProvingKey::load(&keys.join("rln.pk")).unwrap());
    let vk = VerifyingKey::load(&vk_path).unwrap();
    let mut nodes = Nodes::deal_with(
        "curtain-rln",
        4,
        base,
        &[
            "--namespaces",
            &OPEN.to_string(),
            "--anonymous",
            &ANON.to_string(),
            "--rln-key",
            vk_path.to_str().unwrap(),
            "--rln-epoch-blocks",
            "100000",
            "--rln-root-lag",
            "2",
        ],
    );
    assert!(nodes.committee.rln.is_some());
    nodes.start(0..4, STARTUP);
    let api = nodes.api.clone();
    let urls: Vec<String> = api.iter().map(|a| format!("http://{a}")).collect();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let id_path = keys.join("alice.id");
    let mut rng = rand::rng();
    // the identity is an encrypted keystore: the secret is not in the file, a wrong
    // passphrase is refused
    let pass = Passphrase::new("alice's passphrase");
    let alice = create_identity(&id_path, 2, &pass, KdfParams::INSECURE_FAST, &mut rng).unwrap();
    let file = std::fs::read(&id_path).unwrap();
    let secret = alice.secret_bytes();
    assert!(!file.windows(32).any(|w| w == secret.as_slice()));
    assert!(!file
        .windows(64)
        .any(|w| w == hex::encode(secret.as_slice()).as_bytes()));
    assert!(matches!(
        load_identity(&id_path, &Passphrase::new("mallory")),
        Err(SdkError::Keystore(KeystoreError::WrongPassphrase))
    ));
    assert_eq!(
        load_identity(&id_path, &pass)
            .unwrap()
            .secret_bytes()
            .as_slice(),
        secret.as_slice()
    );
    let client = rt.block_on(Client::connect(urls.clone(), None)).unwrap();
    assert_eq!(
        client.committee().anonymous_namespaces,
        vec![Namespace(ANON)]
    );
    let wallet =
        AnonymousWallet::new(client.clone(), &id_path, &pass, std::sync::Arc::clone(&pk)).unwrap();

    // register and wait for an accepted root holding the identity
    rt.block_on(wallet.register(&mut rng)).unwrap();
    let member = rt
        .block_on(wallet.wait_registered(Duration::from_secs(90)))
        .expect("registered");

    // a member's envelope is accepted and released; the release shows the nullifier only
    let ticks = std::cell::Cell::new(0);
    let env = rt
        .block_on(
            wallet.seal(Namespace(ANON), b"anonymous hello", &member, |_| {
                ticks.set(ticks.get() + 1)
            }),
        )
        .unwrap();
    let id = rt.block_on(wallet.submit(&env)).unwrap();
    assert_eq!(id, env.id());
    let height = poll(
        Duration::from_secs(90),
        Duration::from_millis(200),
        "release",
        || {
            let (s, body) = http(
                api[1],
                "GET",
                &format!("/v1/transactions/{}", hex::encode(id)),
                b"",
            )?;
            (s == 200).then_some(())?;
            match serde_json::from_slice::<TxStatus>(&body).ok()? {
                TxStatus::Released { height, .. } => Some(height),
                _ => None,
            }
        },
    );
    // members release a height independently: member 2 may be a moment behind member 1
    let release = poll(
        Duration::from_secs(30),
        Duration::from_millis(100),
        "release at member 2",
        || {
            let (s, body) = http(api[2], "GET", &format!("/v1/releases/{height}"), b"")?;
            (s == 200).then_some(body)
        },
    );
    let nullifier = env.rln().unwrap().nullifier();
    assert!(
        release.windows(32).any(|w| w == nullifier),
        "the nullifier is the sender tag"
    );
    let secret = alice.secret_bytes();
    let commitment = fr_to_be_bytes(&alice.commitment());
    for (what, needle) in [("secret", &secret[..]), ("commitment", &commitment[..])] {
        assert!(
            !release.windows(32).any(|w| w == needle),
            "the release shows the {what}"
        );
    }

    // a stranger proves against its own tree: unknown root
    let key = nodes.committee.encryption_key.clone();
    let stranger = Identity::random(2, &mut rng);
    let mut own = MerkleTree::new(6).unwrap();
    own.push(stranger.commitment()).unwrap();
    let epoch = rt.block_on(wallet.epoch()).unwrap();
    let seal = |identity: &Identity, tree: &MerkleTree, index: u64, k: u32, msg: &[u8]| {
        let m = Membership {
            identity,
            tree,
            index,
            epoch,
            message_index: k,
        };
        seal_anonymous(
            &key,
            KeyEpoch(0),
            Namespace(ANON),
            msg,
            &m,
            &pk,
            &mut rand::rng(),
        )
        .unwrap()
    };
    let post = |e: &Envelope| http(api[0], "POST", "/v1/transactions", &e.to_bytes()).unwrap();
    let e = seal(&stranger, &own, 0, 0, b"stranger");
    assert_eq!(code(&post(&e)), (400, "unknown_root".into()));
    // no proof at all
    let label =
        curtain_crypto::Label::new(key.id(), KeyEpoch(0), Namespace(ANON), b"someone").unwrap();
    let plain = common::seal(&key, &label, b"no proof", &mut rng);
    assert_eq!(
        code(&http(api[0], "POST", "/v1/transactions", plain.as_bytes()).unwrap()),
        (400, "proof_required".into())
    );
    // a mauled proof
    let good = seal(&alice, &member.tree, member.index, 1, b"mauled");
    let mut bad = (**good.rln().unwrap()).clone();
    bad.proof[150] ^= 1;
    let mauled = Envelope::anonymous(good.ciphertext().clone(), bad);
    assert_eq!(code(&post(&mauled)), (400, "invalid_proof".into()));

    // over quota: message index 1 again with another signal (index 0 went to the first
    // envelope unless the epoch changed; index 1 is used by `good` below)
    assert_eq!(post(&good).0, 202, "the member's second message");
    let twice = seal(&alice, &member.tree, member.index, 1, b"one too many");
    assert_eq!(code(&post(&twice)), (429, "over_quota".into()));

    // the double signal is evidence anyone can check: it recovers alice's secret
    let (s, body) = http(api[0], "GET", "/v1/slashing", b"").unwrap();
    assert_eq!(s, 200);
    let list: SlashingList = serde_json::from_slice(&body).unwrap();
    assert_eq!(list.evidence.len(), 1);
    let item = &list.evidence[0];
    assert_eq!(item.recovered_secret, hex::encode(*secret));
    let evidence = SlashingEvidence::from_bytes(&hex::decode(&item.encoded).unwrap()).unwrap();
    let a0 = evidence.verify(&vk).unwrap();
    assert_eq!(fr_to_be_bytes(&a0), *secret);
    assert_eq!(
        (evidence.first.0, evidence.second.0),
        (good.id(), twice.id())
    );
    // a member turned the evidence into a slashing transaction: once released, every member
    // removes alice's leaf
    let zero = hex::encode([0u8; 32]);
    for a in &api {
        poll(
            Duration::from_secs(90),
            Duration::from_millis(200),
            "leaf removed",
            || {
                let (_, b) = http(*a, "GET", "/v1/rln/leaves", b"")?;
                let leaves: curtain::protocol::json::RlnLeaves = serde_json::from_slice(&b).ok()?;
                (leaves.leaves.get(member.index as usize) == Some(&zero)).then_some(())
            },
        );
    }
    // every member serves the same registry
    let roots: Vec<String> = api
        .iter()
        .map(|a| {
            let (_, b) = http(*a, "GET", "/v1/rln/registry", b"").unwrap();
            serde_json::from_slice::<curtain::protocol::json::RlnRegistry>(&b)
                .unwrap()
                .root
        })
        .collect();
    assert!(roots.windows(2).all(|w| w[0] == w[1]), "{roots:?}");
    assert!(ticks.get() < 1000);
    nodes.remove();
    let _ = std::fs::remove_dir_all(&keys);
}
