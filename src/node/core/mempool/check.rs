//! Admission's costly phase: decoding and checking screened submissions in one batch, with
//! no access to the mempool (so it runs outside the member's lock).

use super::*;

pub(super) struct Candidate {
    /// Position in the submitted list.
    pub(super) at: usize,
    pub(super) internal: bool,
    pub(super) ct: Envelope,
    pub(super) key: Arc<CommitteeKey>,
}

pub(super) type Verdicts = Vec<Option<Result<Arc<Verified>, Reject>>>;

/// Submissions past [`Mempool::screen`], to be decoded and checked.
pub struct Screened {
    /// When the screen ran: the admission time recorded for what gets inserted.
    pub(super) now_ms: u64,
    pub(super) ids: Vec<CtId>,
    pub(super) verdicts: Verdicts,
    pub(super) passed: Vec<Candidate>,
    /// The RLN verifying key, when some namespace is anonymous.
    pub(super) vk: Option<Arc<VerifyingKey>>,
}

/// Submissions past [`Screened::check`], to be inserted by [`Mempool::insert`].
pub struct Checked {
    pub(super) now_ms: u64,
    pub(super) ids: Vec<CtId>,
    pub(super) verdicts: Verdicts,
    /// (position, exempt from caps, ciphertext)
    pub(super) verified: Vec<(usize, bool, Verified)>,
}

/// Decodes RLN proofs (in parallel) and verifies them with one batched check; returns the
/// positions (in `items`) of those that fail, each with its reason.
pub fn verify_rln_batch<R: CryptoRng + ?Sized>(
    vk: &VerifyingKey,
    items: &[&RlnProof],
    rng: &mut R,
) -> Vec<usize> {
    let decoded: Vec<Option<Proof>> = items.par_iter().map(|p| p.decode_proof().ok()).collect();
    let mut bad: Vec<usize> = Vec::new();
    let mut at = Vec::new();
    let mut batch: Vec<(Statement, Proof)> = Vec::new();
    for (i, (p, d)) in items.iter().zip(decoded).enumerate() {
        match d {
            Some(proof) => {
                at.push(i);
                batch.push((p.statement, proof));
            }
            None => bad.push(i),
        }
    }
    if curtain_circuits::verify_batch(vk, &batch, rng).is_err() {
        bad.extend(
            curtain_circuits::find_invalid(vk, &batch)
                .into_iter()
                .map(|j| at[j]),
        );
        bad.sort_unstable();
    }
    bad
}

impl Screened {
    /// Decodes the points (in parallel) and checks validity with one batched check per key
    /// epoch. Needs no access to the mempool.
    pub fn check<R: CryptoRng + ?Sized>(self, rng: &mut R) -> Checked {
        let Screened {
            now_ms,
            ids,
            mut verdicts,
            passed,
            vk,
        } = self;
        let encoded: Vec<EncodedCiphertext> =
            passed.iter().map(|c| c.ct.ciphertext().clone()).collect();
        let mut by_epoch: BTreeMap<KeyEpoch, Vec<(Candidate, Ciphertext)>> = BTreeMap::new();
        for (c, ct) in passed.into_iter().zip(decode_all(&encoded)) {
            match ct {
                Ok(ct) => by_epoch
                    .entry(ct.label().key_epoch())
                    .or_default()
                    .push((c, ct)),
                Err(e) => verdicts[c.at] = Some(Err(Reject::Malformed(e))),
            }
        }
        let mut verified = Vec::new();
        for group in by_epoch.into_values() {
            let key = Arc::clone(&group[0].0.key);
            let (cands, cts): (Vec<Candidate>, Vec<Ciphertext>) = group.into_iter().unzip();
            for (c, res) in cands.into_iter().zip(verify_batch(&key, cts, rng)) {
                match res {
                    Ok(v) => {
                        verified.push((c.at, c.internal, Verified::new(v, c.ct.rln().cloned())))
                    }
                    Err(rej) => verdicts[c.at] = Some(Err(Reject::Invalid(rej.reason))),
                }
            }
        }
        // RLN proofs of the valid ciphertexts: one batched check (the screen step checked
        // that only anonymous namespaces carry them)
        if let Some(vk) = vk {
            let with: Vec<usize> = (0..verified.len())
                .filter(|&i| verified[i].2.rln().is_some())
                .collect();
            let proofs: Vec<&RlnProof> = with
                .iter()
                .map(|&i| &**verified[i].2.rln().expect("filtered"))
                .collect();
            let bad = verify_rln_batch(&vk, &proofs, rng);
            let mut drop = vec![false; verified.len()];
            for b in bad {
                drop[with[b]] = true;
            }
            let mut i = 0;
            verified.retain(|(at, _, _)| {
                let keep = !drop[i];
                i += 1;
                if !keep {
                    verdicts[*at] = Some(Err(Reject::Rln(RlnReject::InvalidProof)));
                }
                keep
            });
        }
        Checked {
            now_ms,
            ids,
            verdicts,
            verified,
        }
    }
}
