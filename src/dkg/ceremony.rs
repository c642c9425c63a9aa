//! The ceremony core (SPEC.md §9): a pure, deterministic state machine that wraps two
//! commonware `feldman_desmedt` instances (consensus key, encryption key) and adds the
//! agreement step on the dealer logs, the `x_i·G1` publication, failure reports and a
//! replayable journal. Inputs are messages, ticks (a clock in ms) and journal entries; outputs
//! are [`Effect`]s that the shell carries out in order.

use super::msg::{DealerLogs, Dealing, Entry, Msg, Proposal};
use super::{Pk, Sig, Sk, V};
use commonware_codec::Encode as _;
use commonware_cryptography::bls12381::dkg::feldman_desmedt::{
    observe, Dealer, FinalizeError, Info, Logs, Output, Player, Reveal, SignedDealerLog,
};
use commonware_cryptography::bls12381::primitives::{group::Share, sharing::Mode};
use commonware_cryptography::{Signer as _, Verifier as _};
use commonware_parallel::Sequential;
use commonware_utils::{ordered::Set, Faults as _, N3f1, Participant};
use curtain_crypto::{partial_g1_matches, CommitteeKey, KeyShare};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng as _;
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// commonware `Info` namespaces: one per instance, so the two keys are independent.
pub const CONSENSUS_NAMESPACE: &[u8] = b"curtain/v1/dkg/consensus";
pub const ENCRYPTION_NAMESPACE: &[u8] = b"curtain/v1/dkg/encryption";
const ECHO_NAMESPACE: &[u8] = b"curtain/v1/dkg/echo";
const DST_SEED: &[u8] = b"curtain/v1/dkg/dealer-seed";
const DST_PROPOSAL: &[u8] = b"curtain/v1/dkg/proposal";

/// Per-phase timeouts (ms), counted from the start (or restart) of the round.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// Dealers wait this long for acks before signing their logs.
    pub deal_ms: u64,
    /// The leader waits this much longer for logs before proposing.
    pub logs_ms: u64,
    /// Members wait this much longer for a certificate.
    pub agree_ms: u64,
    /// And this much longer for the players' `x_i·G1`.
    pub publish_ms: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            deal_ms: 5_000,
            logs_ms: 5_000,
            agree_ms: 10_000,
            publish_ms: 10_000,
        }
    }
}

/// The public output of the previous key epoch (resharing and refresh).
#[derive(Clone)]
pub struct Previous {
    pub consensus: Output<V, Pk>,
    pub encryption: Output<V, Pk>,
    pub key: CommitteeKey,
    pub key_epoch: u64,
}

/// One round of a DKG, resharing or refresh, as every member configures it.
#[derive(Clone)]
pub struct RoundConfig {
    pub round: u64,
    /// Members who deal: everyone for a DKG; current members holding shares for a reshare.
    pub dealers: Set<Pk>,
    /// Members who receive shares (the new committee).
    pub players: Set<Pk>,
    pub previous: Option<Previous>,
    pub timeouts: Timeouts,
}

impl RoundConfig {
    /// The key epoch of the output: 0 for a DKG, the previous one plus one otherwise.
    pub fn key_epoch(&self) -> u64 {
        self.previous.as_ref().map_or(0, |p| p.key_epoch + 1)
    }
}

/// A member's secrets: its identity and, when dealing in a reshare, its previous shares.
pub struct Secrets {
    pub identity: Sk,
    pub consensus: Option<Share>,
    pub encryption: Option<Share>,
}

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

/// Why a round failed, and who was absent or faulty, as this member saw it.
#[derive(Clone, Debug)]
pub struct Report {
    pub round: u64,
    pub phase: Phase,
    pub reason: String,
    pub leader: Pk,
    /// Dealers whose dealing or log never arrived (or was withheld).
    pub missing: Vec<Pk>,
    /// Dealers with evidence of misbehaviour, and what.
    pub faulty: Vec<(Pk, String)>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "round {} failed in phase {:?}: {} (leader {})",
            self.round, self.phase, self.reason, self.leader
        )?;
        if !self.missing.is_empty() {
            let m: Vec<String> = self.missing.iter().map(|p| p.to_string()).collect();
            write!(f, "; missing: {}", m.join(", "))?;
        }
        for (p, why) in &self.faulty {
            write!(f, "; faulty {p}: {why}")?;
        }
        write!(f, "; run round {} next", self.round + 1)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Dealings out, acks in.
    Deal,
    /// Logs to the leader, proposal, echoes.
    Agree,
    /// Players publish `x_i·G1`.
    Publish,
    Done,
    Failed,
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
    pub phase: Phase,
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

