//! On-disk configuration of a member: the public committee file (shared by all members and
//! clients) and the per-member `node.toml` with paths to its key files.
//!
//! A member's secrets (identity key, shares of both committee keys) live in one encrypted
//! keystore (`crate::dkg::keystore`), opened with a passphrase from a file, the
//! `CURTAIN_PASSPHRASE` environment variable or a prompt.

use super::consensus::{ConsensusScheme, PublicKey};
use super::core::mempool::MempoolConfig;
use super::core::rln::RlnSettings;
use crate::ledger::Height;
use crate::node::core::attest::CommitteeIdentity;
use crate::protocol::json::{CommitteeInfo, MemberInfo, RlnInfo};
use bytes::Bytes;
use commonware_codec::{Decode as _, DecodeExt as _, Encode as _};
use commonware_cryptography::bls12381::primitives::{
    group::Share,
    sharing::{ModeVersion, Sharing},
    variant::MinSig,
};
use commonware_cryptography::{ed25519, Signer as _};
use commonware_math::algebra::Random as _;
use commonware_utils::ordered::Set;
use curtain_crypto::{CommitteeKey, KeyEpoch, Namespace};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

pub use crate::ledger::CONSENSUS_NAMESPACE;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Participant {
    /// ed25519 identity, hex.
    pub identity: String,
    /// p2p listen address.
    pub p2p: SocketAddr,
    /// client API address.
    pub api: SocketAddr,
    /// client API over QUIC (UDP), if this member serves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quic: Option<SocketAddr>,
}

/// `committee.json`: everything public about a committee.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CommitteeFile {
    /// In share-index order (sorted by identity).
    pub participants: Vec<Participant>,
    /// Consensus threshold public polynomial (commonware encoding), hex.
    pub consensus_public: String,
    /// The encryption committee key (curtain encoding), hex.
    pub encryption_key: String,
    /// Key epoch of `encryption_key`.
    pub key_epoch: KeyEpoch,
    /// The first height this committee orders (a reshared committee; SPEC.md §9.8); absent
    /// for the committee at genesis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation_height: Option<Height>,
    /// The namespaces the committee serves, each with its admission policy; absent: every
    /// namespace, open. Committee-wide: gossip and block bodies are checked against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Vec<NamespacePolicy>>,
    /// Anonymous admission parameters; required when a namespace is `anonymous`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rln: Option<RlnFile>,
    /// How the keys were made (absent in files written before the DKG existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dkg: Option<DkgRecord>,
}

/// The public record of the ceremony that made a committee's keys: every member and wallet
/// can compare `transcript`, and the next resharing starts from the two outputs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DkgRecord {
    /// Ceremony round number (`None`-like `u64::MAX` for the trusted-dealer shortcut).
    pub round: u64,
    /// `"dkg"`, `"reshare"`, `"refresh"` or `"dealer"` (dev shortcut: the dealer knew the key).
    pub kind: String,
    pub n: usize,
    pub t: usize,
    /// Digest of the agreed dealer logs (SPEC.md §9.4), hex.
    pub transcript: String,
    /// commonware `feldman_desmedt::Output` of each key (public polynomial, dealers, players).
    pub consensus_output: String,
    pub encryption_output: String,
    /// Members' `x_i·G2` of the encryption key, hex, in index order (derived; for checking).
    pub verification_keys: Vec<String>,
}

/// How a namespace admits envelopes (SPEC.md §8.11).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdmissionPolicy {
    /// Any valid ciphertext (rate-limited per client address).
    Open,
    /// Only envelopes with a valid RLN membership proof (SPEC.md §8.11).
    Anonymous,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespacePolicy {
    pub id: Namespace,
    pub admission: AdmissionPolicy,
}

