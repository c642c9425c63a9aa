//! `curtain dkg` and `curtain reshare`: the thin shell around `curtain::dkg::Ceremony`
//! (SPEC.md §9): authenticated p2p (commonware lookup network, ed25519 identities), the
//! encrypted journal, the clock, progress lines, and the outputs (committee.json, the
//! member's keystore, node.toml).

use anyhow::{bail, ensure, Context as _};
use commonware_codec::{Copying, DecodeExt as _, Encode as _};
use commonware_p2p::{authenticated::lookup, Address, AddressableManager as _};
use commonware_runtime::{tokio as cw_tokio, Quota, Runner as _, Supervisor as _};
use commonware_utils::{
    ordered::{Map, Set},
    NZU32,
};
use curtain::dkg::{
    driver::{Driver, DriverError, Member},
    journal::FileStore,
    keystore::{self, EpochShares, KdfParams, MemberSecrets, Passphrase},
    Outcome, Pk, Previous, Progress, RoundConfig, Secrets, Timeouts,
};
use curtain::ledger::{Height, KeyEpoch};
use curtain::node::settings::{
    dkg_outputs, ClientLimits, Committee, CommitteeFile, DkgRecord, EpochEntry, NodeFile,
    Participant,
};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const P2P_NAMESPACE: &[u8] = b"curtain/v1/dkg-p2p";
const MAX_MESSAGE: u32 = 32 << 20;
/// How long a finished member keeps answering peers that are still finishing.
const LINGER: Duration = Duration::from_secs(10);

/// `dkg.toml`: one member's view of a ceremony (every member's must agree but for paths).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct DkgFile {
    /// Round number: starts at 0, +1 after every failed attempt (also picks the leader).
    pub round: u64,
    /// This member's keystore (its identity; for a reshare also its current shares).
    pub keystore: PathBuf,
    /// Output directory: committee.json, the new keystore, node.toml, the journal.
    pub out: PathBuf,
    /// Reshare/refresh: the current committee file (its members deal).
    #[serde(default)]
    pub previous_committee: Option<PathBuf>,
    /// Per-phase timeouts in ms (defaults: deal 5000, logs 5000, agree 10000, publish 10000).
    #[serde(default)]
    pub timeouts: Option<TimeoutsFile>,
    /// Argon2id cost of the written keystore: "strong" (default) or "insecure-fast" (tests,
    /// throwaway devnets).
    #[serde(default)]
    pub kdf: Option<String>,
    /// Client limits written into node.toml.
    #[serde(default)]
    pub limits: ClientLimits,
    /// The RLN verifying key written into node.toml (a reshare of a committee with anonymous
    /// namespaces needs it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rln_verifying_key: Option<PathBuf>,
    /// Reshare/refresh: the first height the new committee orders (SPEC.md §9.8; > 0, above
    /// the previous committee's; `--activate-at` overrides). Written into the new
    /// committee.json; the node refuses a later key epoch without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation_height: Option<u64>,
    /// The (new) committee: identities, p2p and API addresses.
    pub members: Vec<Participant>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub(super) struct TimeoutsFile {
    pub deal_ms: u64,
    pub logs_ms: u64,
    pub agree_ms: u64,
    pub publish_ms: u64,
}

#[derive(clap::Args)]
pub(super) struct DkgArgs {
    /// Path to dkg.toml.
    #[arg(long)]
    config: PathBuf,
    /// File holding the keystore passphrase (else CURTAIN_PASSPHRASE, else a prompt).
    #[arg(long)]
    passphrase_file: Option<PathBuf>,
}

#[derive(clap::Args)]
pub(super) struct ReshareArgs {
    /// Path to dkg.toml with `previous_committee` set.
    #[arg(long)]
    config: PathBuf,
    /// File holding the keystore passphrase (else CURTAIN_PASSPHRASE, else a prompt).
    #[arg(long)]
    passphrase_file: Option<PathBuf>,
    /// Proactive refresh: same members, fresh shares (ignores `members`; uses the current
    /// committee's).
    #[arg(long)]
    refresh: bool,
    /// The first height the new committee orders (overrides `activation_height` in
    /// dkg.toml; > 0). Every member restarts with the new `[[epochs]]` entry before it.
    #[arg(long)]
    activate_at: Option<u64>,
}

