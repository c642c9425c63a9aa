//! Evidence end to end, with four `curtain node` processes on loopback: member 3 holds a
//! decryption share from another deal (wrong for its verification key), so the shares it
//! sends are wrong. The honest members still release (t = 3 of n = 4), catch it when its
//! batch is used, and serve the evidence; a third party checks it with `curtain evidence
//! verify` and the committee alone; the evidence survives a SIGKILL of the member serving it.

mod common;

use common::{http, poll, Nodes, PASSPHRASE};
use curtain::dkg::keystore::{self, EpochShares, KdfParams, MemberSecrets, Passphrase};
use curtain::ledger::evidence::{Accused, EvidenceKind};
use curtain::protocol::json::{ErrorBody, EvidenceItem, EvidencePage};
use curtain::protocol::quic;
use curtain::sdk::quic::{QuicClient, QuicMember};
use curtain::sdk::SdkError;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

const STARTUP: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(300);

/// Replaces the decryption share in `member`'s keystore with the one `other` dealt to the
/// same index: a share of another key, which the member's verification key does not match.
fn give_wrong_share(nodes: &Nodes, other: &Nodes, member: usize) {
    let path = |n: &Nodes| {
        let file: curtain::node::settings::NodeFile =
            toml::from_str(&std::fs::read_to_string(n.node_toml(member)).unwrap()).unwrap();
        file.keystore
    };
    let pass = Passphrase::new(PASSPHRASE);
    let mine = keystore::read(&path(nodes), &pass).unwrap();
    let theirs = keystore::read(&path(other), &pass).unwrap();
    let (mine_shares, their_shares) = (mine.shares.unwrap(), theirs.shares.unwrap());
    let secrets = MemberSecrets {
        identity: mine.identity,
        shares: Some(EpochShares {
            key_epoch: mine_shares.key_epoch,
            consensus: mine_shares.consensus,
            encryption: their_shares.encryption,
        }),
    };
    let sealed = keystore::seal(&secrets, &pass, KdfParams::INSECURE_FAST, &mut rand::rng());
    keystore::write(&path(nodes), &sealed.unwrap()).unwrap();
}

fn get(addr: SocketAddr, path: &str) -> Option<(u16, Vec<u8>)> {
    http(addr, "GET", path, b"")
}

fn page(addr: SocketAddr, query: &str) -> Option<EvidencePage> {
    match get(addr, &format!("/v1/evidence{query}"))? {
        (200, body) => Some(serde_json::from_slice(&body).unwrap()),
        _ => None,
    }
}