/// `committee.json`'s `rln`: the circuit every member pins and the rules of the members'
/// registry, nullifier epochs and root window (SPEC.md §8.11).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RlnFile {
    /// Circuit digest of the verifying key (hex): a member refuses any other key.
    pub circuit_digest: String,
    /// The reserved (open) namespace whose released plaintexts are registrations.
    pub registry_namespace: Namespace,
    /// Blocks per RLN epoch: the epoch of a block at height h is `h / epoch_blocks`.
    pub epoch_blocks: u64,
    /// Roots accepted: the last `root_window` roots of the registry.
    pub root_window: u32,
    /// A block at height h checks roots against the registry as released up to
    /// `h - root_lag` (releases lag finality; see SPEC.md §8.11).
    pub root_lag: u64,
}

/// `node.toml`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodeFile {
    /// The committee at genesis (the first key epoch this member knows).
    pub committee: PathBuf,
    /// The member's encrypted keystore (identity and shares of the committee's key epoch;
    /// only the identity for a member that joined later).
    pub keystore: PathBuf,
    pub data_dir: PathBuf,
    /// This member's index in `committee.participants`.
    pub index: u32,
    /// The RLN verifying key file (`curtain circuits setup`); required when the committee has
    /// an anonymous namespace, and must match the committee's circuit digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rln_verifying_key: Option<PathBuf>,
    /// Client admission limits (defaults: `MempoolConfig::default()`).
    #[serde(default)]
    pub limits: ClientLimits,
    /// The following key epochs, in order (`[[epochs]]`, SPEC.md §9.8): each a reshared
    /// committee file with its `activation_height` and this member's keystore of that epoch
    /// (absent for an epoch it is not a member of).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub epochs: Vec<EpochEntry>,
    /// Heights after a switch during which the previous epoch's labels are still ordered
    /// (default `epochs::DEFAULT_DRAIN`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain: Option<u64>,
}

/// One `[[epochs]]` entry of node.toml.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EpochEntry {
    pub committee: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keystore: Option<PathBuf>,
}

/// Client limits, settable in node.toml's `[limits]` (SPEC.md §7.3): per-address admission
/// rates, and the API's connection, time and size budget (defaults: `api::ApiLimits`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientLimits {
    pub client_rate_per_s: Option<u64>,
    pub client_burst: Option<u64>,
    /// HTTP connections open at once, in total and per client address (IPv6: per /64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_connections: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_connections_per_address: Option<usize>,
    /// QUIC connections open at once, in total and per client address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quic_connections: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quic_connections_per_address: Option<usize>,
    /// Time to send a request head (also the longest an HTTP connection stays idle).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_head_timeout_ms: Option<u64>,
    /// Time to send a request body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_body_timeout_ms: Option<u64>,
    /// Largest HTTP request head in bytes (at least 8192).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_request_head_bytes: Option<usize>,
    /// Release streams (SSE, QUIC subscriptions) open at once, per transport.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_streams: Option<usize>,
    /// Concurrent requests of each costly read route (pages, releases, metrics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent_reads: Option<usize>,
}

