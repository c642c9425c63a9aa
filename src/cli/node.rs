//! `curtain node --config node.toml`: one committee member over real sockets.

use anyhow::{ensure, Context as _};
use commonware_cryptography::{ChaCha20Poly1305, Signer as _};
use commonware_p2p::{authenticated::lookup, Address, AddressableManager as _};
use commonware_runtime::{tokio as cw_tokio, Quota, Runner as _, Spawner as _, Supervisor as _};
use commonware_stream::{
    cups::{self, Cups},
    sake::{self, Sake},
};
use commonware_utils::{channel::mpsc, ordered::Map, NZUsize, NZU32};
use curtain::api::quic::{self, QuicIdentity};
use curtain::dkg::{
    keystore::{self, Passphrase},
    MemberShares,
};
use curtain::node::{
    block::BlockLimits,
    config::{epoch_table, Committee, NodeFile, CONSENSUS_NAMESPACE},
    member::Member,
    mempool::{Mempool, MempoolConfig},
    reveal::{Collector, CollectorConfig},
    rln::{RlnRules, RlnState},
    shell::{self, channel, Channels, ConsensusEpoch, ShellConfig, Timeouts},
};
use curtain::wire::CommitteeInfos;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Largest p2p message: a full block with bodies.
const MAX_MESSAGE: u32 = 8 << 20;

#[derive(clap::Args)]
pub struct NodeArgs {
    /// Path to node.toml (see `curtain committee new`).
    #[arg(long)]
    config: PathBuf,
    /// File holding the keystore passphrase (else CURTAIN_PASSPHRASE, else a prompt).
    #[arg(long)]
    passphrase_file: Option<PathBuf>,
}

