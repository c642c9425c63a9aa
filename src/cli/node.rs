//! `curtain node --config node.toml`: one committee member over real sockets.

use anyhow::{ensure, Context as _};
use commonware_cryptography::{ChaCha20Poly1305, Signer as _};
use commonware_p2p::{authenticated::lookup, Address, AddressableManager as _};
use commonware_runtime::{
    telemetry::metrics, tokio as cw_tokio, Quota, Runner as _, Spawner as _, Supervisor as _,
};
use commonware_stream::{
    cups::{self, Cups},
    sake::{self, Sake},
};
use commonware_utils::{channel::mpsc, ordered::Map, NZUsize, NZU32};
use curtain::api::quic::{self, QuicIdentity};
use curtain::api::{ApiLimits, HttpApi, Resources};
use curtain::dkg::{
    keystore::{self, Passphrase},
    MemberShares,
};
use curtain::ledger::block::BlockLimits;
use curtain::ledger::committee::CheckedCommittee;
use curtain::ledger::{Height, KeyEpoch};
use curtain::node::settings::ClientLimits;
use curtain::node::{
    self as node, channel,
    core::attest::Attestor,
    core::member::Member,
    core::mempool::{Mempool, MempoolConfig},
    core::reveal::{Collector, CollectorConfig},
    core::rln::{RlnRules, RlnState},
    settings::{epoch_table, Committee, NodeFile, CONSENSUS_NAMESPACE},
    Channels, ConsensusEpoch, EngineConfig, Timeouts,
};
use curtain::protocol::json::CommitteeInfos;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Largest p2p message: a full block with bodies.
const MAX_MESSAGE: u32 = 8 << 20;

#[derive(clap::Args)]
pub(super) struct NodeArgs {
    /// Path to node.toml (see `curtain committee new`).
    #[arg(long)]
    config: PathBuf,
    /// File holding the keystore passphrase (else CURTAIN_PASSPHRASE, else a prompt).
    #[arg(long)]
    passphrase_file: Option<PathBuf>,
}

pub(super) fn node(a: NodeArgs) -> anyhow::Result<()> {
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
    let drain = node
        .drain
        .unwrap_or(curtain::node::core::epochs::DEFAULT_DRAIN);
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
                    KeyEpoch(shares.key_epoch) == epoch,
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
                if let Err(e) = share.check(&committee.encryption_key) {
                    if !accept_wrong_share() {
                        return Err(anyhow::Error::from(e)
                            .context(format!("key epoch {epoch}: decryption share")));
                    }
                    tracing::warn!(%epoch, "decryption share does not match the committee key: serving it anyway (test builds only)");
                }
                decryption.insert(epoch, share);
                committee
                    .signer(shares.consensus.clone())
                    .with_context(|| format!("key epoch {epoch}: consensus share"))?
            }
        };
        consensus.push(ConsensusEpoch {
            epoch: epoch.get(),
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

    // evidence from peers is checked against exactly what clients are served
    let judged = committees
        .iter()
        .map(|c| {
            CheckedCommittee::check(&c.info(&mempool))
                .with_context(|| format!("key epoch {}: committee", c.key_epoch))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (api_limits, open_files) = api_limits(&node.limits, reserved_files(peers.len()))?;
    let resources = Arc::new(Resources::new(&api_limits, open_files));
    tracing::info!(
        open_files,
        http = ?api_limits.http,
        quic = ?api_limits.quic,
        "client budget"
    );

    let runtime = cw_tokio::Config::new()
        .with_worker_threads(2)
        .with_storage_directory(node.data_dir.clone())
        .with_catch_panics(false);
    // A commonware task that fails (for instance an IO error its consensus journal does not
    // return but panics on) ends the runner with that panic; the member then stops with a
    // logged reason and `EXIT_FATAL` instead of an unwinding main thread. Journals are synced
    // on append, so a supervisor can restart it as is.
    let run = std::panic::AssertUnwindSafe(|| {
        cw_tokio::Runner::new(runtime).start(|context| async move {
            let p2p_addresses: Vec<_> = addresses.values().map(|p| p.p2p).collect();
            let p2p = p2p_config(
                identity.clone(),
                CONSENSUS_NAMESPACE,
                me.p2p,
                &p2p_addresses,
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
                lists: reg(channel::LISTS),
            };
            network.start();

            let mut pool = Mempool::with_epochs(mempool, table.clone(), keys.clone());
            if let Some(rules) = rln {
                pool = pool.with_rln(RlnState::new(rules));
            }
            let member = Member::new(
                pool,
                Collector::new(
                    CollectorConfig::default(),
                    keys,
                    decryption,
                    Height(1),
                    Attestor::new(
                        identity.clone(),
                        committees
                            .iter()
                            .map(|c| (c.key_epoch, c.signatures()))
                            .collect(),
                    ),
                ),
                BlockLimits::default(),
            );
            let (tx, rx) = mpsc::unbounded_channel();
            let (handle, _tasks) = node::start(
                context.child("member"),
                EngineConfig {
                    me: me_pk.clone(),
                    peers,
                    epochs: consensus,
                    table,
                    member,
                    timeouts: Timeouts::default(),
                    // the peer position; for a committee that never switched, its member index
                    partition: format!("member{index}"),
                    committees: judged,
                },
                channels,
                oracle.clone(),
                oracle.clone(),
                tx,
            )
            .await;
            eprintln!("curtain node {index}: p2p {} api http://{}", me.p2p, me.api);
            let registry = context.child("metrics");
            let api_metrics = ApiMetrics::new(&context.child("api"), open_files);
            let metrics: curtain::api::MetricsEncoder = {
                let (resources, api_metrics) = (resources.clone(), api_metrics.clone());
                Arc::new(move || {
                    use commonware_runtime::Metrics as _;
                    api_metrics.observe(&resources);
                    registry.encode()
                })
            };
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
                        resources.quic.clone(),
                        api_limits.streams,
                        terminated(),
                    )))
                }
                None => None,
            };
            let refused = api_metrics.refused.clone();
            let api = HttpApi {
                node: handle,
                committee: info,
                releases,
                metrics,
                limits: api_limits,
                resources,
                refused: Arc::new(move |reason| {
                    refused.get_or_create(&Refused { reason }).inc();
                }),
            };
            curtain::api::serve(api, me.api, terminated())
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
    });
    match std::panic::catch_unwind(run) {
        Ok(result) => result,
        Err(panic) => {
            let reason = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown");
            tracing::error!(
                reason,
                "a consensus or storage task failed; the member stops"
            );
            eprintln!("curtain node: stopped: a consensus or storage task failed: {reason}");
            std::process::exit(EXIT_FATAL)
        }
    }
}

