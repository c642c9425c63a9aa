//! The ceremony's shell (SPEC.md §9.2, §9.5): runs one member's [`Ceremony`] over a
//! commonware p2p channel and a [`Journal`], on any commonware runtime. It opens the journal
//! and rebuilds the member from it after a restart, carries out the ceremony's effects in
//! order (a `Persist` is durable before anything after it leaves), feeds it the peers'
//! messages and the clock, and reports progress. `curtain dkg` runs it on the tokio runtime
//! over authenticated p2p; tests run it on the deterministic runtime over simulated p2p.
//!
//! It owns no protocol decision (the ceremony does) and no files but the journal's store
//! (the caller writes the outputs).

use super::ceremony::{Ceremony, CeremonyError, Effect, Outcome, Progress, Report};
use super::ceremony::{RoundConfig, Secrets};
use super::journal::{Journal, JournalError, Store};
use super::msg::Msg;
use super::Pk;
use commonware_codec::{Copying, Decode as _, Encode as _};
use commonware_p2p::{Receiver, Recipients, Sender};
use commonware_runtime::Clock;
use futures::future::{select, Either};
use std::collections::BTreeSet;
use std::num::NonZeroU32;
use std::time::{Duration, SystemTime};

/// How often the ceremony's clock advances (its deadlines and resync requests).
const TICK: Duration = Duration::from_millis(100);
/// At most one progress report per this much time (and only when something changed).
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// One member's part in a round.
pub struct Member<J> {
    pub config: RoundConfig,
    pub secrets: Secrets,
    /// The ceremony's verification randomness.
    pub rng_seed: [u8; 32],
    /// Where its journal lives, and what binds the journal to this round (kind, key epoch,
    /// round: part of the journal's key).
    pub journal: J,
    pub journal_context: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Ceremony(#[from] CeremonyError),
    /// The round failed at this member (the report says why, and who to blame).
    #[error("{0}")]
    Failed(Box<Report>),
    #[error("p2p network stopped")]
    NetworkClosed,
}

/// One member's ceremony, its channel to the other participants, and its journal.
pub struct Driver<E, S, R, J>
where
    E: Clock,
    S: Sender<PublicKey = Pk>,
    R: Receiver<PublicKey = Pk>,
    J: Store,
{
    context: E,
    ceremony: Ceremony,
    sender: S,
    receiver: R,
    journal: Journal<J>,
    /// The participant count: every length a peer's message may carry is bounded by it.
    max: NonZeroU32,
    /// The ceremony's clock origin.
    origin: SystemTime,
    /// Effects not carried out yet.
    pending: Vec<Effect>,
    resumed: usize,
    last_progress: Option<(SystemTime, Progress)>,
}

impl<E, S, R, J> Driver<E, S, R, J>
where
    E: Clock,
    S: Sender<PublicKey = Pk>,
    R: Receiver<PublicKey = Pk>,
    J: Store,
{
    /// Opens the member's journal and starts its ceremony: rebuilt from the journal if it
    /// holds entries (a restart: decisions restored, messages re-sent, every peer asked to
    /// resync), fresh otherwise. The round's deadlines count from now.
    pub async fn start(
        context: E,
        member: Member<J>,
        sender: S,
        receiver: R,
    ) -> Result<Self, DriverError> {
        let Member {
            config,
            secrets,
            rng_seed,
            journal,
            journal_context,
        } = member;
        let participants: BTreeSet<&Pk> = config.dealers.iter().chain(&config.players).collect();
        let max = NonZeroU32::new(participants.len() as u32).ok_or(CeremonyError::NotAMember)?;
        let (journal, entries) =
            Journal::open(journal, &secrets.identity, &journal_context, max).await?;
        let resumed = entries.len();
        let (mut ceremony, pending) = if entries.is_empty() {
            Ceremony::new(config, secrets, rng_seed)?
        } else {
            Ceremony::restore(config, secrets, rng_seed, entries)?
        };
        ceremony.set_start(0);
        let origin = context.current();
        Ok(Self {
            context,
            ceremony,
            sender,
            receiver,
            journal,
            max,
            origin,
            pending,
            resumed,
            last_progress: None,
        })
    }

    /// The ceremony (its leader, progress, phase).
    pub fn ceremony(&self) -> &Ceremony {
        &self.ceremony
    }

    /// How many journal entries the member was rebuilt from (0: a fresh start).
    pub fn resumed(&self) -> usize {
        self.resumed
    }

    /// Runs the round until this member is done, calling `progress` when the ceremony's
    /// progress changed (at most every 250 ms). The caller writes the outcome, then calls
    /// [`Self::linger`] so that peers still finishing get their answers.
    pub async fn run(
        &mut self,
        mut progress: impl FnMut(&Progress),
    ) -> Result<Box<Outcome>, DriverError> {
        let mut next_tick = self.context.current() + TICK;
        loop {
            if let Some(outcome) = self.apply().await? {
                return Ok(outcome);
            }
            self.report(&mut progress);
            next_tick = self.step(next_tick).await?;
        }
    }

    /// After [`Self::run`]: keeps answering peers (their `Resync`) until every peer has
    /// finished or `max` passed.
    pub async fn linger(&mut self, max: Duration) -> Result<(), DriverError> {
        let until = self.context.current() + max;
        let mut next_tick = self.context.current() + TICK;
        loop {
            self.apply().await?;
            if self.ceremony.peers_finished() || self.context.current() >= until {
                return Ok(());
            }
            next_tick = self.step(next_tick).await?;
        }
    }

    /// Waits for a peer's message or the next tick, and feeds it to the ceremony; returns
    /// the tick after.
    async fn step(&mut self, next_tick: SystemTime) -> Result<SystemTime, DriverError> {
        let message = {
            let recv = Box::pin(self.receiver.recv());
            let tick = Box::pin(self.context.sleep_until(next_tick));
            match select(recv, tick).await {
                Either::Left((message, _)) => Some(message),
                Either::Right(((), _)) => None,
            }
        };
        let Some(message) = message else {
            self.pending = self.ceremony.tick(self.now_ms());
            return Ok(self.context.current() + TICK);
        };
        let Ok((from, bytes)) = message else {
            return Err(DriverError::NetworkClosed);
        };
        match Msg::decode_cfg(Copying(bytes.as_ref()), &self.max) {
            Ok(msg) => {
                tracing::debug!(from = %from, kind = msg.kind(), "received");
                self.pending = self.ceremony.receive(from, msg);
            }
            Err(e) => tracing::warn!(from = %from, error = %e, "undecodable ceremony message"),
        }
        Ok(next_tick)
    }

    /// Carries out the pending effects in order; returns the outcome if the round is done.
    async fn apply(&mut self) -> Result<Option<Box<Outcome>>, DriverError> {
        let mut done = None;
        for effect in std::mem::take(&mut self.pending) {
            match effect {
                Effect::Persist(entry) => self.journal.append(&entry).await?,
                Effect::Send(to, msg) => {
                    self.sender.send(Recipients::One(to), msg.encode(), true);
                }
                Effect::Done(outcome) => done = Some(outcome),
                Effect::Failed(report) => return Err(DriverError::Failed(Box::new(report))),
            }
        }
        Ok(done)
    }

    fn report(&mut self, progress: &mut impl FnMut(&Progress)) {
        let now = self.context.current();
        let p = self.ceremony.progress();
        let due = match &self.last_progress {
            None => true,
            Some((at, last)) => {
                *last != p && now.duration_since(*at).unwrap_or_default() >= PROGRESS_EVERY
            }
        };
        if due {
            progress(&p);
            self.last_progress = Some((now, p));
        }
    }

    /// Milliseconds since the round started here.
    fn now_ms(&self) -> u64 {
        self.context
            .current()
            .duration_since(self.origin)
            .unwrap_or_default()
            .as_millis() as u64
    }
}
