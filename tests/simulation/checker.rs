//! The invariants every run must satisfy, checked on what the members released and sent:
//! the logs agree, a third party verifies every released batch (with the node-free finality
//! verifier, checked against commonware's own), every submission is released once, no share
//! batch left a member early or for a block outside the final chain, and only faulty members
//! are named.

use crate::scenario::{Run, INCLUSION, NAMESPACE};
use commonware_codec::Decode as _;
use commonware_consensus::simplex::types::Finalization;
use commonware_cryptography::certificate::Verifier as _;
use commonware_cryptography::sha256;
use commonware_parallel::Sequential;
use curtain::ledger::evidence::{Accused, Evidence, EvidenceKind, Judge};
use curtain::ledger::finality::FinalityVerifier;
use curtain::ledger::release::ReleasedBatch;
use curtain::ledger::{Digest, Height, KeyEpoch};
use curtain::node::Timeouts;
use curtain::node::{core::reveal::batch_id, ConsensusScheme};
use curtain_crypto::Decryption;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// commonware's own check of a finality proof: the reference the node-free verifier
/// (`curtain::ledger::finality`) must agree with. Returns the finalized block's digest.
pub(crate) fn commonware_certified(verifier: &ConsensusScheme, cert: &[u8]) -> Option<[u8; 32]> {
    let f = Finalization::<ConsensusScheme, sha256::Digest>::decode_cfg(
        bytes::Bytes::copy_from_slice(cert),
        &verifier.certificate_codec_config(),
    )
    .ok()?;
    f.verify(&mut rand::rng(), verifier, &Sequential)
        .then_some(f.proposal.payload.0)
}

/// The wallet's verifier for a run's committee, decoded from the same polynomial encoding
/// `GET /v1/committee` serves.
pub(crate) fn node_free_verifier(run: &Run) -> FinalityVerifier {
    let from_public =
        FinalityVerifier::from_consensus_public(&run.consensus_public, run.scenario.n)
            .expect("the committee's polynomial decodes");
    // `from_consensus_public` binds curtain's namespace; the simulation signs under its own
    let identity = blst::min_sig::PublicKey::uncompress(&from_public.identity()).unwrap();
    FinalityVerifier::new(NAMESPACE, identity)
}

/// The invariants every run must satisfy.
pub(crate) fn check(run: &Run) {
    let longest = logs_agree(run);
    released_once_and_verified(run, longest);
    shares_only_for_final_blocks(run, longest);
    honest_members_release_all_and_name_only_the_faulty(run);
    evidence_holds_and_names_only_the_faulty(run);
}

/// Every piece of evidence an honest member holds verifies node-free, with the committee
/// alone, and names a member that did the faulty thing: the one with wrong shares for wrong
/// shares, the twins for equivocation. Returns, per honest member, whom it accuses.
pub(crate) fn evidence_holds_and_names_only_the_faulty(
    run: &Run,
) -> Vec<BTreeSet<(EvidenceKind, u32)>> {
    let sc = run.scenario;
    let committees = [run.committee.clone()];
    let judge = Judge {
        committees: &committees,
        rln: None,
    };
    let mut rng = rand::rng();
    let mut accused = Vec::new();
    for i in (0..sc.n).filter(|&i| sc.honest(i)) {
        let mut mine = BTreeSet::new();
        for r in &run.evidence[i] {
            let e = Evidence::from_bytes(&r.bytes).expect("held evidence decodes");
            assert_eq!(e.id(), r.id);
            let verdict = e.verify(&judge, &mut rng).unwrap_or_else(|err| {
                panic!("member {i} holds evidence that does not hold: {err}")
            });
            let Accused::Member { index, .. } = verdict.accused else {
                panic!("no anonymous sender here")
            };
            let faulty = match e.kind() {
                EvidenceKind::WrongShares => sc.wrong_shares,
                EvidenceKind::Equivocation => sc.twins,
                EvidenceKind::DoubleSignal => None,
            };
            assert_eq!(
                faulty,
                Some(index as usize),
                "seed {}: member {i} accuses member {index} ({})",
                sc.seed,
                verdict.fault,
            );
            mine.insert((e.kind(), index));
        }
        accused.push(mine);
    }
    accused
}

/// Every member's log is a prefix of the longest one, byte for byte (content; finality
/// proofs may name different descendants), with heights consecutive from 1. Returns the
/// longest.
fn logs_agree(run: &Run) -> &[ReleasedBatch] {
    let longest = run.releases.iter().max_by_key(|r| r.len()).unwrap();
    for log in &run.releases {
        for (a, b) in log.iter().zip(longest) {
            assert_eq!(a.content_bytes(), b.content_bytes(), "release logs diverge");
        }
        // heights consecutive from 1
        for (i, b) in log.iter().enumerate() {
            assert_eq!(b.height, Height(i as u64 + 1));
        }
    }
    longest
}

