//! The block as commonware's consensus and marshal see it: the ordered ids (what the digest
//! commits to) together with the ciphertext bodies, so a block travels, is backfilled and is
//! stored with everything a member needs to verify it and, once final, decrypt it. Ids are
//! digests of the bodies, so committing to the ids commits to the bodies.
//!
//! Bodies are kept as encodings ([`EncodedCiphertext`]): reading a block from storage or the
//! network checks structure and hashes, and the points are decoded only where a body must be
//! verified (a proposal's bodies this member does not hold, a backfilled final block).

use super::epochs::LabelWindow;
use super::mempool::{verify_rln_batch, Mempool};
use super::rln::{check_binding, RlnReject};
use crate::ledger::block::{check_proposal, Block, BlockError, BlockLimits, Lookup};
use crate::ledger::envelope::{admissions_digest, Envelope, RlnProof, Verified, MAX_ENVELOPE_LEN};
use crate::ledger::{CtId, Height};
use bytes::{Buf, BufMut};
use commonware_codec::{EncodeSize, Error as CodecError, Read, Write};
use commonware_consensus::{types::Height as CwHeight, Heightable};
use commonware_cryptography::{sha256, Digestible};
use curtain_crypto::{
    decode_all, verify_batch, Ciphertext, CommitteeKey, EncodedCiphertext, KeyEpoch,
    VerifiedCiphertext,
};
use rand_core::CryptoRng;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// Largest envelope accepted inside a block.
const MAX_BODY_LEN: usize = MAX_ENVELOPE_LEN;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainBlock {
    block: Block,
    /// The envelopes in committed order (namespace ascending, then listed order).
    bodies: Vec<Envelope>,
}

impl ChainBlock {
    /// Pairs a block with its bodies; they must be exactly the block's ids, in order, each
    /// under its label's namespace, and their RLN proofs must be the ones the block commits to.
    pub fn new(block: Block, bodies: Vec<Envelope>) -> Result<Self, BlockError> {
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
                if ct.ciphertext().label().namespace() != nb.namespace {
                    return Err(BlockError::WrongNamespace(*id));
                }
            }
        }
        if admissions_digest(bodies.iter().map(|b| b.rln().map(|p| &**p))) != block.admissions {
            return Err(BlockError::AdmissionsMismatch);
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

    pub fn bodies(&self) -> &[Envelope] {
        &self.bodies
    }

    pub fn into_parts(self) -> (Block, Vec<Envelope>) {
        (self.block, self.bodies)
    }
}

