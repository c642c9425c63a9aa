//! The committee identity over real sockets (SPEC.md §7.4): four `curtain node` processes and
//! one Byzantine "member", an HTTP server in this test that serves a forged committee (the
//! honest one with its own consensus key, and a self-consistent `committee_id`) and a forged
//! release finalized under that key. A client pinned to the honest identity never takes the
//! forgery, whichever members it is given; an unpinned client needs a quorum of agreeing
//! members; a pinned client needs one honest member; the CLI pins with `--committee` and
//! `--committee-id`. The same member drops what it accepts: the wallet resubmits elsewhere.

mod common;

use common::Nodes;
use curtain::ledger::committee::{committee_id, CheckedCommittee, CommitteeParts};
use curtain::ledger::release::ReleasedBatch;
use curtain::ledger::{Height, Namespace};
use curtain::protocol::json::{CommitteeInfo, Receipt, TxStatus};
use curtain::sdk::{Client, CommitteeId, ResubmitPolicy, SdkError};
use curtain_crypto::Ciphertext;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const NS: Namespace = Namespace(9);
const DST: &[u8] = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_POP_";

/// A consensus key of the Byzantine member's own: its public polynomial (one coefficient,
/// commonware encoding: mode 0, total, varint length, G2) and a finalization signer.
struct ForgedKey {
    secret: blst::min_sig::SecretKey,
}

impl ForgedKey {
    fn new() -> Self {
        Self {
            secret: blst::min_sig::SecretKey::key_gen(&[7u8; 32], &[]).unwrap(),
        }
    }

    fn consensus_public(&self, total: u32) -> Vec<u8> {
        let mut out = vec![0u8];
        out.extend_from_slice(&total.to_be_bytes());
        out.push(1);
        out.extend_from_slice(&self.secret.sk_to_pk().compress());
        out
    }

    /// An encoded simplex finalization of `block` (SPEC.md §5.4) under this key.
    fn finalize(&self, block: &[u8; 32]) -> Vec<u8> {
        let mut proposal = vec![0u8, 100, 99]; // epoch 0, view 100, parent view 99
        proposal.extend_from_slice(block);
        let ns = b"curtain/v1/consensus_FINALIZE";
        let mut msg = vec![ns.len() as u8];
        msg.extend_from_slice(ns);
        msg.extend_from_slice(&proposal);
        let sig = self.secret.sign(&msg, DST, &[]);
        proposal.extend_from_slice(&sig.compress());
        proposal
    }
}

/// The honest committee with the forged consensus key and the identity of that.
fn forge_committee(honest: &CommitteeInfo, key: &ForgedKey) -> CommitteeInfo {
    let mut info = honest.clone();
    let consensus = key.consensus_public(info.n as u32);
    info.consensus_public = hex::encode(&consensus);
    let members: Vec<[u8; 32]> = info
        .members
        .iter()
        .map(|m| hex::decode(&m.identity).unwrap().try_into().unwrap())
        .collect();
    let id = committee_id(&CommitteeParts {
        key_epoch: info.key_epoch,
        n: info.n as u32,
        t: info.t as u32,
        encryption_key: &hex::decode(&info.key).unwrap(),
        consensus_public: &consensus,
        members: &members,
    });
    info.committee_id = hex::encode(id);
    info
}