impl ClientLimits {
    pub fn apply(&self, mut cfg: MempoolConfig) -> MempoolConfig {
        if let Some(r) = self.client_rate_per_s {
            cfg.client_rate_per_s = r;
        }
        if let Some(b) = self.client_burst {
            cfg.client_burst = b;
        }
        cfg
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

fn invalid(path: &Path, reason: impl ToString) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

pub fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes a file readable by its owner only (the QUIC certificate's private key; members'
/// shares go to encrypted keystores, `crate::dkg::keystore`).
pub fn write_secret(path: &Path, contents: &str) -> Result<(), ConfigError> {
    crate::secrets::private_file::write(path, contents.as_bytes()).map_err(|source| {
        ConfigError::Io {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// A committee file, decoded and checked.
pub struct Committee {
    pub participants: Vec<Participant>,
    pub identities: Vec<PublicKey>,
    pub consensus_public: Sharing<MinSig>,
    pub encryption_key: CommitteeKey,
    pub key_epoch: KeyEpoch,
    pub activation_height: Option<Height>,
    /// Served namespaces and their policies; `None` serves every namespace, open.
    pub namespaces: Option<BTreeMap<Namespace, AdmissionPolicy>>,
    pub rln: Option<RlnSettings>,
    pub dkg: Option<DkgRecord>,
}

/// Most roots a member keeps acceptable at once.
pub const MAX_ROOT_WINDOW: u32 = 1024;

/// Served namespaces and their admission policies (`None`: every namespace, open).
pub type Policies = Option<BTreeMap<Namespace, AdmissionPolicy>>;

/// Why a committee file's namespace or RLN section is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("namespace {0} listed twice")]
    Duplicate(Namespace),
    #[error("an anonymous namespace needs the `rln` section")]
    MissingRln,
    #[error("rln.circuit_digest must be 32 bytes of hex")]
    CircuitDigest,
    #[error("rln.registry_namespace must be a served, open namespace")]
    RegistryNamespace,
    #[error("rln.epoch_blocks must be at least 1")]
    EpochBlocks,
    #[error("rln.root_window must be in 1..={MAX_ROOT_WINDOW}")]
    RootWindow,
}

/// Why a committee file (or its ceremony record) does not decode.
#[derive(Debug, thiserror::Error)]
pub enum CommitteeFileError {
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    #[error("a hex field: {0}")]
    Hex(#[from] hex::FromHexError),
    #[error("a consensus key or ceremony output: {0}")]
    Codec(#[from] commonware_codec::Error),
    #[error("encryption_key: {0}")]
    Key(#[from] curtain_crypto::DecodeError),
    #[error("participants must be sorted by identity, no repeats")]
    Unsorted,
    #[error("no participants")]
    Empty,
    #[error("the encryption key is for {key} members, the committee lists {members}")]
    Size { key: usize, members: usize },
    #[error(transparent)]
    Policy(#[from] PolicyError),
}

/// Checks the namespace and RLN sections of a committee file.
pub fn check_policies(
    namespaces: Option<&[NamespacePolicy]>,
    rln: Option<&RlnFile>,
) -> Result<(Policies, Option<RlnSettings>), PolicyError> {
    let policies = match namespaces {
        None => None,
        Some(list) => {
            let mut map = BTreeMap::new();
            for p in list {
                if map.insert(p.id, p.admission).is_some() {
                    return Err(PolicyError::Duplicate(p.id));
                }
            }
            Some(map)
        }
    };
    let anonymous: BTreeSet<Namespace> = policies
        .iter()
        .flatten()
        .filter(|(_, a)| **a == AdmissionPolicy::Anonymous)
        .map(|(ns, _)| *ns)
        .collect();
    let rln = match rln {
        None if anonymous.is_empty() => None,
        None => return Err(PolicyError::MissingRln),
        Some(r) => {
            let digest: [u8; 32] = hex::decode(&r.circuit_digest)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or(PolicyError::CircuitDigest)?;
            if policies.as_ref().and_then(|p| p.get(&r.registry_namespace))
                != Some(&AdmissionPolicy::Open)
            {
                return Err(PolicyError::RegistryNamespace);
            }
            if r.epoch_blocks == 0 {
                return Err(PolicyError::EpochBlocks);
            }
            if !(1..=MAX_ROOT_WINDOW).contains(&r.root_window) {
                return Err(PolicyError::RootWindow);
            }
            Some(RlnSettings {
                circuit_digest: digest,
                registry_namespace: r.registry_namespace,
                epoch_blocks: r.epoch_blocks,
                root_window: r.root_window as usize,
                root_lag: r.root_lag,
                anonymous,
            })
        }
    };
    Ok((policies, rln))
}

impl Committee {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::from_json(&read(path)?).map_err(|e| invalid(path, e))
    }

    /// Decodes and checks a committee file's text (what [`Committee::load`] reads).
    pub fn from_json(text: &str) -> Result<Self, CommitteeFileError> {
        let file: CommitteeFile = serde_json::from_str(text)?;
        let (identities, consensus_public) = decode_consensus(
            file.participants.iter().map(|p| p.identity.as_str()),
            &file.consensus_public,
        )?;
        let ek = hex::decode(&file.encryption_key)?;
        let encryption_key = CommitteeKey::from_bytes(&ek)?;
        if encryption_key.n() != identities.len() {
            return Err(CommitteeFileError::Size {
                key: encryption_key.n(),
                members: identities.len(),
            });
        }
        let (namespaces, rln) = check_policies(file.namespaces.as_deref(), file.rln.as_ref())?;
        Ok(Self {
            participants: file.participants,
            identities,
            consensus_public,
            encryption_key,
            key_epoch: file.key_epoch,
            activation_height: file.activation_height,
            namespaces,
            rln,
            dkg: file.dkg,
        })
    }

    /// The admission configuration every member applies: the served namespaces.
    pub fn mempool_config(&self, base: MempoolConfig) -> MempoolConfig {
        MempoolConfig {
            namespaces: self
                .namespaces
                .as_ref()
                .map(|m| m.keys().copied().collect()),
            ..base
        }
    }

    pub fn participant_set(&self) -> Set<PublicKey> {
        Set::try_from(self.identities.clone()).expect("checked sorted and distinct")
    }

    /// This member's consensus signer.
    pub fn signer(&self, share: Share) -> Option<ConsensusScheme> {
        ConsensusScheme::signer(
            CONSENSUS_NAMESPACE,
            self.participant_set(),
            self.consensus_public.clone(),
            share,
        )
    }

    /// Members' ed25519 identities in index order.
    fn member_keys(&self) -> Vec<[u8; 32]> {
        self.identities
            .iter()
            .map(|p| p.as_ref().try_into().expect("ed25519 keys are 32 bytes"))
            .collect()
    }

    /// The committee identity (SPEC.md §7.4): what clients pin.
    pub fn id(&self) -> [u8; 32] {
        crate::ledger::committee::committee_id(&crate::ledger::committee::CommitteeParts {
            key_epoch: self.key_epoch,
            n: self.encryption_key.n() as u32,
            t: self.encryption_key.t() as u32,
            encryption_key: &self.encryption_key.to_bytes(),
            consensus_public: &self.consensus_public.encode(),
            members: &self.member_keys(),
        })
    }

    /// What members' signatures are checked against (SPEC.md §2.6).
    pub fn signatures(&self) -> CommitteeIdentity {
        CommitteeIdentity {
            id: self.id(),
            members: self.member_keys(),
        }
    }

    /// What `GET /v1/committee` tells clients.
    pub fn info(&self, mempool: &MempoolConfig) -> CommitteeInfo {
        CommitteeInfo {
            key: hex::encode(self.encryption_key.to_bytes()),
            key_id: hex::encode(self.encryption_key.id()),
            committee_id: hex::encode(self.id()),
            key_epoch: self.key_epoch,
            n: self.encryption_key.n(),
            t: self.encryption_key.t(),
            consensus_public: hex::encode(self.consensus_public.encode()),
            members: self
                .participants
                .iter()
                .map(|p| MemberInfo {
                    identity: p.identity.clone(),
                    api: p.api,
                    quic: p.quic,
                })
                .collect(),
            namespaces: mempool
                .namespaces
                .as_ref()
                .map(|s| s.iter().copied().collect()),
            max_plaintext_bytes: curtain_crypto::ciphertext::MAX_PLAINTEXT_LEN,
            max_sender_bytes: curtain_crypto::MAX_SENDER_LEN,
            client_rate_per_s: mempool.client_rate_per_s,
            client_burst: mempool.client_burst,
            anonymous_namespaces: self
                .rln
                .as_ref()
                .map(|r| r.anonymous.iter().copied().collect())
                .unwrap_or_default(),
            rln: self.rln.as_ref().map(|r| RlnInfo {
                circuit_digest: hex::encode(r.circuit_digest),
                registry_namespace: r.registry_namespace,
                epoch_blocks: r.epoch_blocks,
                root_window: r.root_window as u32,
                root_lag: r.root_lag,
            }),
        }
    }

    /// A consensus verifier for third parties.
    pub fn verifier(&self) -> ConsensusScheme {
        ConsensusScheme::verifier(
            CONSENSUS_NAMESPACE,
            self.participant_set(),
            self.consensus_public.clone(),
        )
    }
}

/// Why a list of committees does not chain into one sequence of key epochs.
#[derive(Debug, thiserror::Error)]
pub enum EpochChainError {
    #[error("key epoch {epoch}: {reason}")]
    Mismatch {
        epoch: KeyEpoch,
        reason: &'static str,
    },
    #[error(transparent)]
    Table(#[from] super::core::epochs::EpochError),
}

/// Checks that `committees` (oldest first) are one committee's consecutive key epochs — same
/// encryption key (id) and consensus public key, the first at genesis, each later one with an
/// activation height above the previous one's — and returns their epoch table.
pub fn epoch_table(
    committees: &[&Committee],
    drain: u64,
) -> Result<super::core::epochs::EpochTable, EpochChainError> {
    let first = committees
        .first()
        .ok_or(super::core::epochs::EpochError::Empty)?;
    let mut list = Vec::with_capacity(committees.len());
    for (i, c) in committees.iter().enumerate() {
        let mismatch = |reason| EpochChainError::Mismatch {
            epoch: c.key_epoch,
            reason,
        };
        if c.encryption_key.id() != first.encryption_key.id() {
            return Err(mismatch("another encryption key (a reshare keeps it)"));
        }
        if c.consensus_public.public() != first.consensus_public.public() {
            return Err(mismatch(
                "another consensus public key (a reshare keeps it)",
            ));
        }
        let activation = match (i, c.activation_height) {
            (0, None) => Height(0),
            (0, Some(h)) => h,
            (_, None) => return Err(mismatch("a later key epoch needs activation_height")),
            (_, Some(h)) => h,
        };
        list.push((c.key_epoch, activation));
    }
    Ok(super::core::epochs::EpochTable::new(list, drain)?)
}

/// Decodes a committee's identities (hex, sorted, distinct) and its consensus public
/// polynomial (hex, commonware encoding).
fn decode_consensus<'a>(
    identities: impl Iterator<Item = &'a str>,
    consensus_public: &str,
) -> Result<(Vec<PublicKey>, Sharing<MinSig>), CommitteeFileError> {
    let identities = identities
        .map(|id| Ok(PublicKey::decode(Bytes::from(hex::decode(id)?))?))
        .collect::<Result<Vec<_>, CommitteeFileError>>()?;
    if identities.windows(2).any(|w| w[0] >= w[1]) {
        return Err(CommitteeFileError::Unsorted);
    }
    let n = NonZeroU32::new(identities.len() as u32).ok_or(CommitteeFileError::Empty)?;
    let cp = hex::decode(consensus_public)?;
    let sharing = Sharing::<MinSig>::decode_cfg(Bytes::from(cp), &(n, ModeVersion::v0()))?;
    Ok((identities, sharing))
}

/// A fresh identity key.
pub fn new_identity<R: rand_core::CryptoRng>(rng: &mut R) -> ed25519::PrivateKey {
    ed25519::PrivateKey::random(rng)
}

pub fn public_hex(key: &ed25519::PrivateKey) -> String {
    hex::encode(key.public_key().encode())
}

/// A ceremony's public output (commonware `feldman_desmedt::Output`).
pub type DkgOutput =
    commonware_cryptography::bls12381::dkg::feldman_desmedt::Output<MinSig, PublicKey>;

/// The decoded ceremony outputs of a committee file (for resharing).
pub fn dkg_outputs(
    record: &DkgRecord,
    n: usize,
) -> Result<(DkgOutput, DkgOutput), CommitteeFileError> {
    use commonware_cryptography::bls12381::dkg::feldman_desmedt::Output;
    let max = NonZeroU32::new(n as u32).ok_or(CommitteeFileError::Empty)?;
    let dec = |h: &str| -> Result<Output<MinSig, PublicKey>, CommitteeFileError> {
        Ok(Output::decode_cfg(
            Bytes::from(hex::decode(h)?),
            &(max, ModeVersion::v0()),
        )?)
    };
    Ok((
        dec(&record.consensus_output)?,
        dec(&record.encryption_output)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(id: u64, admission: AdmissionPolicy) -> NamespacePolicy {
        NamespacePolicy {
            id: Namespace(id),
            admission,
        }
    }

    fn rln(registry: u64) -> RlnFile {
        RlnFile {
            circuit_digest: hex::encode([7u8; 32]),
            registry_namespace: Namespace(registry),
            epoch_blocks: 10,
            root_window: 4,
            root_lag: 2,
        }
    }

    /// The namespace and RLN sections: what a committee file may say, and every refusal.
    #[test]
    fn namespace_policies_are_checked() {
        use AdmissionPolicy::*;
        // absent: every namespace, open
        assert_eq!(check_policies(None, None).unwrap(), (None, None));
        // open namespaces only
        let (p, r) = check_policies(Some(&[ns(1, Open), ns(2, Open)]), None).unwrap();
        assert_eq!(p.unwrap().len(), 2);
        assert!(r.is_none());
        // anonymous with its RLN section
        let list = [ns(0, Open), ns(5, Anonymous)];
        let (_, r) = check_policies(Some(&list), Some(&rln(0))).unwrap();
        let r = r.unwrap();
        assert_eq!(r.anonymous, BTreeSet::from([Namespace(5)]));
        assert_eq!((r.root_window, r.circuit_digest), (4, [7u8; 32]));
        // refusals
        let cases: Vec<(Vec<NamespacePolicy>, Option<RlnFile>)> = vec![
            (vec![ns(1, Open), ns(1, Anonymous)], Some(rln(0))), // listed twice
            (vec![ns(0, Open), ns(5, Anonymous)], None),         // no rln section
            (vec![ns(5, Anonymous)], Some(rln(0))),              // registry not served
            (vec![ns(0, Anonymous)], Some(rln(0))),              // registry not open
            (
                vec![ns(0, Open), ns(5, Anonymous)],
                Some(RlnFile {
                    circuit_digest: "00".into(),
                    ..rln(0)
                }),
            ),
            (
                vec![ns(0, Open), ns(5, Anonymous)],
                Some(RlnFile {
                    epoch_blocks: 0,
                    ..rln(0)
                }),
            ),
            (
                vec![ns(0, Open), ns(5, Anonymous)],
                Some(RlnFile {
                    root_window: 0,
                    ..rln(0)
                }),
            ),
            (
                vec![ns(0, Open), ns(5, Anonymous)],
                Some(RlnFile {
                    root_window: MAX_ROOT_WINDOW + 1,
                    ..rln(0)
                }),
            ),
        ];
        for (i, (list, r)) in cases.iter().enumerate() {
            assert!(check_policies(Some(list), r.as_ref()).is_err(), "case {i}");
        }
        // the JSON form
        let json = r#"{"id": 5, "admission": "anonymous"}"#;
        assert_eq!(
            serde_json::from_str::<NamespacePolicy>(json).unwrap(),
            ns(5, Anonymous)
        );
        assert!(serde_json::from_str::<NamespacePolicy>(r#"{"id": 5, "admission": "x"}"#).is_err());
    }
}
