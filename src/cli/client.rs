//! Client commands over the SDK: `submit`, `watch`, `status`.

use anyhow::{bail, Context as _};
use curtain::ledger::release::ReleasedBatch;
use curtain::ledger::{Height, Namespace};
use curtain::protocol::json::TxStatus;
use curtain::sdk::{Client, CommitteeId};
use curtain_crypto::Decryption;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub(super) struct Nodes {
    /// A member's API base URL; repeat for more.
    #[arg(long = "node", default_value = "http://127.0.0.1:19200")]
    nodes: Vec<String>,
    /// The committee identity to trust (64 hex digits; `curtain committee new`, `curtain dkg`
    /// and `curtain status` print it): one member serving it is enough. Without a pin (or
    /// --committee), n − f of the members given must serve the same committee.
    #[arg(long, conflicts_with = "committee")]
    committee_id: Option<String>,
    /// Trust the committee described by this committee.json (its identity is the pin).
    #[arg(long)]
    committee: Option<std::path::PathBuf>,
}

impl Nodes {
    async fn connect(&self) -> anyhow::Result<Client> {
        let pin = match (&self.committee_id, &self.committee) {
            (Some(id), _) => Some(id.parse::<CommitteeId>().context("--committee-id")?),
            (None, Some(path)) => Some(CommitteeId::from_committee_file(path)?),
            (None, None) => None,
        };
        Ok(Client::connect(self.nodes.clone(), pin).await?)
    }
}

#[derive(clap::Args)]
pub(super) struct SubmitArgs {
    #[command(flatten)]
    nodes: Nodes,
    /// Rollup namespace.
    #[arg(long, default_value_t = Namespace(0))]
    namespace: Namespace,
    /// Sender / admission tag bound into the label.
    #[arg(long, default_value = "cli")]
    sender: String,
    /// The payload, as text (or use --hex / --file).
    #[arg(long, conflicts_with_all = ["hex", "file"])]
    data: Option<String>,
    /// The payload, hex.
    #[arg(long, conflicts_with = "file")]
    hex: Option<String>,
    /// The payload, read from a file.
    #[arg(long)]
    file: Option<std::path::PathBuf>,
    /// Wait for the release, verify it, and print the outcome.
    #[arg(long)]
    wait: bool,
    /// Seconds to wait with --wait.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
}

#[derive(clap::Args)]
pub(super) struct WatchArgs {
    #[command(flatten)]
    nodes: Nodes,
    /// Rollup namespace to follow.
    #[arg(long)]
    namespace: Namespace,
    /// First height (default: 1).
    #[arg(long, default_value_t = Height(1))]
    from: Height,
    /// Stop after this many released batches of the namespace (default: follow forever).
    #[arg(long)]
    count: Option<usize>,
}

#[derive(clap::Args)]
pub(super) struct StatusArgs {
    #[command(flatten)]
    nodes: Nodes,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// A plaintext for a terminal: text if it is printable, else hex; long ones cut at 64 bytes.
fn show(d: &Decryption) -> String {
    const SHOWN: usize = 64;
    match d {
        Decryption::Plaintext(p) => {
            let head = &p[..p.len().min(SHOWN)];
            let text = match std::str::from_utf8(head) {
                Ok(s) if !s.chars().any(char::is_control) => format!("{s:?}"),
                _ => format!("0x{}", hex::encode(head)),
            };
            if p.len() > SHOWN {
                format!("{text}… ({} bytes)", p.len())
            } else {
                text
            }
        }
        Decryption::Undecryptable(u) => format!("undecryptable ({u:?})"),
    }
}

pub(super) fn submit(a: SubmitArgs) -> anyhow::Result<()> {
    let payload = match (&a.data, &a.hex, &a.file) {
        (Some(d), _, _) => d.as_bytes().to_vec(),
        (_, Some(h), _) => hex::decode(h).context("--hex")?,
        (_, _, Some(f)) => std::fs::read(f).with_context(|| format!("reading {}", f.display()))?,
        _ => bail!("give the payload with --data, --hex or --file"),
    };
    runtime()?.block_on(async {
        let client = a.nodes.connect().await?;
        let ct = client.encrypt(a.namespace, a.sender.as_bytes(), &payload, &mut rand::rng())?;
        let id = client.submit(&ct, 0).await?;
        println!("accepted {}", hex::encode(id));
        if !a.wait {
            return Ok(());
        }
        let deadline = Instant::now() + Duration::from_secs(a.timeout);
        let (height, position) = loop {
            if let Some(TxStatus::Released {
                height, position, ..
            }) = client.status(0, &id).await?
            {
                break (height, position);
            }
            if Instant::now() > deadline {
                bail!("not released within {} s", a.timeout);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let batch = client.release(0, height).await?;
        client.verify_release(0, &batch).await?;
        let entry = batch
            .entry(&id)
            .context("released batch does not hold the transaction")?;
        println!(
            "released at height {height}, position {position} (verified): {}",
            show(&entry.outcome)
        );
        Ok(())
    })
}

pub(super) fn watch(a: WatchArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let client = a.nodes.connect().await?;
        let (mut from, mut seen) = (a.from, 0usize);
        loop {
            let page = client.batches(0, a.namespace, from, 64).await?;
            for b in &page.batches {
                let bytes = curtain::protocol::json::base64_decode(&b.encoded)
                    .context("batch encoding is not base64")?;
                let batch = ReleasedBatch::from_bytes(&bytes)?;
                client.verify_release(0, &batch).await?;
                if let Err(e) = print_batch(&batch, a.namespace) {
                    // a closed pipe (`| head`) ends the watch quietly
                    return match e.kind() {
                        std::io::ErrorKind::BrokenPipe => Ok(()),
                        _ => Err(e.into()),
                    };
                }
                seen += 1;
                if a.count.is_some_and(|c| seen >= c) {
                    return Ok(());
                }
            }
            if page.next == from {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            from = page.next;
        }
    })
}

/// Prints one verified batch's entries of `namespace` (from the verified batch itself, not
/// from the node's JSON).
fn print_batch(batch: &ReleasedBatch, namespace: Namespace) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    for ns in batch.namespaces.iter().filter(|n| n.namespace == namespace) {
        writeln!(
            out,
            "height {} block {} ({} entries, verified)",
            batch.height,
            hex::encode(&batch.block.0[..8]),
            ns.entries.len()
        )?;
        for (i, e) in ns.entries.iter().enumerate() {
            writeln!(
                out,
                "  {i:>4} {} {}",
                hex::encode(&e.ciphertext.id()[..8]),
                show(&e.outcome)
            )?;
        }
    }
    out.flush()
}

pub(super) fn status(a: StatusArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let client = a.nodes.connect().await?;
        let c = client.committee();
        println!(
            "committee {} (key {}, epoch {}), n = {}, t = {}",
            client.committee_id(),
            c.key_id,
            c.key_epoch,
            c.n,
            c.t
        );
        for (i, node) in a.nodes.nodes.iter().enumerate() {
            match client.node_status(i).await {
                Ok(s) => println!(
                    "{node}: healthy, finalized height {}, released up to {}{}",
                    s.finalized_height,
                    s.next_release.saturating_sub(1),
                    if s.faulty_members.is_empty() {
                        String::new()
                    } else {
                        format!(", faulty members seen: {:?}", s.faulty_members)
                    }
                ),
                Err(e) => println!("{node}: unreachable or unhealthy: {e}"),
            }
        }
        Ok(())
    })
}
