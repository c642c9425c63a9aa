//! A scenario (committee size, load, faults) and its run: the committee's keys dealt, the
//! simulated network wired, whole members started on the deterministic runtime (`committee`),
//! clients submitting, and every member's release stream read until each honest member
//! released everything.

use crate::adversary::{Behaviour, Censor, Pk};
use crate::committee::{member_shares, Committee, Keys, Members};
use crate::common;
use commonware_codec::Encode as _;
use commonware_cryptography::ed25519;
use commonware_p2p::simulated::{self, Link};
use commonware_runtime::{
    deterministic, Clock as _, Metrics as _, Runner as _, Spawner as _, Supervisor as _,
};
use commonware_utils::NZUsize;
use curtain::ledger::committee::CheckedCommittee;
use curtain::ledger::release::ReleasedBatch;
use curtain::ledger::{Height, KeyEpoch, Namespace};
use curtain::node::core::evidence::Record;
use curtain::node::core::inclusion::InclusionConfig;
use curtain::node::core::mempool::{Reject, Source};
use curtain::node::core::reveal::batch_id;
use curtain::node::ConsensusScheme;
use curtain::protocol::json::TxStatus;
use curtain::sdk::{Action, Resubmission, ResubmitPolicy};
use curtain_crypto::{CommitteeKey, EncodedCiphertext};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The namespace the simulated committee signs under.
/// Members sign consensus messages under curtain's namespace, so that the node-free checks
/// (finality proofs, equivocation evidence) apply to the simulation as to a deployment.
pub(crate) const NAMESPACE: &[u8] = curtain::ledger::CONSENSUS_NAMESPACE;

/// Inclusion lists in the simulation: the defaults' rule with shorter delays (Δ = 200 ms,
/// Δ' = 300 ms, a 50 ms tick), so that a censor leading soon after an acceptance meets the
/// rule. Δ' still exceeds twice the links' delay (25 ms) plus admission, as SPEC §5.7 needs.
pub(crate) const INCLUSION: InclusionConfig = InclusionConfig {
    tick_ms: 50,
    list_after_ms: 200,
    enforce_after_ms: 300,
    max_list: 256,
    resend_every_ms: 1_000,
    regossip_every_ms: 1_000,
    list_ttl_ms: 3_000,
};

/// The simulated wallets' resubmission rule (`sdk::resubmit`): resubmit after 1 s.
const RESUBMIT: ResubmitPolicy = ResubmitPolicy {
    deadline: Duration::from_secs(1),
    poll: Duration::from_millis(100),
};

/// One run: its seed, committee size, number of transactions, and the faults it injects.
#[derive(Clone, Copy)]
pub(crate) struct Scenario {
    pub(crate) seed: u64,
    pub(crate) n: usize,
    pub(crate) txs: usize,
    /// Probability a message on a link is delivered.
    pub(crate) delivery: f64,
    /// A member that never starts (withholds votes and shares).
    pub(crate) absent: Option<usize>,
    /// A member whose decryption key share is wrong (its shares are wrong).
    pub(crate) wrong_shares: Option<usize>,
    /// A member cut off from everyone from the start until this much simulated time passed.
    pub(crate) isolated: Option<(usize, Duration)>,
    /// A member killed at the first time and restarted (same storage) at the second.
    pub(crate) crash: Option<(usize, Duration, Duration)>,
    /// A member that votes and orders but never sends its share batches.
    pub(crate) withholds: Option<usize>,
    /// A member run as twins (same keys, separate storage), one talking to the next member,
    /// the other to the rest: as leader it proposes two blocks for one view, and it
    /// double-votes.
    pub(crate) twins: Option<usize>,
    /// The twins' second copy sends its votes to everyone, so the first copy's side sees
    /// both of the member's votes in a view where they differ (an equivocation it can prove).
    pub(crate) twins_vote_to_all: bool,
    /// A member that, besides following the protocol, floods every peer with share requests
    /// at its p2p quota: for released heights with their real batch ids (each a
    /// recomputation if answered) and with random ones.
    pub(crate) floods: Option<usize>,
    /// Members `0..count` censor this way.
    pub(crate) censors: Option<(Censor, usize)>,
}

