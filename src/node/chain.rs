//! The block as commonware's consensus and marshal see it: the ordered ids (what the digest
//! commits to) together with the ciphertext bodies, so a block travels, is backfilled and is
//! stored with everything a member needs to verify it and, once final, decrypt it. Ids are
//! digests of the bodies, so committing to the ids commits to the bodies.
//!
//! Bodies are kept as encodings ([`EncodedCiphertext`]): reading a block from storage or the
//! network checks structure and hashes, and the points are decoded only where a body must be
//! verified (a proposal's bodies this member does not hold, a backfilled final block).

use super::block::{check_proposal, Block, BlockError, BlockLimits, Lookup};
use super::mempool::Mempool;
use super::CtId;
use bytes::{Buf, BufMut};
use commonware_codec::{EncodeSize, Error as CodecError, Read, Write};
use commonware_consensus::{types::Height, Heightable};
use commonware_cryptography::{sha256, Digestible};
use curtain_crypto::{decode_all, verify_batch, Ciphertext, EncodedCiphertext, VerifiedCiphertext};
use rand_core::CryptoRng;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// Largest encoded ciphertext accepted inside a block.
const MAX_BODY_LEN: usize = curtain_crypto::ciphertext::MAX_PAYLOAD_LEN + 256;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainBlock {
    block: Block,
    /// The ciphertexts in committed order (namespace ascending, then listed order).
    bodies: Vec<EncodedCiphertext>,
}

impl ChainBlock {
    /// Pairs a block with its bodies; they must be exactly the block's ids, in order, each
    /// under its label's namespace.
    pub fn new(block: Block, bodies: Vec<EncodedCiphertext>) -> Result<Self, BlockError> {
        if bodies.len() != block.len() {
            return Err(BlockError::BodiesMismatch);
        }
        let mut it = bodies.iter();
        for nb in &block.batches {
            for id in &nb.ids {
                let ct = it.next().expect("lengths are equal");
                if ct.id() != *id {
                    return Err(BlockError::BodiesMismatch);
                }
                if ct.label().namespace() != nb.namespace {
                    return Err(BlockError::WrongNamespace(*id));
                }
            }
        }
        Ok(Self { block, bodies })
    }

    pub fn genesis() -> Self {
        Self {
            block: Block::genesis(),
            bodies: Vec::new(),
        }
    }

    pub fn block(&self) -> &Block {
        &self.block
    }

    pub fn bodies(&self) -> &[EncodedCiphertext] {
        &self.bodies
    }

    pub fn into_parts(self) -> (Block, Vec<EncodedCiphertext>) {
        (self.block, self.bodies)
    }
}

impl Write for ChainBlock {
    fn write(&self, buf: &mut impl BufMut) {
        let header = self.block.to_bytes();
        buf.put_u32(header.len() as u32);
        buf.put_slice(&header);
        for ct in &self.bodies {
            let b = ct.as_bytes();
            buf.put_u32(b.len() as u32);
            buf.put_slice(b);
        }
    }
}

impl EncodeSize for ChainBlock {
    fn encode_size(&self) -> usize {
        4 + self.block.to_bytes().len()
            + self
                .bodies
                .iter()
                .map(|c| 4 + c.encoded_len())
                .sum::<usize>()
    }
}

/// Reads a u32 length, checks it against `max` and the bytes left, and takes that many bytes.
fn take(buf: &mut impl Buf, max: usize, what: &'static str) -> Result<Vec<u8>, CodecError> {
    if buf.remaining() < 4 {
        return Err(CodecError::EndOfBuffer);
    }
    let len = buf.get_u32() as usize;
    if len > max {
        return Err(CodecError::Invalid(what, "length above the cap"));
    }
    if buf.remaining() < len {
        return Err(CodecError::EndOfBuffer);
    }
    let mut out = vec![0; len];
    buf.copy_to_slice(&mut out);
    Ok(out)
}

impl Read for ChainBlock {
    type Cfg = BlockLimits;

