//! Side-by-side benchmark: curtain-crypto against threshold_crypto 0.4 and commonware's `tle`,
//! measured in the same process, on the same machine, in the same run, at equal thread counts.
//!
//! Operations (B = ciphertexts in a block, (n, t) = committee size and threshold):
//! - `encrypt`: one ciphertext of a 256-byte transaction (wallet side).
//! - `validate`: the public validity check of one ciphertext.
//! - `validate_batch`: validity of a block of B ciphertexts (curtain: one batched check; peers
//!   have no batch check, so B single ones).
//! - `share_gen`: one member's decryption shares for the B ciphertexts of a final block.
//! - `decrypt_batch`: from t members' shares to B plaintexts, "combine + verify + decrypt":
//!   whatever each implementation needs so a faulty member cannot change the output (curtain:
//!   decode the t share batches + optimistic combine; peers: their combine per ciphertext).
//!
//! How each peer is used, chosen to be the most favourable honest use for the peer:
//! - threshold_crypto: `decrypt_share_no_verify` (validity was checked at admission, as in
//!   curtain). Its combined result carries no integrity check, so `decrypt_batch` verifies each
//!   of the t shares (`verify_decryption_share`, the only share check its API offers) and then
//!   calls `PublicKeySet::decrypt`; without the checks one faulty member garbles the output.
//! - commonware tle (MinSig, signatures in G1, which makes its partial signatures and
//!   recovery cheapest): each transaction is encrypted to its own target (a random 32-byte id),
//!   which is what "only ordered transactions are decrypted" needs; a share is a partial
//!   signature on that target. tle encrypts a 32-byte block (a DEM key); the DEM of the payload
//!   (~1 µs) is not included. tle ciphertexts have no public validity check, so `validate*` are
//!   not reported for it.
//!
//! Threads. Every operation is measured twice, in two tables: on an explicit rayon pool of one
//! thread and on one of `available_parallelism` threads (`ThreadPoolBuilder::num_threads(k)` +
//! `pool.install`, never the global pool), for all three implementations alike, and each
//! table's ratios compare implementations at that same thread count.
//! - curtain's batch operations (`validate_batch`, `share_gen`, `decrypt_batch`) are rayon-
//!   parallel inside curtain-crypto (MSM windows, chunks of points, per-ciphertext openings)
//!   and use the pool they run in.
//! - The peers' batch operations are parallel per ciphertext: `(0..B).into_par_iter()`, one
//!   ciphertext's whole work per task (threshold_crypto: `validate_batch`, `share_gen` and
//!   `decrypt_batch`; tle: `share_gen` and `decrypt_batch`; tle's `recover` gets `Sequential`,
//!   since the parallelism is across ciphertexts). Their per-ciphertext work is independent, so
//!   this is the natural parallel use; with B smaller than the thread count (B = 1) a peer
//!   cannot use more than B threads.
//! - `encrypt` and `validate` (one ciphertext) are single-threaded in all three; they appear
//!   in both tables only for completeness.
//! - Each table states the pool size each implementation saw (`rayon::current_num_threads()`
//!   read inside `install`, per implementation) and how many cores were really busy: the
//!   process's CPU time (all threads, from `/proc/self/task/*/schedstat`, Linux only) over
//!   the wall time of the measured iterations, per row in the JSON (`cores_busy`; none for
//!   cells under 100 ms, where the kernel's accounting is too coarse). On a shared machine
//!   that is below the pool size when other processes hold cores; the 1-minute load average
//!   before and after the run is recorded too. The cells of one row are measured seconds
//!   apart, so load that varies during a run moves ratios as well as times.
//!
//! Extrapolation. Peers are measured with few samples; when one iteration of the full batch
//! would exceed 2 s, a prefix of k ciphertexts is measured instead and scaled. With p threads
//! and uniform per-ciphertext cost, B ciphertexts take ⌈B/p⌉ "rounds" of one ciphertext per
//! thread; so k is a multiple of p and at least 4 rounds (every thread busy with ≥ 4 tasks),
//! and the time is scaled by ⌈B/p⌉ / ⌈k/p⌉ (with p = 1: B/k, the linear extrapolation). The
//! row says `extrapolated`. curtain is always measured on the full batch.
//!
//! Output: `target/bench/peers.json`, `target/bench/peers.md`, `target/bench/peers.svg`.
//! `CURTAIN_BENCH_QUICK=1` runs a subset (both thread counts) in a few minutes.

