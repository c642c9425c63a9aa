//! The committee of a run: its keys, dealt by trusted dealers, and whole members started
//! (each with its behaviour), killed and restarted on the deterministic runtime.

use crate::adversary::{Behaviour, Censor, Pk, Tap};
use crate::scenario::{Scenario, Wire, INCLUSION, NAMESPACE};
use commonware_codec::Encode as _;
use commonware_cryptography::bls12381::{dkg::feldman_desmedt::Output, primitives::group::Share};
use commonware_cryptography::{
    bls12381::{
        dkg::feldman_desmedt::deal as consensus_deal,
        primitives::{sharing::Mode, variant::MinSig},
    },
    ed25519, Signer as _,
};
use commonware_p2p::simulated::{self, SplitTarget};
use commonware_runtime::{deterministic, Handle, IoBuf, Quota, Spawner as _, Supervisor as _};
use commonware_utils::channel::oneshot;
use commonware_utils::{channel::mpsc, ordered::Set, N3f1, NZU32};
use curtain::ledger::block::BlockLimits;
use curtain::ledger::committee::{committee_id, CheckedCommittee, CommitteeParts};
use curtain::ledger::finality::ConsensusPublic;
use curtain::ledger::release::ReleasedBatch;
use curtain::ledger::{Height, KeyEpoch};
use curtain::node::{
    self as node, channel,
    core::attest::{Attestor, CommitteeIdentity},
    core::evidence::{Filter, Record},
    core::member::Member,
    core::mempool::{Mempool, MempoolConfig},
    core::reveal::{Collector, CollectorConfig},
    Channels, ConsensusScheme, EngineConfig, NodeHandle, Timeouts,
};
use curtain_crypto::{deal, CommitteeKey, KeyShare};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The committee's keys, from trusted dealers: identities, the consensus threshold key and
/// the encryption key.
pub(crate) struct Keys {
    /// Identities, sorted: a member's index is its place in the sorted set.
    pub(crate) pks: Vec<Pk>,
    /// The identity keys, in the same order.
    pub(crate) sks: Vec<ed25519::PrivateKey>,
    pub(crate) participants: Set<Pk>,
    pub(crate) output: Output<MinSig, Pk>,
    pub(crate) consensus_shares: Vec<Share>,
    pub(crate) key: Arc<CommitteeKey>,
}

impl Keys {
    /// Keys for `n` members (threshold `2f + 1`), and the members' encryption key shares.
    pub(crate) fn deal(n: usize, rng: &mut deterministic::Context) -> (Self, Vec<KeyShare>) {
        let keys: Vec<ed25519::PrivateKey> =
            (0..n as u64).map(ed25519::PrivateKey::from_seed).collect();
        let mut by_pk: Vec<(ed25519::PublicKey, ed25519::PrivateKey)> =
            keys.into_iter().map(|k| (k.public_key(), k)).collect();
        by_pk.sort_by(|a, b| a.0.cmp(&b.0));
        let pks: Vec<ed25519::PublicKey> = by_pk.iter().map(|(p, _)| p.clone()).collect();
        let participants = Set::try_from(pks.clone()).expect("distinct");
        let (output, consensus_shares) = consensus_deal::<MinSig, _, N3f1>(
            &mut *rng,
            Mode::NonZeroCounter,
            participants.clone(),
        )
        .expect("consensus deal");
        let (key, shares) = deal(n, threshold(n), rng).expect("deal");
        let keys = Self {
            consensus_shares: pks
                .iter()
                .map(|pk| consensus_shares.get_value(pk).expect("share").clone())
                .collect(),
            pks,
            sks: by_pk.into_iter().map(|(_, k)| k).collect(),
            participants,
            output,
            key: Arc::new(key),
        };
        (keys, shares)
    }