/// Exit status of a member stopped by a failed consensus or storage task (SPEC.md §7.3);
/// configuration and start-up errors exit with 1.
pub(super) const EXIT_FATAL: i32 = 70;

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub(super) async fn terminated() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing the SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// commonware's authenticated p2p with the member's ed25519 identity (SAKE handshake,
/// ChaCha20-Poly1305 sessions): one configuration for the node and the key ceremony, which
/// differ only in namespace, peers and message cap (SPEC.md §7.3).
///
/// A committee whose members all listen on loopback (a devnet on one machine) takes
/// commonware's `local` preset: its peers share one IP, so per-IP handshake rates cannot
/// apply. Any other committee takes the `recommended` preset, with private addresses allowed
/// only if the committee itself lists one and a reconnection cooldown short enough for a
/// restarted member to rejoin within seconds. Either way at most `max_handshakes(peers)`
/// handshakes are in flight (each holds a descriptor the budget reserves).
pub(super) fn p2p_config(
    identity: commonware_cryptography::ed25519::PrivateKey,
    namespace: &[u8],
    addr: std::net::SocketAddr,
    peers: &[std::net::SocketAddr],
    max_message: u32,
) -> lookup::Config<Cups<Sake<commonware_cryptography::ed25519::PrivateKey>, ChaCha20Poly1305>> {
    let handshake = Cups::<_, ChaCha20Poly1305>::new(
        Sake {
            signer: identity,
            synchrony_bound: Duration::from_secs(5),
            max_handshake_age: Duration::from_secs(10),
            version: sake::Version::V1,
        },
        cups::Version::V1,
    );
    let max_peers = NZUsize!(peers.len().max(1));
    let mailbox = NZUsize!(4096);
    let local = peers.iter().all(|p| p.ip().is_loopback());
    let mut config = if local {
        lookup::Config::local(handshake, namespace, addr, max_peers, max_message, mailbox)
    } else {
        let mut config = lookup::Config::recommended(
            handshake,
            namespace,
            addr,
            max_peers,
            max_message,
            mailbox,
        );
        config.allow_private_ips = peers.iter().any(|p| is_private(p.ip()));
        config.peer_connection_cooldown = Duration::from_secs(5);
        config
    };
    config.max_concurrent_handshakes = NZU32!(max_handshakes(peers.len()));
    config
}

/// Handshakes in flight at once on the p2p port: enough for every peer to (re)connect at
/// once, twice over.
pub(super) fn max_handshakes(peers: usize) -> u32 {
    (2 * peers).clamp(16, 512) as u32
}

fn is_private(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => v4.is_private() || v4.is_loopback() || v4.is_link_local(),
        std::net::IpAddr::V6(v6) => {
            v6.is_loopback() || v6.is_unique_local() || v6.is_unicast_link_local()
        }
    }
}