mod common;

use common::load_average;
use commonware_cryptography::bls12381::{
    dkg::feldman_desmedt::deal_anonymous,
    primitives::{
        group::Share,
        ops::threshold,
        sharing::{Mode, Sharing},
        variant::MinSig,
    },
    tle,
};
use commonware_parallel::Sequential;
use commonware_utils::N3f1;
use curtain::ledger::{KeyEpoch, Namespace};
use curtain_crypto::{
    combine, deal, encrypt, verify, verify_batch, Ciphertext, Decryption, Label, Padding,
    ShareBatch, VerifiedCiphertext,
};
use rand::{RngExt as _, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;
use serde::Serialize;
use std::{fmt::Write as _, hint::black_box, num::NonZeroU32, path::PathBuf, time::Instant};

const PAYLOAD: usize = 256;
/// A peer iteration longer than this is extrapolated from a prefix.
const PEER_ITERATION_BUDGET_S: f64 = 2.0;
/// A measured prefix gives every thread at least this many ciphertexts.
const MIN_ROUNDS: usize = 4;
/// Distinct ciphertexts generated per peer; larger batches reuse them cyclically (peers have no
/// cross-ciphertext batching, so reuse does not change their cost).
const PEER_DISTINCT: usize = 256;

#[derive(Clone, Copy)]
struct Config {
    committees: &'static [(usize, usize)],
    batches: &'static [usize],
    /// Wall-clock budget per measured cell, and sample bounds.
    budget_s: f64,
    min_samples: usize,
    max_samples: usize,
}

const FULL: Config = Config {
    committees: &[(4, 3), (16, 11), (64, 43)],
    batches: &[1, 32, 128, 512, 2048],
    budget_s: 3.0,
    min_samples: 3,
    max_samples: 15,
};

/// Three samples at least, so one burst of load from other processes does not make a median.
const QUICK: Config = Config {
    committees: &[(4, 3), (16, 11)],
    batches: &[1, 32, 512],
    budget_s: 1.0,
    min_samples: 3,
    max_samples: 7,
};

#[derive(Serialize, Clone)]
struct Row {
    #[serde(rename = "impl")]
    imp: &'static str,
    op: &'static str,
    batch: usize,
    n: usize,
    t: usize,
    /// Size of the pool the row was measured on (the table).
    pool_threads: usize,
    /// `rayon::current_num_threads()` as the implementation's code saw it.
    threads_seen: usize,
    median_ms: f64,
    samples: usize,
    extrapolated: bool,
    /// Process CPU time / wall time over the measured iterations (None off Linux, or when
    /// they took less than 100 ms in all).
    cores_busy: Option<f64>,
}

/// One measurement: median, sample count, whether extrapolated, cores busy.
struct Measured {
    median_ms: f64,
    samples: usize,
    extrapolated: bool,
    cores_busy: Option<f64>,
}

const CURTAIN: &str = "curtain";
const TC: &str = "threshold_crypto";
const TLE: &str = "commonware_tle";
const IMPLS: [&str; 3] = [CURTAIN, TC, TLE];
const OPS: [&str; 5] = [
    "encrypt",
    "validate",
    "validate_batch",
    "share_gen",
    "decrypt_batch",
];

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this binary without it.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let quick = std::env::var_os("CURTAIN_BENCH_QUICK").is_some_and(|v| v != "0");
    let cfg = if quick { QUICK } else { FULL };
    let available = std::thread::available_parallelism().map_or(1, |p| p.get());
    let mut counts = vec![1, available];
    counts.dedup();
    let pools: Vec<rayon::ThreadPool> = counts
        .iter()
        .map(|&k| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(k)
                .thread_name(move |i| format!("bench-{k}-{i}"))
                .build()
                .expect("thread pool")
        })
        .collect();
    let started = Instant::now();
    let load_before = load_average();
    let mut rows = Vec::new();
    for &(n, t) in cfg.committees {
        for (pool, &k) in pools.iter().zip(&counts) {
            eprintln!("== n={n} t={t}, pool of {k} thread(s)");
            rows.extend(pool.install(|| curtain_rows(&cfg, n, t, k)));
            rows.extend(pool.install(|| tc_rows(&cfg, n, t, k)));
            rows.extend(pool.install(|| tle_rows(&cfg, n, t, k)));
        }
    }
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&out).expect("create target/bench");
    let tables: Vec<_> = counts
        .iter()
        .map(|&k| {
            let in_table: Vec<&Row> = rows.iter().filter(|r| r.pool_threads == k).collect();
            let seen: serde_json::Map<String, serde_json::Value> = IMPLS
                .iter()
                .map(|imp| (imp.to_string(), threads_seen(&rows, imp, k).into()))
                .collect();
            serde_json::json!({
                "threads": k,
                "threads_seen": seen,
                "results": in_table,
            })
        })
        .collect();
    let load = [load_before, load_average()];
    let json = serde_json::json!({
        "available_parallelism": available,
        "load_average_1min_before_after": load,
        "quick": quick,
        "payload_bytes": PAYLOAD,
        "tables": tables,
    });
    std::fs::write(
        out.join("peers.json"),
        serde_json::to_string_pretty(&json).expect("json"),
    )
    .expect("write peers.json");
    let md = markdown(&rows, &counts, available, load);
    std::fs::write(out.join("peers.md"), &md).expect("write peers.md");
    std::fs::write(out.join("peers.svg"), svg(&rows, &cfg, &counts)).expect("write peers.svg");
    println!("{md}");
    eprintln!(
        "wrote {} in {:.0} s",
        out.display(),
        started.elapsed().as_secs_f64()
    );
}