    /// What members' signatures are checked against: the committee identity over the dealt
    /// keys, as `GET /v1/committee` would serve it.
    pub(crate) fn signatures(&self) -> CommitteeIdentity {
        let members: Vec<[u8; 32]> = self
            .pks
            .iter()
            .map(|p| p.as_ref().try_into().expect("32 bytes"))
            .collect();
        CommitteeIdentity {
            id: committee_id(&CommitteeParts {
                key_epoch: KeyEpoch(0),
                n: self.pks.len() as u32,
                t: self.key.t() as u32,
                encryption_key: &self.key.to_bytes(),
                consensus_public: &self.output.public().encode(),
                members: &members,
            }),
            members,
        }
    }

    /// The committee as a third party (and a member, for its peers' evidence) checks
    /// evidence against it.
    pub(crate) fn checked(&self) -> CheckedCommittee {
        let signatures = self.signatures();
        let consensus = ConsensusPublic::from_bytes(&self.output.public().encode(), self.pks.len())
            .expect("the committee's polynomial decodes");
        CheckedCommittee {
            id: signatures.id,
            key_epoch: KeyEpoch(0),
            key: (*self.key).clone(),
            verifier: consensus.verifier(),
            consensus,
            members: signatures.members,
        }
    }
}

/// `2f + 1` of `n = 3f + 1` (rounded down).
fn threshold(n: usize) -> usize {
    let f = (n - 1) / 3;
    2 * f + 1
}

/// Each member's encryption key share, encoded: the member with wrong shares gets the share
/// of a second, unrelated dealing.
pub(crate) fn member_shares(
    sc: &Scenario,
    shares: Vec<KeyShare>,
    rng: &mut deterministic::Context,
) -> Vec<Vec<u8>> {
    let (_, wrong) = deal(sc.n, threshold(sc.n), rng).expect("deal");
    shares
        .into_iter()
        .zip(wrong)
        .enumerate()
        .map(|(i, (share, wrong_share))| {
            let share = if Some(i) == sc.wrong_shares {
                wrong_share
            } else {
                share
            };
            share.to_bytes().to_vec()
        })
        .collect()
}

/// The running members, by index.
pub(crate) struct Members {
    /// None for an absent member, the twins (neither is the member, so they get no
    /// submissions and their logs are not checked) and a crashed member.
    pub(crate) handles: Vec<Option<NodeHandle>>,
    /// Release streams (a crashed member's stays, with what it released before).
    pub(crate) streams: Vec<Option<mpsc::UnboundedReceiver<ReleasedBatch>>>,
    /// Every task a member runs (both twins').
    tasks: Vec<Vec<Handle<()>>>,
}

impl Members {
    /// Starts every member but the absent one, each with its scenario behaviour.
    pub(crate) async fn start(committee: &Committee, sc: &Scenario) -> Self {
        let mut members = Self {
            handles: Vec::new(),
            streams: Vec::new(),
            tasks: Vec::new(),
        };
        for i in 0..sc.n {
            if Some(i) == sc.absent {
                members.handles.push(None);
                members.streams.push(None);
                members.tasks.push(Vec::new());
                continue;
            }
            let mut started = committee
                .start(i, sc.behaviour(i, &committee.keys.pks))
                .await;
            if started.len() == 1 {
                let (task, handle, rx) = started.pop().expect("one");
                members.handles.push(Some(handle));
                members.streams.push(Some(rx));
                members.tasks.push(vec![task]);
            } else {
                members.handles.push(None);
                members.streams.push(None);
                members
                    .tasks
                    .push(started.into_iter().map(|(task, _, _)| task).collect());
            }
        }
        members
    }

    /// kill -9: every task of the member stops; unsynced writes may be lost.
    pub(crate) async fn kill(&mut self, committee: &Committee, who: usize) {
        for task in std::mem::take(&mut self.tasks[who]) {
            task.abort();
            let _ = task.await;
        }
        self.handles[who] = None;
        *committee.slots[who].lock().unwrap() = None;
    }