    fn read_cfg(buf: &mut impl Buf, limits: &BlockLimits) -> Result<Self, CodecError> {
        let max_header = 45 + 12 * limits.max_namespaces + 32 * limits.max_ciphertexts;
        let header = take(buf, max_header, "block header")?;
        let block = Block::from_bytes(&header, limits)
            .map_err(|_| CodecError::Invalid("block", "malformed header"))?;
        let mut bodies = Vec::with_capacity(block.len());
        let mut total = 0usize;
        for _ in 0..block.len() {
            let bytes = take(buf, MAX_BODY_LEN, "block body")?;
            total += bytes.len();
            if total > limits.max_bytes {
                return Err(CodecError::Invalid("block", "bodies above the byte limit"));
            }
            bodies.push(
                EncodedCiphertext::parse(&bytes)
                    .map_err(|_| CodecError::Invalid("block body", "malformed ciphertext"))?,
            );
        }
        Self::new(block, bodies)
            .map_err(|_| CodecError::Invalid("block", "bodies do not match ids"))
    }
}

impl Digestible for ChainBlock {
    type Digest = sha256::Digest;
    fn digest(&self) -> sha256::Digest {
        sha256::Digest(self.block.digest().0)
    }
}

impl Heightable for ChainBlock {
    fn height(&self) -> Height {
        Height::new(self.block.height)
    }
}

impl commonware_consensus::Block for ChainBlock {
    fn parent(&self) -> sha256::Digest {
        sha256::Digest(self.block.parent.0)
    }
}

/// The full check of a proposal that arrives with its bodies: everything
/// [`check_proposal`] checks, with bodies this member does not hold verified in its mempool
/// checked by one batched validity check per key epoch (a body for an epoch that is not open
/// here, or that fails validity, makes the block invalid). Returns the verified ciphertexts in
/// committed order; they are what share production will later be given.
pub fn verify_chain_block<R: CryptoRng + ?Sized>(
    cb: &ChainBlock,
    parent: &Block,
    limits: &BlockLimits,
    in_ancestors: &HashSet<CtId>,
    pool: &Mempool,
    rng: &mut R,
) -> Result<Vec<Arc<VerifiedCiphertext>>, BlockError> {
    let verified = verify_unheld(&cb.bodies, pool, true, rng)?;
    check_proposal(&cb.block, parent, limits, in_ancestors, |id| {
        if let Some(v) = pool.get(id).or_else(|| verified.get(id)) {
            Lookup::Pending(Arc::clone(v))
        } else if pool.is_ordered(id) {
            Lookup::Finalized
        } else {
            Lookup::Unknown
        }
    })
}

/// Decodes and checks, with one batched validity check per key epoch, the bodies `pool` does
/// not hold verified (skipping ids already ordered when `skip_ordered`: the block check
/// refuses those).
pub(crate) fn verify_unheld<R: CryptoRng + ?Sized>(
    bodies: &[EncodedCiphertext],
    pool: &Mempool,
    skip_ordered: bool,
    rng: &mut R,
) -> Result<HashMap<CtId, Arc<VerifiedCiphertext>>, BlockError> {
    let unheld: Vec<EncodedCiphertext> = bodies
        .iter()
        .filter(|ct| {
            let id = ct.id();
            pool.get(&id).is_none() && !(skip_ordered && pool.is_ordered(&id))
        })
        .cloned()
        .collect();
    let mut fresh: BTreeMap<u64, Vec<Ciphertext>> = BTreeMap::new();
    for (enc, ct) in unheld.iter().zip(decode_all(&unheld)) {
        let ct = ct.map_err(|_| BlockError::InvalidCiphertext(enc.id()))?;
        fresh.entry(ct.label().key_epoch()).or_default().push(ct);
    }
    let mut verified = HashMap::new();
    for (epoch, cts) in fresh {
        let key = pool.key(epoch).ok_or(BlockError::UnknownEpoch(epoch))?;
        for res in verify_batch(key, cts, rng) {
            let v = res.map_err(|rej| BlockError::InvalidCiphertext(rej.ciphertext.id()))?;
            verified.insert(v.id(), Arc::new(v));
        }
    }
    Ok(verified)
}
