//! Deterministic simulation of whole members: commonware's deterministic runtime and simulated
//! p2p, real simplex + marshal, real crypto. Each seed is one run; an invariant checker reads
//! every member's release stream.

mod common;

use commonware_codec::{Decode as _, Encode as _};
use commonware_consensus::simplex::types::Finalization;
use commonware_consensus::simplex::types::Vote;
use commonware_cryptography::bls12381::{dkg::feldman_desmedt::Output, primitives::group::Share};
use commonware_cryptography::certificate::Verifier as _;
use commonware_cryptography::sha256;
use commonware_cryptography::{
    bls12381::{
        dkg::feldman_desmedt::deal as consensus_deal,
        primitives::{sharing::Mode, variant::MinSig},
    },
    ed25519, Signer as _,
};
use commonware_p2p::simulated::{self, Link, SplitOrigin, SplitTarget};
use commonware_p2p::Recipients;
use commonware_parallel::Sequential;
use commonware_runtime::{
    deterministic, Clock as _, Handle, IoBuf, Quota, Runner as _, Spawner as _, Supervisor as _,
};
use commonware_utils::channel::oneshot;
use commonware_utils::{channel::mpsc, ordered::Set, N3f1, NZUsize, NZU32};
use curtain::ledger::block::BlockLimits;
use curtain::ledger::finality::{self, FinalityVerifier};
use curtain::ledger::release::ReleasedBatch;
use curtain::node::{
    self as node, channel,
    core::member::{Member, ShareMessage},
    core::mempool::{Mempool, MempoolConfig, Source},
    core::reveal::{batch_id, Collector, CollectorConfig},
    Channels, ConsensusScheme, EngineConfig, NodeHandle, Timeouts,
};
use curtain_crypto::{deal, CommitteeKey, Decryption, KeyShare};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const NAMESPACE: &[u8] = b"curtain-sim";

struct Run {
    scenario: Scenario,
    /// Per member: its releases (empty for an absent member).
    releases: Vec<Vec<ReleasedBatch>>,
    /// Per member: the members it caught sending wrong shares.
    faulty: Vec<Vec<u32>>,
    submitted: BTreeSet<[u8; 32]>,
    wire: Wire,
    key: Arc<CommitteeKey>,
    verifier: ConsensusScheme,
    /// The committee's consensus public polynomial (commonware encoding).
    consensus_public: Vec<u8>,
    /// Virtual time from the first submission until every honest member released them all.
    took: Duration,
}

#[derive(Clone, Copy)]
struct Scenario {
    seed: u64,
    n: usize,
    txs: usize,
    /// Probability a message on a link is delivered.
    delivery: f64,
    /// A member that never starts (withholds votes and shares).
    absent: Option<usize>,
    /// A member whose decryption key share is wrong (its shares are wrong).
    wrong_shares: Option<usize>,
    /// A member cut off from everyone from the start until this much simulated time passed.
    isolated: Option<(usize, Duration)>,
    /// A member killed at the first time and restarted (same storage) at the second.
    crash: Option<(usize, Duration, Duration)>,
    /// A member that votes and orders but never sends its share batches.
    withholds: Option<usize>,
    /// A member run as twins (same keys, separate storage), one talking to the next member,
    /// the other to the rest: as leader it proposes two blocks for one view, and it
    /// double-votes.
    twins: Option<usize>,
    /// A member that, besides following the protocol, floods every peer with share requests
    /// at its p2p quota: for released heights with their real batch ids (each a
    /// recomputation if answered) and with random ones.
    floods: Option<usize>,
}

impl Scenario {
    fn new(seed: u64, n: usize, txs: usize) -> Self {
        Self {
            seed,
            n,
            txs,
            delivery: 1.0,
            absent: None,
            wrong_shares: None,
            isolated: None,
            crash: None,
            withholds: None,
            twins: None,
            floods: None,
        }
    }
    fn honest(&self, i: usize) -> bool {
        ![self.absent, self.wrong_shares, self.withholds, self.twins].contains(&Some(i))
    }
    fn behaviour(&self, i: usize, pks: &[Pk]) -> Behaviour {
        if Some(i) == self.withholds {
            Behaviour::Withholds
        } else if Some(i) == self.floods {
            Behaviour::FloodsShareRequests
        } else if Some(i) == self.twins {
            Behaviour::Twins {
                primary: vec![pks[(i + 1) % self.n].clone()],
            }
        } else {
            Behaviour::Honest
        }
    }
}

