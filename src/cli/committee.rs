//! `curtain committee new` (a dev committee from a trusted dealer) and `curtain keygen`.

use anyhow::{ensure, Context as _};
use commonware_codec::Encode as _;
use commonware_cryptography::bls12381::{
    dkg::feldman_desmedt::deal as consensus_deal,
    primitives::{sharing::Mode, variant::MinSig},
};
use commonware_cryptography::Signer as _;
use commonware_utils::{ordered::Set, N3f1};
use curtain::node::config::{
    identity_hex, new_identity, public_hex, write_secret, AdmissionPolicy, ClientLimits,
    CommitteeFile, NamespacePolicy, NodeFile, Participant, RlnFile,
};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct NewArgs {
    /// Committee size n.
    #[arg(long, default_value_t = 4)]
    pub nodes: usize,
    /// Decryption threshold t (default: the consensus quorum 2f+1 of n = 3f+1).
    #[arg(long)]
    pub threshold: Option<usize>,
    /// Output directory: committee.json and one node<i>/ directory per member.
    #[arg(long)]
    pub out: PathBuf,
    /// Member i listens for p2p on 127.0.0.1:(p2p_base_port + i).
    #[arg(long, default_value_t = 9100)]
    pub p2p_base_port: u16,
    /// Member i serves clients on 127.0.0.1:(api_base_port + i).
    #[arg(long, default_value_t = 8100)]
    pub api_base_port: u16,
    /// Submissions per second admitted from one client address (default 200).
    #[arg(long)]
    pub client_rate_per_s: Option<u64>,
    /// Namespaces served with open admission, comma-separated (default: when no namespace
    /// option is given, every namespace is served, open).
    #[arg(long, value_delimiter = ',')]
    pub namespaces: Vec<u64>,
    /// Namespaces that require an RLN membership proof, comma-separated (needs --rln-key).
    #[arg(long, value_delimiter = ',')]
    pub anonymous: Vec<u64>,
    /// The RLN verifying key file (`curtain circuits setup`): its circuit digest goes into
    /// committee.json and every node.toml points at it.
    #[arg(long)]
    pub rln_key: Option<PathBuf>,
    /// The open namespace whose transactions are RLN registrations (added to the served
    /// namespaces).
    #[arg(long, default_value_t = 0)]
    pub registry_namespace: u64,
    /// Blocks per RLN epoch.
    #[arg(long, default_value_t = 64)]
    pub rln_epoch_blocks: u64,
    /// How many recent registry roots proofs may use.
    #[arg(long, default_value_t = 16)]
    pub rln_root_window: u32,
    /// Heights between a block and the registry state its roots are checked against.
    #[arg(long, default_value_t = 8)]
    pub rln_root_lag: u64,
}

/// The namespace and RLN sections of committee.json from the command line.
fn policies(a: &NewArgs) -> anyhow::Result<(Option<Vec<NamespacePolicy>>, Option<RlnFile>)> {
    if a.namespaces.is_empty() && a.anonymous.is_empty() {
        ensure!(
            a.rln_key.is_none(),
            "--rln-key needs --anonymous namespaces"
        );
        return Ok((None, None));
    }
    let mut list: Vec<NamespacePolicy> = a
        .namespaces
        .iter()
        .map(|&id| NamespacePolicy {
            id,
            admission: AdmissionPolicy::Open,
        })
        .chain(a.anonymous.iter().map(|&id| NamespacePolicy {
            id,
            admission: AdmissionPolicy::Anonymous,
        }))
        .collect();
    let rln = match &a.rln_key {
        None => {
            ensure!(a.anonymous.is_empty(), "--anonymous needs --rln-key");
            None
        }
        Some(path) => {
            ensure!(
                !a.anonymous.is_empty(),
                "--rln-key needs --anonymous namespaces"
            );
            let vk = curtain_circuits::VerifyingKey::load(path)
                .with_context(|| format!("RLN verifying key {}", path.display()))?;
            if !list.iter().any(|p| p.id == a.registry_namespace) {
                list.push(NamespacePolicy {
                    id: a.registry_namespace,
                    admission: AdmissionPolicy::Open,
                });
            }
            Some(RlnFile {
                circuit_digest: hex::encode(vk.digest()),
                registry_namespace: a.registry_namespace,
                epoch_blocks: a.rln_epoch_blocks,
                root_window: a.rln_root_window,
                root_lag: a.rln_root_lag,
            })
        }
    };
    list.sort_by_key(|p| p.id);
    curtain::node::config::check_policies(Some(&list), rln.as_ref())
        .map_err(|e| anyhow::anyhow!(e))?;
    Ok((Some(list), rln))
}

