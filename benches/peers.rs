//! Side-by-side benchmark: curtain-crypto against threshold_crypto 0.4 and commonware's `tle`,
//! measured in the same process, on the same machine, in the same run.
//!
//! Operations (B = ciphertexts in a block, (n, t) = committee size and threshold):
//! - `encrypt`: one ciphertext of a 256-byte transaction (wallet side).
//! - `validate`: the public validity check of one ciphertext.
//! - `validate_batch`: validity of a block of B ciphertexts (curtain: one batched check; peers
//!   have no batch check, so B single ones).
//! - `decrypt_batch` is "combine + verify + decrypt": whatever each implementation needs so a
//!   faulty member cannot change the output.
//! - `share_gen`: one member's decryption shares for the B ciphertexts of a final block.
//! - `decrypt_batch`: from t members' shares to B plaintexts (curtain: decode the t share
//!   batches + optimistic combine; peers: their combine per ciphertext).
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
//! Peers are measured with few samples; when one iteration would exceed 2 s, the per-ciphertext
//! cost is measured on a prefix and extrapolated linearly (their cost is linear in B), and the
//! row says `extrapolated`. curtain is always measured on the full batch.
//!
//! Output: `target/bench/peers.json`, `target/bench/peers.md`, `target/bench/peers.svg`.
//! `CURTAIN_BENCH_QUICK=1` runs a subset in under three minutes.

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
use serde::Serialize;
use std::{fmt::Write as _, hint::black_box, num::NonZeroU32, path::PathBuf, time::Instant};

const PAYLOAD: usize = 256;
/// A peer iteration longer than this is extrapolated from a prefix.
const PEER_ITERATION_BUDGET_S: f64 = 2.0;
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

const QUICK: Config = Config {
    committees: &[(4, 3), (16, 11)],
    batches: &[1, 32, 512],
    budget_s: 0.6,
    min_samples: 1,
    max_samples: 5,
};

#[derive(Serialize, Clone)]
struct Row {
    #[serde(rename = "impl")]
    imp: &'static str,
    op: &'static str,
    batch: usize,
    n: usize,
    t: usize,
    median_ms: f64,
    samples: usize,
    extrapolated: bool,
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
    let started = Instant::now();
    let mut rows = Vec::new();
    for &(n, t) in cfg.committees {
        eprintln!("== n={n} t={t}");
        rows.extend(curtain_rows(&cfg, n, t));
        rows.extend(tc_rows(&cfg, n, t));
        rows.extend(tle_rows(&cfg, n, t));
    }
    let threads = std::thread::available_parallelism().map_or(1, |p| p.get());
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&out).expect("create target/bench");
    let json = serde_json::json!({
        "threads": threads,
        "quick": quick,
        "payload_bytes": PAYLOAD,
        "results": rows,
    });
    std::fs::write(
        out.join("peers.json"),
        serde_json::to_string_pretty(&json).expect("json"),
    )
    .expect("write peers.json");
    let md = markdown(&rows, threads);
    std::fs::write(out.join("peers.md"), &md).expect("write peers.md");
    std::fs::write(out.join("peers.svg"), svg(&rows, &cfg)).expect("write peers.svg");
    println!("{md}");
    eprintln!(
        "wrote {} in {:.0} s",
        out.display(),
        started.elapsed().as_secs_f64()
    );
}

/// Times `f` until the budget or `max_samples` is reached (at least `min_samples`); returns
/// the median in ms and the sample count.
fn sample(cfg: &Config, mut f: impl FnMut()) -> (f64, usize) {
    let start = Instant::now();
    let mut v = Vec::new();
    while v.len() < cfg.max_samples
        && (v.len() < cfg.min_samples || start.elapsed().as_secs_f64() < cfg.budget_s)
    {
        let t0 = Instant::now();
        f();
        v.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v.len())
}

/// A peer operation linear in the number of ciphertexts: `f(k)` processes the first `k`.
/// Extrapolates from a prefix when the full batch would exceed the per-iteration budget.
fn sample_linear(cfg: &Config, batch: usize, mut f: impl FnMut(usize)) -> (f64, usize, bool) {
    let probe = batch.min(4);
    let t0 = Instant::now();
    f(probe);
    let per_item_s = t0.elapsed().as_secs_f64() / probe as f64;
    let k = if per_item_s * batch as f64 > PEER_ITERATION_BUDGET_S {
        ((PEER_ITERATION_BUDGET_S / per_item_s) as usize).clamp(1, batch)
    } else {
        batch
    };
    let peer_cfg = Config {
        min_samples: cfg.min_samples.min(3),
        max_samples: cfg.max_samples.min(5),
        ..*cfg
    };
    let (ms, samples) = sample(&peer_cfg, || f(k));
    (ms * batch as f64 / k as f64, samples, k < batch)
}