/// Serves `committee` at `/v1/committee` and `release` at every `/v1/releases/{h}`, on a
/// loopback socket; accepts every transaction (202) and drops it, and claims any transaction
/// ordered at height 999 999 (counting these claims in `lies`). Returns its base URL.
async fn byzantine_member(
    committee: CommitteeInfo,
    release: Vec<u8>,
    lies: Arc<AtomicUsize>,
) -> String {
    use axum::routing::{get, post};
    let app = axum::Router::new()
        .route(
            "/v1/committee",
            get(move || {
                let c = committee.clone();
                async move { axum::Json(c) }
            }),
        )
        .route(
            "/v1/releases/{height}",
            get(move || {
                let r = release.clone();
                async move { r }
            }),
        )
        .route(
            "/v1/transactions",
            post(|body: axum::body::Bytes| async move {
                let id = Ciphertext::from_bytes(&body).map_or([0; 32], |c| c.id());
                let receipt = Receipt {
                    id: hex::encode(id),
                };
                (axum::http::StatusCode::ACCEPTED, axum::Json(receipt))
            }),
        )
        .route(
            "/v1/transactions/{id}",
            get(move || {
                lies.fetch_add(1, Ordering::Relaxed);
                async move {
                    axum::Json(TxStatus::Ordered {
                        height: Height(999_999),
                        namespace: NS,
                        position: 0,
                    })
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// Submits `text` through `client` and returns the verified-later released batch holding it.
async fn released(client: &Client, text: &str) -> (ReleasedBatch, [u8; 32]) {
    let ct = client
        .encrypt(NS, b"pin-test", text.as_bytes(), &mut rand::rng())
        .unwrap();
    let id = client.submit(&ct, 0).await.expect("accepted");
    let deadline = Instant::now() + Duration::from_secs(90);
    let height = loop {
        if let Some(TxStatus::Released { height, .. }) = client.status(0, &id).await.unwrap() {
            break height;
        }
        assert!(Instant::now() < deadline, "not released in time");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    (client.release(0, height).await.unwrap(), id)
}

#[test]
fn a_pinned_client_refuses_a_byzantine_members_committee_and_release() {
    let mut nodes = Nodes::deal("curtain-pin", 4, common::free_ports(20_000, 30_000, 8));
    nodes.start(0..4, Duration::from_secs(120));
    let honest_id = CommitteeId(nodes.committee.id());
    // the file, the node and the SDK compute one identity
    assert_eq!(
        CommitteeId::from_committee_file(&nodes.dir.join("committee.json")).unwrap(),
        honest_id
    );
    let urls: Vec<String> = nodes.api.iter().map(|a| format!("http://{a}")).collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // pinned, one honest member is enough: encrypt, submit, wait, verify
        let client = Client::connect(vec![urls[1].clone()], Some(honest_id))
            .await
            .expect("pinned connect to one member");
        assert_eq!(client.committee_id(), honest_id);
        assert_eq!(client.committee().committee_id, honest_id.to_string());
        let (honest_batch, tx) = released(&client, "pinned").await;
        client
            .verify_release(0, &honest_batch)
            .await
            .expect("an honest release verifies");

        // the Byzantine member invents a "finalized" block at that height without the
        // transaction (a censoring fork), certified under its own consensus key
        let forged_key = ForgedKey::new();
        let mut forged = honest_batch.clone();
        forged.namespaces.clear();
        forged.block = forged.rebuild_block().digest();
        forged.certificate = forged_key.finalize(&forged.block.0);
        assert_ne!(forged.block, honest_batch.block);
        let forged_info = forge_committee(client.committee(), &forged_key);
        let lies = Arc::new(AtomicUsize::new(0));
        let byz = byzantine_member(forged_info.clone(), forged.to_bytes(), lies.clone()).await;
        // another consensus key: not a successor a pinned verifier could follow (§7.4)
        let honest = CheckedCommittee::check(client.committee()).unwrap();
        let fake = CheckedCommittee::check(&forged_info).unwrap();
        assert!(!honest.same_keys(&fake) && honest.same_keys(&honest));

        // the forgery is a good one: a client that trusted the forged committee (pinned to
        // its identity) would accept the forged release; only the pin tells them apart
        let fooled = Client::connect(
            vec![byz.clone()],
            Some(CommitteeId(
                hex::decode(&forged_info.committee_id)
                    .unwrap()
                    .try_into()
                    .unwrap(),
            )),
        )
        .await
        .expect("the forged committee is self-consistent");
        fooled
            .verify_release(0, &forged)
            .await
            .expect("the forged release verifies under the forged key");

        // pinned to the honest identity: the Byzantine member alone is refused, typed
        match Client::connect(vec![byz.clone()], Some(honest_id)).await {
            Err(SdkError::CommitteeMismatch { pinned, .. }) => {
                assert_eq!(pinned, honest_id.to_string())
            }
            other => panic!("expected CommitteeMismatch, got {:?}", other.err()),
        }
        // asked first, it is skipped; the honest member's committee is taken
        let pinned = Client::connect(vec![byz.clone(), urls[2].clone()], Some(honest_id))
            .await
            .expect("pinned connect skips the Byzantine member");
        assert_eq!(pinned.committee_id(), honest_id);
        assert_eq!(
            pinned.committee().consensus_public,
            client.committee().consensus_public
        );
        // and the forged release, served by the Byzantine member, does not verify
        let served = pinned
            .release(0, forged.height)
            .await
            .expect("byzantine serves it");
        assert_eq!(served.block, forged.block);
        match pinned.verify_release(0, &served).await {
            Err(SdkError::Unverified { height, reason }) => {
                assert_eq!(height, forged.height);
                assert!(reason.contains("finality"), "{reason}");
            }
            other => panic!("forged release accepted: {other:?}"),
        }
        // the honest release still does, and holds the transaction
        pinned.verify_release(1, &honest_batch).await.unwrap();
        assert!(honest_batch.entry(&tx).is_some());

        // the Byzantine member takes a transaction (202) and drops it: the wallet hears no
        // member report it ordered within the deadline, resubmits to the next member, and gets
        // the position the release then confirms; the dropper, which would claim it ordered,
        // is never asked
        let wallet = Client::connect(
            vec![byz.clone(), urls[2].clone(), urls[3].clone()],
            Some(honest_id),
        )
        .await
        .expect("pinned connect");
        let ct = wallet
            .encrypt(NS, b"pin-test", b"dropped once", &mut rand::rng())
            .unwrap();
        let policy = ResubmitPolicy {
            deadline: Duration::from_secs(5),
            poll: Duration::from_millis(200),
        };
        let started = Instant::now();
        let included = wallet
            .submit_ciphertext_included(&ct, 0, policy)
            .await
            .expect("ordered after a resubmission");
        assert!(started.elapsed() >= policy.deadline);
        assert_eq!(included.accepted_by, vec![0, 1]);
        assert_eq!(included.reported_by, 2);
        assert_eq!(lies.load(Ordering::Relaxed), 0, "the acceptor was asked");
        let deadline = Instant::now() + Duration::from_secs(90);
        let released = loop {
            if let Some(TxStatus::Released {
                height,
                namespace,
                position,
                ..
            }) = wallet.status(1, &ct.id()).await.unwrap()
            {
                break (height, namespace, position);
            }
            assert!(Instant::now() < deadline, "not released in time");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(
            released,
            (included.height, included.namespace, included.position)
        );
        let batch = wallet.release(1, included.height).await.unwrap();
        wallet.verify_release(1, &batch).await.unwrap();
        let at = batch
            .namespaces
            .iter()
            .find(|n| n.namespace == included.namespace)
            .expect("its namespace");
        assert_eq!(
            at.entries[included.position as usize].ciphertext.id(),
            ct.id()
        );

        // unpinned: fewer than n − f agreeing members is a typed error
        for given in [
            vec![byz.clone()],
            vec![byz.clone(), urls[0].clone()],
            vec![urls[0].clone(), urls[1].clone()],
            // one member given thrice is one member
            vec![urls[0].clone(), urls[0].clone(), format!("{}/", urls[0])],
            vec![byz.clone(), urls[0].clone(), urls[1].clone()],
        ] {
            match Client::connect(given.clone(), None).await {
                Err(SdkError::NoQuorum {
                    agreeing,
                    needed,
                    asked,
                }) => {
                    assert!(asked <= given.len());
                    assert!(agreeing < needed && needed >= 3, "{agreeing} {needed}");
                }
                other => panic!("{given:?}: expected NoQuorum, got {:?}", other.err()),
            }
        }
        // n − f honest members agree, also with the liar among those asked
        for given in [
            urls[..3].to_vec(),
            vec![
                byz.clone(),
                urls[0].clone(),
                urls[1].clone(),
                urls[2].clone(),
                urls[3].clone(),
            ],
        ] {
            let c = Client::connect(given, None).await.expect("a quorum agrees");
            assert_eq!(c.committee_id(), honest_id);
        }
    });

    // the CLI pins too: `submit --wait` with --committee against one member verifies, and a
    // member serving another committee is refused for --committee-id
    let curtain = env!("CARGO_BIN_EXE_curtain");
    let out = Command::new(curtain)
        .args([
            "submit",
            "--wait",
            "--namespace",
            &NS.to_string(),
            "--data",
            "cli pinned",
        ])
        .args(["--node", &urls[3]])
        .arg("--committee")
        .arg(nodes.dir.join("committee.json"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("(verified): \"cli pinned\""), "{stdout}");
    let out = Command::new(curtain)
        .args(["status", "--node", &urls[0]])
        .args(["--committee-id", &"00".repeat(32)])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no member served the pinned committee"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(curtain)
        .args([
            "status",
            "--node",
            &urls[0],
            "--committee-id",
            &honest_id.to_string(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(&honest_id.to_string()));
    nodes.remove();
}
