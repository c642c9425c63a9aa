//! What the outside world (the client API, tests) holds of a running member: submissions go
//! to the admission actor; reads take a snapshot from the core.

use super::actors::admission;
use super::actors::persist::{EvidenceHub, ReleaseLatency};
use super::actors::SharedMember;
use super::core::mempool::{Admission, Source};
use super::core::rln::SlashingEvidence;
use crate::ledger::envelope::Envelope;
use crate::ledger::{CtId, Height, KeyEpoch};
use crate::protocol::json::{CommitteeInfo, CommitteeInfos, RlnRegistry, TxStatus};

/// A running member, for its client API.
#[derive(Clone)]
pub struct NodeHandle {
    member: SharedMember,
    admit: admission::Mailbox,
    latency: ReleaseLatency,
    evidence: EvidenceHub,
}

impl NodeHandle {
    pub(crate) fn new(
        member: SharedMember,
        admit: admission::Mailbox,
        latency: ReleaseLatency,
        evidence: EvidenceHub,
    ) -> Self {
        Self {
            member,
            admit,
            latency,
            evidence,
        }
    }

    /// The evidence this member holds (durable, verified), and new pieces as they come.
    pub fn evidence(&self) -> &EvidenceHub {
        &self.evidence
    }

    /// Admits client submissions; what was accepted is durable when this returns, and is
    /// gossiped to the other members. Submissions are admitted in batches with whatever else
    /// is queued (one batched validity check); a full queue answers `Reject::Full`.
    pub async fn submit(&self, source: Source, cts: Vec<Envelope>) -> Vec<Admission> {
        self.admit.submit(source, cts).await
    }

    pub fn finalized_height(&self) -> Height {
        self.member.with(|m| m.finalized_height())
    }

    /// The committee of the key epoch wallets label with now, the one active at the next
    /// height: its members, n and t (a resharing keeps the key and its id).
    pub fn committee_now(&self, infos: &CommitteeInfos) -> CommitteeInfo {
        match self
            .member
            .with(|m| m.current_key().map(|(epoch, _)| epoch))
        {
            Some(epoch) => {
                let mut info = infos.at(epoch).clone();
                info.key_epoch = epoch;
                info
            }
            None => infos.newest().clone(),
        }
    }

    /// The next height to be released here (released heights are below it).
    pub fn next_release(&self) -> Height {
        self.member.with(|m| m.next_release())
    }

    /// Where a ciphertext stands here short of its release (which the release stream
    /// reports): pending, or in a block final here; `None` if not known here (never seen,
    /// released, or rejected).
    pub fn tx_status(&self, id: &CtId) -> Option<TxStatus> {
        self.member.with(|m| {
            if m.is_pending(id) {
                return Some(TxStatus::Pending);
            }
            let (height, namespace, position) = m.ordered_at(id)?;
            Some(TxStatus::Ordered {
                height,
                namespace,
                position,
            })
        })
    }

    /// Finalization-to-durable-release latencies (ms) of recent heights with ciphertexts.
    pub fn release_latencies_ms(&self) -> Vec<f64> {
        self.latency.recent_ms()
    }

    /// Slashing evidence held here (double signals in anonymous namespaces), oldest first.
    pub fn slashing_evidence(&self) -> Vec<SlashingEvidence> {
        self.member.with(|m| {
            m.rln()
                .map(|st| st.evidence().cloned().collect())
                .unwrap_or_default()
        })
    }

    /// The members' registry as released here: `(released height, leaves, current root,
    /// roots the next block accepts)`; `None` without anonymous namespaces.
    pub fn rln_registry(&self) -> Option<RlnRegistry> {
        self.member.with(|m| {
            let st = m.rln()?;
            let next = m.finalized_height() + 1;
            let hex = |r: &curtain_circuits::Fr| hex::encode(curtain_circuits::fr_to_be_bytes(r));
            Some(RlnRegistry {
                released_height: Height(st.registry().released()),
                leaves: st.registry().tree().next_index(),
                root: hex(&st.registry().root()),
                accepted_roots: st
                    .registry()
                    .roots_for_block(st.rules(), next.get())
                    .unwrap_or_default()
                    .iter()
                    .map(hex)
                    .collect(),
                epoch: st.rules().epoch_of(next.get()),
                next_height: next,
            })
        })
    }

    /// The leaves of the members' tree in index order (hex; `0` for a removed member), so a
    /// wallet can rebuild the tree and its own path.
    pub fn rln_leaves(&self) -> Option<Vec<String>> {
        self.member.with(|m| {
            let tree = m.rln()?.registry().tree();
            Some(
                (0..tree.next_index())
                    .map(|i| {
                        hex::encode(curtain_circuits::fr_to_be_bytes(
                            &tree.leaf(i).expect("below next index"),
                        ))
                    })
                    .collect(),
            )
        })
    }

    /// `(key epoch, member)` of every member caught sending wrong shares.
    pub fn faulty_members(&self) -> Vec<(KeyEpoch, u32)> {
        self.member.with(|m| m.faulty_members().copied().collect())
    }
}