fn run(sc: Scenario) -> Run {
    let Scenario { seed, n, txs, .. } = sc;
    let cfg = deterministic::Config::new()
        .with_seed(seed)
        .with_timeout(Some(Duration::from_secs(600)));
    deterministic::Runner::new(cfg).start(|context| async move {
        let mut rng = context.child("rng");
        // identities, sorted: a member's index is its place in the sorted set
        let keys: Vec<ed25519::PrivateKey> =
            (0..n as u64).map(ed25519::PrivateKey::from_seed).collect();
        let mut by_pk: Vec<(ed25519::PublicKey, ed25519::PrivateKey)> =
            keys.into_iter().map(|k| (k.public_key(), k)).collect();
        by_pk.sort_by(|a, b| a.0.cmp(&b.0));
        let pks: Vec<ed25519::PublicKey> = by_pk.iter().map(|(p, _)| p.clone()).collect();
        let participants = Set::try_from(pks.clone()).expect("distinct");
        let (output, consensus_shares) =
            consensus_deal::<MinSig, _, N3f1>(&mut rng, Mode::NonZeroCounter, participants.clone())
                .expect("consensus deal");
        let f = (n - 1) / 3;
        let (key, enc_shares) = deal(n, 2 * f + 1, &mut rng).expect("deal");
        let key = Arc::new(key);

        let (network, oracle) = simulated::Network::new_with_peers(
            context.child("network"),
            simulated::Config {
                max_size: 8 << 20,
                max_peers_per_set: NZUsize!(n),
                disconnect_on_block: true,
                tracked_peer_sets: NZUsize!(1),
            },
            pks.clone(),
        )
        .await;
        network.start();
        // The member with wrong shares is the fastest, so its batches are among the first t
        // everywhere and must be caught.
        let link = |from: &ed25519::PublicKey| Link {
            latency: if Some(pks.iter().position(|p| p == from).unwrap()) == sc.wrong_shares {
                Duration::from_millis(1)
            } else {
                Duration::from_millis(20)
            },
            jitter: Duration::from_millis(5),
            success_rate: commonware_utils::Probability::try_from(sc.delivery)
                .expect("probability"),
        };
        for a in &pks {
            for b in &pks {
                if a != b {
                    oracle
                        .add_link(a.clone(), b.clone(), link(a))
                        .await
                        .unwrap();
                }
            }
        }

        // a second, unrelated dealing: its shares are wrong for this committee
        let (_, wrong) = deal(n, 2 * f + 1, &mut rng).expect("deal");
        let mut wrong = wrong.into_iter();
        if let Some((cut, heal_after)) = sc.isolated {
            let pairs: Vec<(ed25519::PublicKey, ed25519::PublicKey, Link)> = pks
                .iter()
                .filter(|p| **p != pks[cut])
                .flat_map(|p| {
                    [
                        (pks[cut].clone(), p.clone(), link(&pks[cut])),
                        (p.clone(), pks[cut].clone(), link(p)),
                    ]
                })
                .collect();
            for (a, b, _) in &pairs {
                oracle.remove_link(a.clone(), b.clone()).await.unwrap();
            }
            let healer = oracle.clone();
            context.child("healer").spawn(move |ctx| async move {
                ctx.sleep(heal_after).await;
                for (a, b, l) in pairs {
                    healer.add_link(a, b, l).await.unwrap();
                }
            });
        }
        let mut shares: Vec<Vec<u8>> = Vec::new();
        for (i, share) in enc_shares.into_iter().enumerate() {
            let wrong_share = wrong.next().expect("n shares");
            let share = if Some(i) == sc.wrong_shares {
                wrong_share
            } else {
                share
            };
            shares.push(share.to_bytes().to_vec());
        }
        let committee = Committee {
            context: context.child("committee"),
            oracle: oracle.clone(),
            pks: pks.clone(),
            shares,
            consensus_shares: pks
                .iter()
                .map(|pk| consensus_shares.get_value(pk).expect("share").clone())
                .collect(),
            key: key.clone(),
            participants: participants.clone(),
            output: output.clone(),
            wire: Arc::new(Mutex::new(Wire::default())),
            slots: (0..n).map(|_| Arc::new(Mutex::new(None))).collect(),
        };
        let mut handles: Vec<Option<NodeHandle>> = Vec::new();
        let mut streams = Vec::new();
        let mut tasks: Vec<Vec<Handle<()>>> = Vec::new();
        for i in 0..n {
            if Some(i) == sc.absent {
                handles.push(None);
                streams.push(None);
                tasks.push(Vec::new());
                continue;
            }
            let mut started = committee.start(i, sc.behaviour(i, &pks)).await;
            if started.len() == 1 {
                let (task, handle, rx) = started.pop().expect("one");
                handles.push(Some(handle));
                streams.push(Some(rx));
                tasks.push(vec![task]);
            } else {
                // twins: neither is the member, so they get no submissions and their logs
                // are not checked
                handles.push(None);
                streams.push(None);
                tasks.push(started.into_iter().map(|(task, _, _)| task).collect());
            }
        }

        // clients submit to different members
        let started_at = context.current();
        let mut submitted = BTreeSet::new();
        for k in 0..txs {
            let ct = common::tx(&key, k as u64, &mut rng);
            submitted.insert(ct.id());
            let to = (0..n)
                .cycle()
                .skip(k)
                .find(|&i| sc.honest(i))
                .expect("an honest member");
            let out = handles[to]
                .as_ref()
                .expect("started")
                .submit(
                    Source::Client(IpAddr::V4(Ipv4Addr::new(10, 0, 0, k as u8))),
                    vec![ct.into()],
                )
                .await;
            assert!(out[0].result.is_ok());
            context.sleep(Duration::from_millis(7)).await;
        }

        // run until every member released every submitted ciphertext
        let mut releases: Vec<Vec<ReleasedBatch>> = vec![Vec::new(); n];
        let mut seen: Vec<BTreeSet<[u8; 32]>> = vec![BTreeSet::new(); n];
        let mut crashed = false;
        let mut restarted = false;
        while (0..n).any(|i| sc.honest(i) && seen[i].len() < submitted.len()) {
            if let Some((who, crash_at, restart_at)) = sc.crash {
                let now = context
                    .current()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap();
                if !crashed && now >= crash_at {
                    // kill -9: every task of the member stops; unsynced writes may be lost
                    for task in std::mem::take(&mut tasks[who]) {
                        task.abort();
                        let _ = task.await;
                    }
                    handles[who] = None;
                    *committee.slots[who].lock().unwrap() = None;
                    crashed = true;
                }
                if crashed && !restarted && now >= restart_at {
                    let (task, handle, rx) = committee
                        .start(who, Behaviour::Honest)
                        .await
                        .pop()
                        .expect("one member");
                    // the restarted member's stream replays its log from height 1
                    releases[who].clear();
                    seen[who].clear();
                    tasks[who] = vec![task];
                    handles[who] = Some(handle);
                    streams[who] = Some(rx);
                    restarted = true;
                }
            }
            for i in 0..n {
                let Some(stream) = streams[i].as_mut() else {
                    continue;
                };
                while let Ok(b) = stream.try_recv() {
                    if !b.namespaces.is_empty() {
                        let mut wire = committee.wire.lock().unwrap();
                        if !wire.released.iter().any(|(h, _)| *h == b.height) {
                            wire.released.push((b.height, batch_id(&b.block, 0)));
                        }
                    }
                    for ns in &b.namespaces {
                        for e in &ns.entries {
                            seen[i].insert(e.ciphertext.id());
                        }
                    }
                    releases[i].push(b);
                }
            }
            context.sleep(Duration::from_millis(100)).await;
            if std::env::var_os("CURTAIN_SIM_DEBUG").is_some() {
                let t = context
                    .current()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap();
                if t.as_millis() % 5000 < 100 {
                    let heights: Vec<_> = handles
                        .iter()
                        .map(|h| h.as_ref().map(|h| h.finalized_height()))
                        .collect();
                    let counts: Vec<_> = seen.iter().map(|s| s.len()).collect();
                    let next: Vec<_> = handles
                        .iter()
                        .map(|h| h.as_ref().map(|h| h.next_release()))
                        .collect();
                    eprintln!(
                        "t={t:?} finalized={heights:?} next_release={next:?} released={counts:?}"
                    );
                }
            }
        }
        let took = context.current().duration_since(started_at).unwrap();
        assert!(
            sc.crash.is_none() || restarted,
            "the crash and restart happened"
        );
        let faulty = handles
            .iter()
            .map(|h| {
                h.as_ref()
                    .map(|h| h.faulty_members().into_iter().map(|(_, m)| m).collect())
                    .unwrap_or_default()
            })
            .collect();
        let wire = std::mem::take(&mut *committee.wire.lock().unwrap());
        Run {
            scenario: sc,
            wire,
            faulty,
            releases,
            submitted,
            verifier: ConsensusScheme::verifier(NAMESPACE, participants, output.public().clone()),
            consensus_public: output.public().encode().to_vec(),
            key,
            took,
        }
    })
}