pub(super) fn dkg(a: DkgArgs) -> anyhow::Result<()> {
    let file = load(&a.config)?;
    ensure!(
        file.previous_committee.is_none(),
        "dkg.toml names a previous committee: use `curtain reshare`"
    );
    let pass = Passphrase::obtain(a.passphrase_file.as_deref(), "keystore passphrase: ")?;
    run(file, &pass, "dkg")
}

pub(super) fn reshare(a: ReshareArgs) -> anyhow::Result<()> {
    let mut file = load(&a.config)?;
    let prev = file
        .previous_committee
        .clone()
        .context("`curtain reshare` needs `previous_committee` in dkg.toml")?;
    let previous = Committee::load(&prev)?;
    if a.refresh {
        file.members = previous.participants.clone();
    }
    if let Some(h) = a.activate_at {
        file.activation_height = Some(h);
    }
    match file.activation_height {
        None => bail!("a reshare needs an activation height (--activate-at or activation_height)"),
        Some(h) if h == 0 || Height(h) <= previous.activation_height.unwrap_or(Height(0)) => bail!(
            "the activation height must be above 0 and above the previous committee's ({})",
            previous.activation_height.unwrap_or(Height(0))
        ),
        Some(_) => {}
    }
    let pass = Passphrase::obtain(a.passphrase_file.as_deref(), "keystore passphrase: ")?;
    run(file, &pass, if a.refresh { "refresh" } else { "reshare" })
}

fn load(path: &Path) -> anyhow::Result<DkgFile> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut file: DkgFile = toml::from_str(&text).context("dkg.toml")?;
    // Paths are relative to the file.
    let base = path.parent().unwrap_or(Path::new("."));
    let abs = |p: &Path| {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        }
    };
    file.keystore = abs(&file.keystore);
    file.out = abs(&file.out);
    file.previous_committee = file.previous_committee.as_deref().map(abs);
    Ok(file)
}

fn parse_pk(hex_id: &str) -> anyhow::Result<Pk> {
    let bytes = hex::decode(hex_id).context("member identity hex")?;
    Pk::decode(Copying(bytes.as_slice())).map_err(|e| anyhow::anyhow!("member identity: {e}"))
}

