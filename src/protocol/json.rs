//! The JSON shapes of the client API, shared by the server (`api`) and the wallet SDK
//! (`sdk`); nothing here depends on the node.

use crate::ledger::evidence::{Accused, EvidenceKind};
use crate::ledger::{Height, KeyEpoch, Namespace};
use serde::{Deserialize, Serialize};

/// Largest request body (HTTP, and a QUIC request frame's envelope): one envelope, base64 in
/// JSON.
pub const MAX_BODY: usize = (curtain_crypto::ciphertext::MAX_PAYLOAD_LEN + 1024) * 4 / 3 + 1024;

/// `GET /v1/committee`: what a wallet encrypts to and what a verifier checks against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitteeInfo {
    /// The encryption `CommitteeKey` (SPEC.md §3), hex.
    pub key: String,
    /// The encryption key's id (§2.2), hex: what labels carry.
    pub key_id: String,
    /// The committee identity (SPEC.md §7.4), hex: what a wallet or verifier pins. Clients
    /// recompute it from the other fields and refuse an answer where it differs.
    pub committee_id: String,
    pub key_epoch: KeyEpoch,
    pub n: usize,
    /// Decryption threshold.
    pub t: usize,
    /// Consensus threshold public polynomial (commonware encoding), hex: checks finality.
    pub consensus_public: String,
    /// Members in index order.
    pub members: Vec<MemberInfo>,
    /// Namespaces served; `None` serves every u64.
    pub namespaces: Option<Vec<Namespace>>,
    pub max_plaintext_bytes: usize,
    pub max_sender_bytes: usize,
    /// Per client address: sustained submissions per second and burst.
    pub client_rate_per_s: u64,
    pub client_burst: u64,
    /// Namespaces that require an RLN membership proof (SPEC.md §8.11).
    #[serde(default)]
    pub anonymous_namespaces: Vec<Namespace>,
    /// RLN parameters, when any namespace is anonymous.
    #[serde(default)]
    pub rln: Option<RlnInfo>,
}

/// A member's committee information per key epoch (every epoch its node.toml lists; never
/// empty): `GET /v1/committee` serves the one active at the next height.
#[derive(Clone, Debug)]
pub struct CommitteeInfos(std::collections::BTreeMap<KeyEpoch, CommitteeInfo>);

impl CommitteeInfos {
    pub fn new(first: CommitteeInfo) -> Self {
        Self([(first.key_epoch, first)].into())
    }

    /// Adds (or replaces) the information of `info.key_epoch`.
    pub fn add(&mut self, info: CommitteeInfo) {
        self.0.insert(info.key_epoch, info);
    }

    /// The committee of the newest epoch not after `epoch` (the oldest one if none is).
    pub fn at(&self, epoch: KeyEpoch) -> &CommitteeInfo {
        self.0
            .range(..=epoch)
            .next_back()
            .or_else(|| self.0.iter().next())
            .map(|(_, info)| info)
            .expect("built non-empty")
    }

    /// The newest epoch's committee.
    pub fn newest(&self) -> &CommitteeInfo {
        self.0.values().next_back().expect("built non-empty")
    }
}

/// `GET /v1/committee`'s `rln`: what a wallet needs to prove membership (SPEC.md §8.11).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RlnInfo {
    /// Circuit digest (hex) of the verifying key the committee pins.
    pub circuit_digest: String,
    /// The open namespace whose released plaintexts are registrations.
    pub registry_namespace: Namespace,
    /// Blocks per RLN epoch (epoch = height / epoch_blocks).
    pub epoch_blocks: u64,
    pub root_window: u32,
    pub root_lag: u64,
}

/// `GET /v1/rln/registry`: the members' registry as released at this member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RlnRegistry {
    /// Last height whose registry transactions are applied.
    pub released_height: Height,
    /// Leaves (registered members, removed ones included) in the tree.
    pub leaves: u64,
    /// Current root (hex, 32 bytes big-endian).
    pub root: String,
    /// Roots a block at `next_height` accepts (oldest first); prove against one of these.
    pub accepted_roots: Vec<String>,
    /// The RLN epoch of `next_height`.
    pub epoch: u64,
    pub next_height: Height,
}

/// `GET /v1/rln/leaves`: every leaf in index order (hex; zero for a removed member).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RlnLeaves {
    pub leaves: Vec<String>,
}

/// `GET /v1/slashing`: slashing evidence held by this member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlashingList {
    pub evidence: Vec<SlashingItem>,
}

/// One double signal: the two ciphertext ids, the two `Statement ‖ Proof` encodings (hex)
/// and the recovered secret (hex), checkable by anyone with the verifying key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlashingItem {
    pub nullifier: String,
    pub epoch: u64,
    pub first_id: String,
    pub first_proof: String,
    pub second_id: String,
    pub second_proof: String,
    pub recovered_secret: String,
    /// The whole evidence encoding (hex), as a slashing transaction carries it after `0x02`.
    pub encoded: String,
}