/// Deals a committee with a trusted dealer (dev only: the dealer knows every key; the DKG
/// replaces this). Key files are written 0600 and are not encrypted at rest yet.
pub fn new(a: NewArgs) -> anyhow::Result<()> {
    ensure!((1..=1024).contains(&a.nodes), "--nodes must be in 1..=1024");
    let (namespaces, rln) = policies(&a)?;
    let rln_key = a.rln_key.as_ref().map(|p| p.canonicalize()).transpose()?;
    let f = (a.nodes - 1) / 3;
    let t = a.threshold.unwrap_or(2 * f + 1);
    let mut rng = rand::rng();
    let mut identities: Vec<_> = (0..a.nodes).map(|_| new_identity(&mut rng)).collect();
    identities.sort_by_key(|k| k.public_key());
    let participants = Set::try_from(
        identities
            .iter()
            .map(|k| k.public_key())
            .collect::<Vec<_>>(),
    )
    .map_err(|_| anyhow::anyhow!("identity collision"))?;
    let (output, consensus_shares) =
        consensus_deal::<MinSig, _, N3f1>(&mut rng, Mode::NonZeroCounter, participants.clone())
            .map_err(|e| anyhow::anyhow!("consensus deal: {e:?}"))?;
    let (key, shares) = curtain_crypto::deal(a.nodes, t, &mut rng).context("encryption deal")?;

    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let out = a.out.canonicalize()?;
    let committee = CommitteeFile {
        participants: identities
            .iter()
            .enumerate()
            .map(|(i, k)| Participant {
                identity: public_hex(k),
                p2p: ([127, 0, 0, 1], a.p2p_base_port + i as u16).into(),
                api: ([127, 0, 0, 1], a.api_base_port + i as u16).into(),
            })
            .collect(),
        consensus_public: hex::encode(output.public().encode()),
        encryption_key: hex::encode(key.to_bytes()),
        key_epoch: 0,
        namespaces,
        rln,
    };
    let committee_path = out.join("committee.json");
    std::fs::write(&committee_path, serde_json::to_string_pretty(&committee)?)?;
    for (i, (identity, share)) in identities.iter().zip(shares).enumerate() {
        let dir = out.join(format!("node{i}"));
        std::fs::create_dir_all(&dir)?;
        let consensus_share = consensus_shares
            .get_value(&identity.public_key())
            .context("consensus share")?;
        write_secret(&dir.join("identity.key"), &identity_hex(identity))?;
        write_secret(
            &dir.join("consensus.share"),
            &hex::encode(consensus_share.encode()),
        )?;
        write_secret(
            &dir.join("decryption.share"),
            &hex::encode(&*share.to_bytes()),
        )?;
        let node = NodeFile {
            committee: committee_path.clone(),
            identity_key: dir.join("identity.key"),
            consensus_share: dir.join("consensus.share"),
            decryption_share: dir.join("decryption.share"),
            data_dir: dir.join("data"),
            index: i as u32,
            rln_verifying_key: rln_key.clone(),
            limits: ClientLimits {
                client_rate_per_s: a.client_rate_per_s,
                // a burst of five seconds at the configured rate
                client_burst: a.client_rate_per_s.map(|r| r.saturating_mul(5)),
            },
        };
        std::fs::write(dir.join("node.toml"), toml::to_string_pretty(&node)?)?;
    }
    println!(
        "committee of {} (decryption threshold {t}) written to {}; start member i with\n  curtain node --config {}/node<i>/node.toml",
        a.nodes,
        out.display(),
        out.display()
    );
    Ok(())
}

#[derive(clap::Args)]
pub struct KeygenArgs {
    /// Where to write the private identity key (hex, mode 0600).
    #[arg(long)]
    out: PathBuf,
}

/// A fresh ed25519 identity key; prints the public key.
pub fn keygen(a: KeygenArgs) -> anyhow::Result<()> {
    let key = new_identity(&mut rand::rng());
    write_secret(&a.out, &identity_hex(&key))?;
    println!("{}", public_hex(&key));
    Ok(())
}
