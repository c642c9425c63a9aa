//! The client API over QUIC (SPEC.md §7.2) against a committee of `curtain node` processes on
//! loopback: pinned certificates, submission with receipts, subscriptions that resume, hostile
//! frames. Ports 30000–34999.

mod common;

use common::Nodes;
use curtain::ledger::{Height, Namespace};
use curtain::protocol::json::{self, ErrorBody};
use curtain::protocol::quic::{self, kind, op, PinnedCert, Request};
use curtain::sdk::quic::{QuicClient, QuicMember};
use curtain::sdk::{Client, CommitteeId, SdkError};
use curtain_crypto::Decryption;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

fn members(nodes: &Nodes) -> Vec<QuicMember> {
    (0..nodes.committee.participants.len())
        .map(|i| {
            let path = nodes.dir.join(format!("node{i}/data/quic.fingerprint"));
            let text = std::fs::read_to_string(&path).expect("the node wrote its fingerprint");
            QuicMember {
                addr: nodes.committee.participants[i].quic.expect("QUIC address"),
                fingerprint: quic::parse_fingerprint(&text).expect("a fingerprint"),
            }
        })
        .collect()
}

/// A raw connection (pinned) for sending frames the SDK never would.
async fn raw_connection(m: QuicMember) -> quinn::Connection {
    let mut tls = rustls::ClientConfig::builder_with_provider(quic::crypto_provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedCert::new(m.fingerprint)))
        .with_no_client_auth();
    tls.alpn_protocols = vec![quic::ALPN.to_vec()];
    let config = quinn::ClientConfig::new(Arc::new(
        quinn::crypto::rustls::QuicClientConfig::try_from(tls).unwrap(),
    ));
    let endpoint = quinn::Endpoint::client(([127, 0, 0, 1], 0).into()).unwrap();
    endpoint
        .connect_with(config, m.addr, quic::SERVER_NAME)
        .unwrap()
        .await
        .expect("pinned handshake")
}

/// Sends `bytes` raw on a new stream (then finishes it) and returns the error code answered.
async fn error_code(conn: &quinn::Connection, bytes: &[u8]) -> String {
    let (mut send, mut recv) = conn.open_bi().await.unwrap();
    let _ = send.write_all(bytes).await;
    let _ = send.finish();
    let frame = tokio::time::timeout(
        Duration::from_secs(15),
        quic::read_frame(&mut recv, quic::MAX_ANSWER),
    )
    .await
    .expect("answered in time")
    .expect("a frame")
    .expect("not empty");
    assert_eq!(frame[0], kind::ERROR, "an error answer");
    let body: ErrorBody = serde_json::from_slice(&frame[1..]).expect("an error body");
    body.error.code
}

