//! `curtain evidence`: check a piece of evidence as a third party, and read a member's
//! evidence book.

use anyhow::{bail, Context as _};
use curtain::ledger::evidence::{Accused, EvidenceKind};
use curtain::node::core::mempool::MempoolConfig;
use curtain::node::settings::Committee;
use curtain::protocol::json::CommitteeInfo;
use curtain::sdk::{self, EvidenceReader, SdkError};
use std::path::{Path, PathBuf};

#[derive(clap::Subcommand)]
pub(super) enum EvidenceCommand {
    /// Check a piece of evidence against the committee alone; exit status 0 only if it holds.
    ///
    /// Example: curtain evidence verify piece.bin --committee committee.json
    Verify(VerifyArgs),
    /// List the evidence a member holds.
    ///
    /// Example: curtain evidence list --node http://127.0.0.1:19200 --member 3
    List(ListArgs),
    /// Write one piece's canonical encoding to a file (checked to be what its id names).
    ///
    /// Example: curtain evidence get <id> --node http://127.0.0.1:19200 --out piece.bin
    Get(GetArgs),
}

#[derive(clap::Args)]
pub(super) struct VerifyArgs {
    /// The evidence: its canonical encoding, raw or as hex text.
    file: PathBuf,
    /// A committee of the evidence's key epoch: the JSON `GET /v1/committee` serves, or a
    /// committee file (committee.json); repeat for several key epochs.
    #[arg(long = "committee", required = true)]
    committees: Vec<PathBuf>,
    /// The RLN verifying key (`curtain circuits setup`), for anonymous senders' evidence.
    #[arg(long)]
    rln_vk: Option<PathBuf>,
}

#[derive(clap::Args)]
pub(super) struct ListArgs {
    /// The member's API base URL.
    #[arg(long)]
    node: String,
    /// Only this kind: wrong_shares, equivocation or double_signal.
    #[arg(long, value_parser = parse_kind)]
    kind: Option<EvidenceKind>,
    /// Only pieces accusing this member index.
    #[arg(long)]
    member: Option<u32>,
}

#[derive(clap::Args)]
pub(super) struct GetArgs {
    /// The evidence id (64 hex digits).
    id: String,
    /// The member's API base URL.
    #[arg(long)]
    node: String,
    /// Where to write the canonical encoding (raw bytes).
    #[arg(long)]
    out: PathBuf,
}

fn parse_kind(name: &str) -> Result<EvidenceKind, String> {
    EvidenceKind::from_name(name).ok_or_else(|| {
        let names: Vec<_> = EvidenceKind::ALL.iter().map(|k| k.name()).collect();
        format!("one of {}", names.join(", "))
    })
}

pub(super) fn run(command: EvidenceCommand) -> anyhow::Result<()> {
    match command {
        EvidenceCommand::Verify(a) => verify(a),
        EvidenceCommand::List(a) => list(a),
        EvidenceCommand::Get(a) => get(a),
    }
}

/// The bytes of an evidence file: hex text if the whole file is hex (whitespace around it
/// allowed), else the raw encoding.
fn evidence_bytes(raw: Vec<u8>) -> Vec<u8> {
    std::str::from_utf8(&raw)
        .ok()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .and_then(|t| hex::decode(t).ok())
        .unwrap_or(raw)
}

/// A committee as `GET /v1/committee` serves it, read from that JSON or from a committee
/// file.
fn committee_info(path: &Path) -> anyhow::Result<CommitteeInfo> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    if let Ok(info) = serde_json::from_str::<CommitteeInfo>(&text) {
        return Ok(info);
    }
    // the mempool settings are not part of the committee's identity: any will do
    let committee = Committee::from_json(&text).with_context(|| {
        format!(
            "{}: neither GET /v1/committee's JSON nor a committee file",
            path.display()
        )
    })?;
    Ok(committee.info(&MempoolConfig::default()))
}

fn accused(a: &Accused) -> String {
    match a {
        Accused::Member { key_epoch, index } => format!("member {index} of key epoch {key_epoch}"),
        Accused::Sender { nullifier } => {
            format!("sender with nullifier {}", hex::encode(nullifier))
        }
    }
}

fn verify(a: VerifyArgs) -> anyhow::Result<()> {
    // hex text of the largest piece, and a trailing newline
    let most = 2 * curtain::ledger::evidence::MAX_EVIDENCE_LEN as u64 + 2;
    let size = std::fs::metadata(&a.file)
        .with_context(|| format!("reading {}", a.file.display()))?
        .len();
    if size > most {
        bail!(
            "{}: {size} bytes is more than evidence may be",
            a.file.display()
        );
    }
    let raw = std::fs::read(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
    let bytes = evidence_bytes(raw);
    let committees = a
        .committees
        .iter()
        .map(|p| committee_info(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let vk = a
        .rln_vk
        .as_ref()
        .map(|p| {
            curtain_circuits::VerifyingKey::load(p)
                .with_context(|| format!("RLN verifying key {}", p.display()))
        })
        .transpose()?;
    let id = hex::encode(curtain::ledger::evidence::id_of(&bytes));
    let kind = curtain::ledger::evidence::Evidence::from_bytes(&bytes)
        .map(|e| e.kind().name())
        .unwrap_or("unknown");
    match sdk::verify_evidence(&bytes, &committees, vk.as_ref()) {
        Ok(v) => {
            println!("evidence {id} holds");
            println!("kind: {kind}");
            println!("accused: {}", accused(&v.accused));
            println!("fault: {}", v.fault);
            Ok(())
        }
        Err(SdkError::Evidence(e)) => bail!("evidence {id} ({kind}) does not hold: {e}"),
        Err(e) => Err(e.into()),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn list(a: ListArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let reader = EvidenceReader::new(a.node)?;
        let mut from = 0;
        loop {
            let page = reader.page(a.kind, a.member, from, 256).await?;
            for e in &page.evidence {
                let height = e
                    .height
                    .map(|h| format!(" at height {h}"))
                    .unwrap_or_default();
                println!(
                    "{:>6} {} {} {}{height}",
                    e.seq,
                    e.id,
                    e.kind.name(),
                    accused(&e.accused)
                );
            }
            match page.next {
                Some(next) => from = next,
                None => return Ok(()),
            }
        }
    })
}

fn get(a: GetArgs) -> anyhow::Result<()> {
    let id: [u8; 32] = hex::decode(a.id.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .context("the id is 64 hex digits")?;
    runtime()?.block_on(async {
        let reader = EvidenceReader::new(a.node)?;
        let Some(item) = reader.get(&id).await? else {
            bail!("the member holds no evidence {}", hex::encode(id));
        };
        let (_, bytes) = sdk::item_bytes(&item)?;
        std::fs::write(&a.out, &bytes).with_context(|| format!("writing {}", a.out.display()))?;
        println!(
            "wrote {} ({} bytes, {} against {})",
            a.out.display(),
            bytes.len(),
            item.kind.name(),
            accused(&item.accused)
        );
        Ok(())
    })
}