fn row(
    imp: &'static str,
    op: &'static str,
    batch: usize,
    (n, t): (usize, usize),
    (median_ms, samples, extrapolated): (f64, usize, bool),
) -> Row {
    eprintln!(
        "{imp:<17} {op:<15} B={batch:<5} {median_ms:>11.3} ms{}",
        if extrapolated { " (extrapolated)" } else { "" }
    );
    Row {
        imp,
        op,
        batch,
        n,
        t,
        median_ms,
        samples,
        extrapolated,
    }
}

fn curtain_rows(cfg: &Config, n: usize, t: usize) -> Vec<Row> {
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

    let (ms, s) = sample(cfg, || {
        black_box(encrypt(key.encryption_key(), &label, &msg, Padding::None, &mut rng).unwrap());
    });
    rows.push(row(CURTAIN, "encrypt", 1, nt, (ms, s, false)));
    let (ms, s) = sample(cfg, || {
        black_box(verify(&key, cts[0].clone()).unwrap());
    });
    rows.push(row(CURTAIN, "validate", 1, nt, (ms, s, false)));

    for &b in cfg.batches {
        let block = &cts[..b];
        let (ms, s) = sample(cfg, || {
            let v = verify_batch(&key, block.to_vec(), &mut rng);
            assert!(v.iter().all(Result::is_ok));
            black_box(v);
        });
        rows.push(row(CURTAIN, "validate_batch", b, nt, (ms, s, false)));

        let verified: Vec<VerifiedCiphertext> = verify_batch(&key, block.to_vec(), &mut rng)
            .into_iter()
            .map(|r| r.expect("valid"))
            .collect();
        let batch_id = [b as u8; 32];
        let (ms, s) = sample(cfg, || {
            black_box(shares[0].decryption_shares(batch_id, &verified).to_bytes());
        });
        rows.push(row(CURTAIN, "share_gen", b, nt, (ms, s, false)));

        let wire: Vec<Vec<u8>> = shares[..t]
            .iter()
            .map(|sh| sh.decryption_shares(batch_id, &verified).to_bytes())
            .collect();
        let (ms, s) = sample(cfg, || {
            let batches: Vec<ShareBatch> = wire
                .iter()
                .map(|w| ShareBatch::from_bytes(w).unwrap())
                .collect();
            let out = combine(&key, batch_id, &verified, &batches, &mut rng).unwrap();
            assert!(out.optimistic);
            assert!(matches!(&out.decryptions[0], Decryption::Plaintext(p) if *p == msg));
            black_box(out);
        });
        rows.push(row(CURTAIN, "decrypt_batch", b, nt, (ms, s, false)));
    }
    rows
}

fn tc_rows(cfg: &Config, n: usize, t: usize) -> Vec<Row> {
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
        .iter()
        .map(|c| {
            key_shares[..t]
                .iter()
                .map(|s| s.decrypt_share_no_verify(c))
                .collect()
        })
        .collect();
    let mut rows = Vec::new();
    let nt = (n, t);

    let (ms, s) = sample(cfg, || {
        black_box(pk.encrypt_with_rng(&mut rng, msg));
    });
    rows.push(row(TC, "encrypt", 1, nt, (ms, s, false)));
    let (ms, s) = sample(cfg, || assert!(black_box(ct(0).verify())));
    rows.push(row(TC, "validate", 1, nt, (ms, s, false)));

    for &b in cfg.batches {
        let r = sample_linear(cfg, b, |k| {
            for i in 0..k {
                assert!(black_box(ct(i).verify()));
            }
        });
        rows.push(row(TC, "validate_batch", b, nt, r));
        let r = sample_linear(cfg, b, |k| {
            for i in 0..k {
                black_box(key_shares[0].decrypt_share_no_verify(ct(i)));
            }
        });
        rows.push(row(TC, "share_gen", b, nt, r));
        let r = sample_linear(cfg, b, |k| {
            for i in 0..k {
                let j = i % PEER_DISTINCT;
                for (m, share) in dec_shares[j].iter().enumerate() {
                    assert!(pk_shares[m].verify_decryption_share(share, &cts[j]));
                }
                let pt = pks
                    .decrypt(dec_shares[j].iter().enumerate(), &cts[j])
                    .unwrap();
                assert_eq!(pt.len(), PAYLOAD);
                black_box(pt);
            }
        });
        rows.push(row(TC, "decrypt_batch", b, nt, r));
    }
    rows
}