type Pk = ed25519::PublicKey;

/// What a member does besides following the protocol.
#[derive(Clone)]
enum Behaviour {
    Honest,
    /// Never sends a share batch (nor answers requests for one).
    Withholds,
    /// Follows the protocol and floods every peer with share requests (`Scenario::floods`).
    FloodsShareRequests,
    /// Two copies with the same keys: one talks only to `primary`, the other to the rest.
    Twins {
        primary: Vec<Pk>,
    },
}

/// What the test saw members send.
#[derive(Default)]
struct Wire {
    /// Share batches sent by whole members: (member, batch id, the member's finalized height
    /// when it sent them; None while it is starting, before its handle exists).
    shares: Vec<(usize, [u8; 32], Option<u64>)>,
    /// (height, batch id) of every non-empty height released so far (what a flooder asks
    /// for).
    released: Vec<(u64, [u8; 32])>,
    /// Share requests the flooder sent.
    flood_requests: usize,
    /// Notarize votes of twins: (view, primary?, payload).
    twin_votes: Vec<(u64, bool, [u8; 32])>,
}

/// Everything needed to start (or restart) a member.
struct Committee {
    context: deterministic::Context,
    oracle: simulated::Oracle<Pk, deterministic::Context>,
    pks: Vec<Pk>,
    /// Encryption key shares, encoded.
    shares: Vec<Vec<u8>>,
    consensus_shares: Vec<Share>,
    key: Arc<CommitteeKey>,
    participants: Set<Pk>,
    output: Output<MinSig, Pk>,
    wire: Arc<Mutex<Wire>>,
    /// Each member's current handle, for the share observer.
    slots: Vec<Arc<Mutex<Option<NodeHandle>>>>,
}

