//! A wallet with the SDK: pin the committee, encrypt a transaction for a rollup namespace,
//! submit it (retries over members; resubmission is idempotent), wait for its release, and
//! verify the released batch as a third party before trusting the plaintext.
//!
//! Run against `cargo run --release -- devnet` (member 0 answers on port 19200):
//!
//! ```sh
//! cargo run --release --example wallet -- http://127.0.0.1:19200 http://127.0.0.1:19201
//! ```

use curtain::sdk::Client;
use curtain::wire::TxStatus;
use std::time::{Duration, Instant};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut nodes: Vec<String> = std::env::args().skip(1).collect();
    if nodes.is_empty() {
        nodes.push("http://127.0.0.1:19200".into());
    }
    // Every member asked must serve the same committee; a real wallet also pins the key id it
    // got out of band (`Client::connect(nodes, Some(key_id))`).
    let client = Client::connect(nodes, None).await?;
    println!("committee key {}", client.committee().key_id);

    let namespace = 7;
    let ct = client.encrypt(
        namespace,
        b"example-wallet",
        b"transfer 10 to bob",
        &mut rand::rng(),
    )?;
    let id = client.submit(&ct, 0).await?;
    println!("accepted {}", hex::encode(id));

    let deadline = Instant::now() + Duration::from_secs(60);
    let height = loop {
        match client.status(0, &id).await? {
            Some(TxStatus::Released { height, .. }) => break height,
            _ if Instant::now() > deadline => anyhow::bail!("not released within 60 s"),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    // Trust nothing the node says: fetch the released batch and check its finality proof,
    // its block and every opening under the pinned key.
    let batch = client.release(0, height).await?;
    client.verify_release(0, &batch).await?;
    let entry = batch
        .entry(&id)
        .ok_or_else(|| anyhow::anyhow!("the verified batch does not hold the transaction"))?;
    match &entry.outcome {
        curtain_crypto::Decryption::Plaintext(p) => println!(
            "released at height {height}, verified: {}",
            String::from_utf8_lossy(p)
        ),
        other => println!("released at height {height}, verified: {other:?}"),
    }
    Ok(())
}