fn run(file: DkgFile, pass: &Passphrase, kind: &'static str) -> anyhow::Result<()> {
    let secrets = keystore::read(&file.keystore, pass)
        .with_context(|| format!("opening {}", file.keystore.display()))?;
    let me = secrets.public_key();

    // The new committee, sorted by identity (index order).
    let mut members = file.members.clone();
    members.sort_by(|a, b| a.identity.cmp(&b.identity));
    let mut addresses: Vec<(Pk, SocketAddr)> = Vec::new();
    for m in &members {
        addresses.push((parse_pk(&m.identity)?, m.p2p));
    }
    let players = Set::try_from(addresses.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>())
        .map_err(|_| anyhow::anyhow!("duplicate member identities"))?;

    let (dealers, previous, prev_shares) = match &file.previous_committee {
        None => (players.clone(), None, None),
        Some(path) => {
            let c = Committee::load(path)?;
            let record = c.dkg.as_ref().context(
                "the previous committee file has no ceremony record (made before the DKG)",
            )?;
            let (co, eo) = dkg_outputs(record, c.identities.len()).map_err(anyhow::Error::msg)?;
            for (pk, p) in c.identities.iter().zip(&c.participants) {
                if !addresses.iter().any(|(a, _)| a == pk) {
                    addresses.push((pk.clone(), p.p2p));
                }
            }
            let shares = match &secrets.shares {
                Some(s) if c.identities.contains(&me) => {
                    ensure!(
                        KeyEpoch(s.key_epoch) == c.key_epoch,
                        "keystore holds shares of key epoch {}, the committee is at {}",
                        s.key_epoch,
                        c.key_epoch
                    );
                    Some((s.consensus.clone(), s.encryption.clone()))
                }
                _ => None,
            };
            let dealers = Set::try_from(c.identities.clone()).expect("checked by Committee::load");
            (
                dealers,
                Some(Previous {
                    consensus: co,
                    encryption: eo,
                    key: c.encryption_key.clone(),
                    key_epoch: c.key_epoch.get(),
                }),
                shares,
            )
        }
    };
    let timeouts = file.timeouts.map_or_else(Timeouts::default, |t| Timeouts {
        deal_ms: t.deal_ms,
        logs_ms: t.logs_ms,
        agree_ms: t.agree_ms,
        publish_ms: t.publish_ms,
    });
    let cfg = RoundConfig {
        round: file.round,
        dealers,
        players,
        previous,
        timeouts,
    };
    let key_epoch = cfg.key_epoch();
    std::fs::create_dir_all(&file.out)?;
    let out_dir = file.out.canonicalize()?;
    let journal_path = out_dir.join(format!("dkg-epoch{key_epoch}-round{}.journal", file.round));
    let mut rng_seed = [0u8; 32];
    rand::fill(&mut rng_seed);
    let member = Member {
        config: cfg,
        secrets: Secrets {
            identity: secrets.identity.clone(),
            consensus: prev_shares.as_ref().map(|s| s.0.clone()),
            encryption: prev_shares.as_ref().map(|s| s.1.clone()),
        },
        rng_seed,
        journal: FileStore::open(&journal_path)?,
        journal_context: format!("{kind}/epoch{key_epoch}/round{}", file.round).into_bytes(),
    };
    let my_addr = addresses
        .iter()
        .find(|(p, _)| *p == me)
        .map(|(_, a)| *a)
        .context("this identity is not among the ceremony's members")?;
    let span = tracing::info_span!("dkg", round = file.round, epoch = key_epoch, me = %me);
    let _g = span.enter();

    let identity = secrets.identity.clone();
    let pass = pass.clone();
    let committee_out = out_dir.join("committee.json");
    let runtime = cw_tokio::Config::new()
        .with_worker_threads(2)
        .with_storage_directory(out_dir.join("dkg-p2p"))
        .with_catch_panics(false);
    let started = Instant::now();
    let result: anyhow::Result<()> = cw_tokio::Runner::new(runtime).start(|context| async move {
        let p2p = super::node::p2p_config(
            identity.clone(),
            P2P_NAMESPACE,
            my_addr,
            &addresses.iter().map(|(_, a)| *a).collect::<Vec<_>>(),
            MAX_MESSAGE,
        );
        let (mut network, mut oracle) = lookup::Network::new(context.child("network"), p2p);
        let peers: Map<Pk, Address> = addresses
            .iter()
            .map(|(pk, a)| (pk.clone(), Address::from(*a)))
            .collect::<Vec<_>>()
            .try_into()
            .map_err(|_| anyhow::anyhow!("duplicate identities"))?;
        oracle.track(0, peers);
        let (tx, rx) = network.register(0, Quota::per_second(NZU32!(1_000)));
        network.start();

        let round = member.config.round;
        let (dealers, players) = (member.config.dealers.len(), member.config.players.len());
        let mut driver = Driver::start(context.child("dkg"), member, tx, rx).await?;
        if driver.resumed() > 0 {
            eprintln!(
                "dkg round {round}: resuming from {} journal entries",
                driver.resumed()
            );
        }
        eprintln!(
            "dkg round {round} ({kind}, key epoch {key_epoch}): {dealers} dealers → {players} players, leader {}",
            driver.ceremony().leader()
        );
        let outcome = match driver.run(|p| print_progress(round, p)).await {
            Ok(o) => o,
            Err(DriverError::Failed(report)) => {
                eprintln!("{report}");
                bail!("{report}");
            }
            Err(e) => return Err(e.into()),
        };
        write_outputs(&file, &out_dir, kind, &outcome, &secrets, &pass)?;
        eprintln!(
            "dkg round {} complete in {:.2}s: key {} (epoch {}), transcript {}",
            outcome.round,
            started.elapsed().as_secs_f64(),
            hex::encode(outcome.key.id()),
            outcome.key_epoch,
            hex::encode(outcome.transcript)
        );
        driver.linger(LINGER).await?;
        Ok(())
    });
    result?;
    let id = curtain::node::settings::Committee::load(&committee_out)?.id();
    eprintln!("committee {} (key epoch {key_epoch})", hex::encode(id));
    println!("{}", committee_out.display());
    Ok(())
}

/// A progress line on stderr.
fn print_progress(round: u64, p: &Progress) {
    let missing: Vec<String> = p.missing.iter().map(short).collect();
    eprintln!(
        "dkg round {round} phase {:?}: dealings {}/{}, acks {}/{}, logs {}, echoes {}/{}, publics {}{}",
        p.phase,
        p.dealings,
        p.dealers,
        p.acks,
        p.players,
        p.logs,
        p.echoes,
        p.quorum,
        p.publics,
        if missing.is_empty() {
            String::new()
        } else {
            format!("; waiting on {}", missing.join(", "))
        }
    );
}

