//! What a round is (SPEC.md §9.1): the configuration every member shares, this member's
//! secrets, and [`Round`], the fixed context derived from them (commonware `Info` of both
//! instances, participants, leader, echo quorum, clock origin) that every phase reads and none
//! changes.

use super::error::CeremonyError;
use crate::dkg::msg::Proposal;
use crate::dkg::{Pk, Sk, V};
use commonware_codec::Encode as _;
use commonware_cryptography::bls12381::dkg::feldman_desmedt::{Info, Output, Reveal};
use commonware_cryptography::bls12381::primitives::{group::Share, sharing::Mode};
use commonware_cryptography::Signer as _;
use commonware_utils::{ordered::Set, Faults as _, N3f1};
use curtain_crypto::CommitteeKey;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeSet;

/// commonware `Info` namespaces: one per instance, so the two keys are independent.
pub const CONSENSUS_NAMESPACE: &[u8] = b"curtain/v1/dkg/consensus";
pub const ENCRYPTION_NAMESPACE: &[u8] = b"curtain/v1/dkg/encryption";
pub(super) const ECHO_NAMESPACE: &[u8] = b"curtain/v1/dkg/echo";
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

/// The round as this member sees it; fixed once the ceremony is built (but for the clock
/// origin, set once before the first tick).
pub(super) struct Round {
    pub(super) cfg: RoundConfig,
    pub(super) me: Pk,
    pub(super) sk: Sk,
    /// Dealers ∪ players, sorted by identity.
    pub(super) participants: Vec<Pk>,
    pub(super) leader: Pk,
    /// commonware's round information of the consensus-key instance.
    pub(super) cinfo: Info<V, Pk>,
    /// … and of the encryption-key instance.
    pub(super) einfo: Info<V, Pk>,
    /// Echoes that make a certificate: `N3f1::quorum(|players|)`.
    pub(super) quorum: usize,
    /// The clock origin of the phase deadlines (ms).
    pub(super) start: u64,
}

impl Round {
    pub(super) fn new(cfg: RoundConfig, identity: Sk) -> Result<Self, CeremonyError> {
        let me = identity.public_key();
        if cfg.dealers.position(&me).is_none() && cfg.players.position(&me).is_none() {
            return Err(CeremonyError::NotAMember);
        }
        let info = |ns: &[u8], prev: Option<&Output<V, Pk>>| {
            Info::<V, Pk>::new::<N3f1>(
                ns,
                cfg.round,
                prev.cloned(),
                Mode::NonZeroCounter,
                Reveal::V1,
                cfg.dealers.clone(),
                cfg.players.clone(),
            )
        };
        let cinfo = info(
            CONSENSUS_NAMESPACE,
            cfg.previous.as_ref().map(|p| &p.consensus),
        )?;
        let einfo = info(
            ENCRYPTION_NAMESPACE,
            cfg.previous.as_ref().map(|p| &p.encryption),
        )?;
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
        Ok(Self {
            cfg,
            me,
            sk: identity,
            participants,
            leader,
            cinfo,
            einfo,
            quorum,
            start: 0,
        })
    }

    pub(super) fn is_dealer(&self) -> bool {
        self.cfg.dealers.position(&self.me).is_some()
    }

    pub(super) fn is_player(&self) -> bool {
        self.cfg.players.position(&self.me).is_some()
    }

    pub(super) fn is_leader(&self) -> bool {
        self.me == self.leader
    }

    /// A player's index (its place among the sorted players).
    pub(super) fn player_index(&self, pk: &Pk) -> Option<u32> {
        self.cfg.players.position(pk).map(|i| i as u32)
    }

    /// Every participant but this member.
    pub(super) fn peers(&self) -> impl Iterator<Item = &Pk> {
        self.participants.iter().filter(move |p| **p != self.me)
    }

    /// What members echo and certificates carry:
    /// `SHA-256(DST ‖ round ‖ key_epoch ‖ dealers ‖ players ‖ enc(proposal))`.
    pub(super) fn digest(&self, p: &Proposal) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(DST_PROPOSAL);
        h.update(self.cfg.round.to_be_bytes());
        h.update(self.cfg.key_epoch().to_be_bytes());
        h.update(self.cfg.dealers.encode());
        h.update(self.cfg.players.encode());
        h.update(p.encode());
        h.finalize().into()
    }

    /// The message an echo signs: `round ‖ digest`.
    pub(super) fn echo_message(&self, digest: &[u8; 32]) -> Vec<u8> {
        let mut m = self.cfg.round.to_be_bytes().to_vec();
        m.extend_from_slice(digest);
        m
    }
}