const TLE_NAMESPACE: &[u8] = b"curtain-bench-tle";

fn tle_rows(cfg: &Config, n: usize, t: usize) -> Vec<Row> {
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
        .iter()
        .map(|tg| {
            key_shares[..t]
                .iter()
                .map(|s| threshold::sign_message::<MinSig>(s, TLE_NAMESPACE, tg))
                .collect()
        })
        .collect();
    let mut rows = Vec::new();
    let nt = (n, t);

    let (ms, s) = sample(cfg, || {
        black_box(
            tle::encrypt::<_, MinSig>(&mut rng, public, (TLE_NAMESPACE, &targets[0]), &block)
                .unwrap(),
        );
    });
    rows.push(row(TLE, "encrypt", 1, nt, (ms, s, false)));

    for &b in cfg.batches {
        let r = sample_linear(cfg, b, |k| {
            for i in 0..k {
                let tg = &targets[i % PEER_DISTINCT];
                black_box(threshold::sign_message::<MinSig>(
                    &key_shares[0],
                    TLE_NAMESPACE,
                    tg,
                ));
            }
        });
        rows.push(row(TLE, "share_gen", b, nt, r));
        let r = sample_linear(cfg, b, |k| {
            for i in 0..k {
                let j = i % PEER_DISTINCT;
                let sig =
                    threshold::recover::<MinSig, _>(&sharing, partials[j].iter(), &Sequential)
                        .unwrap();
                let pt = tle::decrypt::<MinSig>(&sig, &cts[j]).expect("decrypts");
                black_box(pt);
            }
        });
        rows.push(row(TLE, "decrypt_batch", b, nt, r));
    }
    rows
}

fn find<'a>(rows: &'a [Row], imp: &str, op: &str, b: usize, nt: (usize, usize)) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.imp == imp && r.op == op && r.batch == b && (r.n, r.t) == nt)
}

fn markdown(rows: &[Row], threads: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Medians in ms ({threads} threads, {PAYLOAD}-byte payloads); `×` = peer time / curtain \
         time (higher is better for curtain); `*` = extrapolated from a prefix; `—` = the \
         peer has no such operation.\n"
    );
    let _ = writeln!(
        s,
        "| n | t | op | B | curtain | threshold_crypto | × | commonware tle | × |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|");
    let mut keys: Vec<((usize, usize), usize, usize)> = rows
        .iter()
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
        let ours = find(rows, CURTAIN, op, b, nt).map(|r| r.median_ms);
        let cell = |imp: &str| -> (String, String) {
            match (find(rows, imp, op, b, nt), ours) {
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
    s
}

/// Log-log plot of `decrypt_batch` (solid) and `share_gen` (dashed) latency against B, one
/// panel per committee.
fn svg(rows: &[Row], cfg: &Config) -> String {
    let (pw, ph, m) = (360.0, 300.0, 50.0);
    let width = m + cfg.committees.len() as f64 * (pw + m);
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
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{}" font-family="sans-serif" font-size="11">"#,
        ph + 2.0 * m + 40.0
    );
    let _ = writeln!(
        s,
        r#"<rect width="100%" height="100%" fill="white"/><text x="{m}" y="20" font-size="13">latency (ms, log) vs ciphertexts per block B (log): decrypt_batch solid, share_gen dashed</text>"#
    );
    for (p, &nt) in cfg.committees.iter().enumerate() {
        let ox = m + p as f64 * (pw + m);
        let oy = m;
        let _ = writeln!(
            s,
            r##"<g transform="translate({ox},{oy})"><rect width="{pw}" height="{ph}" fill="none" stroke="#999"/><text x="{}" y="-6" text-anchor="middle">n={} t={}</text>"##,
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
                    .filter_map(|&b| find(rows, imp, op, b, nt))
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
    for (i, (imp, colour)) in colours.enumerate() {
        let lx = m + i as f64 * 160.0;
        let ly = ph + 2.0 * m + 20.0;
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