impl Scenario {
    pub(crate) fn new(seed: u64, n: usize, txs: usize) -> Self {
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
            twins_vote_to_all: false,
            floods: None,
            censors: None,
        }
    }
    pub(crate) fn honest(&self, i: usize) -> bool {
        ![self.absent, self.wrong_shares, self.withholds, self.twins].contains(&Some(i))
            && self.censor(i).is_none()
    }
    pub(crate) fn censor(&self, i: usize) -> Option<Censor> {
        self.censors.and_then(|(c, count)| (i < count).then_some(c))
    }
    /// Member `i` answers `202` and drops what it was given.
    fn drops(&self, i: usize) -> bool {
        self.censor(i) == Some(Censor::AcceptsAndDrops)
    }
    pub(crate) fn behaviour(&self, i: usize, pks: &[Pk]) -> Behaviour {
        if let Some(c) = self.censor(i) {
            Behaviour::Censor(c)
        } else if Some(i) == self.withholds {
            Behaviour::Withholds
        } else if Some(i) == self.floods {
            Behaviour::FloodsShareRequests
        } else if Some(i) == self.twins {
            Behaviour::Twins {
                primary: vec![pks[(i + 1) % self.n].clone()],
                votes_to_all: self.twins_vote_to_all,
            }
        } else {
            Behaviour::Honest
        }
    }
}

/// What a run leaves for the invariant checker and the scenarios.
pub(crate) struct Run {
    pub(crate) scenario: Scenario,
    /// Per member: its releases (empty for an absent member).
    pub(crate) releases: Vec<Vec<ReleasedBatch>>,
    /// Per member: the members it caught sending wrong shares.
    pub(crate) faulty: Vec<Vec<u32>>,
    /// Per member: its evidence book at the end (empty for an absent member).
    pub(crate) evidence: Vec<Vec<Record>>,
    /// The committee as a third party checks evidence against it.
    pub(crate) committee: CheckedCommittee,
    pub(crate) submitted: BTreeSet<[u8; 32]>,
    pub(crate) wire: Wire,
    pub(crate) key: Arc<CommitteeKey>,
    pub(crate) verifier: ConsensusScheme,
    /// The committee's consensus public polynomial (commonware encoding).
    pub(crate) consensus_public: Vec<u8>,
    /// Virtual time from the first submission until every honest member released them all.
    pub(crate) took: Duration,
    /// Per submission, when an honest member first accepted it (simulated clock).
    pub(crate) accepted_at: BTreeMap<[u8; 32], Duration>,
    /// Per submission, when the wallet first submitted it (to any member).
    pub(crate) submitted_at: BTreeMap<[u8; 32], Duration>,
    /// Submissions the wallets sent again (after a dropping member's `202`).
    pub(crate) resubmitted: usize,
    /// Proposals honest members refused for leaving out a listed ciphertext (their
    /// `inclusion_omissions` metric, summed).
    pub(crate) omissions_refused: u64,
}

/// What the test saw members send.
#[derive(Default)]
pub(crate) struct Wire {
    /// Share batches sent by whole members: (member, batch id, the member's finalized height
    /// when it sent them; None while it is starting, before its handle exists).
    pub(crate) shares: Vec<(usize, [u8; 32], Option<u64>)>,
    /// (height, batch id) of every non-empty height released so far (what a flooder asks
    /// for).
    pub(crate) released: Vec<(u64, [u8; 32])>,
    /// Share requests the flooder sent.
    pub(crate) flood_requests: usize,
    /// Notarize votes of twins: (view, primary?, payload).
    pub(crate) twin_votes: Vec<(u64, bool, [u8; 32])>,
    /// When each height was first final at an honest member (simulated clock, sampled every
    /// 10 ms).
    pub(crate) finalized_at: BTreeMap<u64, Duration>,
}

