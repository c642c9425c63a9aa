//! The ceremony core (SPEC.md §9): a pure, deterministic state machine that wraps two
//! commonware `feldman_desmedt` instances (consensus key, encryption key) and adds the
//! agreement step on the dealer logs, the `x_i·G1` publication, failure reports and a
//! replayable journal. Inputs are messages, ticks (a clock in ms, passed in) and journal
//! entries; outputs are [`Effect`]s that the caller (`dkg::driver`) carries out in order. It
//! never does IO, never reads a clock and draws no randomness but the seed it is given.
//!
//! Flow, one [`Phase`] after the other, each holding only what it needs:
//! - **Deal** (`deal.rs`): dealers send dealings and collect acks, then sign their logs and
//!   send them to the leader; players check dealings and ack. The leader collects logs and
//!   proposes (`agree.rs`). Ends when this member holds the leader's proposal.
//! - **Agree** (`agree.rs`): the proposal is held and this member's outputs computed from it;
//!   a player echoes its digest once. `q` echoes (or a certificate from a peer) end it.
//! - **Publish** (`publish.rs`): the outputs are final; after a fresh DKG the players'
//!   `x_i·G1` make the committee key.
//! - **Done** with an [`Outcome`], or **Failed** at a deadline with a [`Report`]
//!   (`complaint.rs`, which also holds the typed complaints against peers).
//!
//! Every message a member sends a peer is kept to answer its `Resync`; every input that
//! changed the state, and every decision (log, proposal, echo), is journaled before anything
//! that depends on it leaves (`Effect::Persist` precedes the `Effect::Send`s after it).

mod agree;
mod complaint;
mod deal;
mod error;
mod publish;
mod round;

pub use complaint::{Complaint, InsufficientLogs, ProposalError, Reason, Report};
pub use error::{CeremonyError, JournalMismatch};
pub use publish::commitments;
pub use round::{
    Previous, RoundConfig, Secrets, Timeouts, CONSENSUS_NAMESPACE, ENCRYPTION_NAMESPACE,
};

use super::msg::{DealerLogs, Entry, Msg};
use super::{Pk, Sig, V};
use agree::Agree;
use agree::Finalized;
use commonware_cryptography::bls12381::dkg::feldman_desmedt::{
    Info, Logs, Output, SignedDealerLog,
};
use commonware_cryptography::bls12381::primitives::group::Share;
use commonware_utils::{ordered::Set, N3f1};
use curtain_crypto::{CommitteeKey, KeyShare};
use deal::{Deal, DealerState};
use publish::public_matches;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng as _;
use round::Round;
use std::collections::{BTreeMap, BTreeSet};

/// A player's new shares.
pub struct MemberShares {
    pub index: u32,
    pub consensus: Share,
    pub encryption: Share,
}

impl MemberShares {
    /// The encryption share in curtain-crypto's form.
    pub fn key_share(&self) -> KeyShare {
        let secret = self.encryption.private.expose(super::encode_secret);
        let mut be = zeroize::Zeroizing::new([0u8; 32]);
        be.copy_from_slice(&secret);
        KeyShare::from_be_bytes(self.index, &be).expect("a DKG share is a canonical scalar")
    }
}

/// A successful round.
pub struct Outcome {
    pub round: u64,
    pub key_epoch: u64,
    pub players: Set<Pk>,
    pub consensus: Output<V, Pk>,
    pub encryption: Output<V, Pk>,
    pub key: CommitteeKey,
    /// Digest of the agreed proposal (the dealer logs): members and wallets compare it.
    pub transcript: [u8; 32],
    /// `None` for members that only dealt (left the committee in a reshare).
    pub shares: Option<MemberShares>,
}

/// Which phase a ceremony is in (progress lines and reports).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhaseKind {
    /// Dealings out, acks in, logs to the leader: until the leader's proposal arrives.
    Deal,
    /// The proposal held, echoes in: until a certificate.
    Agree,
    /// Players publish `x_i·G1`.
    Publish,
    Done,
    Failed,
}

/// The phase and the state only it has.
enum Phase {
    Deal(Deal),
    Agree(Box<Agree>),
    Publish(Box<Finalized>),
    Done,
    Failed,
}

impl Phase {
    fn kind(&self) -> PhaseKind {
        match self {
            Phase::Deal(_) => PhaseKind::Deal,
            Phase::Agree(_) => PhaseKind::Agree,
            Phase::Publish(_) => PhaseKind::Publish,
            Phase::Done => PhaseKind::Done,
            Phase::Failed => PhaseKind::Failed,
        }
    }