/// CPU time (ns) consumed so far by the process's live threads: the first field of each
/// `/proc/self/task/*/schedstat`. None where that does not exist (not Linux).
fn process_cpu_ns() -> Option<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        // A thread may exit between the listing and the read: it is skipped.
        if let Ok(s) = std::fs::read_to_string(entry.path().join("schedstat")) {
            total += s.split_whitespace().next()?.parse::<u64>().ok()?;
        }
    }
    Some(total)
}

/// Times `f` until the budget or `max_samples` is reached (at least `min_samples`).
fn sample(cfg: &Config, mut f: impl FnMut()) -> Measured {
    let cpu0 = process_cpu_ns();
    let start = Instant::now();
    let mut v = Vec::new();
    while v.len() < cfg.max_samples
        && (v.len() < cfg.min_samples || start.elapsed().as_secs_f64() < cfg.budget_s)
    {
        let t0 = Instant::now();
        f();
        v.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    let wall_ns = start.elapsed().as_nanos() as f64;
    // A running thread's schedstat lags by up to a scheduler tick: too coarse below 100 ms.
    let cores_busy = cpu0
        .zip(process_cpu_ns())
        .filter(|_| wall_ns >= 1e8)
        .map(|(a, b)| b.saturating_sub(a) as f64 / wall_ns);
    v.sort_by(f64::total_cmp);
    Measured {
        median_ms: v[v.len() / 2],
        samples: v.len(),
        extrapolated: false,
        cores_busy,
    }
}

/// A peer operation parallel per ciphertext: `f(k)` processes the first `k`, one ciphertext per
/// rayon task. When the full batch would exceed the per-iteration budget, measures a prefix of
/// whole rounds (a multiple of the pool's p threads, at least `MIN_ROUNDS` per thread) and
/// scales by rounds: ⌈B/p⌉ / ⌈k/p⌉.
fn sample_linear(cfg: &Config, batch: usize, mut f: impl FnMut(usize)) -> Measured {
    let p = rayon::current_num_threads().max(1);
    let rounds = |k: usize| k.div_ceil(p);
    let probe = batch.min(MIN_ROUNDS * p);
    let t0 = Instant::now();
    f(probe);
    let round_s = t0.elapsed().as_secs_f64() / rounds(probe) as f64;
    let k = if round_s * rounds(batch) as f64 > PEER_ITERATION_BUDGET_S {
        let r = ((PEER_ITERATION_BUDGET_S / round_s) as usize).max(MIN_ROUNDS);
        (r * p).min(batch)
    } else {
        batch
    };
    let peer_cfg = Config {
        min_samples: cfg.min_samples.min(3),
        max_samples: cfg.max_samples.min(5),
        ..*cfg
    };
    let m = sample(&peer_cfg, || f(k));
    Measured {
        median_ms: m.median_ms * rounds(batch) as f64 / rounds(k) as f64,
        extrapolated: k < batch,
        ..m
    }
}

fn row(
    (imp, pool_threads): (&'static str, usize),
    op: &'static str,
    batch: usize,
    (n, t): (usize, usize),
    m: Measured,
) -> Row {
    let threads_seen = rayon::current_num_threads();
    eprintln!(
        "{imp:<17} {op:<15} B={batch:<5} {:>11.3} ms  threads {threads_seen}, cores busy {}{}",
        m.median_ms,
        m.cores_busy.map_or("?".into(), |c| format!("{c:.2}")),
        if m.extrapolated {
            " (extrapolated)"
        } else {
            ""
        }
    );
    Row {
        imp,
        op,
        batch,
        n,
        t,
        pool_threads,
        threads_seen,
        median_ms: m.median_ms,
        samples: m.samples,
        extrapolated: m.extrapolated,
        cores_busy: m.cores_busy,
    }
}

fn curtain_rows(cfg: &Config, n: usize, t: usize, pool: usize) -> Vec<Row> {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let (key, shares) = deal(n, t, &mut rng).expect("deal");
    let label = Label::new(key.id(), KeyEpoch(0), Namespace(1), b"bench-wallet").expect("label");
    let msg = vec![0x5a; PAYLOAD];
    let max_b = *cfg.batches.iter().max().expect("batches");
    let cts: Vec<Ciphertext> = (0..max_b)
        .map(|_| encrypt(key.encryption_key(), &label, &msg, Padding::None, &mut rng))
        .collect::<Result<_, _>>()
        .expect("encrypt");
    let mut rows = Vec::new();
    let nt = (n, t);
    let imp = (CURTAIN, pool);

    let m = sample(cfg, || {
        black_box(encrypt(key.encryption_key(), &label, &msg, Padding::None, &mut rng).unwrap());
    });
    rows.push(row(imp, "encrypt", 1, nt, m));
    let m = sample(cfg, || {
        black_box(verify(&key, cts[0].clone()).unwrap());
    });
    rows.push(row(imp, "validate", 1, nt, m));

    for &b in cfg.batches {
        let block = &cts[..b];
        let m = sample(cfg, || {
            let v = verify_batch(&key, block.to_vec(), &mut rng);
            assert!(v.iter().all(Result::is_ok));
            black_box(v);
        });
        rows.push(row(imp, "validate_batch", b, nt, m));

        let verified: Vec<VerifiedCiphertext> = verify_batch(&key, block.to_vec(), &mut rng)
            .into_iter()
            .map(|r| r.expect("valid"))
            .collect();
        let batch_id = [b as u8; 32];
        let m = sample(cfg, || {
            black_box(shares[0].decryption_shares(batch_id, &verified).to_bytes());
        });
        rows.push(row(imp, "share_gen", b, nt, m));

        let wire: Vec<Vec<u8>> = shares[..t]
            .iter()
            .map(|sh| sh.decryption_shares(batch_id, &verified).to_bytes())
            .collect();
        let m = sample(cfg, || {
            let batches: Vec<ShareBatch> = wire
                .iter()
                .map(|w| ShareBatch::from_bytes(w).unwrap())
                .collect();
            let out = combine(&key, batch_id, &verified, &batches, &mut rng).unwrap();
            assert!(out.optimistic);
            assert!(matches!(&out.decryptions[0], Decryption::Plaintext(p) if *p == msg));
            black_box(out);
        });
        rows.push(row(imp, "decrypt_batch", b, nt, m));
    }
    rows
}

fn tc_rows(cfg: &Config, n: usize, t: usize, pool: usize) -> Vec<Row> {
    use rand_07::SeedableRng as _;
    let mut rng = rand_07::rngs::StdRng::seed_from_u64(2);
    let sks = threshold_crypto::SecretKeySet::random(t - 1, &mut rng);
    let pks = sks.public_keys();
    let pk = pks.public_key();
    let msg = [0x5au8; PAYLOAD];
    let key_shares: Vec<_> = (0..n).map(|i| sks.secret_key_share(i)).collect();
    let pk_shares: Vec<_> = (0..t).map(|i| pks.public_key_share(i)).collect();
    let cts: Vec<_> = (0..PEER_DISTINCT)
        .map(|_| pk.encrypt_with_rng(&mut rng, msg))
        .collect();
    let ct = |i: usize| &cts[i % PEER_DISTINCT];
    // Shares of the first t members for every distinct ciphertext, computed once.
    let dec_shares: Vec<Vec<_>> = cts
        .par_iter()
        .map(|c| {
            key_shares[..t]
                .iter()
                .map(|s| s.decrypt_share_no_verify(c))
                .collect()
        })
        .collect();
    let mut rows = Vec::new();
    let nt = (n, t);
    let imp = (TC, pool);

    let m = sample(cfg, || {
        black_box(pk.encrypt_with_rng(&mut rng, msg));
    });
    rows.push(row(imp, "encrypt", 1, nt, m));
    let m = sample(cfg, || assert!(black_box(ct(0).verify())));
    rows.push(row(imp, "validate", 1, nt, m));

    for &b in cfg.batches {
        let m = sample_linear(cfg, b, |k| {
            (0..k)
                .into_par_iter()
                .for_each(|i| assert!(black_box(ct(i).verify())));
        });
        rows.push(row(imp, "validate_batch", b, nt, m));
        let m = sample_linear(cfg, b, |k| {
            (0..k).into_par_iter().for_each(|i| {
                black_box(key_shares[0].decrypt_share_no_verify(ct(i)));
            });
        });
        rows.push(row(imp, "share_gen", b, nt, m));
        let m = sample_linear(cfg, b, |k| {
            (0..k).into_par_iter().for_each(|i| {
                let j = i % PEER_DISTINCT;
                for (m, share) in dec_shares[j].iter().enumerate() {
                    assert!(pk_shares[m].verify_decryption_share(share, &cts[j]));
                }
                let pt = pks
                    .decrypt(dec_shares[j].iter().enumerate(), &cts[j])
                    .unwrap();
                assert_eq!(pt.len(), PAYLOAD);
                black_box(pt);
            });
        });
        rows.push(row(imp, "decrypt_batch", b, nt, m));
    }
    rows
}

const TLE_NAMESPACE: &[u8] = b"curtain-bench-tle";

fn tle_rows(cfg: &Config, n: usize, t: usize, pool: usize) -> Vec<Row> {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let (sharing, key_shares): (Sharing<MinSig>, Vec<Share>) = deal_anonymous::<MinSig, N3f1>(
        &mut rng,
        Mode::NonZeroCounter,
        NonZeroU32::new(n as u32).expect("n > 0"),
    );
    assert_eq!(sharing.required() as usize, t, "N3f1 quorum must be t");
    let public = *sharing.public();
    let block = tle::Block::new([0x5a; 32]);
    let targets: Vec<[u8; 32]> = (0..PEER_DISTINCT).map(|_| rng.random()).collect();
    let cts: Vec<_> = targets
        .iter()
        .map(|tg| tle::encrypt::<_, MinSig>(&mut rng, public, (TLE_NAMESPACE, tg), &block).unwrap())
        .collect();
    let partials: Vec<Vec<_>> = targets
        .par_iter()
        .map(|tg| {
            key_shares[..t]
                .iter()
                .map(|s| threshold::sign_message::<MinSig>(s, TLE_NAMESPACE, tg))
                .collect()
        })
        .collect();
    let mut rows = Vec::new();
    let nt = (n, t);
    let imp = (TLE, pool);

    let m = sample(cfg, || {
        black_box(
            tle::encrypt::<_, MinSig>(&mut rng, public, (TLE_NAMESPACE, &targets[0]), &block)
                .unwrap(),
        );
    });
    rows.push(row(imp, "encrypt", 1, nt, m));

    for &b in cfg.batches {
        let m = sample_linear(cfg, b, |k| {
            (0..k).into_par_iter().for_each(|i| {
                let tg = &targets[i % PEER_DISTINCT];
                black_box(threshold::sign_message::<MinSig>(
                    &key_shares[0],
                    TLE_NAMESPACE,
                    tg,
                ));
            });
        });
        rows.push(row(imp, "share_gen", b, nt, m));
        let m = sample_linear(cfg, b, |k| {
            (0..k).into_par_iter().for_each(|i| {
                let j = i % PEER_DISTINCT;
                let sig =
                    threshold::recover::<MinSig, _>(&sharing, partials[j].iter(), &Sequential)
                        .unwrap();
                let pt = tle::decrypt::<MinSig>(&sig, &cts[j]).expect("decrypts");
                black_box(pt);
            });
        });
        rows.push(row(imp, "decrypt_batch", b, nt, m));
    }
    rows
}

fn find<'a>(
    rows: &'a [Row],
    imp: &str,
    op: &str,
    b: usize,
    nt: (usize, usize),
    pool: usize,
) -> Option<&'a Row> {
    rows.iter().find(|r| {
        r.imp == imp && r.op == op && r.batch == b && (r.n, r.t) == nt && r.pool_threads == pool
    })
}

