//! `curtain committee new` (a dev committee from a trusted dealer) and `curtain keygen`.

use anyhow::{bail, ensure, Context as _};
use commonware_codec::Encode as _;
use commonware_cryptography::bls12381::{
    dkg::feldman_desmedt::deal,
    primitives::{sharing::Mode, variant::MinSig},
};
use commonware_cryptography::Signer as _;
use commonware_utils::{ordered::Set, Faults as _, N3f1};
use curtain::dkg::{
    ceremony::commitments,
    keystore::{self, EpochShares, KdfParams, MemberSecrets, Passphrase},
    MemberShares, Outcome,
};
use curtain::ledger::Namespace;
use curtain::node::settings::{
    new_identity, public_hex, AdmissionPolicy, ClientLimits, NamespacePolicy, NodeFile,
    Participant, RlnFile,
};
use curtain_crypto::CommitteeKey;
use sha2::{Digest as _, Sha256};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub(super) struct NewArgs {
    /// Committee size n.
    #[arg(long, default_value_t = 4)]
    pub nodes: usize,
    /// Decryption threshold t: only the default n - f (f = ⌊(n-1)/3⌋), which resharing keeps.
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
    /// Member i serves clients over QUIC on UDP 127.0.0.1:(quic_base_port + i) (default: the
    /// API's port numbers, over UDP).
    #[arg(long)]
    pub quic_base_port: Option<u16>,
    /// Submissions per second admitted from one client address (default 200).
    #[arg(long)]
    pub client_rate_per_s: Option<u64>,
    /// File holding the passphrase of the keystores (else CURTAIN_PASSPHRASE, else a prompt).
    #[arg(long)]
    pub passphrase_file: Option<PathBuf>,
    /// Cheap Argon2id parameters for the keystores (throwaway dev committees only).
    #[arg(long)]
    pub insecure_fast_kdf: bool,
    /// Namespaces served with open admission, comma-separated (default: when no namespace
    /// option is given, every namespace is served, open).
    #[arg(long, value_delimiter = ',')]
    pub namespaces: Vec<Namespace>,
    /// Namespaces that require an RLN membership proof, comma-separated (needs --rln-key).
    #[arg(long, value_delimiter = ',')]
    pub anonymous: Vec<Namespace>,
    /// The RLN verifying key file (`curtain circuits setup`): its circuit digest goes into
    /// committee.json and every node.toml points at it.
    #[arg(long)]
    pub rln_key: Option<PathBuf>,
    /// The open namespace whose transactions are RLN registrations (added to the served
    /// namespaces).
    #[arg(long, default_value_t = Namespace(0))]
    pub registry_namespace: Namespace,
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
    curtain::node::settings::check_policies(Some(&list), rln.as_ref())
        .map_err(|e| anyhow::anyhow!(e))?;
    Ok((Some(list), rln))
}

