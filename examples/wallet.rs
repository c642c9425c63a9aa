//! A wallet with the SDK: pin the committee, encrypt a transaction for a rollup namespace,
//! submit it (retries over members; resubmission is idempotent), wait for its release, and
//! verify the released batch as a third party before trusting the plaintext.
//!
//! Run against `cargo run --release -- devnet` (member 0 answers on port 19200), pinned to the
//! committee id the devnet prints (one member is then enough):
//!
//! ```sh
//! CURTAIN_COMMITTEE_ID=<64 hex> cargo run --release --example wallet -- http://127.0.0.1:19200
//! ```
//!
//! or unpinned, with at least `n − f` of the members (3 of devnet's 4).

use curtain::ledger::Namespace;
use curtain::protocol::json::TxStatus;
use curtain::sdk::{Client, CommitteeId};
use std::time::{Duration, Instant};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut nodes: Vec<String> = std::env::args().skip(1).collect();
    if nodes.is_empty() {
        nodes.push("http://127.0.0.1:19200".into());
    }
    // A wallet pins the committee id it got out of band; without a pin, n − f of the members
    // given must serve the same committee.
    let pin = match std::env::var("CURTAIN_COMMITTEE_ID") {
        Ok(id) => Some(id.parse::<CommitteeId>()?),
        Err(_) => None,
    };
    let client = Client::connect(nodes, pin).await?;
    println!("committee {}", client.committee_id());

    let namespace = Namespace(7);
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