impl Write for ChainBlock {
    fn write(&self, buf: &mut impl BufMut) {
        let header = self.block.to_bytes();
        buf.put_u32(header.len() as u32);
        buf.put_slice(&header);
        for ct in &self.bodies {
            let b = ct.to_bytes();
            buf.put_u32(b.len() as u32);
            buf.put_slice(&b);
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
        let max_header = 77 + 12 * limits.max_namespaces + 32 * limits.max_ciphertexts;
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
                Envelope::parse(&bytes)
                    .map_err(|_| CodecError::Invalid("block body", "malformed envelope"))?,
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
    fn height(&self) -> CwHeight {
        CwHeight::new(self.block.height.get())
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
    used_nullifiers: &HashSet<(u64, [u8; 32])>,
    rng: &mut R,
) -> Result<Vec<Arc<Verified>>, BlockError> {
    let height = cb.block.height;
    for body in &cb.bodies {
        let epoch = body.ciphertext().label().key_epoch();
        match pool.epochs().admits(height, epoch) {
            Ok(()) => {}
            Err(LabelWindow::Unknown) => return Err(BlockError::UnknownEpoch(epoch)),
            Err(_) => return Err(BlockError::LabelEpoch { epoch, height }),
        }
    }
    let verified = verify_unheld(&cb.bodies, pool, true, rng)?;
    let out = check_proposal(&cb.block, parent, limits, in_ancestors, |id| {
        if let Some(v) = verified.get(id).or_else(|| pool.get(id)) {
            Lookup::Pending(Arc::clone(v))
        } else if pool.is_ordered(id) {
            Lookup::Finalized
        } else {
            Lookup::Unknown
        }
    })?;
    check_rln_entries(cb.block.height, &out, pool, used_nullifiers)?;
    Ok(out)
}

/// The anonymous-admission rules of a block at `height` (SPEC.md §8.11), deterministic given
/// the chain: an entry carries a proof iff its namespace is anonymous; the statement is bound
/// to the ciphertext; its epoch is one the block's height accepts; its root is among the
/// roots of the registry released up to `height - root_lag`; its nullifier is used neither
/// by a finalized entry, nor in an unfinalized ancestor (`used`), nor twice in the block.
/// Proofs were verified when the bodies were (admission or [`verify_unheld`]).
pub fn check_rln_entries(
    height: Height,
    entries: &[Arc<Verified>],
    pool: &Mempool,
    used: &HashSet<(u64, [u8; 32])>,
) -> Result<(), BlockError> {
    let st = pool.rln();
    let mut roots = None;
    let mut in_block = HashSet::new();
    for v in entries {
        let id = v.id();
        let ns = v.label().namespace();
        let anonymous = st.is_some_and(|s| s.rules.is_anonymous(ns));
        let p = match (v.rln(), anonymous) {
            (None, false) => continue,
            (None, true) => return Err(BlockError::Rln(id, RlnReject::ProofRequired)),
            (Some(_), false) => return Err(BlockError::Rln(id, RlnReject::UnexpectedProof)),
            (Some(p), true) => p,
        };
        let st = st.expect("anonymous");
        check_binding(&id, v.label().sender(), p).map_err(|r| BlockError::Rln(id, r))?;
        let s = &p.statement;
        if !st.rules.block_epochs(height.get()).contains(&s.epoch) {
            return Err(BlockError::Rln(id, RlnReject::WrongEpoch(s.epoch)));
        }
        if roots.is_none() {
            roots = Some(st.registry.roots_for_block(&st.rules, height.get()).ok_or(
                BlockError::RegistryBehind(height.saturating_sub(st.rules.settings.root_lag)),
            )?);
        }
        if !roots.as_ref().expect("set").contains(&s.root) {
            return Err(BlockError::Rln(id, RlnReject::UnknownRoot));
        }
        let key = (s.epoch, p.nullifier());
        if st.nullifiers.is_ordered(s.epoch, &key.1) || used.contains(&key) || !in_block.insert(key)
        {
            return Err(BlockError::Rln(id, RlnReject::OverQuota));
        }
    }
    Ok(())
}

/// Decodes and checks every body's ciphertext, with one batched validity check per key
/// epoch, under `keys`; the verified ciphertexts in block order (RLN proofs are not checked:
/// for a block already final, only its ciphertexts matter).
pub(crate) fn verify_ciphertexts<R: CryptoRng + ?Sized>(
    bodies: &[Envelope],
    keys: &BTreeMap<KeyEpoch, Arc<CommitteeKey>>,
    rng: &mut R,
) -> Result<Vec<VerifiedCiphertext>, BlockError> {
    let encoded: Vec<EncodedCiphertext> = bodies.iter().map(|e| e.ciphertext().clone()).collect();
    let mut by_epoch: BTreeMap<KeyEpoch, (Vec<usize>, Vec<Ciphertext>)> = BTreeMap::new();
    for (i, (enc, ct)) in encoded.iter().zip(decode_all(&encoded)).enumerate() {
        let ct = ct.map_err(|_| BlockError::InvalidCiphertext(enc.id()))?;
        let group = by_epoch.entry(ct.label().key_epoch()).or_default();
        group.0.push(i);
        group.1.push(ct);
    }
    let mut out: Vec<Option<VerifiedCiphertext>> = (0..bodies.len()).map(|_| None).collect();
    for (epoch, (positions, cts)) in by_epoch {
        let key = keys.get(&epoch).ok_or(BlockError::UnknownEpoch(epoch))?;
        for (i, res) in positions.into_iter().zip(verify_batch(key, cts, rng)) {
            out[i] = Some(res.map_err(|rej| BlockError::InvalidCiphertext(rej.ciphertext.id()))?);
        }
    }
    Ok(out
        .into_iter()
        .map(|v| v.expect("every body checked"))
        .collect())
}

/// Decodes and checks, with one batched validity check per key epoch, the bodies `pool` does
/// not hold verified (skipping ids already ordered when `skip_ordered`: the block check
/// refuses those).
pub(crate) fn verify_unheld<R: CryptoRng + ?Sized>(
    bodies: &[Envelope],
    pool: &Mempool,
    skip_ordered: bool,
    rng: &mut R,
) -> Result<HashMap<CtId, Arc<Verified>>, BlockError> {
    // held means held verified *with the same proof*: a block may carry another proof for a
    // ciphertext this member holds, and the block's proof is the one that counts
    let unheld: Vec<&Envelope> = bodies
        .iter()
        .filter(|ct| {
            let id = ct.id();
            let held = pool.get(&id).is_some_and(|v| v.rln() == ct.rln());
            !(held || skip_ordered && pool.is_ordered(&id))
        })
        .collect();
    let encoded: Vec<EncodedCiphertext> = unheld.iter().map(|e| e.ciphertext().clone()).collect();
    let proofs: HashMap<CtId, Arc<RlnProof>> = unheld
        .iter()
        .filter_map(|e| Some((e.id(), Arc::clone(e.rln()?))))
        .collect();
    let mut fresh: BTreeMap<KeyEpoch, Vec<Ciphertext>> = BTreeMap::new();
    for (enc, ct) in encoded.iter().zip(decode_all(&encoded)) {
        let ct = ct.map_err(|_| BlockError::InvalidCiphertext(enc.id()))?;
        fresh.entry(ct.label().key_epoch()).or_default().push(ct);
    }
    let mut verified = HashMap::new();
    for (epoch, cts) in fresh {
        let key = pool.key(epoch).ok_or(BlockError::UnknownEpoch(epoch))?;
        for res in verify_batch(key, cts, rng) {
            let v = res.map_err(|rej| BlockError::InvalidCiphertext(rej.ciphertext.id()))?;
            let rln = proofs.get(&v.id()).cloned();
            verified.insert(v.id(), Arc::new(Verified::new(v, rln)));
        }
    }
    if !proofs.is_empty() {
        let vk = pool
            .rln()
            .map(|st| Arc::clone(&st.rules.vk))
            .ok_or_else(|| {
                let id = *proofs.keys().next().expect("non-empty");
                BlockError::Rln(id, RlnReject::UnexpectedProof)
            })?;
        let ids: Vec<CtId> = proofs.keys().copied().collect();
        let items: Vec<&RlnProof> = ids.iter().map(|id| &*proofs[id]).collect();
        if let Some(&bad) = verify_rln_batch(&vk, &items, rng).first() {
            return Err(BlockError::Rln(ids[bad], RlnReject::InvalidProof));
        }
    }
    Ok(verified)
}