type Started = (
    Handle<()>,
    NodeHandle,
    mpsc::UnboundedReceiver<ReleasedBatch>,
);

impl Committee {
    /// Starts member `i` (twins: both copies), each in its own task so a crash aborts
    /// everything it runs.
    async fn start(&self, i: usize, behaviour: Behaviour) -> Vec<Started> {
        let pk = &self.pks[i];
        let control = self.oracle.control(pk.clone());
        let quota = Quota::per_second(NZU32!(1_000));
        let ids = [
            channel::VOTE,
            channel::CERTIFICATE,
            channel::RESOLVER,
            channel::BACKFILL,
            channel::BLOCKS,
            channel::SHARES,
            channel::GOSSIP,
        ];
        let copies = match behaviour {
            Behaviour::Twins { .. } => 2,
            _ => 1,
        };
        let mut sides: Vec<Vec<_>> = (0..copies).map(|_| Vec::new()).collect();
        for id in ids {
            // registering again after a crash replaces the dead member's channels
            let (tx, rx) = control.register(id, quota).await.unwrap();
            if id == channel::SHARES && matches!(behaviour, Behaviour::FloodsShareRequests) {
                self.flood(tx.clone());
            }
            let (primary_tx, secondary_tx) = tx.split_with(self.forwarder(i, id, &behaviour));
            match &behaviour {
                Behaviour::Twins { primary } => {
                    let primary = primary.clone();
                    let (primary_rx, secondary_rx) = rx.split_with(
                        self.context.child("twin_split"),
                        move |(from, _): &(Pk, IoBuf)| {
                            if primary.contains(from) {
                                SplitTarget::Primary
                            } else {
                                SplitTarget::Secondary
                            }
                        },
                    );
                    sides[0].push((primary_tx, primary_rx));
                    sides[1].push((secondary_tx, secondary_rx));
                }
                _ => sides[0].push((primary_tx, rx)),
            }
        }
        let mut started = Vec::new();
        for (copy, ch) in sides.into_iter().enumerate() {
            let mut ch = ch.into_iter();
            let channels = Channels {
                vote: ch.next().unwrap(),
                certificate: ch.next().unwrap(),
                resolver: ch.next().unwrap(),
                backfill: ch.next().unwrap(),
                blocks: ch.next().unwrap(),
                shares: ch.next().unwrap(),
                gossip: ch.next().unwrap(),
            };
            let cfg = self.config(i, &format!("member{i}-{copy}"));
            let (tx, rx) = mpsc::unbounded_channel();
            let (handle_tx, handle_rx) = oneshot::channel();
            let peers = self.oracle.manager();
            let blocker = self.oracle.control(pk.clone());
            let task = self
                .context
                .child("member")
                .with_attribute("index", i)
                .with_attribute("copy", copy)
                .spawn(move |ctx| async move {
                    let (handle, _tasks) =
                        node::start(ctx, cfg, channels, peers, blocker, tx).await;
                    let _ = handle_tx.send(handle);
                    futures::future::pending::<()>().await
                });
            let handle = handle_rx.await.expect("member started");
            if copies == 1 {
                *self.slots[i].lock().unwrap() = Some(handle.clone());
            }
            started.push((task, handle, rx));
        }
        started
    }

