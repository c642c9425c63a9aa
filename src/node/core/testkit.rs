//! Fixtures the cores' tests share: seeded randomness, a dealt committee, test ciphertexts
//! and the admission helpers.

use super::attest::{Attestor, CommitteeIdentity};
use super::mempool::{Admission, Source};
use super::reveal::{Collector, CollectorConfig};
use crate::ledger::committee::CheckedCommittee;
use crate::ledger::finality::ConsensusPublic;
use crate::ledger::{Height, KeyEpoch, Namespace};
use commonware_codec::Encode as _;
use commonware_cryptography::bls12381::dkg::feldman_desmedt::deal as consensus_deal;
use commonware_cryptography::bls12381::primitives::{sharing::Mode, variant::MinSig};
use commonware_cryptography::{ed25519, Signer as _};
use commonware_utils::{ordered::Set, N3f1};
use curtain_crypto::{deal, encrypt, Ciphertext, CommitteeKey, KeyShare, Label, Padding};
use rand::SeedableRng as _;
use rand_chacha::ChaCha20Rng;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

/// The tests' deterministic randomness.
pub(super) fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// A committee's encryption key, its members' key shares and identity keys, at key epoch 0.
pub(super) struct Committee {
    pub(super) key: Arc<CommitteeKey>,
    pub(super) shares: Vec<KeyShare>,
    pub(super) identities: Vec<ed25519::PrivateKey>,
}

/// The committee identity the tests' members sign for.
pub(super) const COMMITTEE_ID: [u8; 32] = [0xc0; 32];

/// `n` members, threshold `t`.
pub(super) fn committee(n: usize, t: usize, r: &mut ChaCha20Rng) -> Committee {
    let (key, shares) = deal(n, t, r).unwrap();
    Committee {
        key: Arc::new(key),
        shares,
        identities: (0..n as u64).map(ed25519::PrivateKey::from_seed).collect(),
    }
}

impl Committee {
    /// A collector at height 1 for the member holding `share`, with the committee's key and
    /// that share at key epoch 0.
    pub(super) fn collector(&self, share: &KeyShare, cfg: CollectorConfig) -> Collector {
        Collector::new(
            cfg,
            BTreeMap::from([(KeyEpoch(0), self.key.clone())]),
            BTreeMap::from([(KeyEpoch(0), dup(share))]),
            Height(1),
            self.attestor(share.index()),
        )
    }

    /// What member `index` signs with, knowing the committee at key epoch 0.
    pub(super) fn attestor(&self, index: u32) -> Attestor {
        Attestor::new(
            self.identities[index as usize].clone(),
            BTreeMap::from([(KeyEpoch(0), self.signatures())]),
        )
    }

    pub(super) fn signatures(&self) -> CommitteeIdentity {
        CommitteeIdentity {
            id: COMMITTEE_ID,
            members: self.identities.iter().map(identity_of).collect(),
        }
    }

    /// The committee as a third party checks evidence against it (with a consensus key
    /// dealt here: these tests sign no votes with it).
    pub(super) fn checked(&self) -> CheckedCommittee {
        let mut pks: Vec<ed25519::PublicKey> =
            self.identities.iter().map(|k| k.public_key()).collect();
        pks.sort();
        let (output, _) = consensus_deal::<MinSig, _, N3f1>(
            &mut rng(0),
            Mode::NonZeroCounter,
            Set::try_from(pks).unwrap(),
        )
        .unwrap();
        let consensus =
            ConsensusPublic::from_bytes(&output.public().encode(), self.identities.len()).unwrap();
        CheckedCommittee {
            id: COMMITTEE_ID,
            key_epoch: KeyEpoch(0),
            key: (*self.key).clone(),
            verifier: consensus.verifier(),
            consensus,
            members: self.signatures().members,
        }
    }
}

/// The 32 bytes of an identity key's public key.
pub(super) fn identity_of(k: &ed25519::PrivateKey) -> [u8; 32] {
    k.public_key().as_ref().try_into().unwrap()
}

/// Key shares are deliberately not `Clone`; tests copy one through its encoding.
pub(super) fn dup(s: &KeyShare) -> KeyShare {
    KeyShare::from_bytes(&s.to_bytes()).unwrap()
}

/// `msg` encrypted to `key`, labelled with key epoch `epoch`, namespace `ns` and sender
/// `wallet`.
pub(super) fn encrypted(
    key: &CommitteeKey,
    epoch: u64,
    ns: u64,
    msg: &[u8],
    r: &mut ChaCha20Rng,
) -> Ciphertext {
    let label = Label::new(key.id(), KeyEpoch(epoch), Namespace(ns), b"wallet").unwrap();
    encrypt(key.encryption_key(), &label, msg, Padding::None, r).unwrap()
}

/// The encoding of a key epoch 0 ciphertext in namespace `ns`, without an RLN proof.
pub(super) fn ct(
    key: &CommitteeKey,
    ns: u64,
    msg: &[u8],
    r: &mut ChaCha20Rng,
) -> curtain_crypto::EncodedCiphertext {
    encrypted(key, 0, ns, msg, r).encoded().clone()
}

/// A client submitting from loopback.
pub(super) const CLIENT: Source = Source::Client(IpAddr::V4(Ipv4Addr::LOCALHOST));

/// How many submissions were admitted.
pub(super) fn accepted(a: &[Admission]) -> usize {
    a.iter().filter(|a| a.result.is_ok()).count()
}