/// Every accepted ciphertext released exactly once, as its plaintext, in batches a third
/// party verifies: block, certificate, openings, outcomes.
fn released_once_and_verified(run: &Run, longest: &[ReleasedBatch]) {
    let position: BTreeMap<[u8; 32], usize> = longest
        .iter()
        .enumerate()
        .map(|(i, b)| (b.block.0, i))
        .collect();
    let mut released = BTreeSet::new();
    let mut rng = rand::rng();
    let finality = node_free_verifier(run);
    for b in longest {
        let key = run.key.clone();
        b.verify(
            |e| (e == KeyEpoch(0)).then(|| key.clone()),
            |_, digest, cert| certifies(run, longest, &position, &finality, digest, cert),
            &mut rng,
        )
        .expect("released batch verifies");
        for ns in &b.namespaces {
            for e in &ns.entries {
                assert!(released.insert(e.ciphertext.id()), "released twice");
                assert!(matches!(&e.outcome, Decryption::Plaintext(p) if p.starts_with(b"tx ")));
            }
        }
    }
    assert_eq!(released, run.submitted);
}

/// Whether `cert` finalizes the block `digest` or a descendant of it in the log (`position`
/// indexes `longest` by block digest). The wallet's node-free verifier and commonware's
/// agree on every proof.
fn certifies(
    run: &Run,
    longest: &[ReleasedBatch],
    position: &BTreeMap<[u8; 32], usize>,
    finality: &FinalityVerifier,
    digest: &Digest,
    cert: &[u8],
) -> bool {
    let certified = finality.verify(cert).ok();
    assert_eq!(
        certified.map(|d| d.0),
        commonware_certified(&run.verifier, cert)
    );
    let Some(certified) = certified else {
        return false;
    };
    let Some(&start) = position.get(&certified.0) else {
        return false;
    };
    let mut pos = start;
    while longest[pos].block != *digest {
        if pos == 0 || longest[pos].parent != longest[pos - 1].block {
            return false;
        }
        pos -= 1;
    }
    true
}

/// No share batch left a member for a block outside the final chain, or before that block
/// was final there.
fn shares_only_for_final_blocks(run: &Run, longest: &[ReleasedBatch]) {
    let final_batches: BTreeMap<[u8; 32], u64> = longest
        .iter()
        .map(|b| (batch_id(&b.block, KeyEpoch(0)), b.height.get()))
        .collect();
    assert!(!run.wire.shares.is_empty(), "shares were observed");
    for (member, id, finalized) in &run.wire.shares {
        let height = final_batches
            .get(id)
            .unwrap_or_else(|| panic!("member {member} shared for a block not final"));
        if let Some(finalized) = finalized {
            assert!(
                finalized >= height,
                "member {member} shared height {height} when final up to {finalized}"
            );
        }
    }
}

/// Every honest member released every submission, and named only the member with wrong
/// shares (if it was needed to combine).
fn honest_members_release_all_and_name_only_the_faulty(run: &Run) {
    let sc = run.scenario;
    for i in (0..sc.n).filter(|&i| sc.honest(i)) {
        let mine: BTreeSet<[u8; 32]> = run.releases[i]
            .iter()
            .flat_map(|b| b.entries())
            .map(|e| e.ciphertext.id())
            .collect();
        assert_eq!(mine, run.submitted, "honest member {i} released everything");
        for m in &run.faulty[i] {
            assert_eq!(
                Some(*m as usize),
                sc.wrong_shares,
                "an honest member was named"
            );
        }
    }
}

/// The ordering bound SPEC §5.7 states, with the simulation's parameters: links of δ = 25 ms
/// (20 ms ± 5), admission a = δ + 10 ms, the simulation's lists (`INCLUSION`), at most 2f
/// failed views of at most the certification timeout plus 2δ each, and one honest leader's
/// view (its idle pacing plus 4δ to notarize and finalize); plus the 10 ms sampling of the
/// height watcher.
pub(crate) fn inclusion_bound(n: usize) -> Duration {
    let f = (n as u32 - 1) / 3;
    let t = Timeouts::default();
    let ms = Duration::from_millis;
    let delta = ms(25);
    let a = delta + ms(10);
    let t_x = a
        + ms(INCLUSION.list_after_ms)
        + ms(INCLUSION.tick_ms)
        + delta
        + ms(INCLUSION.enforce_after_ms);
    let failed_view = t.certification + 2 * delta;
    let honest_view = t.pacing.idle_interval + 4 * delta;
    t_x + delta + 2 * f * failed_view + honest_view + ms(10)
}

/// Every submission was ordered within [`inclusion_bound`] of its first acceptance by an
/// honest member (the first height final at an honest member that carries it). Returns each
/// submission's delays from that acceptance and from the wallet's first submission (which
/// adds the resubmission deadlines when a member dropped it).
pub(crate) fn ordered_within_bound(run: &Run) -> Vec<(Duration, Duration)> {
    let longest = run.releases.iter().max_by_key(|r| r.len()).unwrap();
    let height: BTreeMap<[u8; 32], u64> = longest
        .iter()
        .flat_map(|b| {
            b.entries()
                .map(move |e| (e.ciphertext.id(), b.height.get()))
        })
        .collect();
    let bound = inclusion_bound(run.scenario.n);
    let mut delays = Vec::new();
    for id in &run.submitted {
        let accepted = run.accepted_at[id];
        let h = height[id];
        let ordered = run.wire.finalized_at[&h];
        let delay = ordered.saturating_sub(accepted);
        assert!(
            delay <= bound,
            "{} ordered at height {h} {delay:?} after its acceptance: above the bound {bound:?}",
            hex::encode(id)
        );
        delays.push((delay, ordered.saturating_sub(run.submitted_at[id])));
    }
    delays
}