    fn config(&self, i: usize, partition: &str) -> EngineConfig {
        let scheme = ConsensusScheme::signer(
            NAMESPACE,
            self.participants.clone(),
            self.output.public().clone(),
            self.consensus_shares[i].clone(),
        )
        .expect("signer");
        let key = &self.key;
        let member = Member::new(
            Mempool::new(MempoolConfig::default(), 0, key.clone()),
            Collector::new(
                CollectorConfig::default(),
                BTreeMap::from([(0, key.clone())]),
                BTreeMap::from([(0, KeyShare::from_bytes(&self.shares[i]).expect("share"))]),
                1,
            ),
            BlockLimits::default(),
        );
        EngineConfig::single(
            self.pks[i].clone(),
            0,
            self.pks.clone(),
            scheme,
            member,
            Timeouts::default(),
            partition.to_string(),
        )
    }

    /// Sends share requests to every peer at 1 000 per second (the channel's quota) until the
    /// run ends: every other one names a released height with its real batch id, the rest
    /// random ids at recent heights.
    fn flood<S: commonware_p2p::Sender<PublicKey = Pk>>(&self, mut tx: S) {
        let wire = self.wire.clone();
        self.context
            .child("flooder")
            .spawn(move |mut ctx| async move {
                let mut k: u64 = 0;
                loop {
                    ctx.sleep(Duration::from_millis(10)).await;
                    let released = wire.lock().unwrap().released.clone();
                    let top = released.last().map_or(16, |&(h, _)| h);
                    for _ in 0..10 {
                        k += 1;
                        let (height, batch_id) = if k % 2 == 0 && !released.is_empty() {
                            released[(k / 2) as usize % released.len()]
                        } else {
                            let mut id = [0u8; 32];
                            rand_core::Rng::fill_bytes(&mut ctx, &mut id);
                            (top.saturating_sub(k % 8), id)
                        };
                        let msg = ShareMessage::Request { height, batch_id }.encode();
                        tx.send(Recipients::All, msg, false);
                    }
                    wire.lock().unwrap().flood_requests += 10;
                }
            });
    }

    /// Who gets each message member `i` sends on channel `id`; also records what the
    /// invariant checker needs.
    fn forwarder(
        &self,
        i: usize,
        id: u64,
        behaviour: &Behaviour,
    ) -> impl Fn(SplitOrigin, &Recipients<Pk>, &IoBuf) -> Option<Recipients<Pk>>
           + Send
           + Sync
           + Clone
           + 'static {
        let behaviour = behaviour.clone();
        let wire = self.wire.clone();
        let slot = self.slots[i].clone();
        let pks = self.pks.clone();
        move |origin, to: &Recipients<Pk>, msg: &IoBuf| {
            let primary = match &behaviour {
                Behaviour::Honest | Behaviour::Withholds | Behaviour::FloodsShareRequests
                    if id == channel::SHARES =>
                {
                    if let Ok(ShareMessage::Batch(b)) = ShareMessage::decode(msg.as_ref(), 1 << 16)
                    {
                        if matches!(behaviour, Behaviour::Withholds) {
                            return None;
                        }
                        let height = slot.lock().unwrap().as_ref().map(|h| h.finalized_height());
                        wire.lock().unwrap().shares.push((i, b.batch_id(), height));
                    }
                    return Some(to.clone());
                }
                Behaviour::Honest | Behaviour::Withholds | Behaviour::FloodsShareRequests => {
                    return Some(to.clone())
                }
                Behaviour::Twins { primary } => primary,
            };
            let is_primary = origin == SplitOrigin::Primary;
            // consensus messages travel on the key epoch's subchannel
            if id == channel::VOTE {
                let vote = commonware_p2p::utils::mux::parse(msg.clone())
                    .ok()
                    .and_then(|(_, m)| {
                        Vote::<ConsensusScheme, sha256::Digest>::decode_cfg(m, &()).ok()
                    });
                if let Some(Vote::Notarize(v)) = vote {
                    let view = v.proposal.round.view().get();
                    wire.lock()
                        .unwrap()
                        .twin_votes
                        .push((view, is_primary, v.proposal.payload.0));
                }
            }
            let side: Vec<Pk> = pks
                .iter()
                .filter(|p| primary.contains(p) == is_primary && **p != pks[i])
                .cloned()
                .collect();
            let kept: Vec<Pk> = match to {
                Recipients::All => side,
                Recipients::Some(v) => v.iter().filter(|p| side.contains(p)).cloned().collect(),
                Recipients::One(p) => side.into_iter().filter(|s| s == p).collect(),
            };
            (!kept.is_empty()).then_some(Recipients::Some(kept))
        }
    }
}