    fn is_over(&self) -> bool {
        matches!(self, Phase::Done | Phase::Failed)
    }
}

/// What the shell must do, in order. `Persist` must be durable before the effects after it.
pub enum Effect {
    Send(Pk, Msg),
    Persist(Entry),
    Done(Box<Outcome>),
    Failed(Report),
}

/// A snapshot for progress lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    pub phase: PhaseKind,
    pub dealings: usize,
    pub dealers: usize,
    pub acks: usize,
    pub players: usize,
    pub logs: usize,
    pub echoes: usize,
    pub quorum: usize,
    pub publics: usize,
    pub missing: Vec<Pk>,
}

/// What peers sent that outlives the phase it arrived in (reports and progress read it, and
/// echoes and publics may arrive before the phase that uses them).
#[derive(Default)]
struct Inbox {
    /// Dealers whose dealing arrived (players).
    dealt: BTreeSet<Pk>,
    /// Dealers' signed logs, checked on arrival (the leader, until it proposes).
    logs: BTreeMap<Pk, DealerLogs>,
    /// Valid echo signatures by digest and player index.
    echoes: BTreeMap<[u8; 32], BTreeMap<u32, Sig>>,
    /// Players' `x_i·G1` by index (checked once this member has its outputs).
    publics: BTreeMap<u32, [u8; 48]>,
    /// Peers known to have finalized (they sent a certificate or their `x_i·G1`).
    finished: BTreeSet<Pk>,
}

/// One member's ceremony: the round, the current phase, and what outlives phases.
pub struct Ceremony {
    round: Round,
    /// Verification randomness (commonware's batch checks).
    rng: ChaCha20Rng,
    phase: Phase,
    /// `None` for members that only play.
    dealer: Option<DealerState>,
    inbox: Inbox,
    complaints: BTreeMap<Pk, Complaint>,
    /// What we sent each peer (answers `Resync`).
    sent: BTreeMap<Pk, Vec<Msg>>,
    /// Rebuilding from the journal: nothing is persisted and no decision is taken anew.
    replaying: bool,
    last_resync: u64,
}

/// How often a member asks peers it still waits on to send again (p2p drops messages to
/// peers that are not connected yet, e.g. not started).
const RESYNC_MS: u64 = 1_000;

type Out = Vec<Effect>;

impl Ceremony {
    /// Sets up the round; `rng_seed` is only for verification randomness (dealings derive
    /// theirs from the identity key and the round so that a restart re-sends identical
    /// dealings).
    pub fn new(
        cfg: RoundConfig,
        secrets: Secrets,
        rng_seed: [u8; 32],
    ) -> Result<(Self, Out), CeremonyError> {
        let round = Round::new(cfg, secrets.identity.clone())?;
        let (dealer, deals) = if round.is_dealer() {
            let (state, deals) = deal::start_dealer(&round, secrets)?;
            (Some(state), deals)
        } else {
            (None, BTreeMap::new())
        };
        let player = if round.is_player() {
            Some(Box::new(deal::start_player(&round)?))
        } else {
            None
        };
        let mut c = Self {
            round,
            rng: ChaCha20Rng::from_seed(rng_seed),
            phase: Phase::Deal(Deal { player }),
            dealer,
            inbox: Inbox::default(),
            complaints: BTreeMap::new(),
            sent: BTreeMap::new(),
            replaying: false,
            last_resync: 0,
        };
        let mut out = Vec::new();
        for (p, d) in deals {
            c.send(&mut out, p, Msg::Deal(Box::new(d)));
        }
        Ok((c, out))
    }

    /// Rebuilds a member from its journal: the same state, and every message it had sent
    /// (re-sent; receivers ignore duplicates), plus a `Resync` request to every peer.
    pub fn restore(
        cfg: RoundConfig,
        secrets: Secrets,
        rng_seed: [u8; 32],
        journal: Vec<Entry>,
    ) -> Result<(Self, Out), CeremonyError> {
        let (mut c, mut out) = Self::new(cfg, secrets, rng_seed)?;
        c.replaying = true;
        for entry in journal {
            match entry {
                Entry::Received { from, msg } => out.extend(c.receive(from, msg)),
                Entry::Decided(msg) => c.replay_decision(&mut out, msg)?,
            }
        }
        c.replaying = false;
        for p in c.round.peers() {
            out.push(Effect::Send(p.clone(), Msg::Resync));
        }
        out.retain(|e| !matches!(e, Effect::Persist(_)));
        Ok((c, out))
    }