#[derive(Debug, thiserror::Error)]
pub enum CeremonyError {
    #[error("invalid round: {0}")]
    Round(String),
    #[error("this identity is neither a dealer nor a player of the round")]
    NotAMember,
    #[error("a dealer of a reshare needs its shares of the previous epoch")]
    MissingPreviousShare,
    #[error("journal does not match this round: {0}")]
    Journal(String),
}

struct Finalized {
    digest: [u8; 32],
    consensus: Output<V, Pk>,
    encryption: Output<V, Pk>,
    shares: Option<MemberShares>,
}

pub struct Ceremony {
    cfg: RoundConfig,
    me: Pk,
    sk: Sk,
    rng: ChaCha20Rng,
    participants: Vec<Pk>,
    leader: Pk,
    cinfo: Info<V, Pk>,
    einfo: Info<V, Pk>,
    quorum: usize,
    phase: Phase,
    start: u64,
    replaying: bool,
    // dealer
    dealer: Option<(Dealer<V, Sk>, Dealer<V, Sk>)>,
    my_deals: BTreeMap<Pk, Dealing>,
    acks: BTreeSet<Pk>,
    my_log: Option<DealerLogs>,
    // player
    player: Option<(Player<V, Sk>, Player<V, Sk>)>,
    dealt: BTreeSet<Pk>,
    complaints: BTreeMap<Pk, String>,
    // everyone
    logs: BTreeMap<Pk, DealerLogs>,
    proposal: Option<([u8; 32], Proposal)>,
    proposed: bool,
    echoed: Option<[u8; 32]>,
    echoes: BTreeMap<[u8; 32], BTreeMap<u32, Sig>>,
    finalized: Option<Finalized>,
    publics: BTreeMap<u32, [u8; 48]>,
    /// What we sent each peer (answers `Resync`).
    sent: BTreeMap<Pk, Vec<Msg>>,
    committed_sent: bool,
    /// Peers known to have finalized (they sent a certificate or their `x_i·G1`).
    finished: BTreeSet<Pk>,
    last_resync: u64,
}

/// How often a member asks peers it still waits on to send again (p2p drops messages to
/// peers that are not connected yet, e.g. not started).
const RESYNC_MS: u64 = 1_000;

type Out = Vec<Effect>;

