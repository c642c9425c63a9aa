//! RLN admission circuit (curtain-circuits): constraint count and the medians of proving, single
//! verification and batched verification (64 proofs), at the default depth 20.
//!
//! Output: `target/bench/circuits.json` with `constraints`, `prove_ms`, `verify_ms`,
//! `verify_batch_ms_per_proof` (medians), the sample counts and the 1-minute load average at
//! the start and the end (the machine's two cores are shared: a load above ~1 means the
//! timings include waiting for a core).

mod common;

use common::load_average;
use curtain_circuits::{
    prove, setup_dev, signal_hash, verify, verify_batch, CircuitParams, Identity, MerkleTree,
    Proof, Statement, Witness,
};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::{path::PathBuf, time::Instant};

const BATCH: usize = 64;
const VERIFY_SAMPLES: usize = 101;
const BATCH_SAMPLES: usize = 11;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Milliseconds taken by `f`.
fn ms(f: impl FnOnce()) -> f64 {
    let t0 = Instant::now();
    f();
    t0.elapsed().as_secs_f64() * 1e3
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this binary without it.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let load_start = load_average();
    let params = CircuitParams::default();
    let constraints = params.num_constraints();
    let mut setup = None;
    let setup_ms = ms(|| setup = Some(setup_dev(params, [1; 32])));
    let (pk, vk) = setup.expect("set up");
    eprintln!(
        "depth {} constraints {constraints} setup {setup_ms:.0} ms",
        params.depth()
    );

    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let identities: Vec<Identity> = (0..BATCH).map(|_| Identity::random(4, &mut rng)).collect();
    let mut tree = MerkleTree::new(params.depth()).expect("depth");
    for id in &identities {
        tree.push(id.commitment()).expect("room");
    }
    // The batch's proofs are the proving samples: 64 members, one message each.
    let mut prove_ms = Vec::with_capacity(BATCH);
    let batch: Vec<(Statement, Proof)> = identities
        .iter()
        .enumerate()
        .map(|(i, identity)| {
            let path = tree.path(i as u64).expect("index");
            let witness = Witness {
                identity,
                path: &path,
                root: tree.root(),
                epoch: 7,
                message_index: 0,
                signal: signal_hash(&(i as u64).to_be_bytes()),
            };
            let mut proof = None;
            prove_ms.push(ms(|| {
                proof = Some(prove(&pk, &witness, &mut rng).expect("prove"))
            }));
            (witness.statement(), proof.expect("proved"))
        })
        .collect();
    let prove_ms = median(prove_ms);
    eprintln!("prove {prove_ms:.1} ms");

    let verify_ms = median(
        (0..VERIFY_SAMPLES)
            .map(|i| {
                let (s, p) = &batch[i % BATCH];
                ms(|| verify(&vk, s, p).expect("valid"))
            })
            .collect(),
    );
    eprintln!("verify {verify_ms:.3} ms");
    let batch_ms = median(
        (0..BATCH_SAMPLES)
            .map(|_| ms(|| verify_batch(&vk, &batch, &mut rng).expect("valid")))
            .collect(),
    );
    let per_proof = batch_ms / BATCH as f64;
    eprintln!("verify_batch {batch_ms:.2} ms for {BATCH} = {per_proof:.3} ms/proof");

    let threads = std::thread::available_parallelism().map_or(1, |p| p.get());
    let json = serde_json::json!({
        "constraints": constraints,
        "prove_ms": prove_ms,
        "verify_ms": verify_ms,
        "verify_batch_ms_per_proof": per_proof,
        "depth": params.depth(),
        "range_bits": params.range_bits(),
        "batch": BATCH,
        "samples": { "prove": BATCH, "verify": VERIFY_SAMPLES, "verify_batch": BATCH_SAMPLES },
        "setup_dev_ms": setup_ms,
        "threads": threads,
        "load_average_1m": { "start": load_start, "end": load_average() },
    });
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&out).expect("create target/bench");
    let text = serde_json::to_string_pretty(&json).expect("json");
    std::fs::write(out.join("circuits.json"), &text).expect("write circuits.json");
    println!("{text}");
}