/// commonware's own check of a finality proof: the reference the node-free verifier
/// (`curtain::ledger::finality`) must agree with. Returns the finalized block's digest.
fn commonware_certified(verifier: &ConsensusScheme, cert: &[u8]) -> Option<[u8; 32]> {
    let f = Finalization::<ConsensusScheme, sha256::Digest>::decode_cfg(
        bytes::Bytes::copy_from_slice(cert),
        &verifier.certificate_codec_config(),
    )
    .ok()?;
    f.verify(&mut rand::rng(), verifier, &Sequential)
        .then_some(f.proposal.payload.0)
}

/// The wallet's verifier for a run's committee, decoded from the same polynomial encoding
/// `GET /v1/committee` serves.
fn node_free_verifier(run: &Run) -> FinalityVerifier {
    let from_public =
        FinalityVerifier::from_consensus_public(&run.consensus_public, run.scenario.n)
            .expect("the committee's polynomial decodes");
    // `from_consensus_public` binds curtain's namespace; the simulation signs under its own
    let identity = blst::min_sig::PublicKey::uncompress(&from_public.identity()).unwrap();
    FinalityVerifier::new(NAMESPACE, identity)
}

/// The invariants every run must satisfy.
fn check(run: &Run) {
    // every member's log is a prefix of the longest one, byte for byte (content; finality
    // proofs may name different descendants)
    let longest = run.releases.iter().max_by_key(|r| r.len()).unwrap();
    let position: BTreeMap<[u8; 32], usize> = longest
        .iter()
        .enumerate()
        .map(|(i, b)| (b.block.0, i))
        .collect();
    for log in &run.releases {
        for (a, b) in log.iter().zip(longest) {
            assert_eq!(a.content_bytes(), b.content_bytes(), "release logs diverge");
        }
        // heights consecutive from 1
        for (i, b) in log.iter().enumerate() {
            assert_eq!(b.height, i as u64 + 1);
        }
    }
    // every accepted ciphertext released exactly once, as its plaintext
    let mut released = BTreeSet::new();
    let mut rng = rand::rng();
    let finality = node_free_verifier(run);
    for b in longest {
        // a third party checks the batch: block, certificate, openings, outcomes
        let key = run.key.clone();
        b.verify(
            |e| (e == 0).then(|| key.clone()),
            |_, digest, cert| {
                // the certified block is this one or a descendant in the log
                // the wallet's node-free verifier and commonware's agree on every proof
                let certified = finality.verify(cert).ok();
                assert_eq!(
                    certified.map(|d| d.0),
                    commonware_certified(&run.verifier, cert)
                );
                let Some(certified) = certified else {
                    return false;
                };
                let Some(&start) = position.get(&certified.0) else {
                    return false;
                };
                let mut pos = start;
                while longest[pos].block != *digest {
                    if pos == 0 || longest[pos].parent != longest[pos - 1].block {
                        return false;
                    }
                    pos -= 1;
                }
                true
            },
            &mut rng,
        )
        .expect("released batch verifies");
        for ns in &b.namespaces {
            for e in &ns.entries {
                assert!(released.insert(e.ciphertext.id()), "released twice");
                assert!(matches!(&e.outcome, Decryption::Plaintext(p) if p.starts_with(b"tx ")));
            }
        }
    }
    assert_eq!(released, run.submitted);
    // no share batch left a member for a block outside the final chain, or before that
    // block was final there
    let final_batches: BTreeMap<[u8; 32], u64> = longest
        .iter()
        .map(|b| (batch_id(&b.block, 0), b.height))
        .collect();
    assert!(!run.wire.shares.is_empty(), "shares were observed");
    for (member, id, finalized) in &run.wire.shares {
        let height = final_batches
            .get(id)
            .unwrap_or_else(|| panic!("member {member} shared for a block not final"));
        if let Some(finalized) = finalized {
            assert!(
                finalized >= height,
                "member {member} shared height {height} when final up to {finalized}"
            );
        }
    }
    // honest members name the member with wrong shares (if it was needed to combine)
    let sc = run.scenario;
    for i in (0..sc.n).filter(|&i| sc.honest(i)) {
        let mine: BTreeSet<[u8; 32]> = run.releases[i]
            .iter()
            .flat_map(|b| b.entries())
            .map(|e| e.ciphertext.id())
            .collect();
        assert_eq!(mine, run.submitted, "honest member {i} released everything");
        for m in &run.faulty[i] {
            assert_eq!(
                Some(*m as usize),
                sc.wrong_shares,
                "an honest member was named"
            );
        }
    }
}

