//! The committee identity (SPEC.md §7.4): one 32-byte digest of everything a verifier trusts
//! about a committee — its encryption key, its consensus public polynomial, `n`, `t`, its key
//! epoch and its members in index order. A wallet pins it; `GET /v1/committee` serves it; a
//! verifier recomputes it from what it was served and uses nothing it did not hash.
//!
//! Node-free: the node computes it from its committee file and the SDK from
//! [`CommitteeInfo`], both through [`committee_id`].

use super::finality::{ConsensusPublic, FinalityVerifier};
use super::KeyEpoch;
use crate::protocol::json::CommitteeInfo;
use curtain_crypto::CommitteeKey;
use sha2::{Digest as _, Sha256};

/// Domain-separation tag of the committee identity.
pub const COMMITTEE_ID_TAG: &[u8] = b"curtain/v1/committee-id";
/// Version byte of the hashed encoding.
pub const COMMITTEE_ID_VERSION: u8 = 1;

/// The public part of a committee that its identity binds, as encoded bytes.
#[derive(Clone, Copy, Debug)]
pub struct CommitteeParts<'a> {
    pub key_epoch: KeyEpoch,
    pub n: u32,
    pub t: u32,
    /// The encryption `CommitteeKey` encoding (SPEC.md §3).
    pub encryption_key: &'a [u8],
    /// The consensus public polynomial (commonware `Sharing<MinSig>` encoding, §5.4).
    pub consensus_public: &'a [u8],
    /// Members' ed25519 identities (32 bytes each), in index order.
    pub members: &'a [[u8; 32]],
}

/// `SHA-256("curtain/v1/committee-id" ‖ 0x01 ‖ key_epoch(8) ‖ n(4) ‖ t(4) ‖ len(4) ‖
/// encryption key ‖ len(4) ‖ consensus public ‖ count(4) ‖ count × identity(32))`, integers
/// big-endian.
pub fn committee_id(p: &CommitteeParts<'_>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(COMMITTEE_ID_TAG);
    h.update([COMMITTEE_ID_VERSION]);
    h.update(p.key_epoch.to_be_bytes());
    h.update(p.n.to_be_bytes());
    h.update(p.t.to_be_bytes());
    h.update((p.encryption_key.len() as u32).to_be_bytes());
    h.update(p.encryption_key);
    h.update((p.consensus_public.len() as u32).to_be_bytes());
    h.update(p.consensus_public);
    h.update((p.members.len() as u32).to_be_bytes());
    for m in p.members {
        h.update(m);
    }
    h.finalize().into()
}

/// Why a served committee cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CommitteeError {
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("served committee_id {served} is not the identity of what was served ({computed})")]
    IdMismatch { served: String, computed: String },
}

fn invalid(field: &'static str, reason: impl ToString) -> CommitteeError {
    CommitteeError::Invalid {
        field,
        reason: reason.to_string(),
    }
}

fn hex32(field: &'static str, text: &str) -> Result<[u8; 32], CommitteeError> {
    hex::decode(text)
        .map_err(|e| invalid(field, e))?
        .try_into()
        .map_err(|_| invalid(field, "not 32 bytes"))
}

/// A served committee, decoded and checked: its identity, encryption key and finality
/// verifier are derived from the same bytes.
#[derive(Clone, Debug)]
pub struct CheckedCommittee {
    pub id: [u8; 32],
    pub key_epoch: KeyEpoch,
    pub key: CommitteeKey,
    pub verifier: FinalityVerifier,
    /// The consensus public polynomial: members' votes are checked against it.
    pub consensus: ConsensusPublic,
    /// Members' ed25519 identities in index order: what their signed messages (share
    /// batches, inclusion lists) are checked against.
    pub members: Vec<[u8; 32]>,
}