/// Runs one scenario on the deterministic runtime seeded with its seed. The steps draw from
/// the runtime's one seeded randomness (dealing, link jitter, task order) in this order:
/// reordering them changes what a seed runs.
pub(crate) fn run(sc: Scenario) -> Run {
    let cfg = deterministic::Config::new()
        .with_seed(sc.seed)
        .with_timeout(Some(Duration::from_secs(600)));
    deterministic::Runner::new(cfg).start(|context| async move {
        let mut rng = context.child("rng");
        let (keys, key_shares) = Keys::deal(sc.n, &mut rng);
        let oracle = connect(&context, &sc, &keys.pks).await;
        let shares = member_shares(&sc, key_shares, &mut rng);
        if let Some((cut, heal_after)) = sc.isolated {
            isolate(&context, &oracle, &sc, &keys.pks, cut, heal_after).await;
        }
        let committee = Committee {
            context: context.child("committee"),
            oracle,
            keys,
            shares,
            wire: Arc::new(Mutex::new(Wire::default())),
            slots: (0..sc.n).map(|_| Arc::new(Mutex::new(None))).collect(),
        };
        let mut members = Members::start(&committee, &sc).await;
        watch_heights(&context, &sc, &committee);
        let started_at = context.current();
        let mut wallet = Wallet::default();
        let submitted = submit(
            &context,
            &sc,
            &members,
            &committee.keys.key,
            &mut rng,
            &mut wallet,
        )
        .await;
        let releases = release_all(
            &context,
            &sc,
            &committee,
            &mut members,
            &submitted,
            &mut wallet,
        )
        .await;
        let took = context.current().duration_since(started_at).unwrap();
        let wire = std::mem::take(&mut *committee.wire.lock().unwrap());
        let omissions_refused = metric_sum(&context.encode(), "inclusion_omissions_total");
        let checked = committee.keys.checked();
        let Keys {
            participants,
            output,
            key,
            ..
        } = committee.keys;
        Run {
            scenario: sc,
            wire,
            faulty: members.faulty(),
            evidence: members.evidence(),
            committee: checked,
            releases,
            submitted,
            verifier: ConsensusScheme::verifier(NAMESPACE, participants, output.public().clone()),
            consensus_public: output.public().encode().to_vec(),
            key,
            took,
            accepted_at: wallet.accepted_at,
            submitted_at: wallet.submitted_at,
            resubmitted: wallet.resubmitted,
            omissions_refused,
        }
    })
}

/// The sum of every sample of metric `name` in a Prometheus text encoding.
fn metric_sum(text: &str, name: &str) -> u64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            series.contains(name).then(|| value.parse::<f64>().ok())?
        })
        .sum::<f64>() as u64
}

/// Records when each height is first final at an honest member.
fn watch_heights(context: &deterministic::Context, sc: &Scenario, committee: &Committee) {
    let slots: Vec<_> = (0..sc.n)
        .filter(|&i| sc.honest(i))
        .map(|i| committee.slots[i].clone())
        .collect();
    let wire = committee.wire.clone();
    context
        .child("height_watcher")
        .spawn(move |ctx| async move {
            let mut top = 0;
            loop {
                let now = since_epoch(&ctx);
                let h = slots
                    .iter()
                    .filter_map(|s| s.lock().unwrap().as_ref().map(|h| h.finalized_height()))
                    .max()
                    .unwrap_or(Height(0));
                if h > Height(top) {
                    let mut wire = wire.lock().unwrap();
                    for height in top + 1..=h.get() {
                        wire.finalized_at.insert(height, now);
                    }
                    top = h.get();
                }
                ctx.sleep(Duration::from_millis(10)).await;
            }
        });
}

/// The simulated wallets: when each submission was first accepted by an honest member, and
/// the resubmission state of those a dropping member accepted.
#[derive(Default)]
struct Wallet {
    submitted_at: BTreeMap<[u8; 32], Duration>,
    accepted_at: BTreeMap<[u8; 32], Duration>,
    watching: Vec<(EncodedCiphertext, Resubmission)>,
    resubmitted: usize,
}

impl Wallet {
    /// Drives every watched submission's resubmission rule at `now`: status questions are
    /// answered from the members' releases and cores, a dropping member accepts and drops.
    async fn step(
        &mut self,
        now: Duration,
        sc: &Scenario,
        members: &Members,
        released: &BTreeMap<[u8; 32], (u64, u64, u32)>,
    ) {
        let mut still = Vec::new();
        for (ct, mut r) in std::mem::take(&mut self.watching) {
            let id = ct.id();
            loop {
                match r.next(now) {
                    Action::AskStatus { member } => {
                        let status = if sc.drops(member) {
                            None
                        } else if let Some(&(height, namespace, position)) = released.get(&id) {
                            Some(TxStatus::Ordered {
                                height: Height(height),
                                namespace: Namespace(namespace),
                                position,
                            })
                        } else {
                            members.handles[member]
                                .as_ref()
                                .and_then(|h| h.tx_status(&id))
                        };
                        r.on_status(now, member, status.as_ref());
                    }
                    Action::Resubmit { member } => {
                        self.resubmitted += 1;
                        if sc.drops(member) {
                            r.on_accepted(now, member);
                            continue;
                        }
                        let Some(h) = members.handles[member].as_ref() else {
                            r.on_refused(member);
                            continue;
                        };
                        let out = h.submit(client(0), vec![ct.clone().into()]).await;
                        match out[0].result {
                            Ok(_) | Err(Reject::Duplicate) | Err(Reject::AlreadyOrdered) => {
                                self.accepted_at.entry(id).or_insert(now);
                                r.on_accepted(now, member);
                            }
                            Err(_) => r.on_refused(member),
                        }
                    }
                    Action::Wait(_) => {
                        still.push((ct, r));
                        break;
                    }
                    Action::Done(_) => break,
                    Action::GiveUp => panic!("the wallet gave up on {}", hex::encode(id)),
                }
            }
        }
        self.watching = still;
    }
}