fn short(p: &Pk) -> String {
    let s = p.to_string();
    s.chars().take(12).collect()
}

fn kdf_of(file: &DkgFile) -> anyhow::Result<KdfParams> {
    match file.kdf.as_deref() {
        None | Some("strong") => Ok(KdfParams::STRONG),
        Some("insecure-fast") => Ok(KdfParams::INSECURE_FAST),
        Some(other) => bail!("unknown kdf {other:?} (strong | insecure-fast)"),
    }
}

/// committee.json, the member's keystore and node.toml.
fn write_outputs(
    file: &DkgFile,
    out: &Path,
    kind: &str,
    o: &Outcome,
    secrets: &MemberSecrets,
    pass: &Passphrase,
) -> anyhow::Result<()> {
    let mut members = file.members.clone();
    members.sort_by(|a, b| a.identity.cmp(&b.identity));
    let mut committee = committee_file(members, kind, o);
    if let Some(prev) = &file.previous_committee {
        // a reshare changes keys and members, not what the committee serves
        let prev: CommitteeFile = serde_json::from_str(&std::fs::read_to_string(prev)?)
            .with_context(|| format!("{}", prev.display()))?;
        committee.namespaces = prev.namespaces;
        committee.rln = prev.rln;
        committee.activation_height = file.activation_height.map(Height);
    }
    let committee_path = out.join("committee.json");
    std::fs::write(&committee_path, serde_json::to_string_pretty(&committee)?)?;
    let Some(shares) = &o.shares else {
        eprintln!("this member left the committee: no keystore written");
        return Ok(());
    };
    let keystore_path = out.join(format!("member-epoch{}.ks", o.key_epoch));
    let sealed = keystore::seal(
        &MemberSecrets {
            identity: secrets.identity.clone(),
            shares: Some(EpochShares {
                key_epoch: o.key_epoch,
                consensus: shares.consensus.clone(),
                encryption: shares.encryption.clone(),
            }),
        },
        pass,
        kdf_of(file)?,
        &mut rand::rng(),
    )?;
    keystore::write(&keystore_path, &sealed)?;
    let node = match &file.previous_committee {
        None => NodeFile {
            committee: committee_path,
            keystore: keystore_path,
            data_dir: out.join("data"),
            index: shares.index,
            rln_verifying_key: file.rln_verifying_key.clone(),
            limits: file.limits.clone(),
            epochs: Vec::new(),
            drain: None,
        },
        // the previous epoch first (the keystore this member came with: its old shares, or
        // only its identity if it joins), then the new one; a member whose node.toml already
        // lists earlier epochs appends this `[[epochs]]` entry to it instead
        Some(prev) => NodeFile {
            committee: prev.clone(),
            keystore: file.keystore.clone(),
            data_dir: out.join("data"),
            index: shares.index,
            rln_verifying_key: file.rln_verifying_key.clone(),
            limits: file.limits.clone(),
            epochs: vec![EpochEntry {
                committee: committee_path,
                keystore: Some(keystore_path),
            }],
            drain: None,
        },
    };
    std::fs::write(out.join("node.toml"), toml::to_string_pretty(&node)?)?;
    Ok(())
}

/// The public committee file of an outcome.
pub(super) fn committee_file(members: Vec<Participant>, kind: &str, o: &Outcome) -> CommitteeFile {
    let n = o.key.n();
    CommitteeFile {
        participants: members,
        consensus_public: hex::encode(o.consensus.public().encode()),
        encryption_key: hex::encode(o.key.to_bytes()),
        key_epoch: KeyEpoch(o.key_epoch),
        activation_height: None,
        // every namespace, open; the dealer path and a reshare (which keeps the previous
        // committee's policies) set these
        namespaces: None,
        rln: None,
        dkg: Some(DkgRecord {
            round: o.round,
            kind: kind.to_string(),
            n,
            t: o.key.t(),
            transcript: hex::encode(o.transcript),
            consensus_output: hex::encode(o.consensus.encode()),
            encryption_output: hex::encode(o.encryption.encode()),
            verification_keys: (0..n as u32)
                .filter_map(|i| o.key.verification_key(i))
                .map(hex::encode)
                .collect(),
        }),
    }
}
