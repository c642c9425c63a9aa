//! `curtain bench crypto`: the per-block cryptographic work of a committee, measured stage by
//! stage on this machine (trusted-dealer keys; no network, no consensus).

use anyhow::{bail, ensure, Context};
use curtain::ledger::{KeyEpoch, Namespace};
use curtain_crypto::{
    combine, deal, decode_all, encrypt, verify_batch, verify_openings, Ciphertext, Decryption,
    EncodedCiphertext, Label, Padding, ShareBatch,
};
use std::time::Instant;

#[derive(clap::Args)]
pub(super) struct CryptoArgs {
    /// Committee size n.
    #[arg(long, default_value_t = 4)]
    nodes: usize,
    /// Decryption threshold t (default: the consensus quorum 2f+1 of n = 3f+1).
    #[arg(long)]
    threshold: Option<usize>,
    /// Ciphertexts per block.
    #[arg(long, default_value_t = 512)]
    batch: usize,
    /// Plaintext bytes per transaction.
    #[arg(long, default_value_t = 256)]
    payload_bytes: usize,
    /// Rounds to take medians over.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
}

pub(super) fn crypto(a: CryptoArgs) -> anyhow::Result<()> {
    let f = a.nodes.saturating_sub(1) / 3;
    let t = a.threshold.unwrap_or(2 * f + 1);
    ensure!(
        a.rounds > 0 && a.batch > 0,
        "--rounds and --batch must be positive"
    );
    let mut rng = rand::rng();
    let (key, shares) = deal(a.nodes, t, &mut rng).context("committee parameters")?;
    let label =
        Label::new(key.id(), KeyEpoch(0), Namespace(1), b"bench-wallet").context("label")?;
    let msg = vec![0x5a; a.payload_bytes];
    let batch_id = [7u8; 32];

    let mut stages: Vec<(&str, Vec<f64>)> = [
        "encrypt (all B)",
        "decode (parse, curve checks, cofactor of u)",
        "validate_batch",
        "share_gen (one member)",
        "decrypt_batch (decode t batches + combine)",
        "verify_openings (observer)",
    ]
    .into_iter()
    .map(|s| (s, Vec::new()))
    .collect();
    for _ in 0..a.rounds {
        let t0 = Instant::now();
        let cts = (0..a.batch)
            .map(|_| encrypt(key.encryption_key(), &label, &msg, Padding::None, &mut rng))
            .collect::<Result<Vec<Ciphertext>, _>>()?;
        stages[0].1.push(ms(t0));

        // Members receive encodings: decoding them (with `û`) is part of every member's work,
        // and decoded ciphertexts carry `û` into the share stage as they do in the node.
        let encodings: Vec<Vec<u8>> = cts.iter().map(Ciphertext::to_bytes).collect();
        let t0 = Instant::now();
        let encoded = encodings
            .iter()
            .map(|b| EncodedCiphertext::parse(b))
            .collect::<Result<Vec<_>, _>>()?;
        let cts = decode_all(&encoded)
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        stages[1].1.push(ms(t0));

        let t0 = Instant::now();
        let verified = verify_batch(&key, cts, &mut rng)
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
            .map_err(|r| anyhow::anyhow!("valid ciphertext rejected: {}", r.reason))?;
        stages[2].1.push(ms(t0));

        let mut wire = Vec::with_capacity(t);
        for (i, share) in shares.iter().take(t).enumerate() {
            let t0 = Instant::now();
            wire.push(share.decryption_shares(batch_id, &verified).to_bytes());
            if i == 0 {
                stages[3].1.push(ms(t0));
            }
        }

        let t0 = Instant::now();
        let batches = wire
            .iter()
            .map(|b| ShareBatch::from_bytes(b))
            .collect::<Result<Vec<_>, _>>()?;
        let out = combine(&key, batch_id, &verified, &batches, &mut rng)?;
        stages[4].1.push(ms(t0));
        if out
            .decryptions
            .iter()
            .any(|d| d != &Decryption::Plaintext(msg.clone()))
        {
            bail!("a ciphertext did not decrypt to its plaintext");
        }

        let t0 = Instant::now();
        ensure!(
            verify_openings(&key, &verified, &out.openings, &mut rng),
            "openings rejected"
        );
        stages[5].1.push(ms(t0));
    }

    println!(
        "curtain bench crypto: n={} t={} B={} payload={} B, {} rounds, {} threads",
        a.nodes,
        t,
        a.batch,
        a.payload_bytes,
        a.rounds,
        std::thread::available_parallelism().map_or(1, |p| p.get())
    );
    println!(
        "{:<44} {:>12} {:>14}",
        "stage", "median ms", "µs/ciphertext"
    );
    for (name, mut v) in stages {
        v.sort_by(f64::total_cmp);
        let m = v[v.len() / 2];
        println!("{name:<44} {m:>12.3} {:>14.1}", m * 1e3 / a.batch as f64);
    }
    Ok(())
}

fn ms(t0: Instant) -> f64 {
    t0.elapsed().as_secs_f64() * 1e3
}