pub fn node(a: NodeArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&a.config)
        .with_context(|| format!("reading {}", a.config.display()))?;
    let node: NodeFile = toml::from_str(&text).context("node.toml")?;
    let pass = Passphrase::obtain(a.passphrase_file.as_deref(), "keystore passphrase: ")?;
    // every key epoch node.toml lists: the committee at genesis, then `[[epochs]]`
    let mut listed = vec![(node.committee.clone(), Some(node.keystore.clone()))];
    listed.extend(
        node.epochs
            .iter()
            .map(|e| (e.committee.clone(), e.keystore.clone())),
    );
    let mut committees = Vec::new();
    let mut identity: Option<commonware_cryptography::ed25519::PrivateKey> = None;
    let mut epoch_shares = Vec::new();
    for (path, ks) in &listed {
        let committee = Committee::load(path)?;
        let secrets = match ks {
            Some(ks) => Some(
                keystore::read(ks, &pass).with_context(|| format!("opening {}", ks.display()))?,
            ),
            None => None,
        };
        if let Some(s) = &secrets {
            match &identity {
                None => identity = Some(s.identity.clone()),
                Some(id) => ensure!(
                    id.public_key() == s.identity.public_key(),
                    "{}: another identity than the other keystores",
                    ks.as_ref().expect("read").display()
                ),
            }
        }
        epoch_shares.push(secrets.and_then(|s| s.shares));
        committees.push(committee);
    }
    let identity = identity.context("no keystore")?;
    let me_pk = identity.public_key();
    let drain = node.drain.unwrap_or(curtain::node::epochs::DEFAULT_DRAIN);
    let table = epoch_table(&committees.iter().collect::<Vec<_>>(), drain)
        .context("node.toml's key epochs")?;
    if node.epochs.is_empty() {
        ensure!(
            committees[0].identities.get(node.index as usize) == Some(&me_pk),
            "identity key does not match committee member {}",
            node.index
        );
    }
    // per epoch: this member's index, consensus scheme and decryption share (if a member)
    let mut consensus = Vec::new();
    let mut decryption = BTreeMap::new();
    let mut keys = BTreeMap::new();
    for (committee, shares) in committees.iter().zip(epoch_shares) {
        let epoch = committee.key_epoch;
        keys.insert(epoch, Arc::new(committee.encryption_key.clone()));
        let index = committee.identities.iter().position(|p| *p == me_pk);
        let scheme = match (shares, index) {
            (None, _) => committee.verifier(),
            (Some(_), None) => anyhow::bail!("key epoch {epoch}: this identity is not a member"),
            (Some(shares), Some(index)) => {
                ensure!(
                    shares.key_epoch == epoch,
                    "keystore is for key epoch {}, the committee file for {epoch}",
                    shares.key_epoch
                );
                ensure!(
                    shares.encryption.index.get() == index as u32,
                    "key epoch {epoch}: decryption share is for another member"
                );
                let share = MemberShares {
                    index: index as u32,
                    consensus: shares.consensus.clone(),
                    encryption: shares.encryption.clone(),
                }
                .key_share();
                share
                    .check(&committee.encryption_key)
                    .with_context(|| format!("key epoch {epoch}: decryption share"))?;
                decryption.insert(epoch, share);
                committee
                    .signer(shares.consensus.clone())
                    .with_context(|| format!("key epoch {epoch}: consensus share"))?
            }
        };
        consensus.push(ConsensusEpoch {
            epoch,
            members: committee.identities.clone(),
            scheme,
        });
    }
    // the committee-wide settings are the genesis committee's (a reshare keeps them); `GET
    // /v1/committee` reports its key with the key epoch active at the next height
    let committee = &committees[0];
    // anonymous namespaces: the verifying key must be the one the committee pins
    let rln = match &committee.rln {
        None => None,
        Some(settings) => {
            let path = node.rln_verifying_key.as_ref().context(
                "the committee has anonymous namespaces: node.toml needs rln_verifying_key",
            )?;
            let vk = curtain_circuits::VerifyingKey::load(path)
                .with_context(|| format!("RLN verifying key {}", path.display()))?;
            Some(RlnRules::new(settings.clone(), vk).map_err(|e| anyhow::anyhow!(e))?)
        }
    };
    // addresses: the newest entry of each identity
    let mut addresses: BTreeMap<_, _> = BTreeMap::new();
    for c in &committees {
        for (pk, p) in c.identities.iter().zip(&c.participants) {
            addresses.insert(pk.clone(), p.clone());
        }
    }
    let peers: Vec<_> = addresses.keys().cloned().collect();
    let me = addresses[&me_pk].clone();
    let index = peers.iter().position(|p| *p == me_pk).expect("listed");
    std::fs::create_dir_all(&node.data_dir)?;
    let mempool = committee.mempool_config(node.limits.apply(MempoolConfig::default()));
    // every listed epoch's members, n and t: `/v1/committee` serves the active one
    let mut info = CommitteeInfos::new(committee.info(&mempool));
    for c in &committees[1..] {
        info.add(c.info(&mempool));
    }

    let runtime = cw_tokio::Config::new()
        .with_worker_threads(2)
        .with_storage_directory(node.data_dir.clone())
        .with_catch_panics(false);
    cw_tokio::Runner::new(runtime).start(|context| async move {
        let p2p = p2p_config(
            identity.clone(),
            CONSENSUS_NAMESPACE,
            me.p2p,
            peers.len(),
            MAX_MESSAGE,
        );
        let (mut network, mut oracle) = lookup::Network::new(context.child("network"), p2p);
        // one peer set: every member of every listed key epoch (old and new committees
        // overlap around a switch)
        let tracked: Map<_, Address> = addresses
            .iter()
            .map(|(pk, p)| (pk.clone(), Address::from(p.p2p)))
            .collect::<Vec<_>>()
            .try_into()
            .map_err(|_| anyhow::anyhow!("duplicate identities"))?;
        oracle.track(0, tracked);
        // Messages per second per peer and channel. The network preallocates each channel's
        // mailbox for one burst from every peer, so this also sizes memory (100 000/s cost
        // 6 GB); a member sends a handful of messages per block on each channel.
        let quota = Quota::per_second(NZU32!(1_000));
        let mut reg = |id| network.register(id, quota);
        let channels = Channels {
            vote: reg(channel::VOTE),
            certificate: reg(channel::CERTIFICATE),
            resolver: reg(channel::RESOLVER),
            backfill: reg(channel::BACKFILL),
            blocks: reg(channel::BLOCKS),
            shares: reg(channel::SHARES),
            gossip: reg(channel::GOSSIP),
        };
        network.start();

        let mut pool = Mempool::with_epochs(mempool, table.clone(), keys.clone());
        if let Some(rules) = rln {
            pool = pool.with_rln(RlnState::new(rules));
        }
        let member = Member::new(
            pool,
            Collector::new(CollectorConfig::default(), keys, decryption, 1),
            BlockLimits::default(),
        );
        let (tx, rx) = mpsc::unbounded_channel();
        let (handle, _tasks) = shell::start(
            context.child("member"),
            ShellConfig {
                me: me_pk.clone(),
                peers,
                epochs: consensus,
                table,
                member,
                timeouts: Timeouts::default(),
                // the peer position; for a committee that never switched, its member index
                partition: format!("member{index}"),
            },
            channels,
            oracle.clone(),
            oracle.clone(),
            tx,
        )
        .await;
        eprintln!("curtain node {index}: p2p {} api http://{}", me.p2p, me.api);
        let registry = context.child("metrics");
        let metrics: curtain::api::MetricsEncoder = Arc::new(move || {
            use commonware_runtime::Metrics as _;
            registry.encode()
        });
        let info = Arc::new(info);
        let releases = curtain::api::release_index(rx);
        let quic_server = match me.quic {
            Some(addr) => {
                let identity = QuicIdentity::load_or_create(&node.data_dir)?;
                let endpoint = quic::bind(&identity, addr)
                    .with_context(|| format!("binding QUIC on {addr}"))?;
                quic::announce(index, addr, &identity, &node.data_dir);
                Some(tokio::spawn(quic::serve(
                    endpoint,
                    handle.clone(),
                    info.clone(),
                    releases.clone(),
                    terminated(),
                )))
            }
            None => None,
        };
        curtain::api::serve(handle, info, releases, metrics, me.api, terminated())
            .await
            .context("client API")?;
        if let Some(q) = quic_server {
            let _ = q.await;
        }
        // Every journal is synced on append, so stopping loses nothing; the timeout bounds
        // how long tasks get to notice.
        tracing::info!("stopping");
        context
            .stop(0, Some(Duration::from_secs(10)))
            .await
            .context("stopping tasks")
    })
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn terminated() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing the SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// commonware's authenticated p2p over loopback-or-LAN addresses with the member's ed25519
/// identity (SAKE handshake, ChaCha20-Poly1305 sessions): one configuration for the node and
/// the key ceremony, which differ only in namespace, peer count and message cap.
pub(super) fn p2p_config(
    identity: commonware_cryptography::ed25519::PrivateKey,
    namespace: &[u8],
    addr: std::net::SocketAddr,
    peers: usize,
    max_message: u32,
) -> lookup::Config<Cups<Sake<commonware_cryptography::ed25519::PrivateKey>, ChaCha20Poly1305>> {
    lookup::Config::local(
        Cups::<_, ChaCha20Poly1305>::new(
            Sake {
                signer: identity,
                synchrony_bound: Duration::from_secs(5),
                max_handshake_age: Duration::from_secs(10),
                version: sake::Version::V1,
            },
            cups::Version::V1,
        ),
        namespace,
        addr,
        NZUsize!(peers.max(1)),
        max_message,
        NZUsize!(4096),
    )
}