    /// Starts a killed member again, honest, on its storage.
    pub(crate) async fn restart(&mut self, committee: &Committee, who: usize) {
        let (task, handle, rx) = committee
            .start(who, Behaviour::Honest)
            .await
            .pop()
            .expect("one member");
        self.tasks[who] = vec![task];
        self.handles[who] = Some(handle);
        self.streams[who] = Some(rx);
    }

    /// Per member, its evidence book.
    pub(crate) fn evidence(&self) -> Vec<Vec<Record>> {
        self.handles
            .iter()
            .map(|h| {
                h.as_ref()
                    .map(|h| h.evidence().page(&Filter::default(), 0, usize::MAX))
                    .unwrap_or_default()
            })
            .collect()
    }

    /// Per member, the members it named for wrong shares.
    pub(crate) fn faulty(&self) -> Vec<Vec<u32>> {
        self.handles
            .iter()
            .map(|h| {
                h.as_ref()
                    .map(|h| h.faulty_members().into_iter().map(|(_, m)| m).collect())
                    .unwrap_or_default()
            })
            .collect()
    }
}

/// Everything needed to start (or restart) a member.
pub(crate) struct Committee {
    pub(crate) context: deterministic::Context,
    pub(crate) oracle: simulated::Oracle<Pk, deterministic::Context>,
    pub(crate) keys: Keys,
    /// Encryption key shares, encoded.
    pub(crate) shares: Vec<Vec<u8>>,
    pub(crate) wire: Arc<Mutex<Wire>>,
    /// Each member's current handle, for the share observer.
    pub(crate) slots: Vec<Arc<Mutex<Option<NodeHandle>>>>,
}

type Started = (
    Handle<()>,
    NodeHandle,
    mpsc::UnboundedReceiver<ReleasedBatch>,
);

impl Committee {
    /// Starts member `i` (twins: both copies), each in its own task so a crash aborts
    /// everything it runs.
    pub(crate) async fn start(&self, i: usize, behaviour: Behaviour) -> Vec<Started> {
        let pk = &self.keys.pks[i];
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
            channel::LISTS,
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
            if id == channel::LISTS && matches!(behaviour, Behaviour::Censor(Censor::SplitsLists)) {
                self.flood_lists(tx.clone());
            }
            let censor = match &behaviour {
                Behaviour::Censor(c) if id == channel::GOSSIP => Some(*c),
                _ => None,
            };
            let tap = move |inner| Tap { inner, censor };
            let (primary_tx, secondary_tx) = tx.split_with(self.forwarder(i, id, &behaviour));
            match &behaviour {
                Behaviour::Twins { primary, .. } => {
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
                    sides[0].push((primary_tx, tap(primary_rx)));
                    sides[1].push((secondary_tx, tap(secondary_rx)));
                }
                _ => sides[0].push((primary_tx, tap(rx))),
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
                lists: ch.next().unwrap(),
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
        let keys = &self.keys;
        let scheme = ConsensusScheme::signer(
            NAMESPACE,
            keys.participants.clone(),
            keys.output.public().clone(),
            keys.consensus_shares[i].clone(),
        )
        .expect("signer");
        let key = &keys.key;
        let member = Member::new(
            Mempool::new(MempoolConfig::default(), KeyEpoch(0), key.clone()),
            Collector::new(
                CollectorConfig::default(),
                BTreeMap::from([(KeyEpoch(0), key.clone())]),
                BTreeMap::from([(
                    KeyEpoch(0),
                    KeyShare::from_bytes(&self.shares[i]).expect("share"),
                )]),
                Height(1),
                Attestor::new(
                    keys.sks[i].clone(),
                    BTreeMap::from([(KeyEpoch(0), keys.signatures())]),
                ),
            ),
            BlockLimits::default(),
        )
        .with_inclusion(INCLUSION);
        EngineConfig::single(
            keys.pks[i].clone(),
            keys.pks.clone(),
            scheme,
            member,
            Timeouts::default(),
            partition.to_string(),
            keys.checked(),
        )
    }
}