/// Descriptors kept for storage and p2p: client connections stop being accepted this far
/// below the process's limit (journals open a few blobs each; p2p holds a socket per peer
/// plus the handshakes in flight).
pub(super) fn reserved_files(peers: usize) -> u64 {
    STORAGE_FILES + max_handshakes(peers) as u64 + 2 * peers as u64
}

/// Descriptors storage may hold open at once (journals and archives of every epoch).
const STORAGE_FILES: u64 = 256;

/// Raises the descriptor limit to the hard limit, and fits the API's connection caps below
/// it with `reserved` to spare (SPEC.md §7.3).
pub(super) fn api_limits(limits: &ClientLimits, reserved: u64) -> anyhow::Result<(ApiLimits, u64)> {
    let open_files = rlimit::increase_nofile_limit(u64::MAX).context("raising RLIMIT_NOFILE")?;
    let mut api = ApiLimits::default();
    let set = |v: &mut usize, o: Option<usize>| {
        if let Some(o) = o {
            *v = o;
        }
    };
    set(&mut api.http.total, limits.http_connections);
    set(
        &mut api.http.per_address,
        limits.http_connections_per_address,
    );
    set(&mut api.quic.total, limits.quic_connections);
    set(
        &mut api.quic.per_address,
        limits.quic_connections_per_address,
    );
    set(&mut api.max_head_bytes, limits.max_request_head_bytes);
    set(&mut api.streams, limits.max_streams);
    set(&mut api.reads, limits.max_concurrent_reads);
    if let Some(ms) = limits.request_head_timeout_ms {
        api.head_timeout = Duration::from_millis(ms);
    }
    if let Some(ms) = limits.request_body_timeout_ms {
        api.body_timeout = Duration::from_millis(ms);
    }
    ensure!(
        api.max_head_bytes >= 8192,
        "[limits] max_request_head_bytes must be at least 8192"
    );
    ensure!(
        api.http.total > 0 && api.http.per_address > 0 && api.quic.total > 0,
        "[limits] connection caps must be positive"
    );
    // HTTP connections are the only client resource that costs descriptors (QUIC shares one
    // UDP socket)
    let spare = open_files.saturating_sub(reserved) as usize;
    ensure!(
        spare >= 16,
        "the descriptor limit ({open_files}) leaves no room for client connections beside the \
         {reserved} kept for storage and p2p: raise `ulimit -n`"
    );
    // evicted connections close asynchronously: keep room for the ones in progress
    let spare = spare - curtain::api::budget::closing_slack(spare);
    if api.http.total > spare {
        tracing::warn!(
            configured = api.http.total,
            allowed = spare,
            open_files,
            "HTTP connection cap lowered to fit the descriptor limit"
        );
        api.http.total = spare;
    }
    api.http.per_address = api.http.per_address.min(api.http.total);
    Ok((api, open_files))
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, metrics::EncodeLabelSet)]
struct Refused {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, metrics::EncodeLabelSet)]
struct Transport {
    transport: &'static str,
}

/// The client budget's metrics (SPEC.md §5.10): the descriptor limit, open connections per
/// transport (sampled when `/metrics` is read) and HTTP connections turned away by reason.
#[derive(Clone)]
struct ApiMetrics {
    open_files: metrics::Gauge,
    connections: metrics::GaugeFamily<Transport>,
    refused: metrics::CounterFamily<Refused>,
}

impl ApiMetrics {
    fn new(context: &impl commonware_runtime::Metrics, open_files_limit: u64) -> Self {
        use metrics::MetricsExt as _;
        context
            .gauge("open_files_limit", "descriptor limit of the process")
            .set(open_files_limit as i64);
        Self {
            open_files: context.gauge("open_files", "descriptors open"),
            connections: context.family("connections", "client connections open, by transport"),
            refused: context.family(
                "connections_refused",
                "HTTP connections turned away: address_full, full, accept_error",
            ),
        }
    }

    fn observe(&self, resources: &Resources) {
        let r = resources.report();
        self.open_files.set(r.open_files.unwrap_or(0) as i64);
        for (transport, open) in [("http", r.http_connections), ("quic", r.quic_connections)] {
            self.connections
                .get_or_create(&Transport { transport })
                .set(open as i64);
        }
    }
}

/// Whether a decryption share that fails its check against the committee key is served
/// anyway: only in builds with debug assertions, and only with
/// `CURTAIN_TEST_ACCEPT_WRONG_SHARE=1`, so that tests can run a member that sends wrong
/// shares (what evidence is about) through the real binary.
fn accept_wrong_share() -> bool {
    cfg!(debug_assertions)
        && std::env::var("CURTAIN_TEST_ACCEPT_WRONG_SHARE").is_ok_and(|v| v == "1")
}
