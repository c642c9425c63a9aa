//! `curtain devnet`: a local committee of `curtain node` processes on loopback (keys from a
//! DKG ceremony run by one `curtain dkg` process per member, or with `--dealer` from a trusted
//! dealer) and a load generator of SDK wallets over several namespaces, with live
//! progress, a summary, and an optional JSON report with an SVG latency plot.

mod report;

use super::committee::{self, NewArgs};
use anyhow::{bail, Context as _};
use curtain::sdk::quic::{QuicClient, QuicMember};
use curtain::sdk::Client;
use report::{cpu_seconds, plot, quantiles, recent_quantiles};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub(super) struct DevnetArgs {
    /// Committee size.
    #[arg(long, default_value_t = 4)]
    nodes: usize,
    /// Encrypted transactions submitted per second (all wallets together).
    #[arg(long, default_value_t = 500)]
    rate: u64,
    /// Seconds of load; without it, runs until Ctrl-C.
    #[arg(long)]
    duration: Option<u64>,
    /// Namespaces (rollups) the wallets spread over.
    #[arg(long, default_value_t = 4)]
    namespaces: u64,
    /// Plaintext bytes per transaction.
    #[arg(long, default_value_t = 256)]
    payload_bytes: usize,
    /// Write a JSON report here (and an SVG latency plot next to it).
    #[arg(long)]
    report: Option<PathBuf>,
    /// Member i uses p2p port base+i and API port base+100+i.
    #[arg(long, default_value_t = 19100)]
    base_port: u16,
    /// Keep the committee directory (keys, data, logs) after the run.
    #[arg(long)]
    keep: bool,
    /// Deal the keys with a trusted dealer instead of running the DKG (faster start; the
    /// dealer knows the key).
    #[arg(long)]
    dealer: bool,
    /// How the wallets submit: HTTP, or QUIC with each member's pinned certificate.
    #[arg(long, value_enum, default_value_t = Transport::Http)]
    transport: Transport,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Transport {
    Http,
    Quic,
}

/// What the wallets saw.
#[derive(Default)]
struct Tally {
    submitted: AtomicU64,
    accepted: AtomicU64,
    rejected: AtomicU64,
    /// id → submit instant, for accepted transactions not yet released.
    inflight: Mutex<HashMap<[u8; 32], Instant>>,
    /// One per released transaction: (seconds since start at release, submit → release ms).
    latencies: Mutex<Vec<(f64, f64)>>,
}

/// Submissions in flight at once.
const MAX_IN_FLIGHT: u32 = 512;

impl Tally {
    fn released(&self) -> u64 {
        self.latencies.lock().unwrap().len() as u64
    }
}

struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for c in &mut self.0 {
            // SIGTERM first: members drain; then make sure
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for c in &mut self.0 {
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub(super) fn devnet(a: DevnetArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        a.rate > 0 && a.namespaces > 0,
        "--rate and --namespaces must be > 0"
    );
    let dir = std::env::temp_dir().join(format!("curtain-devnet-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    // A throwaway passphrase for the throwaway keystores (cheap KDF: a devnet is not a vault).
    let pass_file = dir.join("passphrase");
    let mut secret = [0u8; 16];
    rand::fill(&mut secret);
    std::fs::write(&pass_file, hex::encode(secret))?;
    let client_rate = Some(a.rate.saturating_mul(4).max(10_000));
    if a.dealer {
        committee::new(NewArgs {
            nodes: a.nodes,
            threshold: None,
            out: dir.clone(),
            p2p_base_port: a.base_port,
            api_base_port: a.base_port + 100,
            quic_base_port: None,
            // one load generator stands for many wallets on one address
            client_rate_per_s: client_rate,
            passphrase_file: Some(pass_file.clone()),
            insecure_fast_kdf: true,
            // the committee serves exactly the load's namespaces, open
            namespaces: (0..a.namespaces).map(Namespace).collect(),
            anonymous: Vec::new(),
            rln_key: None,
            registry_namespace: Namespace(0),
            rln_epoch_blocks: 64,
            rln_root_window: 16,
            rln_root_lag: 8,
        })?;
    } else {
        // a ceremony's committee serves every namespace, open
        run_dkg(&a, &dir, &pass_file, client_rate)?;
    }
    let exe = std::env::current_exe().context("locating the curtain binary")?;
    let mut procs = Processes(Vec::new());
    for i in 0..a.nodes {
        let log = std::fs::File::create(dir.join(format!("node{i}.log")))?;
        procs.0.push(
            Command::new(&exe)
                .args(["node", "--config"])
                .arg(dir.join(format!("node{i}/node.toml")))
                .arg("--passphrase-file")
                .arg(&pass_file)
                .stdout(Stdio::null())
                .stderr(log)
                // our own Ctrl-C handling stops the members after the drain
                .process_group(0)
                .spawn()
                .context("starting a member")?,
        );
    }
    let urls: Vec<String> = (0..a.nodes)
        .map(|i| format!("http://127.0.0.1:{}", a.base_port + 100 + i as u16))
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let pids: Vec<u32> = procs.0.iter().map(Child::id).collect();
    let result = rt.block_on(run(&a, urls, &pids, &dir));
    drop(procs);
    if a.keep {
        eprintln!("committee, data and logs kept in {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let lost = result?;
    if lost > 0 {
        bail!("{lost} accepted transactions were not released");
    }
    Ok(())
}

use curtain::ledger::{Height, Namespace};
use std::os::unix::process::CommandExt as _;

/// The ceremony: one `curtain dkg` process per member on loopback; every member writes
/// committee.json, its keystore and node.toml into its node<i>/ directory.
fn run_dkg(
    a: &DevnetArgs,
    dir: &std::path::Path,
    pass_file: &std::path::Path,
    client_rate: Option<u64>,
) -> anyhow::Result<()> {
    use super::dkg::DkgFile;
    use curtain::dkg::keystore::{KdfParams, Passphrase};
    use curtain::node::settings::Participant;
    let pass = Passphrase::obtain(Some(pass_file), "")?;
    let mut members = Vec::new();
    for i in 0..a.nodes {
        let node_dir = dir.join(format!("node{i}"));
        std::fs::create_dir_all(&node_dir)?;
        let identity = committee::write_identity(
            &node_dir.join("identity.ks"),
            &pass,
            KdfParams::INSECURE_FAST,
        )?;
        members.push(Participant {
            identity,
            // the ceremony uses the members' p2p addresses; the nodes take them over after
            p2p: ([127, 0, 0, 1], a.base_port + i as u16).into(),
            api: ([127, 0, 0, 1], a.base_port + 100 + i as u16).into(),
            // QUIC (UDP) on the API's port number, as `curtain committee new` by default
            quic: Some(([127, 0, 0, 1], a.base_port + 100 + i as u16).into()),
        });
    }
    let exe = std::env::current_exe().context("locating the curtain binary")?;
    let started = Instant::now();
    let mut procs = Processes(Vec::new());
    for i in 0..a.nodes {
        let node_dir = dir.join(format!("node{i}"));
        let file = DkgFile {
            activation_height: None,
            round: 0,
            keystore: node_dir.join("identity.ks"),
            out: node_dir.clone(),
            previous_committee: None,
            timeouts: None,
            kdf: Some("insecure-fast".into()),
            limits: committee::limits(client_rate),
            rln_verifying_key: None,
            members: members.clone(),
        };
        std::fs::write(node_dir.join("dkg.toml"), toml::to_string_pretty(&file)?)?;
        let log = std::fs::File::create(dir.join(format!("dkg{i}.log")))?;
        procs.0.push(
            Command::new(&exe)
                .args(["dkg", "--config"])
                .arg(node_dir.join("dkg.toml"))
                .arg("--passphrase-file")
                .arg(pass_file)
                .stdout(Stdio::null())
                .stderr(log)
                .process_group(0)
                .spawn()
                .context("starting a ceremony member")?,
        );
    }
    // Wait for every member (the ceremony's own timeouts bound this; the deadline is a guard).
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut statuses = vec![None; a.nodes];
    while statuses.iter().any(Option::is_none) {
        for (i, c) in procs.0.iter_mut().enumerate() {
            if statuses[i].is_none() {
                statuses[i] = c.try_wait()?;
            }
        }
        if Instant::now() > deadline {
            bail!(
                "the DKG ceremony did not finish in 120 s (logs: {}/dkg<i>.log)",
                dir.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    procs.0.clear();
    for (i, s) in statuses.iter().enumerate() {
        if !s.is_some_and(|s| s.success()) {
            let log = std::fs::read_to_string(dir.join(format!("dkg{i}.log"))).unwrap_or_default();
            bail!("DKG member {i} failed:\n{log}");
        }
    }
    // Every member must have written the same public committee.
    let read = |i: usize| -> anyhow::Result<curtain::node::settings::CommitteeFile> {
        let p = dir.join(format!("node{i}/committee.json"));
        Ok(serde_json::from_str(&std::fs::read_to_string(&p)?)?)
    };
    let first = read(0)?;
    let transcript = first.dkg.as_ref().map(|d| d.transcript.clone());
    for i in 1..a.nodes {
        let c = read(i)?;
        if c.encryption_key != first.encryption_key
            || c.dkg.as_ref().map(|d| d.transcript.clone()) != transcript
        {
            bail!("DKG members disagree on the committee (member {i})");
        }
    }
    let key_id = hex::encode(
        curtain_crypto::CommitteeKey::from_bytes(&hex::decode(&first.encryption_key)?)?.id(),
    );
    let committee_id =
        curtain::node::settings::Committee::load(&dir.join("node0/committee.json"))?.id();
    println!(
        "dkg: {} members agreed on committee {} (key {}) in {:.2} s (transcript {})",
        a.nodes,
        &hex::encode(committee_id)[..16],
        &key_id[..16],
        started.elapsed().as_secs_f64(),
        &transcript.unwrap_or_default()[..16]
    );
    Ok(())
}

/// Heights every member must have released before the load starts.
const WARM_HEIGHTS: u64 = 3;

/// Peers a member's p2p layer is connected to: commonware's tracker exports one
/// `network_tracker_directory_connected` series per connected peer on the member's `/metrics`.
async fn connected_peers(http: &reqwest::Client, url: &str) -> usize {
    let Ok(resp) = http.get(format!("{url}/metrics")).send().await else {
        return 0;
    };
    resp.text().await.map_or(0, |text| {
        text.lines()
            .filter(|l| l.starts_with("network_tracker_directory_connected{"))
            .count()
    })
}

/// Runs the load and the drain; returns how many accepted transactions were lost.
async fn run(
    a: &DevnetArgs,
    urls: Vec<String>,
    members: &[u32],
    dir: &std::path::Path,
) -> anyhow::Result<u64> {
    // wait for every member's API
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    for url in &urls {
        while http.get(format!("{url}/health")).send().await.is_err() {
            if Instant::now() > deadline {
                bail!("member at {url} did not start (see {})", dir.display());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let client = Client::connect(urls.clone(), None).await?;
    // Load starts once every member is connected to every other and has finalized and released
    // a few (empty) heights, so the first seconds do not measure the start-up. Releasing alone
    // does not show the full mesh (empty heights need no shares), and a member not yet
    // connected to a peer misses that peer's share batches until its retry a second later:
    // measured, ≈ 1.5 s stalls for the first heights under load.
    for (i, url) in urls.iter().enumerate() {
        while connected_peers(&http, url).await < urls.len() - 1
            || !client
                .node_status(i)
                .await
                .is_ok_and(|s| s.next_release > Height(WARM_HEIGHTS))
        {
            if Instant::now() > deadline {
                bail!(
                    "member {i} is not connected to every peer or not releasing (see {})",
                    dir.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let info = client.committee();
    println!(
        "devnet: {} members (decryption threshold {}), committee {}, key {}",
        info.n,
        info.t,
        client.committee_id(),
        &info.key_id[..16]
    );
    // each member's QUIC address and the certificate fingerprint it wrote at start; members
    // are listed by identity, and node<i> is the member serving the API on base + 100 + i
    let mut quic_members = Vec::new();
    let mut by_port: Vec<_> = info.members.iter().collect();
    by_port.sort_by_key(|m| m.api.port());
    for m in by_port {
        let i = m.api.port().saturating_sub(a.base_port + 100);
        let path = dir.join(format!("node{i}/data/quic.fingerprint"));
        let fingerprint = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| curtain::protocol::quic::parse_fingerprint(&t))
            .with_context(|| format!("reading {}", path.display()))?;
        if let Some(addr) = m.quic {
            quic_members.push(QuicMember { addr, fingerprint });
        }
    }
    for (i, u) in urls.iter().enumerate() {
        println!("  member {i}: {u}  (POST /v1/transactions, GET /v1/namespaces/{{ns}}/stream, /metrics)");
        if let Some(q) = quic_members.get(i) {
            println!(
                "            quic {}  fingerprint {}",
                q.addr,
                hex::encode(q.fingerprint)
            );
        }
    }
    let quic = match a.transport {
        Transport::Quic => Some(Arc::new(QuicClient::new(quic_members)?)),
        Transport::Http => None,
    };
    println!(
        "load: {} tx/s over {} namespaces, {} B payloads, submitted over {}, {}",
        a.rate,
        a.namespaces,
        a.payload_bytes,
        match a.transport {
            Transport::Http => "HTTP",
            Transport::Quic => "QUIC",
        },
        a.duration
            .map_or("until Ctrl-C".to_string(), |d| format!("{d} s"))
    );

    let tally = Arc::new(Tally::default());
    let start = Instant::now();
    let cpu_start = (cpu_seconds(members), cpu_seconds(&[std::process::id()]));
    let stop = Arc::new(tokio::sync::Notify::new());
    let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));

    // followers: one per namespace, reading released batches from member 0
    let mut followers = Vec::new();
    for ns in 0..a.namespaces {
        let client = client.clone();
        let tally = tally.clone();
        followers.push(tokio::spawn(async move {
            let mut from = 1;
            loop {
                match client.batches(0, Namespace(ns), Height(from), 256).await {
                    Ok(page) => {
                        let now = Instant::now();
                        for b in &page.batches {
                            for e in &b.entries {
                                let Ok(id) = hex::decode(&e.id) else { continue };
                                let Ok(id) = <[u8; 32]>::try_from(id) else {
                                    continue;
                                };
                                let submitted = tally.inflight.lock().unwrap().remove(&id);
                                if let Some(t) = submitted {
                                    tally.latencies.lock().unwrap().push((
                                        now.duration_since(start).as_secs_f64(),
                                        now.duration_since(t).as_secs_f64() * 1e3,
                                    ));
                                }
                            }
                        }
                        let advanced = page.next > Height(from);
                        from = page.next.get();
                        if !advanced {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
        }));
    }

    // wallets: a paced generator; each submission is its own task (bounded concurrency)
    let generator = {
        let client = client.clone();
        let quic = quic.clone();
        let tally = tally.clone();
        let stopping = stopping.clone();
        let rate = a.rate;
        let namespaces = a.namespaces;
        let payload_bytes = a.payload_bytes;
        let nodes = urls.len();
        tokio::spawn(async move {
            let permits = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT as usize));
            let tick = Duration::from_millis(10);
            let mut interval = tokio::time::interval(tick);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut sent: u64 = 0;
            while !stopping.load(Ordering::Relaxed) {
                interval.tick().await;
                let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
                while sent < due {
                    let k = sent;
                    sent += 1;
                    let permit = permits.clone().acquire_owned().await.expect("open");
                    let client = client.clone();
                    let quic = quic.clone();
                    let tally = tally.clone();
                    tokio::spawn(async move {
                        let _permit = permit;
                        let ns = k % namespaces;
                        let mut payload = format!("devnet tx {k} ").into_bytes();
                        payload.resize(payload_bytes.max(payload.len()), b'.');
                        let sender = format!("wallet-{}", k % 1024);
                        let ct = match client.encrypt(
                            Namespace(ns),
                            sender.as_bytes(),
                            &payload,
                            &mut rand::rng(),
                        ) {
                            Ok(ct) => ct,
                            Err(_) => {
                                tally.rejected.fetch_add(1, Ordering::Relaxed);
                                return;
                            }
                        };
                        tally.submitted.fetch_add(1, Ordering::Relaxed);
                        // registered before the submission: a release may be seen first
                        tally
                            .inflight
                            .lock()
                            .unwrap()
                            .insert(ct.id(), Instant::now());
                        let submitted = match &quic {
                            Some(q) => q.submit(&ct, k as usize % nodes).await,
                            None => client.submit(&ct, k as usize % nodes).await,
                        };
                        match submitted {
                            Ok(_) => {
                                tally.accepted.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(_) => {
                                tally.inflight.lock().unwrap().remove(&ct.id());
                                tally.rejected.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    });
                }
            }
            // wait for submissions in flight
            let _ = permits.acquire_many(MAX_IN_FLIGHT).await;
        })
    };

    // live progress until the duration ends or Ctrl-C
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(Duration::from_millis(200));
    let timer = {
        let stop = stop.clone();
        let duration = a.duration;
        tokio::spawn(async move {
            match duration {
                Some(d) => tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(d)) => {}
                    _ = crate::cli::node::terminated() => {}
                },
                None => crate::cli::node::terminated().await,
            }
            stop.notify_one();
        })
    };
    let stopped = stop.notified();
    tokio::pin!(stopped);
    let mut last = (Instant::now(), 0u64);
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
        let released = tally.released();
        let tps = (released - last.1) as f64 / last.0.elapsed().as_secs_f64();
        last = (Instant::now(), released);
        let [p50, p99] = recent_quantiles(&tally, 2000);
        bar.set_message(format!(
            "{:>6.1} s  submitted {}  accepted {}  released {}  rejected {}  {:>6.0} tx/s  p50 {:.0} ms  p99 {:.0} ms",
            start.elapsed().as_secs_f64(),
            tally.submitted.load(Ordering::Relaxed),
            tally.accepted.load(Ordering::Relaxed),
            released,
            tally.rejected.load(Ordering::Relaxed),
            tps,
            p50,
            p99
        ));
    }
    timer.abort();
    let load_time = start.elapsed();
    stopping.store(true, Ordering::Relaxed);
    let _ = generator.await;

    // drain: every accepted transaction released, or a deadline
    bar.set_message("draining: waiting for the last releases");
    let drain_deadline = Instant::now() + Duration::from_secs(30);
    while !tally.inflight.lock().unwrap().is_empty() && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bar.finish_and_clear();
    for f in followers {
        f.abort();
    }
    let cpu = (
        cpu_seconds(members) - cpu_start.0,
        cpu_seconds(&[std::process::id()]) - cpu_start.1,
    );

    let mut decrypt = Vec::new();
    for i in 0..urls.len() {
        if let Ok(s) = client.release_latencies(i).await {
            decrypt.extend(s);
        }
    }
    let submitted = tally.submitted.load(Ordering::Relaxed);
    let accepted = tally.accepted.load(Ordering::Relaxed);
    let rejected = tally.rejected.load(Ordering::Relaxed);
    let (released, active, lat) = {
        let l = tally.latencies.lock().unwrap();
        let active = l.last().map_or(load_time.as_secs_f64(), |(t, _)| *t);
        (
            l.len() as u64,
            active,
            l.iter().map(|(_, ms)| *ms).collect(),
        )
    };
    let lost = accepted.saturating_sub(released);
    let throughput = released as f64 / active.max(1e-9);
    let [p50, p95, p99, max] = quantiles(lat, [0.5, 0.95, 0.99, 1.0]);
    let [d50, d99] = quantiles(decrypt, [0.5, 0.99]);
    let per_tx = |secs: f64| secs * 1e3 / released.max(1) as f64;
    let (cpu_members, cpu_generator) = (per_tx(cpu.0), per_tx(cpu.1));

    println!();
    println!("| metric | value |");
    println!("|---|---|");
    println!("| submitted | {submitted} |");
    println!("| accepted | {accepted} |");
    println!("| released | {released} |");
    println!("| rejected | {rejected} |");
    println!("| lost | {lost} |");
    println!("| throughput | {throughput:.0} tx/s |");
    println!(
        "| submit → release p50 / p95 / p99 / max | {p50:.0} / {p95:.0} / {p99:.0} / {max:.0} ms |"
    );
    println!("| finalized → released per block p50 / p99 | {d50:.1} / {d99:.1} ms |");
    println!(
        "| CPU per released tx: all members / load generator | {cpu_members:.3} / {cpu_generator:.3} ms |"
    );

    if let Some(path) = &a.report {
        let report = serde_json::json!({
            "submitted": submitted,
            "accepted": accepted,
            "released": released,
            "rejected": rejected,
            "lost": lost,
            "throughput_tps": throughput,
            "latency_ms": { "p50": p50, "p95": p95, "p99": p99, "max": max },
            "decrypt_batch_ms": { "p50": d50, "p99": d99 },
            "cpu_ms_per_tx": { "members": cpu_members, "load_generator": cpu_generator },
            "config": {
                "nodes": a.nodes, "rate": a.rate, "duration_s": load_time.as_secs_f64(),
                "namespaces": a.namespaces, "payload_bytes": a.payload_bytes,
            },
        });
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
        let svg = path.with_extension("svg");
        std::fs::write(&svg, plot(&tally.latencies.lock().unwrap()))?;
        println!("report: {} and {}", path.display(), svg.display());
    }
    Ok(lost)
}
