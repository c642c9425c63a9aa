//! `curtain circuits setup`: RLN proving and verifying key files from the **insecure**
//! deterministic dev setup (SPEC.md §8.8 says what a production ceremony needs).

use anyhow::Context as _;
use curtain_circuits::{setup_dev, CircuitParams};
use sha2::{Digest as _, Sha256};
use std::path::PathBuf;

#[derive(clap::Args)]
pub(super) struct SetupArgs {
    /// Output directory: rln.pk (proving key) and rln.vk (verifying key).
    #[arg(long)]
    out: PathBuf,
    /// Seed of the deterministic setup: anyone who knows it can forge proofs.
    #[arg(long, default_value = "curtain dev setup")]
    seed: String,
    /// Merkle tree depth (members ≤ 2^depth).
    #[arg(long, default_value_t = curtain_circuits::DEFAULT_DEPTH)]
    depth: u8,
    /// Width of the quota range check.
    #[arg(long, default_value_t = curtain_circuits::DEFAULT_RANGE_BITS)]
    range_bits: u8,
}

pub(super) fn setup(a: SetupArgs) -> anyhow::Result<()> {
    let params = CircuitParams::new(a.depth, a.range_bits).context("circuit parameters")?;
    eprintln!(
        "WARNING: INSECURE DEV SETUP. These RLN keys come from a seed ({:?}); anyone who knows \
         it can forge membership proofs, exceed any quota and avoid slashing. Use them for \
         tests and devnets only; production keys need a Groth16 ceremony (SPEC.md §8.8).",
        a.seed
    );
    let seed: [u8; 32] = Sha256::new_with_prefix(b"curtain/v1/rln-dev-setup")
        .chain_update(a.seed.as_bytes())
        .finalize()
        .into();
    let (pk, vk) = setup_dev(params, seed);
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let pk_path = a.out.join("rln.pk");
    let vk_path = a.out.join("rln.vk");
    std::fs::write(&pk_path, pk.to_bytes())?;
    std::fs::write(&vk_path, vk.to_bytes())?;
    println!(
        "circuit digest {}\n  proving key   {}\n  verifying key {}\n(depth {}, range bits {}; \
         pass the verifying key to `curtain committee new --anonymous <ns> --rln-key`)",
        hex::encode(vk.digest()),
        pk_path.display(),
        vk_path.display(),
        a.depth,
        a.range_bits
    );
    Ok(())
}