#[test]
fn four_members_order_and_release_identically() {
    for seed in 0..3 {
        check(&run(Scenario::new(seed, 4, 12)));
    }
}

/// The wallet's node-free finality verifier accepts exactly what commonware's verifier accepts:
/// the run's real certificates, and none of their mauled forms (another committee key, another
/// payload, view, parent view or epoch, every single bit flipped, truncated, extended).
#[test]
fn node_free_finality_verifier_agrees_with_commonware() {
    let run = run(Scenario::new(21, 4, 6));
    check(&run); // every real certificate: both accept, same digest
    let ours = node_free_verifier(&run);
    let agree = |cert: &[u8], ours: &FinalityVerifier, theirs: &ConsensusScheme| {
        let mine = ours.verify(cert).ok().map(|d| d.0);
        assert_eq!(
            mine,
            commonware_certified(theirs, cert),
            "verifiers disagree"
        );
        mine
    };
    let cert = run.releases[0]
        .last()
        .expect("released")
        .certificate
        .clone();
    assert!(agree(&cert, &ours, &run.verifier).is_some());

    // another committee's key
    let pks: Vec<ed25519::PublicKey> = (0..4u64)
        .map(|i| ed25519::PrivateKey::from_seed(i).public_key())
        .collect();
    let participants = Set::from_iter_dedup(pks);
    let (other, _) = consensus_deal::<MinSig, _, N3f1>(
        &mut rand::rng(),
        Mode::NonZeroCounter,
        participants.clone(),
    )
    .expect("deal");
    let theirs_other = ConsensusScheme::verifier(NAMESPACE, participants, other.public().clone());
    let ours_other = FinalityVerifier::new(
        NAMESPACE,
        blst::min_sig::PublicKey::uncompress(&other.public().public().encode()).unwrap(),
    );
    assert!(agree(&cert, &ours_other, &theirs_other).is_none());
    // another namespace
    let ours_ns = FinalityVerifier::new(
        b"curtain-sim-other",
        blst::min_sig::PublicKey::uncompress(&ours.identity()).unwrap(),
    );
    assert!(ours_ns.verify(&cert).is_err());

    // another proposal under the same signature
    let f = finality::Finalization::decode(&cert).expect("decodes");
    let mut mauled = Vec::new();
    for change in 0..4 {
        let mut g = f.clone();
        match change {
            0 => g.payload.0[0] ^= 1,
            1 => g.view += 1,
            2 => g.parent += 1,
            _ => g.epoch += 1,
        }
        mauled.push(g.to_bytes());
    }
    for i in 0..cert.len() * 8 {
        let mut c = cert.clone();
        c[i / 8] ^= 1 << (i % 8);
        mauled.push(c);
    }
    mauled.push(cert[..cert.len() - 1].to_vec());
    mauled.push([cert.as_slice(), &[0]].concat());
    for m in &mauled {
        assert!(
            agree(m, &ours, &run.verifier).is_none(),
            "a mauled proof passed"
        );
    }
}

#[test]
fn seven_members_order_and_release_identically() {
    check(&run(Scenario::new(7, 7, 20)));
}