/// Deals a committee with a trusted dealer (dev only: the dealer knows every key; `curtain
/// dkg` is the real thing). Same outputs as a ceremony: committee.json with a ceremony record
/// of kind "dealer" (so the committee can be reshared), encrypted keystores, node.toml.
pub(super) fn new(a: NewArgs) -> anyhow::Result<()> {
    ensure!((1..=1024).contains(&a.nodes), "--nodes must be in 1..=1024");
    let (namespaces, rln) = policies(&a)?;
    let rln_key = a.rln_key.as_ref().map(|p| p.canonicalize()).transpose()?;
    let quorum = N3f1::quorum(a.nodes) as usize;
    if a.threshold.is_some_and(|t| t != quorum) {
        bail!("--threshold must be n - f = {quorum} (the threshold a resharing keeps)");
    }
    let pass = Passphrase::obtain(a.passphrase_file.as_deref(), "keystore passphrase: ")?;
    let kdf = if a.insecure_fast_kdf {
        KdfParams::INSECURE_FAST
    } else {
        KdfParams::STRONG
    };
    let mut rng = rand::rng();
    let mut identities: Vec<_> = (0..a.nodes).map(|_| new_identity(&mut rng)).collect();
    identities.sort_by_key(|k| k.public_key());
    let players = Set::try_from(
        identities
            .iter()
            .map(|k| k.public_key())
            .collect::<Vec<_>>(),
    )
    .map_err(|_| anyhow::anyhow!("identity collision"))?;
    // Two independent secrets, as a ceremony makes them.
    let (consensus, cshares) =
        deal::<MinSig, _, N3f1>(&mut rng, Mode::NonZeroCounter, players.clone())
            .map_err(|e| anyhow::anyhow!("consensus deal: {e:?}"))?;
    let (encryption, eshares) =
        deal::<MinSig, _, N3f1>(&mut rng, Mode::NonZeroCounter, players.clone())
            .map_err(|e| anyhow::anyhow!("encryption deal: {e:?}"))?;
    let member_shares: Vec<MemberShares> = identities
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let pk = k.public_key();
            MemberShares {
                index: i as u32,
                consensus: cshares.get_value(&pk).expect("dealt").clone(),
                encryption: eshares.get_value(&pk).expect("dealt").clone(),
            }
        })
        .collect();
    let partials: Vec<([u8; 48], u32)> = member_shares
        .iter()
        .map(|s| (s.key_share().public_g1(), s.index))
        .collect();
    let key = CommitteeKey::from_partials(a.nodes, &commitments(&encryption), &partials)
        .context("encryption key")?;
    let mut h = Sha256::new();
    h.update(b"curtain/v1/dealer-transcript");
    h.update(consensus.encode());
    h.update(encryption.encode());
    let outcome = Outcome {
        round: 0,
        key_epoch: 0,
        players,
        consensus,
        encryption,
        key,
        transcript: h.finalize().into(),
        shares: None,
    };
    let quic_base = a.quic_base_port.unwrap_or(a.api_base_port);
    let participants: Vec<Participant> = identities
        .iter()
        .enumerate()
        .map(|(i, k)| Participant {
            identity: public_hex(k),
            p2p: ([127, 0, 0, 1], a.p2p_base_port + i as u16).into(),
            api: ([127, 0, 0, 1], a.api_base_port + i as u16).into(),
            quic: Some(([127, 0, 0, 1], quic_base + i as u16).into()),
        })
        .collect();
    let mut committee = super::dkg::committee_file(participants, "dealer", &outcome);
    committee.namespaces = namespaces;
    committee.rln = rln;

    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let out = a.out.canonicalize()?;
    let committee_path = out.join("committee.json");
    std::fs::write(&committee_path, serde_json::to_string_pretty(&committee)?)?;
    for (i, (identity, shares)) in identities.iter().zip(member_shares).enumerate() {
        let dir = out.join(format!("node{i}"));
        std::fs::create_dir_all(&dir)?;
        let keystore_path = dir.join("member-epoch0.ks");
        let sealed = keystore::seal(
            &MemberSecrets {
                identity: identity.clone(),
                shares: Some(EpochShares {
                    key_epoch: 0,
                    consensus: shares.consensus,
                    encryption: shares.encryption,
                }),
            },
            &pass,
            kdf,
            &mut rng,
        )?;
        keystore::write(&keystore_path, &sealed)?;
        let node = NodeFile {
            committee: committee_path.clone(),
            keystore: keystore_path,
            data_dir: dir.join("data"),
            index: i as u32,
            rln_verifying_key: rln_key.clone(),
            limits: limits(a.client_rate_per_s),
            epochs: Vec::new(),
            drain: None,
        };
        std::fs::write(dir.join("node.toml"), toml::to_string_pretty(&node)?)?;
    }
    let id = curtain::node::settings::Committee::load(&committee_path)?.id();
    println!(
        "committee {} of {} (decryption threshold {quorum}, trusted dealer: dev only) written to {}; start member i with\n  curtain node --config {}/node<i>/node.toml",
        hex::encode(id),
        a.nodes,
        out.display(),
        out.display()
    );
    Ok(())
}

pub(super) fn limits(client_rate_per_s: Option<u64>) -> ClientLimits {
    ClientLimits {
        client_rate_per_s,
        // a burst of five seconds at the configured rate
        client_burst: client_rate_per_s.map(|r| r.saturating_mul(5)),
        ..ClientLimits::default()
    }
}

#[derive(clap::Args)]
pub(super) struct KeygenArgs {
    /// Where to write the encrypted keystore holding the new identity key.
    #[arg(long)]
    out: PathBuf,
    /// File holding the keystore passphrase (else CURTAIN_PASSPHRASE, else a prompt).
    #[arg(long)]
    passphrase_file: Option<PathBuf>,
    /// Cheap Argon2id parameters (throwaway dev identities only).
    #[arg(long)]
    insecure_fast_kdf: bool,
}

/// A fresh ed25519 identity in a new keystore; prints the public key (for dkg.toml).
pub(super) fn keygen(a: KeygenArgs) -> anyhow::Result<()> {
    let pass = Passphrase::obtain(a.passphrase_file.as_deref(), "new keystore passphrase: ")?;
    let kdf = if a.insecure_fast_kdf {
        KdfParams::INSECURE_FAST
    } else {
        KdfParams::STRONG
    };
    let hex_id = write_identity(&a.out, &pass, kdf)?;
    println!("{hex_id}");
    Ok(())
}

/// Writes a keystore with a fresh identity; returns its public key (hex).
pub(super) fn write_identity(
    path: &Path,
    pass: &Passphrase,
    kdf: KdfParams,
) -> anyhow::Result<String> {
    let mut rng = rand::rng();
    let key = new_identity(&mut rng);
    let sealed = keystore::seal(
        &MemberSecrets {
            identity: key.clone(),
            shares: None,
        },
        pass,
        kdf,
        &mut rng,
    )?;
    keystore::write(path, &sealed)?;
    Ok(public_hex(&key))
}