impl Ceremony {
    /// Sets up the round; `rng` is only for verification randomness (dealings derive theirs
    /// from the identity key and the round so that a restart re-sends identical dealings).
    pub fn new(
        cfg: RoundConfig,
        secrets: Secrets,
        rng_seed: [u8; 32],
    ) -> Result<(Self, Out), CeremonyError> {
        let me = secrets.identity.public_key();
        let is_dealer = cfg.dealers.position(&me).is_some();
        let is_player = cfg.players.position(&me).is_some();
        if !is_dealer && !is_player {
            return Err(CeremonyError::NotAMember);
        }
        let (cprev, eprev) = match &cfg.previous {
            Some(p) => (Some(p.consensus.clone()), Some(p.encryption.clone())),
            None => (None, None),
        };
        let info = |ns: &[u8], prev| {
            Info::<V, Pk>::new::<N3f1>(
                ns,
                cfg.round,
                prev,
                Mode::NonZeroCounter,
                Reveal::V1,
                cfg.dealers.clone(),
                cfg.players.clone(),
            )
            .map_err(|e| CeremonyError::Round(e.to_string()))
        };
        let cinfo = info(CONSENSUS_NAMESPACE, cprev)?;
        let einfo = info(ENCRYPTION_NAMESPACE, eprev)?;
        let participants: Vec<Pk> = cfg
            .dealers
            .iter()
            .chain(cfg.players.iter())
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let leader = participants[(cfg.round % participants.len() as u64) as usize].clone();
        let quorum = N3f1::quorum(cfg.players.len()) as usize;
        let mut out = Vec::new();
        let (dealer, my_deals) = if is_dealer {
            if cfg.previous.is_some()
                && (secrets.consensus.is_none() || secrets.encryption.is_none())
            {
                return Err(CeremonyError::MissingPreviousShare);
            }
            let seed = |ns: &[u8]| {
                let mut h = Sha256::new();
                h.update(DST_SEED);
                h.update(super::encode_secret(&secrets.identity));
                h.update(ns);
                h.update(cfg.round.to_be_bytes());
                h.update(cfg.dealers.encode());
                h.update(cfg.players.encode());
                if let Some(p) = &cfg.previous {
                    h.update(p.consensus.encode());
                    h.update(p.encryption.encode());
                }
                let seed: [u8; 32] = h.finalize().into();
                ChaCha20Rng::from_seed(seed)
            };
            let start = |ns, info: &Info<V, Pk>, share| {
                Dealer::<V, Sk>::start::<N3f1>(
                    seed(ns),
                    info.clone(),
                    secrets.identity.clone(),
                    share,
                )
                .map_err(|e| CeremonyError::Round(e.to_string()))
            };
            let (cd, cpub, cprivs) = start(CONSENSUS_NAMESPACE, &cinfo, secrets.consensus)?;
            let (ed, epub, eprivs) = start(ENCRYPTION_NAMESPACE, &einfo, secrets.encryption)?;
            let deals = cprivs
                .into_iter()
                .zip(eprivs)
                .map(|((p, cp), (_, ep))| {
                    (
                        p,
                        Dealing {
                            consensus: (cpub.clone(), cp),
                            encryption: (epub.clone(), ep),
                        },
                    )
                })
                .collect();
            (Some((cd, ed)), deals)
        } else {
            (None, BTreeMap::new())
        };
        let player = if is_player {
            let p = |info: &Info<V, Pk>| {
                Player::<V, Sk>::new(info.clone(), secrets.identity.clone())
                    .map_err(|e| CeremonyError::Round(e.to_string()))
            };
            Some((p(&cinfo)?, p(&einfo)?))
        } else {
            None
        };
        let mut c = Self {
            cfg,
            me,
            sk: secrets.identity,
            rng: ChaCha20Rng::from_seed(rng_seed),
            participants,
            leader,
            cinfo,
            einfo,
            quorum,
            phase: Phase::Deal,
            start: 0,
            replaying: false,
            dealer,
            my_deals,
            acks: BTreeSet::new(),
            my_log: None,
            player,
            dealt: BTreeSet::new(),
            complaints: BTreeMap::new(),
            logs: BTreeMap::new(),
            proposal: None,
            proposed: false,
            echoed: None,
            echoes: BTreeMap::new(),
            finalized: None,
            publics: BTreeMap::new(),
            sent: BTreeMap::new(),
            committed_sent: false,
            finished: BTreeSet::new(),
            last_resync: 0,
        };
        let deals: Vec<(Pk, Dealing)> = c
            .my_deals
            .iter()
            .map(|(p, d)| (p.clone(), d.clone()))
            .collect();
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
                Entry::Decided(msg) => out.extend(c.replay_decision(msg)?),
            }
        }
        c.replaying = false;
        let peers: Vec<Pk> = c.peers().cloned().collect();
        for p in peers {
            out.push(Effect::Send(p, Msg::Resync));
        }
        out.retain(|e| !matches!(e, Effect::Persist(_)));
        Ok((c, out))
    }

    /// Sets the clock origin for the phase deadlines (call once, before the first tick).
    pub fn set_start(&mut self, now_ms: u64) {
        self.start = now_ms;
    }

    pub fn me(&self) -> &Pk {
        &self.me
    }
    pub fn leader(&self) -> &Pk {
        &self.leader
    }
    pub fn participants(&self) -> &[Pk] {
        &self.participants
    }
    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn progress(&self) -> Progress {
        Progress {
            phase: self.phase,
            dealings: self.dealt.len(),
            dealers: self.cfg.dealers.len(),
            acks: self.acks.len(),
            players: self.cfg.players.len(),
            logs: self.logs.len(),
            echoes: self
                .echoed
                .and_then(|d| self.echoes.get(&d))
                .map_or(0, BTreeMap::len),
            quorum: self.quorum,
            publics: self.publics.len(),
            missing: self.missing(),
        }
    }

    fn peers(&self) -> impl Iterator<Item = &Pk> {
        self.participants.iter().filter(move |p| **p != self.me)
    }

    fn is_player(&self) -> bool {
        self.player.is_some() || self.cfg.players.position(&self.me).is_some()
    }

    /// Dealers we have neither a dealing nor a log from (players), or no log from (others).
    fn missing(&self) -> Vec<Pk> {
        let player = self.cfg.players.position(&self.me).is_some();
        self.cfg
            .dealers
            .iter()
            .filter(|d| !self.logs.contains_key(*d) && (!player || !self.dealt.contains(*d)))
            .cloned()
            .collect()
    }

    fn send(&mut self, out: &mut Out, to: Pk, msg: Msg) {
        if to == self.me {
            let me = self.me.clone();
            let effects = self.handle(me, msg);
            out.extend(effects);
            return;
        }
        self.sent.entry(to.clone()).or_default().push(msg.clone());
        out.push(Effect::Send(to, msg));
    }

    fn broadcast(&mut self, out: &mut Out, msg: Msg) {
        for p in self.participants.clone() {
            self.send(out, p, msg.clone());
        }
    }

    /// A message from authenticated peer `from`.
    pub fn receive(&mut self, from: Pk, msg: Msg) -> Out {
        if from == self.me || !self.participants.contains(&from) {
            return Vec::new();
        }
        self.handle(from, msg)
    }

    fn persist(&self, out: &mut Out, entry: Entry) {
        if !self.replaying {
            out.push(Effect::Persist(entry));
        }
    }

    /// Whether every other participant has finalized (a finished member may then stop).
    pub fn peers_finished(&self) -> bool {
        self.peers().all(|p| self.finished.contains(p))
    }

    fn handle(&mut self, from: Pk, msg: Msg) -> Out {
        let mut out = Vec::new();
        let remote = from != self.me;
        if remote && matches!(msg, Msg::Commit { .. } | Msg::Public(_)) {
            self.finished.insert(from.clone());
        }
        match msg {
            Msg::Deal(d) => {
                let Some((cp, ep)) = self.player.as_mut() else {
                    return out;
                };
                if self.dealt.contains(&from) || self.finalized.is_some() {
                    return out;
                }
                let d = *d;
                let c = cp.dealer_message::<N3f1>(
                    from.clone(),
                    d.consensus.0.clone(),
                    d.consensus.1.clone(),
                );
                let e = ep.dealer_message::<N3f1>(
                    from.clone(),
                    d.encryption.0.clone(),
                    d.encryption.1.clone(),
                );
                let mut why = Vec::new();
                let consensus = match c {
                    Ok(a) => a,
                    Err(err) => {
                        why.push(format!("consensus dealing: {err}"));
                        None
                    }
                };
                let encryption = match e {
                    Ok(a) => a,
                    Err(err) => {
                        why.push(format!("encryption dealing: {err}"));
                        None
                    }
                };
                if !why.is_empty() {
                    // A complaint: no ack, so an honest dealer must reveal this dealing in its
                    // log; one that does not cannot be selected.
                    tracing::warn!(dealer = %from, reason = %why.join("; "), "bad dealing");
                    self.complaints.insert(from.clone(), why.join("; "));
                }
                self.dealt.insert(from.clone());
                if remote {
                    self.persist(
                        &mut out,
                        Entry::Received {
                            from: from.clone(),
                            msg: Msg::Deal(Box::new(d)),
                        },
                    );
                }
                self.send(
                    &mut out,
                    from,
                    Msg::Ack {
                        consensus,
                        encryption,
                    },
                );
            }
            Msg::Ack {
                consensus,
                encryption,
            } => {
                let Some((cd, ed)) = self.dealer.as_mut() else {
                    return out;
                };
                if self.acks.contains(&from) {
                    return out;
                }
                let mut ok = false;
                if let Some(a) = consensus.clone() {
                    ok |= cd.receive_player_ack(from.clone(), a).is_ok();
                }
                if let Some(a) = encryption.clone() {
                    ok |= ed.receive_player_ack(from.clone(), a).is_ok();
                }
                self.acks.insert(from.clone());
                if remote && ok {
                    self.persist(
                        &mut out,
                        Entry::Received {
                            from,
                            msg: Msg::Ack {
                                consensus,
                                encryption,
                            },
                        },
                    );
                }
                if self.acks.len() == self.cfg.players.len() {
                    self.sign_log(&mut out);
                }
            }
            Msg::Log(l) => {
                if self.logs.contains_key(&from) || self.proposal.is_some() {
                    return out;
                }
                // Only the dealer's own logs, correctly signed for this round.
                let l = *l;
                let c = l.consensus.clone().check(&self.cinfo);
                let e = l.encryption.clone().check(&self.einfo);
                match (c, e) {
                    (Some((cd, _)), Some((ed, _))) if cd == from && ed == from => {}
                    _ => {
                        self.complaints
                            .insert(from, "log not signed by its dealer for this round".into());
                        return out;
                    }
                }
                self.logs.insert(from.clone(), l.clone());
                if remote {
                    self.persist(
                        &mut out,
                        Entry::Received {
                            from,
                            msg: Msg::Log(Box::new(l)),
                        },
                    );
                }
                if self.me == self.leader && self.logs.len() == self.cfg.dealers.len() {
                    self.propose(&mut out);
                }
            }
            Msg::Propose(p) => {
                if from != self.leader || self.proposal.is_some() {
                    return out;
                }
                let digest = self.digest(&p);
                self.proposal = Some((digest, (*p).clone()));
                if remote {
                    self.persist(
                        &mut out,
                        Entry::Received {
                            from,
                            msg: Msg::Propose(p.clone()),
                        },
                    );
                }
                if self.echoed.is_none() && self.is_player() {
                    match self.finalize(digest, &p) {
                        Ok(()) => {
                            let sig = self.sk.sign(ECHO_NAMESPACE, &self.echo_message(&digest));
                            self.echoed = Some(digest);
                            let msg = Msg::Echo { digest, sig };
                            if !self.replaying {
                                out.push(Effect::Persist(Entry::Decided(msg.clone())));
                            }
                            self.broadcast(&mut out, msg);
                        }
                        Err(why) => {
                            tracing::warn!(leader = %self.leader, reason = %why, "rejected proposal");
                            self.complaints
                                .insert(self.leader.clone(), format!("invalid proposal: {why}"));
                        }
                    }
                }
                self.try_commit(&mut out);
            }
            Msg::Echo { digest, sig } => {
                let Some(idx) = self.cfg.players.position(&from) else {
                    return out;
                };
                if !from.verify(ECHO_NAMESPACE, &self.echo_message(&digest), &sig) {
                    return out;
                }
                let set = self.echoes.entry(digest).or_default();
                if set.insert(idx as u32, sig.clone()).is_none() && remote {
                    self.persist(
                        &mut out,
                        Entry::Received {
                            from,
                            msg: Msg::Echo { digest, sig },
                        },
                    );
                }
                self.try_commit(&mut out);
            }
            Msg::Commit {
                digest,
                proposal,
                echoes,
            } => {
                if self.committed_sent {
                    return out;
                }
                // The certificate must be for the proposal we hold, or bring it.
                match (&proposal, &self.proposal) {
                    (Some(p), _) if self.digest(p) == digest => {}
                    (None, Some((d, _))) if *d == digest => {}
                    _ => return out,
                }
                let players: Vec<Pk> = self.cfg.players.iter().cloned().collect();
                let msg = self.echo_message(&digest);
                let valid: BTreeMap<u32, Sig> = echoes
                    .iter()
                    .filter(|(i, s)| {
                        players
                            .get(*i as usize)
                            .is_some_and(|p| p.verify(ECHO_NAMESPACE, &msg, s))
                    })
                    .cloned()
                    .collect();
                if valid.len() < self.quorum {
                    return out;
                }
                if remote {
                    self.persist(
                        &mut out,
                        Entry::Received {
                            from,
                            msg: Msg::Commit {
                                digest,
                                proposal: proposal.clone(),
                                echoes,
                            },
                        },
                    );
                }
                if self.proposal.is_none() {
                    if let Some(p) = proposal {
                        self.proposal = Some((digest, p));
                    }
                }
                self.echoes.entry(digest).or_default().extend(valid);
                self.try_commit(&mut out);
            }
            Msg::Public(p) => {
                let Some(idx) = self.cfg.players.position(&from) else {
                    return out;
                };
                if self.publics.contains_key(&(idx as u32)) {
                    return out;
                }
                if let Some(f) = &self.finalized {
                    if !public_matches(&f.encryption, idx as u32, &p) {
                        self.complaints
                            .insert(from, "published x_i·G1 does not match its share".into());
                        return out;
                    }
                }
                self.publics.insert(idx as u32, p);
                if remote {
                    self.persist(
                        &mut out,
                        Entry::Received {
                            from,
                            msg: Msg::Public(p),
                        },
                    );
                }
                self.try_done(&mut out);
            }
            Msg::Resync => {
                if let Some(msgs) = self.sent.get(&from) {
                    for m in msgs.clone() {
                        out.push(Effect::Send(from.clone(), m));
                    }
                }
            }
        }
        out
    }

    fn replay_decision(&mut self, msg: Msg) -> Result<Out, CeremonyError> {
        let mut out = Vec::new();
        match msg {
            Msg::Log(l) => {
                if self.my_log.is_none() {
                    // Restore exactly the log we signed (the acks we had then may differ from
                    // those replayed so far).
                    self.dealer = None;
                    self.my_log = Some((*l).clone());
                    let leader = self.leader.clone();
                    self.send(&mut out, leader, Msg::Log(l));
                }
            }
            Msg::Propose(p) => {
                if self.me != self.leader {
                    return Err(CeremonyError::Journal("a proposal by a non-leader".into()));
                }
                if !self.proposed {
                    self.proposed = true;
                    self.broadcast(&mut out, Msg::Propose(p));
                }
            }
            Msg::Echo { digest, .. } => {
                if self.echoed.is_some_and(|d| d != digest) {
                    return Err(CeremonyError::Journal("two different echoes".into()));
                }
            }
            _ => return Err(CeremonyError::Journal("unexpected decision".into())),
        }
        Ok(out)
    }

    /// Clock input: takes the phase decisions whose deadlines passed.
    pub fn tick(&mut self, now_ms: u64) -> Out {
        let mut out = Vec::new();
        let t = self.cfg.timeouts;
        let elapsed = now_ms.saturating_sub(self.start);
        if matches!(self.phase, Phase::Done | Phase::Failed) {
            return out;
        }
        if now_ms >= self.last_resync + RESYNC_MS {
            self.last_resync = now_ms;
            self.resync(&mut out, elapsed);
        }
        if elapsed >= t.deal_ms {
            self.sign_log(&mut out);
        }
        if elapsed >= t.deal_ms + t.logs_ms && self.me == self.leader && !self.proposed {
            self.propose(&mut out);
        }
        if elapsed >= t.deal_ms + t.logs_ms + t.agree_ms && self.finalized.is_none() {
            let why = self.agreement_failure();
            self.fail(&mut out, why);
        } else if elapsed >= t.deal_ms + t.logs_ms + t.agree_ms + t.publish_ms
            && self.phase == Phase::Publish
        {
            let needed = N3f1::quorum(self.cfg.players.len()) as usize;
            let missing: Vec<Pk> = self
                .cfg
                .players
                .iter()
                .enumerate()
                .filter(|(i, _)| !self.publics.contains_key(&(*i as u32)))
                .map(|(_, p)| p.clone())
                .collect();
            let reason = format!(
                "only {} of the {needed} x_i·G1 needed were published; missing players: {}",
                self.publics.len(),
                missing
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            self.fail(&mut out, reason);
        }
        out
    }

    /// Asks the peers we still wait on to send again what they sent us.
    fn resync(&mut self, out: &mut Out, elapsed: u64) {
        let t = self.cfg.timeouts;
        let mut ask: BTreeSet<Pk> = BTreeSet::new();
        if self.player.is_some() {
            ask.extend(
                self.cfg
                    .dealers
                    .iter()
                    .filter(|d| !self.dealt.contains(*d))
                    .cloned(),
            );
        }
        if self.me == self.leader && !self.proposed && elapsed >= t.deal_ms {
            ask.extend(
                self.cfg
                    .dealers
                    .iter()
                    .filter(|d| !self.logs.contains_key(*d))
                    .cloned(),
            );
        }
        if self.proposal.is_none() && elapsed >= t.deal_ms + t.logs_ms / 2 {
            ask.insert(self.leader.clone());
        }
        if self.phase == Phase::Publish {
            let have: BTreeSet<u32> = self.publics.keys().copied().collect();
            ask.extend(
                self.cfg
                    .players
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| !have.contains(&(*i as u32)))
                    .map(|(_, p)| p.clone()),
            );
        }
        ask.remove(&self.me);
        for p in ask {
            out.push(Effect::Send(p, Msg::Resync));
        }
    }

    fn agreement_failure(&mut self) -> String {
        match &self.proposal {
            None => {
                // Why the leader could not propose, as far as our logs tell.
                let logs = checked_logs(self.logs.values(), |l| &l.consensus, &self.cinfo);
                match observe::<V, Pk, N3f1>(&mut self.rng, logs, &Sequential) {
                    Err(e) => format!("no proposal from the leader; {e}"),
                    Ok(_) => "no proposal from the leader (enough logs existed: leader silent or cut off)".into(),
                }
            }
            Some((d, _)) => format!(
                "no certificate: {} of {} echoes on the leader's proposal",
                self.echoes.get(d).map_or(0, BTreeMap::len),
                self.quorum
            ),
        }
    }

    fn fail(&mut self, out: &mut Out, reason: String) {
        if matches!(self.phase, Phase::Done | Phase::Failed) {
            return;
        }
        let phase = self.phase;
        self.phase = Phase::Failed;
        let mut faulty: BTreeMap<Pk, String> = self.complaints.clone();
        // Faults provable from the signed logs we hold.
        let logs = checked_logs(self.logs.values(), |l| &l.encryption, &self.einfo);
        if let Err(
            commonware_cryptography::bls12381::dkg::feldman_desmedt::Failure::InsufficientLogs {
                faults,
                ..
            },
        ) = observe::<V, Pk, N3f1>(&mut self.rng, logs, &Sequential)
        {
            for (p, why) in faults.iter_pairs() {
                faulty.insert(p.clone(), why.to_string());
            }
        }
        out.push(Effect::Failed(Report {
            round: self.cfg.round,
            phase,
            reason,
            leader: self.leader.clone(),
            missing: self.missing(),
            faulty: faulty.into_iter().collect(),
        }));
    }

    fn sign_log(&mut self, out: &mut Out) {
        let Some((cd, ed)) = self.dealer.take() else {
            return;
        };
        let logs = DealerLogs {
            consensus: cd.finalize::<N3f1>(),
            encryption: ed.finalize::<N3f1>(),
        };
        self.my_log = Some(logs.clone());
        let msg = Msg::Log(Box::new(logs));
        self.persist(out, Entry::Decided(msg.clone()));
        // Only the leader needs logs (each carries t G2 points; n² copies cost decoding).
        let leader = self.leader.clone();
        self.send(out, leader, msg);
    }

    fn propose(&mut self, out: &mut Out) {
        if self.proposed || self.replaying {
            return;
        }
        let p = Proposal {
            logs: self.logs.values().cloned().collect(),
        };
        // Propose only what can finalize; otherwise members time out with the report.
        let logs = checked_logs(&p.logs, |l| &l.encryption, &self.einfo);
        let clogs = checked_logs(&p.logs, |l| &l.consensus, &self.cinfo);
        let ok = observe::<V, Pk, N3f1>(&mut self.rng, logs, &Sequential).is_ok()
            && observe::<V, Pk, N3f1>(&mut self.rng, clogs, &Sequential).is_ok();
        if !ok {
            tracing::warn!(
                logs = self.logs.len(),
                "not enough usable dealer logs to propose"
            );
            return;
        }
        self.proposed = true;
        let msg = Msg::Propose(Box::new(p));
        self.persist(out, Entry::Decided(msg.clone()));
        self.broadcast(out, msg);
    }

    fn digest(&self, p: &Proposal) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(DST_PROPOSAL);
        h.update(self.cfg.round.to_be_bytes());
        h.update(self.cfg.key_epoch().to_be_bytes());
        h.update(self.cfg.dealers.encode());
        h.update(self.cfg.players.encode());
        h.update(p.encode());
        h.finalize().into()
    }

    fn echo_message(&self, digest: &[u8; 32]) -> Vec<u8> {
        let mut m = self.cfg.round.to_be_bytes().to_vec();
        m.extend_from_slice(digest);
        m
    }

    /// Checks a proposal (each log signed by a distinct dealer of the round, both instances
    /// finalize) and computes our outputs and shares from it.
    fn finalize(&mut self, digest: [u8; 32], p: &Proposal) -> Result<(), String> {
        if self.finalized.as_ref().is_some_and(|f| f.digest == digest) {
            return Ok(());
        }
        if self.finalized.is_some() {
            return Err("finalized another proposal (more than f faulty players?)".into());
        }
        let mut seen = BTreeSet::new();
        for l in &p.logs {
            let c = l.consensus.clone().check(&self.cinfo).map(|(d, _)| d);
            let e = l.encryption.clone().check(&self.einfo).map(|(d, _)| d);
            match (c, e) {
                (Some(c), Some(e)) if c == e && seen.insert(c.clone()) => {}
                _ => return Err("a log is unsigned, mismatched or repeated".into()),
            }
        }
        let clogs = checked_logs(&p.logs, |l| &l.consensus, &self.cinfo);
        let elogs = checked_logs(&p.logs, |l| &l.encryption, &self.einfo);
        let finalized = match self.player.take() {
            Some((cp, ep)) => {
                let c = cp.finalize::<N3f1>(&mut self.rng, clogs, &Sequential);
                let e = ep.finalize::<N3f1>(&mut self.rng, elogs, &Sequential);
                match (c, e) {
                    (Ok((co, cs)), Ok((eo, es))) => {
                        let index = cs.index.get();
                        Finalized {
                            digest,
                            consensus: co,
                            encryption: eo,
                            shares: Some(MemberShares {
                                index,
                                consensus: cs,
                                encryption: es,
                            }),
                        }
                    }
                    (Err(e), _) | (_, Err(e)) => {
                        return Err(match e {
                            FinalizeError::Error(e) => format!("local state: {e}"),
                            FinalizeError::Failure(f) => f.to_string(),
                        })
                    }
                }
            }
            None if self.finalized.is_none() && self.cfg.players.position(&self.me).is_none() => {
                let c = observe::<V, Pk, N3f1>(&mut self.rng, clogs, &Sequential)
                    .map_err(|e| e.to_string())?;
                let e = observe::<V, Pk, N3f1>(&mut self.rng, elogs, &Sequential)
                    .map_err(|e| e.to_string())?;
                Finalized {
                    digest,
                    consensus: c,
                    encryption: e,
                    shares: None,
                }
            }
            None => return Err("player state already consumed".into()),
        };
        // Publics that arrived early are checked now.
        let bad: Vec<u32> = self
            .publics
            .iter()
            .filter(|(i, p)| !public_matches(&finalized.encryption, **i, p))
            .map(|(i, _)| *i)
            .collect();
        for i in bad {
            self.publics.remove(&i);
        }
        self.finalized = Some(finalized);
        Ok(())
    }

    fn try_commit(&mut self, out: &mut Out) {
        if self.committed_sent {
            return;
        }
        let Some((digest, proposal)) = self.proposal.clone() else {
            return;
        };
        let echoes = self.echoes.get(&digest).cloned().unwrap_or_default();
        if echoes.len() < self.quorum {
            return;
        }
        if let Err(why) = self.finalize(digest, &proposal) {
            self.fail(
                out,
                format!("cannot finalize the certified proposal: {why}"),
            );
            return;
        }
        self.committed_sent = true;
        self.phase = Phase::Publish;
        // Peers whose echo we hold have the proposal: they get the certificate alone.
        let echoed: BTreeSet<u32> = echoes.keys().copied().collect();
        let cert: Vec<(u32, Sig)> = echoes.into_iter().take(self.quorum).collect();
        for p in self.peers().cloned().collect::<Vec<_>>() {
            let has = self
                .cfg
                .players
                .position(&p)
                .is_some_and(|i| echoed.contains(&(i as u32)));
            let msg = Msg::Commit {
                digest,
                proposal: (!has).then(|| proposal.clone()),
                echoes: cert.clone(),
            };
            self.send(out, p, msg);
        }
        let f = self.finalized.as_ref().expect("finalized above");
        if self.cfg.previous.is_none() {
            if let Some(s) = &f.shares {
                let public = s.key_share().public_g1();
                self.broadcast(out, Msg::Public(public));
            }
        }
        self.try_done(out);
    }

    fn try_done(&mut self, out: &mut Out) {
        if self.phase != Phase::Publish {
            return;
        }
        let Some(f) = self.finalized.as_ref() else {
            return;
        };
        let n = self.cfg.players.len();
        let commitments = commitments(&f.encryption);
        let key = match &self.cfg.previous {
            Some(prev) => prev.key.reshared(n, &commitments),
            None => {
                if self.publics.len() < f.encryption.quorum::<N3f1>() as usize {
                    return;
                }
                let partials: Vec<([u8; 48], u32)> =
                    self.publics.iter().map(|(i, p)| (*p, *i)).collect();
                CommitteeKey::from_partials(n, &commitments, &partials)
            }
        };
        let key = match key {
            Ok(k) => k,
            Err(e) => {
                self.fail(out, format!("committee key: {e}"));
                return;
            }
        };
        let f = self.finalized.take().expect("checked");
        self.phase = Phase::Done;
        out.push(Effect::Done(Box::new(Outcome {
            round: self.cfg.round,
            key_epoch: self.cfg.key_epoch(),
            players: self.cfg.players.clone(),
            consensus: f.consensus,
            encryption: f.encryption,
            key,
            transcript: f.digest,
            shares: f.shares,
        })));
    }
}

/// The public polynomial's coefficients (compressed G2), as curtain-crypto takes them.
pub fn commitments(output: &Output<V, Pk>) -> Vec<[u8; 96]> {
    let sharing = output.public();
    let t = sharing.required() as usize;
    let bytes = sharing.encode();
    // The sharing encodes as mode ‖ total ‖ coefficients (length-prefixed); the last 96·t
    // bytes are the coefficients, checked below against the sharing's own evaluations.
    let tail = &bytes[bytes.len() - 96 * t..];
    tail.chunks_exact(96)
        .map(|c| c.try_into().expect("96-byte chunks"))
        .collect()
}

fn public_matches(output: &Output<V, Pk>, index: u32, p: &[u8; 48]) -> bool {
    let Ok(vk) = output.public().partial_public(Participant::new(index)) else {
        return false;
    };
    let vk: [u8; 96] = match vk.encode().as_ref().try_into() {
        Ok(v) => v,
        Err(_) => return false,
    };
    partial_g1_matches(&vk, p)
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
