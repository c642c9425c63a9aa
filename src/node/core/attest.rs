//! A member's attributable messages (SPEC.md §2.6): it signs what it sends with its identity
//! key, and checks peers' signatures against the committees it knows, so that any wrong
//! message it keeps is evidence a third party can check ([`crate::ledger::evidence`]).

use crate::ledger::signed::{SignedBatch, SHARE_BATCH_NAMESPACE};
use crate::ledger::{Digest, Height, KeyEpoch};
use commonware_cryptography::{ed25519, Signer as _};
use curtain_crypto::ShareBatch;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One key epoch's committee as its signatures are checked: its identity (SPEC.md §7.4) and
/// its members' ed25519 keys in index order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitteeIdentity {
    pub id: [u8; 32],
    pub members: Vec<[u8; 32]>,
}

/// The member's identity key and the committees of the key epochs it knows.
#[derive(Clone)]
pub struct Attestor {
    key: ed25519::PrivateKey,
    committees: Arc<BTreeMap<KeyEpoch, CommitteeIdentity>>,
}

impl std::fmt::Debug for Attestor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attestor")
            .field("identity", &hex::encode(self.identity()))
            .field("epochs", &self.committees.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Attestor {
    pub fn new(
        key: ed25519::PrivateKey,
        committees: BTreeMap<KeyEpoch, CommitteeIdentity>,
    ) -> Self {
        Self {
            key,
            committees: Arc::new(committees),
        }
    }

    /// This member's ed25519 identity.
    pub fn identity(&self) -> [u8; 32] {
        self.key
            .public_key()
            .as_ref()
            .try_into()
            .expect("ed25519 keys are 32 bytes")
    }

    pub fn committee(&self, epoch: KeyEpoch) -> Option<&CommitteeIdentity> {
        self.committees.get(&epoch)
    }

    /// Signs this member's batch for `block` at `height`, decrypted by key epoch `epoch`'s
    /// committee; `None` for an epoch it does not know (it holds no share of it either).
    pub fn sign_batch(
        &self,
        epoch: KeyEpoch,
        height: Height,
        block: Digest,
        batch: ShareBatch,
    ) -> Option<SignedBatch> {
        let committee = self.committees.get(&epoch)?;
        Some(SignedBatch::sign(
            &committee.id,
            epoch,
            height,
            block,
            batch,
            |m| {
                let sig = self.key.sign(SHARE_BATCH_NAMESPACE, m);
                sig.as_ref()
                    .try_into()
                    .expect("ed25519 signatures are 64 bytes")
            },
        ))
    }

    /// Whether `b` is signed by the member of its key epoch's committee it names.
    pub fn check_batch(&self, b: &SignedBatch) -> bool {
        self.committees
            .get(&b.key_epoch())
            .and_then(|c| Some((c, c.members.get(b.member() as usize)?)))
            .is_some_and(|(c, identity)| b.verify(&c.id, identity))
    }
}