#[test]
fn lossy_links_still_release_everything() {
    for seed in 0..2 {
        check(&run(Scenario {
            delivery: 0.85,
            ..Scenario::new(100 + seed, 4, 10)
        }));
    }
}

#[test]
fn an_absent_member_does_not_stall_the_others() {
    check(&run(Scenario {
        absent: Some(2),
        ..Scenario::new(200, 4, 10)
    }));
}

#[test]
fn wrong_shares_are_named_and_do_not_change_the_output() {
    // n = 7, t = 5: the member with a wrong key share is outvoted in every combine; members
    // whose first t batches include it name it
    let run = run(Scenario {
        wrong_shares: Some(0),
        ..Scenario::new(300, 7, 14)
    });
    check(&run);
    for (i, f) in run.faulty.iter().enumerate().skip(1) {
        assert_eq!(f, &vec![0], "member {i} names member 0");
    }
}

#[test]
fn an_isolated_member_catches_up_after_the_partition_heals() {
    // member 1 misses the first 20 s: it catches up through marshal's backfill and asks
    // again for the share batches it never saw
    check(&run(Scenario {
        isolated: Some((1, Duration::from_secs(20))),
        ..Scenario::new(400, 4, 10)
    }));
}

#[test]
fn a_member_withholding_its_shares_does_not_stall_the_others() {
    check(&run(Scenario {
        withholds: Some(1),
        ..Scenario::new(600, 4, 12)
    }));
}

#[test]
fn a_member_flooding_share_requests_does_not_slow_releases() {
    // The same committee and load with and without one member flooding every peer with share
    // requests at its quota (real batch ids of released heights and random ones): honest
    // members answer from a bounded window and cache, recompute at most a few per second per
    // peer outside the member lock, and release as fast as without the flood.
    let base = run(Scenario::new(650, 4, 120));
    check(&base);
    let flooded = run(Scenario {
        floods: Some(2),
        ..Scenario::new(650, 4, 120)
    });
    check(&flooded);
    eprintln!(
        "all released after {:?} without the flood, {:?} with {} requests",
        base.took, flooded.took, flooded.wire.flood_requests
    );
    assert!(flooded.wire.flood_requests >= 500, "the flood ran");
    assert!(
        flooded.took.as_secs_f64() <= base.took.as_secs_f64() * 1.1,
        "releases within 10% of the run without the flood: {:?} against {:?}",
        flooded.took,
        base.took
    );
}

#[test]
fn an_equivocating_leader_gets_nothing_ordered_twice_or_revealed_early() {
    // Twins equivocate only when, as leader, their two mempools differ; run seeds until one
    // run shows it (every run is checked).
    let equivocated = (700..708).any(|seed| {
        let run = run(Scenario {
            twins: Some(0),
            ..Scenario::new(seed, 4, 40)
        });
        check(&run);
        let mut by_view: BTreeMap<u64, BTreeSet<[u8; 32]>> = BTreeMap::new();
        for (view, _, payload) in &run.wire.twin_votes {
            by_view.entry(*view).or_default().insert(*payload);
        }
        by_view.values().any(|p| p.len() > 1)
    });
    assert!(
        equivocated,
        "in some view the twins voted for two different blocks"
    );
}

/// Seeds with random faults: `CURTAIN_SIM_SEEDS` sets how many (default 240), split over two
/// tests so both cores run them.
fn random_seeds(half: u64) {
    let seeds: u64 = std::env::var("CURTAIN_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(240);
    for seed in (1000..1000 + seeds).filter(|s| s % 2 == half) {
        let n = if seed % 3 == 0 { 7 } else { 4 };
        let fault = (seed / 2) % 6;
        let mut sc = Scenario::new(seed, n, 6);
        let who = (seed as usize / 12) % n;
        match fault {
            1 => sc.delivery = 0.9,
            2 => sc.absent = Some(who),
            3 => sc.isolated = Some((who, Duration::from_secs(5))),
            4 => sc.withholds = Some(who),
            5 => sc.twins = Some(who),
            _ => {}
        }
        check(&run(sc));
    }
}

#[test]
fn random_seeds_even() {
    random_seeds(0);
}

#[test]
fn random_seeds_odd() {
    random_seeds(1);
}

#[test]
fn a_member_killed_and_restarted_mid_run_catches_up_from_its_storage() {
    check(&run(Scenario {
        crash: Some((2, Duration::from_millis(300), Duration::from_secs(8))),
        ..Scenario::new(500, 4, 40)
    }));
}