#[test]
fn quic_clients_submit_subscribe_and_survive_hostile_frames() {
    let mut nodes = Nodes::deal("curtain-quic", 4, common::free_ports(30_000, 35_000, 8));
    nodes.start(0..4, Duration::from_secs(60));
    let members = members(&nodes);
    // the certificate is persisted with its key (0600); the fingerprint is its SHA-256, and
    // the member printed it
    for (i, m) in members.iter().enumerate() {
        let data = nodes.dir.join(format!("node{i}/data"));
        let cert = hex::decode(std::fs::read_to_string(data.join("quic.cert")).unwrap()).unwrap();
        assert_eq!(quic::fingerprint(&cert), m.fingerprint);
        let mode = std::fs::metadata(data.join("quic.key"))
            .unwrap()
            .permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        let log = std::fs::read_to_string(nodes.log(i)).unwrap();
        assert!(
            log.contains(&hex::encode(m.fingerprint)),
            "member {i} printed it"
        );
    }
    let committee_id = CommitteeId(nodes.committee.id());
    let http: Vec<String> = nodes.api.iter().map(|a| format!("http://{a}")).collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // a wrong pin is refused at the handshake: a zero fingerprint, another member's
        let mut wrong = members[0];
        wrong.fingerprint = [0; 32];
        let stranger = QuicClient::new(vec![wrong]).unwrap();
        assert!(matches!(
            stranger.committee(0).await,
            Err(SdkError::Quic(_))
        ));
        wrong.fingerprint = members[1].fingerprint;
        let stranger = QuicClient::new(vec![wrong]).unwrap();
        assert!(matches!(
            stranger.committee(0).await,
            Err(SdkError::Quic(_))
        ));

        // the committee fetched over QUIC from one member, pinned to the committee id known
        // out of band
        let q = QuicClient::new(members.clone()).unwrap();
        let info = q.committee(0).await.expect("committee over QUIC");
        assert_eq!(info.members[2].quic, Some(members[2].addr));
        let client = Client::from_committee(http.clone(), info, committee_id).unwrap();

        let ns = Namespace(5);
        let mut sub = q.subscribe(1, ns, Height(1)).await.expect("subscribed");
        let mut expected = BTreeMap::new();
        for k in 0..6u64 {
            let text = format!("quic tx {k}");
            let ct = client
                .encrypt(ns, b"quic-wallet", text.as_bytes(), &mut rand::rng())
                .unwrap();
            let id = q.submit(&ct, k as usize).await.expect("accepted");
            assert_eq!(id, ct.id());
            // resubmission (elsewhere) is idempotent
            assert_eq!(q.submit(&ct, k as usize + 1).await.expect("duplicate"), id);
            expected.insert(id, text);
        }

        // every transaction arrives on the subscription, verified as a third party
        let mut heights = Vec::new();
        let mut seen = BTreeMap::new();
        while seen.len() < expected.len() {
            let b = tokio::time::timeout(Duration::from_secs(60), sub.next())
                .await
                .expect("released in time")
                .expect("a batch")
                .expect("stream open");
            assert_eq!(b.namespace, ns);
            let batch = curtain::ledger::release::ReleasedBatch::from_bytes(
                &json::base64_decode(&b.encoded).unwrap(),
            )
            .unwrap();
            assert_eq!(batch.height, b.height);
            client
                .verify_release_via(&batch, |h| q.release(1, h))
                .await
                .expect("verifies");
            for e in b.entries {
                let id: [u8; 32] = hex::decode(&e.id).unwrap().try_into().unwrap();
                let Decryption::Plaintext(p) = &batch.entry(&id).unwrap().outcome else {
                    panic!("decrypts")
                };
                seen.insert(id, String::from_utf8(p.clone()).unwrap());
            }
            heights.push(b.height);
        }
        assert_eq!(seen, expected);

        // a subscription from a past height replays from there, in order, without gaps
        let mut replay = q.subscribe(2, ns, heights[0]).await.unwrap();
        for &h in &heights {
            let b = tokio::time::timeout(Duration::from_secs(30), replay.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            assert_eq!(b.height, h, "replayed in order");
        }
        // resuming where the first subscription stopped yields only what is released later
        let mut resumed = q.subscribe(3, ns, sub.resume_from()).await.unwrap();
        let ct = client
            .encrypt(ns, b"quic-wallet", b"after resume", &mut rand::rng())
            .unwrap();
        q.submit(&ct, 0).await.unwrap();
        let b = tokio::time::timeout(Duration::from_secs(60), resumed.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(b.height >= sub.resume_from());
        assert_eq!(b.entries.len(), 1);
        assert_eq!(b.entries[0].id, hex::encode(ct.id()));

        // hostile frames get typed errors, and the member keeps serving
        let conn = raw_connection(members[0]).await;
        let too_long = (quic::MAX_REQUEST as u32 + 1).to_be_bytes();
        assert_eq!(error_code(&conn, &too_long).await, "too_large");
        let mut truncated = 100u32.to_be_bytes().to_vec();
        truncated.extend_from_slice(&[quic::VERSION, op::SUBMIT, 1, 2, 3]);
        assert_eq!(error_code(&conn, &truncated).await, "malformed");
        assert_eq!(error_code(&conn, &[0, 0]).await, "malformed");
        assert_eq!(error_code(&conn, &[]).await, "malformed");
        assert_eq!(
            error_code(&conn, &quic::frame(&[9, op::COMMITTEE])).await,
            "unsupported_version"
        );
        assert_eq!(
            error_code(&conn, &quic::frame(&[quic::VERSION, 0xee])).await,
            "unknown_operation"
        );
        let garbage = Request::Submit(b"\x01not an envelope at all".to_vec()).to_bytes();
        assert_eq!(error_code(&conn, &quic::frame(&garbage)).await, "malformed");
        let short = quic::frame(&[quic::VERSION, op::SUBSCRIBE, 1, 2]);
        assert_eq!(error_code(&conn, &short).await, "malformed");
        let release = Request::Release {
            height: Height(1 << 40),
        }
        .to_bytes();
        assert_eq!(error_code(&conn, &quic::frame(&release)).await, "not_found");
        // a real envelope of another committee: the same code as HTTP
        let other = curtain_crypto::deal(4, 3, &mut rand::rng()).unwrap().0;
        let foreign = common::tx(&other, 1, &mut rand::rng());
        let submit = Request::Submit(foreign.as_bytes().to_vec()).to_bytes();
        assert_eq!(error_code(&conn, &quic::frame(&submit)).await, "wrong_key");

        // still serving, over QUIC and HTTP
        let ct = client
            .encrypt(ns, b"quic-wallet", b"still here", &mut rand::rng())
            .unwrap();
        q.submit(&ct, 0).await.expect("still serving");
        assert!(client.node_status(0).await.is_ok());
        let addr: SocketAddr = members[0].addr;
        assert_eq!(q.committee(0).await.unwrap().members.len(), 4, "{addr}");
    });
    // a restarted member keeps its certificate: the old pin still connects
    nodes.kill(0);
    nodes.start(0..1, Duration::from_secs(60));
    assert_eq!(self::members(&nodes)[0], members[0]);
    rt.block_on(async {
        let q = QuicClient::new(vec![members[0]]).unwrap();
        let info = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                match q.committee(0).await {
                    Ok(info) => break info,
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        })
        .await
        .expect("the restarted member answers over QUIC with the same certificate");
        assert_eq!(info.n, 4);
    });
    nodes.remove();
}
