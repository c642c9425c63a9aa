//! A ceremony among participants in one process, messages passed in memory: for simulations
//! and tests that need real committee keys of consecutive epochs (the binary runs each member
//! over authenticated p2p, `curtain dkg` / `curtain reshare`). Same state machine, same
//! messages (each crosses the codec), no network, no journal.

use super::ceremony::{Ceremony, CeremonyError, Effect, Outcome, Report, RoundConfig, Secrets};
use super::msg::Msg;
use super::{Pk, Sk};
use commonware_codec::{Decode as _, Encode as _};
use commonware_cryptography::bls12381::primitives::group::Share;
use commonware_cryptography::Signer as _;
use std::collections::{BTreeMap, VecDeque};
use std::num::NonZeroU32;

/// Runs one round among `members` (dealers ∪ players; `previous` holds the dealers' shares
/// `(consensus, encryption)` for a reshare) until every member is done or the round's
/// timeouts passed; returns each member's result in the order of `members`.
pub fn run(
    members: &[Sk],
    cfg: &RoundConfig,
    previous: &BTreeMap<Pk, (Share, Share)>,
) -> Result<Vec<Option<Result<Outcome, Report>>>, CeremonyError> {
    let n = members.len();
    let max = NonZeroU32::new(n as u32).ok_or(CeremonyError::NotAMember)?;
    let pks: Vec<Pk> = members.iter().map(|k| k.public_key()).collect();
    let mut nodes = Vec::with_capacity(n);
    let mut queue: VecDeque<(usize, Pk, Msg)> = VecDeque::new();
    let mut results: Vec<Option<Result<Outcome, Report>>> = (0..n).map(|_| None).collect();
    let apply = |who: usize,
                 out: Vec<Effect>,
                 queue: &mut VecDeque<(usize, Pk, Msg)>,
                 results: &mut Vec<Option<Result<Outcome, Report>>>| {
        for e in out {
            match e {
                Effect::Send(to, msg) => {
                    let Some(to) = pks.iter().position(|p| *p == to) else {
                        continue;
                    };
                    // as on the wire
                    if let Ok(msg) = Msg::decode_cfg(msg.encode(), &max) {
                        queue.push_back((to, pks[who].clone(), msg));
                    }
                }
                Effect::Persist(_) => {}
                Effect::Done(o) => results[who] = Some(Ok(*o)),
                Effect::Failed(r) => results[who] = Some(Err(r)),
            }
        }
    };
    for (i, k) in members.iter().enumerate() {
        let prev = previous.get(&k.public_key());
        let secrets = Secrets {
            identity: k.clone(),
            consensus: prev.map(|p| p.0.clone()),
            encryption: prev.map(|p| p.1.clone()),
        };
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&(i as u64).to_be_bytes());
        seed[8..16].copy_from_slice(&cfg.round.to_be_bytes());
        let (c, out) = Ceremony::new(cfg.clone(), secrets, seed)?;
        nodes.push(c);
        apply(i, out, &mut queue, &mut results);
    }
    let t = cfg.timeouts;
    let deadline = t.deal_ms + t.logs_ms + t.agree_ms + t.publish_ms + 1_000;
    let mut now = 0;
    while results.iter().any(Option::is_none) && now <= deadline {
        while let Some((to, from, msg)) = queue.pop_front() {
            let out = nodes[to].receive(from, msg);
            apply(to, out, &mut queue, &mut results);
        }
        now += 250;
        for (i, node) in nodes.iter_mut().enumerate() {
            let out = node.tick(now);
            apply(i, out, &mut queue, &mut results);
        }
    }
    Ok(results)
}

/// The keys of one key epoch made in process: the public outcome (every member's is the same)
/// and each player's shares.
pub struct EpochKeys {
    pub outcome: Outcome,
    pub shares: BTreeMap<Pk, super::MemberShares>,
}

impl EpochKeys {
    /// The previous-epoch input of a reshare of these keys.
    pub fn previous(&self) -> super::Previous {
        super::Previous {
            consensus: self.outcome.consensus.clone(),
            encryption: self.outcome.encryption.clone(),
            key: self.outcome.key.clone(),
            key_epoch: self.outcome.key_epoch,
        }
    }
}

/// Why an in-process round gave no keys.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("duplicate identities")]
    DuplicateIdentities,
    #[error("no participants")]
    NoParticipants,
    #[error(transparent)]
    Ceremony(#[from] CeremonyError),
    #[error("{member}: {report}")]
    Failed {
        member: Box<Pk>,
        report: Box<Report>,
    },
    #[error("{member} did not finish")]
    Unfinished { member: Box<Pk> },
}

fn set(keys: &[Sk]) -> Result<commonware_utils::ordered::Set<Pk>, LocalError> {
    commonware_utils::ordered::Set::try_from(
        keys.iter().map(|k| k.public_key()).collect::<Vec<_>>(),
    )
    .map_err(|_| LocalError::DuplicateIdentities)
}

/// Runs `cfg` among dealers ∪ players and collects the players' results; every participant
/// must finish.
fn collect(
    everyone: &[Sk],
    cfg: &RoundConfig,
    previous: &BTreeMap<Pk, (Share, Share)>,
) -> Result<EpochKeys, LocalError> {
    let results = run(everyone, cfg, previous)?;
    let mut outcome = None;
    let mut shares = BTreeMap::new();
    for (k, r) in everyone.iter().zip(results) {
        let o = match r {
            Some(Ok(o)) => o,
            Some(Err(report)) => {
                return Err(LocalError::Failed {
                    member: Box::new(k.public_key()),
                    report: Box::new(report),
                })
            }
            None => {
                return Err(LocalError::Unfinished {
                    member: Box::new(k.public_key()),
                })
            }
        };
        let mut o = o;
        if let Some(s) = o.shares.take() {
            shares.insert(k.public_key(), s);
        }
        outcome.get_or_insert(o);
    }
    Ok(EpochKeys {
        outcome: outcome.ok_or(LocalError::NoParticipants)?,
        shares,
    })
}

/// A fresh DKG among `members` (key epoch 0).
pub fn dkg(members: &[Sk], timeouts: super::Timeouts) -> Result<EpochKeys, LocalError> {
    let cfg = RoundConfig {
        round: 0,
        dealers: set(members)?,
        players: set(members)?,
        previous: None,
        timeouts,
    };
    collect(members, &cfg, &BTreeMap::new())
}

/// Reshares `prev` (dealt by `dealers`, who hold its shares) to `players`: key epoch + 1,
/// same public keys. `players == dealers` is a refresh.
pub fn reshare(
    prev: &EpochKeys,
    dealers: &[Sk],
    players: &[Sk],
    timeouts: super::Timeouts,
) -> Result<EpochKeys, LocalError> {
    let cfg = RoundConfig {
        round: 0,
        dealers: set(dealers)?,
        players: set(players)?,
        previous: Some(prev.previous()),
        timeouts,
    };
    let mut everyone: Vec<Sk> = dealers.iter().chain(players).cloned().collect();
    everyone.sort_by_key(|k| k.public_key());
    everyone.dedup_by_key(|k| k.public_key());
    let previous = prev
        .shares
        .iter()
        .map(|(pk, s)| (pk.clone(), (s.consensus.clone(), s.encryption.clone())))
        .collect();
    collect(&everyone, &cfg, &previous)
}
