//! Four `curtain node` processes on loopback: envelopes are submitted over HTTP, one member is
//! killed with SIGKILL mid-load and restarted from its data directory, and in the end every
//! member has released every accepted ciphertext, with identical release content.

use curtain::ledger::release::ReleasedBatch;
mod common;

use common::{http, Nodes};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn four_processes_with_a_sigkill_release_everything_identically() {
    // ports from the pid, so parallel runs on one machine do not collide
    let mut nodes = Nodes::deal("curtain-nodes", 4, common::free_ports(20_000, 30_000, 8));
    let api: Vec<SocketAddr> = nodes.api.clone();
    nodes.start(0..4, Duration::from_secs(120));

    let key = nodes.committee.encryption_key.clone();
    let mut rng = rand::rng();
    let mut accepted = BTreeSet::new();
    for k in 0..60u32 {
        if k == 20 {
            nodes.kill(2);
        }
        if k == 40 {
            nodes.spawn(2);
        }
        let ct = common::tx(&key, u64::from(k), &mut rng);
        // submit to a live member
        let to = (k as usize) % 4;
        let to = if (20..40).contains(&k) && to == 2 {
            3
        } else {
            to
        };
        let mut tries = 0;
        loop {
            match http(api[to], "POST", "/v1/transactions", ct.as_bytes()) {
                Some((202, _)) => {
                    accepted.insert(ct.id());
                    break;
                }
                Some((code, body)) => {
                    panic!("submit refused: {code} {}", String::from_utf8_lossy(&body))
                }
                None => {
                    tries += 1;
                    assert!(tries < 100, "member {to} API unreachable");
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }

    // every member releases every accepted ciphertext; content identical per height
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut logs: Vec<Vec<ReleasedBatch>> = vec![Vec::new(); 4];
    loop {
        let mut done = true;
        for i in 0..4 {
            loop {
                let h = logs[i].len() as u64 + 1;
                match http(api[i], "GET", &format!("/v1/releases/{h}"), b"") {
                    Some((200, body)) => {
                        logs[i].push(ReleasedBatch::from_bytes(&body).expect("decodes"))
                    }
                    _ => break,
                }
            }
            let ids: BTreeSet<[u8; 32]> = logs[i]
                .iter()
                .flat_map(|b| b.entries())
                .map(|e| e.ciphertext.id())
                .collect();
            done &= accepted.is_subset(&ids);
        }
        if done {
            break;
        }
        assert!(Instant::now() < deadline, "not everything released in time");
        std::thread::sleep(Duration::from_millis(300));
    }
    let shortest = logs.iter().map(Vec::len).min().unwrap();
    for h in 0..shortest {
        for log in &logs[1..] {
            assert_eq!(
                log[h].content_bytes(),
                logs[0][h].content_bytes(),
                "height {}",
                h + 1
            );
        }
    }
    let mut released = BTreeSet::new();
    for b in &logs[0] {
        for e in b.entries() {
            assert!(released.insert(e.ciphertext.id()), "released twice");
        }
    }
    assert_eq!(released, accepted, "nothing lost, nothing extra");
    // operators see heights, shares and release latency in Prometheus
    let (code, metrics) = http(api[0], "GET", "/metrics", b"").expect("metrics");
    let metrics = String::from_utf8_lossy(&metrics);
    assert_eq!(code, 200);
    for name in [
        "curtain_finalized_height",
        "curtain_shares_sent",
        "curtain_release_latency_seconds",
    ] {
        assert!(metrics.contains(name), "{name} exported");
    }
    // SIGTERM: the member drains and exits cleanly
    let mut child = nodes.take(3).expect("running");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "SIGTERM did not stop the member");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(exit.success(), "clean exit on SIGTERM: {exit:?}");
    nodes.remove();
}