/// One piece of evidence a member holds (SPEC.md §2.6): `GET /v1/evidence`'s items, the
/// `evidence` events of `GET /v1/evidence/stream`, and `GET /v1/evidence/{id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceItem {
    /// Its place in this member's book (0, 1, …; stable across the member's restarts, not
    /// across members).
    pub seq: u64,
    /// `SHA-256("curtain/v1/evidence" ‖ encoded)`, hex: the same fault has one id everywhere.
    pub id: String,
    pub kind: EvidenceKind,
    pub accused: Accused,
    /// The height it is about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<Height>,
    /// The canonical encoding, hex: what `curtain evidence verify` and
    /// `sdk::verify_evidence` check against the committee.
    pub encoded: String,
}

/// `GET /v1/evidence`: items in `seq` order from `from`; `next` is the `from` of the next
/// page when this one stopped early (at `limit` items, or at 8 MiB of encodings), `null`
/// when nothing more matches now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidencePage {
    pub evidence: Vec<EvidenceItem>,
    pub next: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberInfo {
    /// ed25519 identity, hex.
    pub identity: String,
    pub api: std::net::SocketAddr,
    /// QUIC address (SPEC.md §7.2); its certificate fingerprint comes out of band.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quic: Option<std::net::SocketAddr>,
}

/// Every error response: `{"error": {"code", "message"}}`; codes are stable (SPEC.md §7).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: &str, message: String) -> Self {
        Self {
            error: ErrorDetail {
                code: code.to_string(),
                message,
            },
        }
    }
}

/// `POST /v1/transactions` with `Content-Type: application/json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SubmitJson {
    /// The encoded envelope, base64 (standard alphabet, padded).
    pub envelope: String,
}

/// `202` answer of `POST /v1/transactions`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Receipt {
    /// Ciphertext id, hex.
    pub id: String,
}

/// `GET /v1/status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    pub finalized_height: Height,
    /// The next height to be released (everything below is released here).
    pub next_release: Height,
    /// Members this node holds fault evidence against (by index).
    pub faulty_members: Vec<u32>,
    /// The member's descriptor limit and client connection budgets (SPEC.md §7.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
}

/// `GET /v1/status`'s `resources`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    pub open_files_limit: u64,
    /// Descriptors open now (absent where the platform does not tell).
    pub open_files: Option<usize>,
    pub http_connections: usize,
    pub http_connections_max: usize,
    pub http_connections_per_address_max: usize,
    pub quic_connections: usize,
    pub quic_connections_max: usize,
    pub quic_connections_per_address_max: usize,
}

/// `GET /v1/transactions/{id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TxStatus {
    Pending,
    Ordered {
        height: Height,
        namespace: Namespace,
        position: u32,
    },
    Released {
        height: Height,
        namespace: Namespace,
        position: u32,
        outcome: Outcome,
    },
}

/// What a released ciphertext became.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// The plaintext, base64.
    Plaintext { data: String },
    /// Correctly opened, but its sender made it undecryptable. `reason` is the verdict's
    /// stable name (SPEC §2.7): `aead_failure` or `bad_framing`.
    Undecryptable { reason: String },
}

/// One released height, seen from one namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchJson {
    pub height: Height,
    pub namespace: Namespace,
    /// Block digest and parent digest, hex.
    pub block: String,
    pub parent: String,
    /// In committed order.
    pub entries: Vec<EntryJson>,
    /// The whole released batch (all namespaces, the finality proof and the openings), base64:
    /// what a third party verifies (SPEC.md §5.4).
    pub encoded: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryJson {
    pub position: u32,
    /// Ciphertext id, hex.
    pub id: String,
    pub outcome: Outcome,
}

/// `GET /v1/namespaces/{ns}/batches`: batches holding entries of `ns` from `from`; ask again
/// with `from = next`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageJson {
    pub batches: Vec<BatchJson>,
    pub next: Height,
}

pub fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(key_epoch: u64, n: usize) -> CommitteeInfo {
        CommitteeInfo {
            key: String::new(),
            key_id: String::new(),
            committee_id: String::new(),
            key_epoch: KeyEpoch(key_epoch),
            n,
            t: n - (n - 1) / 3,
            consensus_public: String::new(),
            members: Vec::new(),
            namespaces: None,
            max_plaintext_bytes: 0,
            max_sender_bytes: 0,
            client_rate_per_s: 0,
            client_burst: 0,
            anonymous_namespaces: Vec::new(),
            rln: None,
        }
    }

    #[test]
    fn the_committee_of_an_epoch_is_the_newest_listed_not_after_it() {
        let mut infos = CommitteeInfos::new(info(2, 4));
        infos.add(info(3, 7));
        infos.add(info(5, 4));
        assert_eq!(infos.at(KeyEpoch(2)).n, 4);
        assert_eq!(infos.at(KeyEpoch(3)).n, 7);
        assert_eq!(infos.at(KeyEpoch(4)).key_epoch, KeyEpoch(3));
        assert_eq!(infos.at(KeyEpoch(9)).key_epoch, KeyEpoch(5));
        // before the first listed epoch: the first
        assert_eq!(infos.at(KeyEpoch(0)).key_epoch, KeyEpoch(2));
        assert_eq!(infos.newest().key_epoch, KeyEpoch(5));
    }
}