/// The `k`-th client's address.
fn client(k: usize) -> Source {
    Source::Client(IpAddr::V4(Ipv4Addr::new(10, 0, 0, k as u8)))
}

/// The link from `from` to anyone. The member with wrong shares is the fastest, so its
/// batches are among the first t everywhere and must be caught.
fn link(sc: &Scenario, pks: &[Pk], from: &Pk) -> Link {
    Link {
        latency: if Some(pks.iter().position(|p| p == from).unwrap()) == sc.wrong_shares {
            Duration::from_millis(1)
        } else {
            Duration::from_millis(20)
        },
        jitter: Duration::from_millis(5),
        success_rate: commonware_utils::Probability::try_from(sc.delivery).expect("probability"),
    }
}

/// Starts the simulated network with a link between every two members.
async fn connect(
    context: &deterministic::Context,
    sc: &Scenario,
    pks: &[Pk],
) -> simulated::Oracle<Pk, deterministic::Context> {
    let (network, oracle) = simulated::Network::new_with_peers(
        context.child("network"),
        simulated::Config {
            max_size: 8 << 20,
            max_peers_per_set: NZUsize!(sc.n),
            disconnect_on_block: true,
            tracked_peer_sets: NZUsize!(1),
        },
        pks.to_vec(),
    )
    .await;
    network.start();
    for a in pks {
        for b in pks {
            if a != b {
                oracle
                    .add_link(a.clone(), b.clone(), link(sc, pks, a))
                    .await
                    .unwrap();
            }
        }
    }
    oracle
}