/// The thread counts an implementation's code saw on the pool of `pool` threads, joined by `/`
/// if it ever saw more than one.
fn threads_seen(rows: &[Row], imp: &str, pool: usize) -> String {
    let mut seen: Vec<usize> = rows
        .iter()
        .filter(|r| r.imp == imp && r.pool_threads == pool)
        .map(|r| r.threads_seen)
        .collect();
    seen.sort_unstable();
    seen.dedup();
    seen.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join("/")
}

/// Median of `cores_busy` over an implementation's batch rows (share_gen, decrypt_batch,
/// validate_batch) with B ≥ 32 on the pool of `pool` threads.
fn busy(rows: &[Row], imp: &str, pool: usize) -> Option<f64> {
    let mut v: Vec<f64> = rows
        .iter()
        .filter(|r| r.imp == imp && r.pool_threads == pool && r.batch >= 32)
        .filter(|r| r.op.ends_with("_batch") || r.op == "share_gen")
        .filter_map(|r| r.cores_busy)
        .collect();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

fn markdown(rows: &[Row], counts: &[usize], available: usize, load: [Option<f64>; 2]) -> String {
    let mut s = String::new();
    let load = load.map(|l| l.map_or("?".into(), |l| format!("{l:.2}")));
    let _ = writeln!(
        s,
        "Medians in ms ({PAYLOAD}-byte payloads), one table per rayon pool size; `×` = peer \
         time / curtain time at the same thread count (higher is better for curtain); `*` = \
         extrapolated from a prefix of whole rounds; `—` = the peer has no such operation. \
         Peers' batch operations run one ciphertext per rayon task; `encrypt` and `validate` \
         are single-threaded everywhere. available_parallelism {available}; 1-minute load \
         average {} before the run, {} after.",
        load[0], load[1]
    );
    for &k in counts {
        let _ = writeln!(s, "\n### {k} thread{}\n", if k == 1 { "" } else { "s" });
        let _ = writeln!(
            s,
            "Threads seen inside `install` (`rayon::current_num_threads()`): {}. Cores busy \
             (process CPU / wall time, median over batch rows with B ≥ 32; below the pool size when other processes held \
             cores): {}.\n",
            IMPLS
                .iter()
                .map(|imp| format!("{imp} {}", threads_seen(rows, imp, k)))
                .collect::<Vec<_>>()
                .join(", "),
            IMPLS
                .iter()
                .map(|imp| format!(
                    "{imp} {}",
                    busy(rows, imp, k).map_or("?".into(), |c| format!("{c:.2}"))
                ))
                .collect::<Vec<_>>()
                .join(", "),
        );
        let _ = writeln!(
            s,
            "| n | t | op | B | curtain | threshold_crypto | × | commonware tle | × |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|");
        let mut keys: Vec<((usize, usize), usize, usize)> = rows
            .iter()
            .filter(|r| r.pool_threads == k)
            .map(|r| {
                (
                    (r.n, r.t),
                    OPS.iter().position(|o| *o == r.op).unwrap(),
                    r.batch,
                )
            })
            .collect();
        keys.sort();
        keys.dedup();
        for (nt, op, b) in keys {
            let op = OPS[op];
            let ours = find(rows, CURTAIN, op, b, nt, k).map(|r| r.median_ms);
            let cell = |imp: &str| -> (String, String) {
                match (find(rows, imp, op, b, nt, k), ours) {
                    (Some(r), Some(c)) => (
                        format!(
                            "{:.3}{}",
                            r.median_ms,
                            if r.extrapolated { "*" } else { "" }
                        ),
                        format!("{:.1}", r.median_ms / c),
                    ),
                    (Some(r), None) => (format!("{:.3}", r.median_ms), "—".into()),
                    (None, _) => ("—".into(), "—".into()),
                }
            };
            let (tc, tcx) = cell(TC);
            let (tle, tlex) = cell(TLE);
            let _ = writeln!(
                s,
                "| {} | {} | {op} | {b} | {} | {tc} | {tcx} | {tle} | {tlex} |",
                nt.0,
                nt.1,
                ours.map_or("—".into(), |m| format!("{m:.3}"))
            );
        }
    }
    s
}

/// Log-log plot of `decrypt_batch` (solid) and `share_gen` (dashed) latency against B, one
/// panel per committee (columns) and pool size (rows).
fn svg(rows: &[Row], cfg: &Config, counts: &[usize]) -> String {
    let (pw, ph, m) = (360.0, 300.0, 50.0);
    let width = m + cfg.committees.len() as f64 * (pw + m);
    let height = m + counts.len() as f64 * (ph + m) + 40.0;
    let colours = IMPLS.into_iter().zip(["#d62728", "#1f77b4", "#2ca02c"]);
    let plotted: Vec<&Row> = rows
        .iter()
        .filter(|r| r.op == "decrypt_batch" || r.op == "share_gen")
        .collect();
    let (bmin, bmax) = (
        *cfg.batches.iter().min().unwrap() as f64,
        *cfg.batches.iter().max().unwrap() as f64,
    );
    let ymin = plotted
        .iter()
        .map(|r| r.median_ms)
        .fold(f64::MAX, f64::min)
        .max(1e-3);
    let ymax = plotted.iter().map(|r| r.median_ms).fold(1e-3, f64::max);
    let (ly0, ly1) = (ymin.log10().floor(), ymax.log10().ceil());
    let lx1 = (bmax.log10() - bmin.log10()).max(1e-9);
    let x = |b: f64| (b.log10() - bmin.log10()) / lx1 * pw;
    let y = |v: f64| ph - (v.max(1e-3).log10() - ly0) / (ly1 - ly0) * ph;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">"#,
    );
    let _ = writeln!(
        s,
        r#"<rect width="100%" height="100%" fill="white"/><text x="{m}" y="20" font-size="13">latency (ms, log) vs ciphertexts per block B (log): decrypt_batch solid, share_gen dashed</text>"#
    );
    for (row_i, &k) in counts.iter().enumerate() {
        for (p, &nt) in cfg.committees.iter().enumerate() {
            let ox = m + p as f64 * (pw + m);
            let oy = m + row_i as f64 * (ph + m);
            let _ = writeln!(
                s,
                r##"<g transform="translate({ox},{oy})"><rect width="{pw}" height="{ph}" fill="none" stroke="#999"/><text x="{}" y="-6" text-anchor="middle">n={} t={}, {k} thread(s)</text>"##,
                pw / 2.0,
                nt.0,
                nt.1
            );
            for e in (ly0 as i32)..=(ly1 as i32) {
                let yy = y(10f64.powi(e));
                let _ = writeln!(
                    s,
                    r##"<line x1="0" x2="{pw}" y1="{yy:.1}" y2="{yy:.1}" stroke="#eee"/><text x="-4" y="{:.1}" text-anchor="end">1e{e}</text>"##,
                    yy + 4.0
                );
            }
            for &b in cfg.batches {
                let _ = writeln!(
                    s,
                    r#"<text x="{:.1}" y="{}" text-anchor="middle">{b}</text>"#,
                    x(b as f64),
                    ph + 14.0
                );
            }
            for (imp, colour) in colours.clone() {
                for (op, dash) in [
                    ("decrypt_batch", ""),
                    ("share_gen", r#" stroke-dasharray="5,4""#),
                ] {
                    let pts: Vec<String> = cfg
                        .batches
                        .iter()
                        .filter_map(|&b| find(rows, imp, op, b, nt, k))
                        .map(|r| format!("{:.1},{:.1}", x(r.batch as f64), y(r.median_ms)))
                        .collect();
                    if !pts.is_empty() {
                        let _ = writeln!(
                            s,
                            r#"<polyline fill="none" stroke="{colour}" stroke-width="2"{dash} points="{}"/>"#,
                            pts.join(" ")
                        );
                    }
                }
            }
            let _ = writeln!(s, "</g>");
        }
    }
    for (i, (imp, colour)) in colours.enumerate() {
        let lx = m + i as f64 * 160.0;
        let ly = height - 20.0;
        let _ = writeln!(
            s,
            r#"<rect x="{lx}" y="{}" width="14" height="4" fill="{colour}"/><text x="{}" y="{ly}">{imp}</text>"#,
            ly - 4.0,
            lx + 18.0
        );
    }
    s.push_str("</svg>\n");
    s
}