    /// A decision from the journal: restored as it was taken, never taken again (a dealer
    /// never signs two logs, a leader never proposes twice, a member never echoes twice).
    fn replay_decision(&mut self, out: &mut Out, msg: Msg) -> Result<(), CeremonyError> {
        match msg {
            Msg::Log(l) => self.restore_log(out, l),
            Msg::Propose(p) => self.restore_proposal(out, p)?,
            Msg::Echo { digest, .. } => self.restore_echo(digest)?,
            _ => return Err(JournalMismatch::UnexpectedDecision.into()),
        }
        Ok(())
    }

    /// Sets the clock origin for the phase deadlines (call once, before the first tick).
    pub fn set_start(&mut self, now_ms: u64) {
        self.round.start = now_ms;
    }

    pub fn me(&self) -> &Pk {
        &self.round.me
    }
    pub fn leader(&self) -> &Pk {
        &self.round.leader
    }
    pub fn participants(&self) -> &[Pk] {
        &self.round.participants
    }
    pub fn phase(&self) -> PhaseKind {
        self.phase.kind()
    }

    pub fn progress(&self) -> Progress {
        let held = match &self.phase {
            Phase::Agree(a) if a.echoed => Some(a.digest),
            Phase::Publish(f) => Some(f.digest),
            _ => None,
        };
        Progress {
            phase: self.phase.kind(),
            dealings: self.inbox.dealt.len(),
            dealers: self.round.cfg.dealers.len(),
            acks: self.dealer.as_ref().map_or(0, DealerState::acks),
            players: self.round.cfg.players.len(),
            logs: self.inbox.logs.len(),
            echoes: held
                .and_then(|d| self.inbox.echoes.get(&d))
                .map_or(0, BTreeMap::len),
            quorum: self.round.quorum,
            publics: self.inbox.publics.len(),
            missing: self.missing(),
        }
    }

    /// Whether every other participant has finalized (a finished member may then stop).
    pub fn peers_finished(&self) -> bool {
        self.round.peers().all(|p| self.inbox.finished.contains(p))
    }

    /// Dealers we have neither a dealing nor a log from (players), or no log from (others).
    fn missing(&self) -> Vec<Pk> {
        let player = self.round.is_player();
        self.round
            .cfg
            .dealers
            .iter()
            .filter(|d| {
                !self.inbox.logs.contains_key(*d) && (!player || !self.inbox.dealt.contains(*d))
            })
            .cloned()
            .collect()
    }

    /// A message from authenticated peer `from`.
    pub fn receive(&mut self, from: Pk, msg: Msg) -> Out {
        let mut out = Vec::new();
        if from != self.round.me && self.round.participants.contains(&from) {
            self.handle(&mut out, from, msg);
        }
        out
    }

    /// One handler per message kind; a finished round only answers `Resync`.
    fn handle(&mut self, out: &mut Out, from: Pk, msg: Msg) {
        if from != self.round.me && matches!(msg, Msg::Commit { .. } | Msg::Public(_)) {
            self.inbox.finished.insert(from.clone());
        }
        if self.phase.is_over() && !matches!(msg, Msg::Resync) {
            return;
        }
        match msg {
            Msg::Deal(d) => self.on_deal(out, from, *d),
            Msg::Ack {
                consensus,
                encryption,
            } => self.on_ack(out, from, consensus, encryption),
            Msg::Log(l) => self.on_log(out, from, *l),
            Msg::Propose(p) => self.on_propose(out, from, *p),
            Msg::Echo { digest, sig } => self.on_echo(out, from, digest, sig),
            Msg::Commit {
                digest,
                proposal,
                echoes,
            } => self.on_commit(out, from, digest, proposal, echoes),
            Msg::Public(p) => self.on_public(out, from, p),
            Msg::Resync => self.on_resync(out, from),
        }
    }

    /// A peer asks for everything we sent it again.
    fn on_resync(&mut self, out: &mut Out, from: Pk) {
        if let Some(msgs) = self.sent.get(&from) {
            for m in msgs {
                out.push(Effect::Send(from.clone(), m.clone()));
            }
        }
    }