impl CheckedCommittee {
    /// Decodes `info`'s key, consensus polynomial and members; checks that they agree (`n`,
    /// `t`, key id) and that the served `committee_id` is their identity.
    pub fn check(info: &CommitteeInfo) -> Result<Self, CommitteeError> {
        let key_bytes = hex::decode(&info.key).map_err(|e| invalid("key", e))?;
        let key = CommitteeKey::from_bytes(&key_bytes).map_err(|e| invalid("key", e))?;
        if hex::encode(key.id()) != info.key_id {
            return Err(invalid("key_id", "not the id of the key"));
        }
        if key.n() != info.n || key.t() != info.t || info.members.len() != info.n {
            return Err(invalid("n", "key, n, t and members disagree"));
        }
        let consensus =
            hex::decode(&info.consensus_public).map_err(|e| invalid("consensus_public", e))?;
        let public = ConsensusPublic::from_bytes(&consensus, info.n)
            .map_err(|e| invalid("consensus_public", e))?;
        let verifier = public.verifier();
        let members = info
            .members
            .iter()
            .map(|m| hex32("members.identity", &m.identity))
            .collect::<Result<Vec<_>, _>>()?;
        let id = committee_id(&CommitteeParts {
            key_epoch: info.key_epoch,
            n: info.n as u32,
            t: info.t as u32,
            encryption_key: &key_bytes,
            consensus_public: &consensus,
            members: &members,
        });
        if hex::decode(&info.committee_id).ok().as_deref() != Some(&id[..]) {
            return Err(CommitteeError::IdMismatch {
                served: info.committee_id.clone(),
                computed: hex::encode(id),
            });
        }
        Ok(Self {
            id,
            key_epoch: info.key_epoch,
            key,
            verifier,
            consensus: public,
            members,
        })
    }

    /// Whether `next` holds the same keys as `self`: the same encryption key (`PK1`, `Δ`, and
    /// so the key id, and the constant `C_0`, hence the same `PK2` every opening is checked
    /// against) and the same consensus group key (what every finality proof is checked
    /// against). A resharing (SPEC.md §9.8) changes members, `n`, `t` and the polynomials'
    /// other coefficients, never these; so a verifier that accepts a key-continuous successor
    /// accepts exactly the finality proofs and openings it accepted before.
    pub fn same_keys(&self, next: &CheckedCommittee) -> bool {
        let Some(commitments) = commitments(&next.key) else {
            return false;
        };
        self.verifier.identity() == next.verifier.identity()
            && self
                .key
                .reshared(next.key.n(), &commitments)
                .is_ok_and(|k| k.to_bytes() == next.key.to_bytes())
    }
}

/// The public polynomial `C_0 … C_{t-1}` (compressed G2) of a key, from its encoding.
fn commitments(key: &CommitteeKey) -> Option<Vec<[u8; 96]>> {
    const HEAD: usize = 1 + 4 + 4 + 32 + 48;
    let bytes = key.to_bytes();
    let body = bytes.get(HEAD..)?;
    if body.len() != key.t() * 96 {
        return None;
    }
    Some(
        body.chunks_exact(96)
            .map(|c| c.try_into().expect("96"))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts<'a>(key: &'a [u8], cp: &'a [u8], members: &'a [[u8; 32]]) -> CommitteeParts<'a> {
        CommitteeParts {
            key_epoch: KeyEpoch(3),
            n: 2,
            t: 2,
            encryption_key: key,
            consensus_public: cp,
            members,
        }
    }

    /// The encoding is fixed: a known-answer vector (SPEC.md §7.4), and every field moves it.
    #[test]
    fn the_identity_is_the_specified_digest_and_binds_every_field() {
        let members = [[1u8; 32], [2u8; 32]];
        let base = parts(b"key", b"consensus", &members);
        let mut expected = Vec::new();
        expected.extend_from_slice(b"curtain/v1/committee-id\x01");
        expected.extend_from_slice(&3u64.to_be_bytes());
        expected.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3]);
        expected.extend_from_slice(b"key");
        expected.extend_from_slice(&[0, 0, 0, 9]);
        expected.extend_from_slice(b"consensus");
        expected.extend_from_slice(&[0, 0, 0, 2]);
        expected.extend_from_slice(&[1u8; 32]);
        expected.extend_from_slice(&[2u8; 32]);
        let id = committee_id(&base);
        assert_eq!(id, <[u8; 32]>::from(Sha256::digest(&expected)));
        assert_eq!(
            hex::encode(id),
            "ce6538fb6e557ed5064ad65600482b815744632894cbb23a378c16503b15c1e7"
        );

        let swapped = [[2u8; 32], [1u8; 32]];
        let variants = [
            CommitteeParts {
                key_epoch: KeyEpoch(4),
                ..base
            },
            CommitteeParts { n: 3, ..base },
            CommitteeParts { t: 1, ..base },
            CommitteeParts {
                encryption_key: b"kez",
                ..base
            },
            // moving a byte across the boundary of two fields
            CommitteeParts {
                encryption_key: b"keyc",
                consensus_public: b"onsensus",
                ..base
            },
            CommitteeParts {
                members: &swapped,
                ..base
            },
            CommitteeParts {
                members: &members[..1],
                ..base
            },
        ];
        for v in variants {
            assert_ne!(committee_id(&v), id, "{v:?}");
        }
    }
}