/// Cuts member `cut` off from everyone until `heal_after` passed.
async fn isolate(
    context: &deterministic::Context,
    oracle: &simulated::Oracle<Pk, deterministic::Context>,
    sc: &Scenario,
    pks: &[Pk],
    cut: usize,
    heal_after: Duration,
) {
    let pairs: Vec<(ed25519::PublicKey, ed25519::PublicKey, Link)> = pks
        .iter()
        .filter(|p| **p != pks[cut])
        .flat_map(|p| {
            [
                (pks[cut].clone(), p.clone(), link(sc, pks, &pks[cut])),
                (p.clone(), pks[cut].clone(), link(sc, pks, p)),
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

/// Clients submit the scenario's transactions, 7 ms apart, each to the next member in turn:
/// skipping members that are not honest, except a dropping censor, whose `202` the wallet
/// takes and then watches (`Wallet`). Returns their ids. With censors, transactions come from
/// two senders (`wallet0`, `wallet1`).
async fn submit(
    context: &deterministic::Context,
    sc: &Scenario,
    members: &Members,
    key: &CommitteeKey,
    rng: &mut deterministic::Context,
    wallet: &mut Wallet,
) -> BTreeSet<[u8; 32]> {
    let n = sc.n;
    let mut submitted = BTreeSet::new();
    for k in 0..sc.txs {
        let ct = if sc.censors.is_some() {
            let sender = format!("wallet{}", k % 2);
            let label = curtain_crypto::Label::new(
                key.id(),
                KeyEpoch(0),
                Namespace(k as u64 % 3),
                sender.as_bytes(),
            )
            .unwrap();
            common::seal(key, &label, format!("tx {k}").as_bytes(), rng)
        } else {
            common::tx(key, k as u64, rng)
        };
        submitted.insert(ct.id());
        let to = (0..n)
            .cycle()
            .skip(k)
            .find(|&i| sc.honest(i) || sc.drops(i))
            .expect("an honest member");
        let now = since_epoch(context);
        wallet.submitted_at.insert(ct.id(), now);
        if sc.drops(to) {
            wallet
                .watching
                .push((ct, Resubmission::new(n, to, now, RESUBMIT)));
        } else {
            let out = members.handles[to]
                .as_ref()
                .expect("started")
                .submit(client(k), vec![ct.clone().into()])
                .await;
            assert!(out[0].result.is_ok());
            wallet.accepted_at.insert(ct.id(), since_epoch(context));
        }
        context.sleep(Duration::from_millis(7)).await;
    }
    submitted
}

/// Reads the members' release streams every 100 ms (simulated) until every honest member
/// released every submitted ciphertext, crashing and restarting a member on the scenario's
/// schedule; returns each member's releases.
async fn release_all(
    context: &deterministic::Context,
    sc: &Scenario,
    committee: &Committee,
    members: &mut Members,
    submitted: &BTreeSet<[u8; 32]>,
    wallet: &mut Wallet,
) -> Vec<Vec<ReleasedBatch>> {
    let mut observed = Observed::new(sc.n);
    let mut crash = sc.crash.map(Crash::new);
    while (0..sc.n).any(|i| sc.honest(i) && observed.seen[i].len() < submitted.len()) {
        if let Some(crash) = crash.as_mut() {
            crash
                .step(since_epoch(context), committee, members, &mut observed)
                .await;
        }
        observed.read(members, &committee.wire);
        wallet
            .step(since_epoch(context), sc, members, &observed.positions)
            .await;
        context.sleep(Duration::from_millis(100)).await;
        if std::env::var_os("CURTAIN_SIM_DEBUG").is_some() {
            observed.report(since_epoch(context), members);
        }
    }
    assert!(
        crash.is_none_or(|c| c.restarted),
        "the crash and restart happened"
    );
    observed.releases
}

/// The simulated clock.
fn since_epoch(context: &deterministic::Context) -> Duration {
    context
        .current()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
}

/// What the test read from each member's release stream.
struct Observed {
    releases: Vec<Vec<ReleasedBatch>>,
    /// The ids of the ciphertexts released.
    seen: Vec<BTreeSet<[u8; 32]>>,
    /// Where each released ciphertext was ordered: (height, namespace, position).
    positions: BTreeMap<[u8; 32], (u64, u64, u32)>,
}

impl Observed {
    fn new(n: usize) -> Self {
        Self {
            releases: vec![Vec::new(); n],
            seen: vec![BTreeSet::new(); n],
            positions: BTreeMap::new(),
        }
    }

    /// Takes whatever the members released since the last read; records each non-empty
    /// height on the wire (what a flooder asks for).
    fn read(&mut self, members: &mut Members, wire: &Mutex<Wire>) {
        for i in 0..members.streams.len() {
            let Some(stream) = members.streams[i].as_mut() else {
                continue;
            };
            while let Ok(b) = stream.try_recv() {
                if !b.namespaces.is_empty() {
                    let mut wire = wire.lock().unwrap();
                    if !wire.released.iter().any(|(h, _)| *h == b.height.get()) {
                        wire.released
                            .push((b.height.get(), batch_id(&b.block, KeyEpoch(0))));
                    }
                }
                for ns in &b.namespaces {
                    for (pos, e) in ns.entries.iter().enumerate() {
                        self.seen[i].insert(e.ciphertext.id());
                        self.positions.insert(
                            e.ciphertext.id(),
                            (b.height.get(), ns.namespace.get(), pos as u32),
                        );
                    }
                }
                self.releases[i].push(b);
            }
        }
    }

    /// Progress every 5 s (simulated), on stderr.
    fn report(&self, t: Duration, members: &Members) {
        if t.as_millis() % 5000 < 100 {
            let heights: Vec<_> = members
                .handles
                .iter()
                .map(|h| h.as_ref().map(|h| h.finalized_height()))
                .collect();
            let counts: Vec<_> = self.seen.iter().map(|s| s.len()).collect();
            let next: Vec<_> = members
                .handles
                .iter()
                .map(|h| h.as_ref().map(|h| h.next_release()))
                .collect();
            eprintln!("t={t:?} finalized={heights:?} next_release={next:?} released={counts:?}");
        }
    }
}

/// A member killed at one time and restarted from its storage at a later one.
struct Crash {
    who: usize,
    at: Duration,
    restart_at: Duration,
    crashed: bool,
    restarted: bool,
}

impl Crash {
    fn new((who, at, restart_at): (usize, Duration, Duration)) -> Self {
        Self {
            who,
            at,
            restart_at,
            crashed: false,
            restarted: false,
        }
    }

    /// Crashes or restarts the member when `now` reached the time.
    async fn step(
        &mut self,
        now: Duration,
        committee: &Committee,
        members: &mut Members,
        observed: &mut Observed,
    ) {
        let who = self.who;
        if !self.crashed && now >= self.at {
            members.kill(committee, who).await;
            self.crashed = true;
        }
        if self.crashed && !self.restarted && now >= self.restart_at {
            members.restart(committee, who).await;
            // the restarted member's stream replays its log from height 1
            observed.releases[who].clear();
            observed.seen[who].clear();
            self.restarted = true;
        }
    }
}