fn curtain(args: &[&str], files: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_curtain"))
        .args(args)
        .args(files)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn wrong_shares_become_evidence_anyone_verifies_and_it_survives_a_sigkill() {
    let base = common::free_ports(45_000, 50_000, 8);
    let mut nodes = Nodes::deal("curtain-evidence", 4, base);
    let other = Nodes::deal("curtain-evidence-other", 4, base);
    give_wrong_share(&nodes, &other, 3);
    nodes
        .env
        .push(("CURTAIN_TEST_ACCEPT_WRONG_SHARE".into(), "1".into()));
    nodes.start(0..4, STARTUP);
    let api = nodes.api.clone();

    // transactions, so shares are needed, until member 0 holds evidence against member 3
    let key = nodes.committee.encryption_key.clone();
    let mut rng = rand::rng();
    let mut k = 0u64;
    let item: EvidenceItem = poll(
        Duration::from_secs(240),
        POLL,
        "evidence against member 3",
        || {
            let ct = common::tx(&key, k, &mut rng);
            let _ = http(
                api[(k % 3) as usize],
                "POST",
                "/v1/transactions",
                ct.as_bytes(),
            );
            k += 1;
            page(api[0], "?member=3&kind=wrong_shares")?
                .evidence
                .into_iter()
                .next()
        },
    );
    assert_eq!(item.kind, EvidenceKind::WrongShares);
    assert!(matches!(item.accused, Accused::Member { index: 3, .. }));

    // the member's whole router: a bad query and a wrong method get their typed errors
    for (method, path, status, code) in [
        ("GET", "/v1/evidence?kind=nonsense", 400, "malformed"),
        ("GET", "/v1/evidence?limit=300", 400, "malformed"),
        (
            "GET",
            &format!("/v1/evidence/{}", "0".repeat(64)),
            404,
            "not_found",
        ),
        ("POST", "/v1/evidence", 405, "method_not_allowed"),
    ] {
        let (got, body) = http(api[0], method, path, b"").unwrap();
        let body: ErrorBody = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            (got, body.error.code.as_str()),
            (status, code),
            "{method} {path}"
        );
    }

    // the raw encoding, and the item's hex: both are what the id names
    let (code, raw) = get(api[0], &format!("/v1/evidence/{}?format=raw", item.id)).unwrap();
    assert_eq!(code, 200);
    assert_eq!(hex::encode(&raw), item.encoded);
    let dir = &nodes.dir;
    let raw_file = dir.join("evidence.bin");
    let hex_file = dir.join("evidence.hex");
    std::fs::write(&raw_file, &raw).unwrap();
    std::fs::write(&hex_file, format!("{}\n", item.encoded)).unwrap();
    let (code, served) = get(api[1], "/v1/committee").unwrap();
    assert_eq!(code, 200);
    let served_file = dir.join("served-committee.json");
    std::fs::write(&served_file, &served).unwrap();

    // a third party: the committee as served, or the committee file
    for (evidence, committee) in [
        (&raw_file, &served_file),
        (&hex_file, &dir.join("committee.json")),
    ] {
        let out = curtain(
            &["evidence", "verify"],
            &[evidence, Path::new("--committee"), committee],
        );
        assert!(out.status.success(), "verify: {}", text(&out));
        let said = text(&out);
        assert!(said.contains("holds"), "{said}");
        assert!(said.contains("member 3 "), "{said}");
        assert!(said.contains("wrong_shares"), "{said}");
    }
    // against another committee it does not hold, and the status says so
    let out = curtain(
        &["evidence", "verify"],
        &[
            &raw_file,
            Path::new("--committee"),
            &other.dir.join("committee.json"),
        ],
    );
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("does not hold"), "{}", text(&out));

    // the CLI reads it through the SDK too
    let url = format!("http://{}", api[0]);
    let out = curtain(&["evidence", "list", "--node", &url, "--member", "3"], &[]);
    assert!(out.status.success(), "list: {}", text(&out));
    assert!(text(&out).contains(&item.id));
    let fetched = dir.join("fetched.bin");
    let out = curtain(
        &["evidence", "get", &item.id, "--node", &url, "--out"],
        &[&fetched],
    );
    assert!(out.status.success(), "get: {}", text(&out));
    assert_eq!(std::fs::read(&fetched).unwrap(), raw);

    // the same reads over QUIC
    let quic = QuicMember {
        addr: nodes.committee.participants[0].quic.expect("QUIC address"),
        fingerprint: quic::parse_fingerprint(
            &std::fs::read_to_string(dir.join("node0/data/quic.fingerprint")).unwrap(),
        )
        .unwrap(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let q = QuicClient::new(vec![quic]).unwrap();
        let page = q
            .evidence(0, Some(EvidenceKind::WrongShares), Some(3), 0, 256)
            .await
            .unwrap();
        assert!(page.evidence.contains(&item), "{page:?}");
        let id: [u8; 32] = hex::decode(&item.id).unwrap().try_into().unwrap();
        assert_eq!(q.evidence_by_id(0, &id).await.unwrap(), Some(item.clone()));
        assert_eq!(q.evidence_by_id(0, &[0; 32]).await.unwrap(), None);
        let refused = q.evidence(0, None, None, 0, 0).await;
        assert!(
            matches!(&refused, Err(SdkError::Refused { code, .. }) if code == "malformed"),
            "{refused:?}"
        );
        let mut sub = q.subscribe_evidence(0, item.seq).await.unwrap();
        let first = tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .expect("in time")
            .unwrap();
        assert_eq!(first, Some(item.clone()));
    });

    // no honest member is accused, by any honest member
    for addr in &api[..3] {
        let all = page(*addr, "?limit=256").expect("evidence page");
        for e in &all.evidence {
            assert!(
                matches!(e.accused, Accused::Member { index: 3, .. }),
                "an honest member accused: {e:?}"
            );
        }
    }

    // SIGKILL, restart from the data directory: the same piece, same place in the book
    nodes.kill(0);
    nodes.spawn(0);
    nodes.wait_up(0, STARTUP);
    let again: EvidenceItem = poll(STARTUP, POLL, "evidence after restart", || {
        match get(api[0], &format!("/v1/evidence/{}", item.id))? {
            (200, body) => Some(serde_json::from_slice(&body).unwrap()),
            _ => None,
        }
    });
    assert_eq!(again, item);
    other.remove();
    nodes.remove();
}
