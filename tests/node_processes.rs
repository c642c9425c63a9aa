//! Four `curtain node` processes on loopback: envelopes are submitted over HTTP, one member is
//! killed with SIGKILL mid-load and restarted from its data directory, and in the end every
//! member has released every accepted ciphertext, with identical release content.

use curtain::node::{config::Committee, release::ReleasedBatch};
mod common;

use std::collections::BTreeSet;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One HTTP/1.1 request; returns (status, body).
fn http(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> Option<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).ok()?;
    let split = resp.windows(4).position(|w| w == b"\r\n\r\n")?;
    let status: u16 = std::str::from_utf8(&resp[9..12]).ok()?.parse().ok()?;
    let head = String::from_utf8_lossy(&resp[..split]).to_lowercase();
    let mut body = resp[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        // de-chunk
        let mut out = Vec::new();
        let mut rest = &body[..];
        while let Some(pos) = rest.windows(2).position(|w| w == b"\r\n") {
            let len =
                usize::from_str_radix(std::str::from_utf8(&rest[..pos]).ok()?.trim(), 16).ok()?;
            if len == 0 {
                break;
            }
            out.extend_from_slice(&rest[pos + 2..pos + 2 + len]);
            rest = &rest[pos + 2 + len + 2..];
        }
        body = out;
    }
    Some((status, body))
}

struct Nodes {
    dir: std::path::PathBuf,
    children: Vec<Option<Child>>,
}

impl Nodes {
    fn spawn(&mut self, i: usize) {
        let log = std::fs::File::create(self.dir.join(format!("node{i}.log"))).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_curtain"))
            .args(["node", "--config"])
            .arg(self.dir.join(format!("node{i}/node.toml")))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn curtain node");
        self.children[i] = Some(child);
    }
    fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.children[i].take() {
            let _ = c.kill(); // SIGKILL
            let _ = c.wait();
        }
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for i in 0..self.children.len() {
            self.kill(i);
        }
    }
}

#[test]
fn four_processes_with_a_sigkill_release_everything_identically() {
    let dir = std::env::temp_dir().join(format!("curtain-nodes-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // ports from the pid, so parallel runs on one machine do not collide
    let base = 20_000 + (std::process::id() % 2_000) as u16 * 10;
    let status = Command::new(env!("CARGO_BIN_EXE_curtain"))
        .args(["committee", "new", "--nodes", "4", "--out"])
        .arg(&dir)
        .args(["--p2p-base-port", &base.to_string()])
        .args(["--api-base-port", &(base + 5).to_string()])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let committee = Committee::load(&dir.join("committee.json")).unwrap();
    let api: Vec<SocketAddr> = committee.participants.iter().map(|p| p.api).collect();
    let mut nodes = Nodes {
        dir: dir.clone(),
        children: (0..4).map(|_| None).collect(),
    };
    for i in 0..4 {
        nodes.spawn(i);
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    for a in &api {
        while http(*a, "GET", "/v1/status", b"").is_none() {
            assert!(Instant::now() < deadline, "node API did not come up");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    let key = &committee.encryption_key;
    let mut rng = rand::rng();
    let mut accepted = BTreeSet::new();
    for k in 0..60u32 {
        if k == 20 {
            nodes.kill(2);
        }
        if k == 40 {
            nodes.spawn(2);
        }
        let ct = common::tx(key, u64::from(k), &mut rng);
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
                .flat_map(|b| b.namespaces.iter().flat_map(|n| n.entries.iter()))
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
        for e in b.namespaces.iter().flat_map(|n| n.entries.iter()) {
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
    let mut child = nodes.children[3].take().expect("running");
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
    drop(nodes);
    let _ = std::fs::remove_dir_all(&dir);
}
