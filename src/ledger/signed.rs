//! Members' attributable messages (SPEC.md §2.6): a member signs its share batches and its
//! inclusion lists with its ed25519 identity key, so that a wrong one is evidence against it
//! that anyone can check, not only the receiver of an authenticated p2p session.
//!
//! A signature is commonware's ed25519 over `varint(len(namespace)) ‖ namespace ‖ message`
//! (commonware's `union_unique`, LEB128 length); each kind of message has its own namespace.
//! It is checked here with ZIP-215 rules (`ed25519-zebra`), the rules of the vendored
//! `ed25519-consensus` that commonware signs and verifies with, so a signature the node
//! accepts is one every verifier accepts.

use super::{Digest, Height, KeyEpoch};
use curtain_crypto::encoding::Reader;
use curtain_crypto::{DecodeError, ShareBatch};
use sha2::{Digest as _, Sha256};
use std::sync::Arc;

pub const SIGNATURE_LEN: usize = 64;
/// Namespace of share batch signatures.
pub const SHARE_BATCH_NAMESPACE: &[u8] = b"curtain/v1/share-batch";
/// Domain-separation tag of batch ids.
const DST_BATCH_ID: &[u8] = b"curtain/v1/share-batch";
/// Version of the signed batch encoding.
const SIGNED_BATCH_VERSION: u8 = 1;
/// Bytes before the batch in a signed batch's encoding.
const SIGNED_BATCH_HEADER: usize = 1 + 8 + 8 + 32 + SIGNATURE_LEN;

/// Whether `signature` is `identity`'s over `message` in `namespace` (ZIP-215).
pub fn verify(
    identity: &[u8; 32],
    namespace: &[u8],
    message: &[u8],
    signature: &[u8; SIGNATURE_LEN],
) -> bool {
    let Ok(key) = ed25519_zebra::VerificationKey::try_from(*identity) else {
        return false;
    };
    let sig = ed25519_zebra::Signature::from_bytes(signature);
    key.verify(&sig, &super::finality::union_unique(namespace, message))
        .is_ok()
}

/// The id binding a share batch to one key epoch's part of one finalized block:
/// `SHA-256("curtain/v1/share-batch" ‖ block digest ‖ key_epoch(8))`.
pub fn batch_id(block: &Digest, epoch: KeyEpoch) -> [u8; 32] {
    Sha256::new_with_prefix(DST_BATCH_ID)
        .chain_update(block.0)
        .chain_update(epoch.to_be_bytes())
        .finalize()
        .into()
}

/// What a share batch's signature covers, given its encoding's digest:
/// `committee_id(32) ‖ key_epoch(8) ‖ height(8) ‖ block(32) ‖ batch_id(32) ‖
/// SHA-256(batch encoding)(32)`.
pub fn batch_message(
    committee: &[u8; 32],
    key_epoch: KeyEpoch,
    height: Height,
    block: &Digest,
    batch_id: &[u8; 32],
    batch_digest: &[u8; 32],
) -> [u8; 144] {
    let mut m = [0u8; 144];
    m[..32].copy_from_slice(committee);
    m[32..40].copy_from_slice(&key_epoch.to_be_bytes());
    m[40..48].copy_from_slice(&height.to_be_bytes());
    m[48..80].copy_from_slice(&block.0);
    m[80..112].copy_from_slice(batch_id);
    m[112..].copy_from_slice(batch_digest);
    m
}

/// A member's share batch for the block `block` at `height`, decrypted by the committee of
/// `key_epoch`, with the member's signature. The batch names the member (its index in that
/// committee); its id must be [`batch_id`]`(block, key_epoch)`.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedBatch {
    key_epoch: KeyEpoch,
    height: Height,
    block: Digest,
    signature: [u8; SIGNATURE_LEN],
    batch: ShareBatch,
    /// The batch's encoding as signed (kept: a verifier hashes these bytes, and encoding a
    /// batch again costs a conversion per share) and its SHA-256.
    batch_bytes: Arc<[u8]>,
    batch_digest: [u8; 32],
}

impl std::fmt::Debug for SignedBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedBatch")
            .field("key_epoch", &self.key_epoch)
            .field("height", &self.height)
            .field("member", &self.batch.member())
            .field("len", &self.batch.len())
            .finish_non_exhaustive()
    }
}

impl SignedBatch {
    /// Signs `batch` with `sign`, a function that returns the member's signature over a
    /// message in [`SHARE_BATCH_NAMESPACE`] (commonware's `Signer::sign`).
    pub fn sign(
        committee: &[u8; 32],
        key_epoch: KeyEpoch,
        height: Height,
        block: Digest,
        batch: ShareBatch,
        sign: impl FnOnce(&[u8]) -> [u8; SIGNATURE_LEN],
    ) -> Self {
        let batch_bytes: Arc<[u8]> = batch.to_bytes().into();
        let batch_digest = Sha256::digest(&batch_bytes).into();
        let message = batch_message(
            committee,
            key_epoch,
            height,
            &block,
            &batch.batch_id(),
            &batch_digest,
        );
        Self {
            key_epoch,
            height,
            block,
            signature: sign(&message),
            batch,
            batch_bytes,
            batch_digest,
        }
    }

    pub fn key_epoch(&self) -> KeyEpoch {
        self.key_epoch
    }
    pub fn height(&self) -> Height {
        self.height
    }
    pub fn block(&self) -> Digest {
        self.block
    }
    pub fn batch(&self) -> &ShareBatch {
        &self.batch
    }
    pub fn member(&self) -> u32 {
        self.batch.member()
    }
    pub fn batch_id(&self) -> [u8; 32] {
        self.batch.batch_id()
    }

    /// Whether the batch belongs where it says (its id is that of its block and key epoch)
    /// and is signed by `identity` for the committee `committee`.
    pub fn verify(&self, committee: &[u8; 32], identity: &[u8; 32]) -> bool {
        let id = self.batch.batch_id();
        id == batch_id(&self.block, self.key_epoch)
            && verify(
                identity,
                SHARE_BATCH_NAMESPACE,
                &batch_message(
                    committee,
                    self.key_epoch,
                    self.height,
                    &self.block,
                    &id,
                    &self.batch_digest,
                ),
                &self.signature,
            )
    }

    /// `version(1) ‖ key_epoch(8) ‖ height(8) ‖ block(32) ‖ signature(64) ‖ ShareBatch`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(SIGNED_BATCH_HEADER + self.batch_bytes.len());
        out.push(SIGNED_BATCH_VERSION);
        out.extend_from_slice(&self.key_epoch.to_be_bytes());
        out.extend_from_slice(&self.height.to_be_bytes());
        out.extend_from_slice(&self.block.0);
        out.extend_from_slice(&self.signature);
        out.extend_from_slice(&self.batch_bytes);
        out
    }

    /// Decodes one signed batch of at most `max_len` shares (the signature is not checked).
    pub fn from_bytes_capped(bytes: &[u8], max_len: usize) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        r.version("signed share batch", SIGNED_BATCH_VERSION)?;
        let key_epoch = KeyEpoch(r.u64("signed batch key epoch")?);
        let height = Height(r.u64("signed batch height")?);
        let block = Digest(r.array("signed batch block")?);
        let signature = r.array("signed batch signature")?;
        let rest = r.take(r.remaining(), "signed batch shares")?;
        let batch = ShareBatch::from_bytes_capped(rest, max_len)?;
        Ok(Self {
            key_epoch,
            height,
            block,
            signature,
            batch,
            batch_bytes: rest.into(),
            batch_digest: Sha256::digest(rest).into(),
        })
    }
}