    /// Clock input: takes the phase decisions whose deadlines passed.
    pub fn tick(&mut self, now_ms: u64) -> Out {
        let mut out = Vec::new();
        if self.phase.is_over() {
            return out;
        }
        let t = self.round.cfg.timeouts;
        let elapsed = now_ms.saturating_sub(self.round.start);
        if now_ms >= self.last_resync + RESYNC_MS {
            self.last_resync = now_ms;
            self.resync(&mut out, elapsed);
        }
        if elapsed >= t.deal_ms {
            self.sign_log(&mut out);
        }
        if elapsed >= t.deal_ms + t.logs_ms {
            self.propose(&mut out);
        }
        let agree_by = t.deal_ms + t.logs_ms + t.agree_ms;
        let publish_by = agree_by + t.publish_ms;
        let reason = match &self.phase {
            Phase::Deal(_) if elapsed >= agree_by => Some(self.agreement_failure()),
            // A member that echoed may be part of a certificate others hold: it waits for one
            // until the publish deadline.
            Phase::Agree(a) if elapsed >= if a.echoed { publish_by } else { agree_by } => {
                Some(self.agreement_failure())
            }
            Phase::Publish(_) if elapsed >= publish_by => Some(self.publication_failure()),
            _ => None,
        };
        if let Some(reason) = reason {
            self.fail(&mut out, reason);
        }
        out
    }

    /// Asks the peers we still wait on to send again what they sent us.
    fn resync(&mut self, out: &mut Out, elapsed: u64) {
        let t = self.round.cfg.timeouts;
        let mut ask: BTreeSet<Pk> = BTreeSet::new();
        if let Phase::Deal(Deal { player: Some(_) }) = &self.phase {
            let dealt = &self.inbox.dealt;
            ask.extend(
                self.round
                    .cfg
                    .dealers
                    .iter()
                    .filter(|d| !dealt.contains(*d))
                    .cloned(),
            );
        }
        if let Phase::Deal(_) = &self.phase {
            if self.round.is_leader() && elapsed >= t.deal_ms {
                let logs = &self.inbox.logs;
                ask.extend(
                    self.round
                        .cfg
                        .dealers
                        .iter()
                        .filter(|d| !logs.contains_key(*d))
                        .cloned(),
                );
            }
            if elapsed >= t.deal_ms + t.logs_ms / 2 {
                ask.insert(self.round.leader.clone());
            }
        }
        if let Phase::Publish(_) = &self.phase {
            let publics = &self.inbox.publics;
            ask.extend(
                self.round
                    .cfg
                    .players
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| !publics.contains_key(&(*i as u32)))
                    .map(|(_, p)| p.clone()),
            );
        }
        ask.remove(&self.round.me);
        for p in ask {
            out.push(Effect::Send(p, Msg::Resync));
        }
    }

    /// Sends `msg` to `to` (to ourselves: handled at once) and keeps it for `Resync`.
    fn send(&mut self, out: &mut Out, to: Pk, msg: Msg) {
        if to == self.round.me {
            let me = self.round.me.clone();
            self.handle(out, me, msg);
            return;
        }
        self.sent.entry(to.clone()).or_default().push(msg.clone());
        out.push(Effect::Send(to, msg));
    }

    fn broadcast(&mut self, out: &mut Out, msg: Msg) {
        for p in self.round.participants.clone() {
            self.send(out, p, msg.clone());
        }
    }

    fn persist(&self, out: &mut Out, entry: Entry) {
        if !self.replaying {
            out.push(Effect::Persist(entry));
        }
    }

    /// Journals a peer's message that changed the state (our own are not inputs).
    fn record(&self, out: &mut Out, from: &Pk, msg: impl FnOnce() -> Msg) {
        if *from != self.round.me {
            self.persist(
                out,
                Entry::Received {
                    from: from.clone(),
                    msg: msg(),
                },
            );
        }
    }
}

/// One instance's dealer logs (consensus or encryption, chosen by `pick`) among `logs`, each
/// kept only if its signature and contents check against `info`.
fn checked_logs<'a>(
    logs: impl IntoIterator<Item = &'a DealerLogs>,
    pick: impl Fn(&DealerLogs) -> &SignedDealerLog<V, Pk>,
    info: &Info<V, Pk>,
) -> Logs<V, Pk, N3f1> {
    let mut out = Logs::new(info.clone());
    for l in logs {
        if let Some((d, log)) = pick(l).clone().check(info) {
            out.record(d, log);
        }
    }
    out
}
