//! Deterministic simulation of whole members: commonware's deterministic runtime and simulated
//! p2p, real simplex + marshal, real crypto. Each seed is one run; an invariant checker reads
//! every member's release stream.
//!
//! The scenarios are here; `scenario` runs one, `committee` deals the keys and starts the
//! members, `adversary` holds the byzantine behaviours and `checker` the invariants.

mod adversary;
mod checker;
mod committee;
#[path = "../common/mod.rs"]
mod common;
mod scenario;

use adversary::Censor;
use checker::{
    check, commonware_certified, evidence_holds_and_names_only_the_faulty, inclusion_bound,
    node_free_verifier, ordered_within_bound,
};
use commonware_codec::Encode as _;
use commonware_cryptography::{
    bls12381::{
        dkg::feldman_desmedt::deal as consensus_deal,
        primitives::{sharing::Mode, variant::MinSig},
    },
    ed25519, Signer as _,
};
use commonware_utils::{ordered::Set, N3f1};
use curtain::ledger::evidence::EvidenceKind;
use curtain::ledger::finality::{self, FinalityVerifier};
use curtain::node::ConsensusScheme;
use scenario::{run, Scenario, NAMESPACE};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

#[test]
fn four_members_order_and_release_identically() {
    for seed in 0..3 {
        check(&run(Scenario::new(seed, 4, 12)));
    }
}

/// The wallet's node-free finality verifier accepts exactly what commonware's verifier accepts:
/// the run's real certificates, and none of their mauled forms (another committee key, another
/// payload, view, parent view or epoch, every single bit flipped, truncated, extended).
#[test]
fn node_free_finality_verifier_agrees_with_commonware() {
    let run = run(Scenario::new(21, 4, 6));
    check(&run); // every real certificate: both accept, same digest
    let ours = node_free_verifier(&run);
    let agree = |cert: &[u8], ours: &FinalityVerifier, theirs: &ConsensusScheme| {
        let mine = ours.verify(cert).ok().map(|d| d.0);
        assert_eq!(
            mine,
            commonware_certified(theirs, cert),
            "verifiers disagree"
        );
        mine
    };
    let cert = run.releases[0]
        .last()
        .expect("released")
        .certificate
        .clone();
    assert!(agree(&cert, &ours, &run.verifier).is_some());

    // another committee's key
    let pks: Vec<ed25519::PublicKey> = (0..4u64)
        .map(|i| ed25519::PrivateKey::from_seed(i).public_key())
        .collect();
    let participants = Set::from_iter_dedup(pks);
    let (other, _) = consensus_deal::<MinSig, _, N3f1>(
        &mut rand::rng(),
        Mode::NonZeroCounter,
        participants.clone(),
    )
    .expect("deal");
    let theirs_other = ConsensusScheme::verifier(NAMESPACE, participants, other.public().clone());
    let ours_other = FinalityVerifier::new(
        NAMESPACE,
        blst::min_sig::PublicKey::uncompress(&other.public().public().encode()).unwrap(),
    );
    assert!(agree(&cert, &ours_other, &theirs_other).is_none());
    // another namespace
    let ours_ns = FinalityVerifier::new(
        b"curtain-sim-other",
        blst::min_sig::PublicKey::uncompress(&ours.identity()).unwrap(),
    );
    assert!(ours_ns.verify(&cert).is_err());

    // another proposal under the same signature
    let f = finality::Finalization::decode(&cert).expect("decodes");
    let mut mauled = Vec::new();
    for change in 0..4 {
        let mut g = f.clone();
        match change {
            0 => g.payload.0[0] ^= 1,
            1 => g.view += 1,
            2 => g.parent += 1,
            _ => g.epoch += 1,
        }
        mauled.push(g.to_bytes());
    }
    for i in 0..cert.len() * 8 {
        let mut c = cert.clone();
        c[i / 8] ^= 1 << (i % 8);
        mauled.push(c);
    }
    mauled.push(cert[..cert.len() - 1].to_vec());
    mauled.push([cert.as_slice(), &[0]].concat());
    for m in &mauled {
        assert!(
            agree(m, &ours, &run.verifier).is_none(),
            "a mauled proof passed"
        );
    }
}

#[test]
fn seven_members_order_and_release_identically() {
    check(&run(Scenario::new(7, 7, 20)));
}

#[test]
fn lossy_links_still_release_everything() {
    for seed in 0..2 {
        check(&run(Scenario {
            delivery: 0.85,
            ..Scenario::new(100 + seed, 4, 10)
        }));
    }
}

#[test]
fn an_absent_member_does_not_stall_the_others() {
    check(&run(Scenario {
        absent: Some(2),
        ..Scenario::new(200, 4, 10)
    }));
}

#[test]
fn wrong_shares_become_evidence_and_do_not_change_the_output() {
    // n = 7, t = 5: the member with a wrong key share is outvoted in every combine; members
    // whose first t batches include it name it, with evidence a third party verifies
    let run = run(Scenario {
        wrong_shares: Some(0),
        ..Scenario::new(300, 7, 14)
    });
    check(&run);
    for (i, f) in run.faulty.iter().enumerate().skip(1) {
        assert_eq!(f, &vec![0], "member {i} names member 0");
    }
    let accused = evidence_holds_and_names_only_the_faulty(&run);
    for (i, a) in accused.iter().enumerate() {
        assert_eq!(
            a,
            &BTreeSet::from([(EvidenceKind::WrongShares, 0)]),
            "honest member {} holds evidence against member 0",
            i + 1
        );
    }
    same_evidence_everywhere(&run);
}

/// Every honest member holds the same pieces (members relay what they make or receive).
fn same_evidence_everywhere(run: &scenario::Run) {
    let ids = |i: usize| -> BTreeSet<[u8; 32]> { run.evidence[i].iter().map(|r| r.id).collect() };
    let honest: Vec<usize> = (0..run.scenario.n)
        .filter(|&i| run.scenario.honest(i))
        .collect();
    for &i in &honest[1..] {
        assert_eq!(
            ids(i),
            ids(honest[0]),
            "members {} and {i} hold the same evidence",
            honest[0]
        );
    }
}

#[test]
fn evidence_survives_a_crash_and_names_no_crashed_member() {
    // member 0 has a wrong share; member 1 is killed mid-run and restarted from its storage:
    // its evidence against 0 is there after the restart, and the crash itself (a liveness
    // fault) is evidence against nobody
    let run = run(Scenario {
        wrong_shares: Some(0),
        crash: Some((1, Duration::from_millis(1200), Duration::from_secs(3))),
        ..Scenario::new(310, 7, 200)
    });
    check(&run);
    let accused = evidence_holds_and_names_only_the_faulty(&run);
    assert!(accused
        .iter()
        .all(|a| a == &BTreeSet::from([(EvidenceKind::WrongShares, 0)])));
}

#[test]
fn an_isolated_member_catches_up_after_the_partition_heals() {
    // member 1 misses the first 20 s: it catches up through marshal's backfill and asks
    // again for the share batches it never saw
    check(&run(Scenario {
        isolated: Some((1, Duration::from_secs(20))),
        ..Scenario::new(400, 4, 10)
    }));
}

#[test]
fn a_member_withholding_its_shares_does_not_stall_the_others() {
    check(&run(Scenario {
        withholds: Some(1),
        ..Scenario::new(600, 4, 12)
    }));
}

#[test]
fn a_member_flooding_share_requests_does_not_slow_releases() {
    // The same committee and load with and without one member flooding every peer with share
    // requests at its quota (real batch ids of released heights and random ones): honest
    // members answer from a bounded window and cache, recompute at most a few per second per
    // peer outside the member lock, and release as fast as without the flood.
    let base = run(Scenario::new(650, 4, 120));
    check(&base);
    let flooded = run(Scenario {
        floods: Some(2),
        ..Scenario::new(650, 4, 120)
    });
    check(&flooded);
    eprintln!(
        "all released after {:?} without the flood, {:?} with {} requests",
        base.took, flooded.took, flooded.wire.flood_requests
    );
    assert!(flooded.wire.flood_requests >= 500, "the flood ran");
    assert!(
        flooded.took.as_secs_f64() <= base.took.as_secs_f64() * 1.1,
        "releases within 10% of the run without the flood: {:?} against {:?}",
        flooded.took,
        base.took
    );
}

#[test]
fn an_equivocating_leader_gets_nothing_ordered_twice_or_revealed_early() {
    // Twins equivocate only when, as leader, their two mempools differ; run seeds until one
    // run shows it (every run is checked).
    let equivocated = (700..708).any(|seed| {
        let run = run(Scenario {
            twins: Some(0),
            ..Scenario::new(seed, 4, 40)
        });
        check(&run);
        // equivocation evidence, if an honest member saw both twins' votes, names a twin
        // (`check` verified it node-free)
        let accused = evidence_holds_and_names_only_the_faulty(&run);
        eprintln!(
            "seed {seed}: equivocation evidence at {} honest members",
            accused.iter().filter(|a| !a.is_empty()).count()
        );
        let mut by_view: BTreeMap<u64, BTreeSet<[u8; 32]>> = BTreeMap::new();
        for (view, _, payload) in &run.wire.twin_votes {
            by_view.entry(*view).or_default().insert(*payload);
        }
        by_view.values().any(|p| p.len() > 1)
    });
    assert!(
        equivocated,
        "in some view the twins voted for two different blocks"
    );
}

#[test]
fn evidence_of_equivocation_names_the_twins_and_verifies_node_free() {
    // the twins' second copy votes to everyone: the first copy's side sees two votes of one
    // member for one view; simplex reports it, the member verifies it into evidence that
    // checks against the committee alone (`check` verifies every piece and that it names
    // the twins)
    let found = (720..736).any(|seed| {
        let run = run(Scenario {
            twins: Some(0),
            twins_vote_to_all: true,
            ..Scenario::new(seed, 4, 40)
        });
        check(&run);
        let accused = evidence_holds_and_names_only_the_faulty(&run);
        let found = accused
            .iter()
            .any(|a| a.contains(&(EvidenceKind::Equivocation, 0)));
        if found {
            same_evidence_everywhere(&run);
        }
        found
    });
    assert!(found, "some run made equivocation evidence");
}

/// How many random seeds a seeds test runs: `CURTAIN_SIM_SEEDS`, default 240.
fn sim_seeds() -> u64 {
    std::env::var("CURTAIN_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(240)
}

/// Seeds with random faults: `CURTAIN_SIM_SEEDS` sets how many (default 240), split over two
/// tests so both cores run them.
fn random_seeds(half: u64) {
    let seeds = sim_seeds();
    for seed in (1000..1000 + seeds).filter(|s| s % 2 == half) {
        let n = if seed % 3 == 0 { 7 } else { 4 };
        let fault = (seed / 2) % 6;
        let mut sc = Scenario::new(seed, n, 6);
        let who = (seed as usize / 12) % n;
        match fault {
            1 => sc.delivery = 0.9,
            2 => sc.absent = Some(who),
            3 => sc.isolated = Some((who, Duration::from_secs(5))),
            4 => sc.withholds = Some(who),
            5 => {
                sc.twins = Some(who);
                sc.twins_vote_to_all = seed % 4 < 2;
            }
            _ => {}
        }
        check(&run(sc));
    }
}

#[test]
fn random_seeds_even() {
    random_seeds(0);
}

#[test]
fn random_seeds_odd() {
    random_seeds(1);
}

#[test]
fn a_member_killed_and_restarted_mid_run_catches_up_from_its_storage() {
    check(&run(Scenario {
        crash: Some((2, Duration::from_millis(300), Duration::from_secs(8))),
        ..Scenario::new(500, 4, 40)
    }));
}

/// f members of `n` censor as `kind`; the run is checked (every invariant, and every
/// submission ordered within the bound of SPEC §5.7 after an honest member accepted it).
/// Returns the run and each submission's delays to ordering (from its acceptance by an honest
/// member, and from the wallet's first submission).
fn censored(
    kind: Censor,
    n: usize,
    seed: u64,
    txs: usize,
) -> (scenario::Run, Vec<(Duration, Duration)>) {
    let run = run(Scenario {
        censors: Some((kind, (n - 1) / 3)),
        ..Scenario::new(seed, n, txs)
    });
    check(&run);
    let delays = ordered_within_bound(&run);
    (run, delays)
}

#[test]
fn censor_a_leader_leaving_out_one_namespace_cannot_delay_it_past_the_bound() {
    censored(Censor::Namespace, 4, 800, 30);
    censored(Censor::Namespace, 7, 801, 30);
}

#[test]
fn censor_a_leader_leaving_out_one_sender_cannot_delay_it_past_the_bound() {
    censored(Censor::Sender, 4, 810, 30);
    censored(Censor::Sender, 7, 811, 30);
}

#[test]
fn censor_leaders_proposing_only_their_own_entries_cannot_delay_others_past_the_bound() {
    censored(Censor::OwnOnly, 4, 820, 30);
    censored(Censor::OwnOnly, 7, 821, 30);
}

#[test]
fn censor_members_accepting_and_dropping_are_bypassed_by_the_wallets() {
    for (n, seed) in [(4, 830), (7, 831)] {
        let (run, _) = censored(Censor::AcceptsAndDrops, n, seed, 30);
        assert!(
            run.resubmitted > 0,
            "the wallets resubmitted what was dropped"
        );
    }
}

#[test]
fn censor_lists_sent_to_some_members_only_and_bogus_lists_stall_no_honest_leader() {
    censored(Censor::SplitsLists, 4, 840, 30);
    censored(Censor::SplitsLists, 7, 841, 30);
}

/// Seeds with f censors of a random kind (`CURTAIN_SIM_SEEDS`, default 240, split over two
/// tests so both cores run them).
fn censor_seeds(half: u64) {
    let seeds = sim_seeds();
    let kinds = [
        Censor::Namespace,
        Censor::Sender,
        Censor::OwnOnly,
        Censor::AcceptsAndDrops,
        Censor::SplitsLists,
    ];
    for seed in (5000..5000 + seeds).filter(|s| s % 2 == half) {
        let n = if seed % 3 == 0 { 7 } else { 4 };
        censored(kinds[(seed / 2) as usize % kinds.len()], n, seed, 8);
    }
}

#[test]
fn censor_random_seeds_even() {
    censor_seeds(0);
}

#[test]
fn censor_random_seeds_odd() {
    censor_seeds(1);
}

/// Acceptance-to-ordering delays per adversary beside honest-only runs of the same seeds
/// (printed; `cargo test --test simulation censor_delay -- --nocapture`). Every run is
/// checked against the bound; no proposal is refused for an omission without censors, and
/// some censor's is.
#[test]
fn censor_delay_table() {
    let seeds = 900..904u64;
    let stats = |d: Vec<(Duration, Duration)>| {
        let p99_max = |mut d: Vec<Duration>| {
            d.sort();
            (d[(d.len() * 99).div_ceil(100) - 1], *d.last().unwrap())
        };
        let (accepted, submitted): (Vec<_>, Vec<_>) = d.into_iter().unzip();
        (p99_max(accepted), p99_max(submitted))
    };
    let mut rows = Vec::new();
    for n in [4usize, 7] {
        let mut honest = Vec::new();
        let mut refused = 0;
        for seed in seeds.clone() {
            let run = run(Scenario {
                // the censors' workload (two senders), with nobody censoring
                censors: Some((Censor::Namespace, 0)),
                ..Scenario::new(seed, n, 30)
            });
            check(&run);
            honest.extend(ordered_within_bound(&run));
            refused += run.omissions_refused;
        }
        rows.push((n, "honest only".to_string(), stats(honest), refused));
        for kind in [
            Censor::Namespace,
            Censor::Sender,
            Censor::OwnOnly,
            Censor::AcceptsAndDrops,
            Censor::SplitsLists,
        ] {
            let (mut all, mut refused) = (Vec::new(), 0);
            for seed in seeds.clone() {
                let (run, delays) = censored(kind, n, seed, 30);
                all.extend(delays);
                refused += run.omissions_refused;
            }
            rows.push((n, format!("{kind:?} × f"), stats(all), refused));
        }
    }
    eprintln!(
        "| n | adversary | from acceptance: p99 | max | from submission: p99 | max | bound | \
         refused for omissions |"
    );
    eprintln!("|---|---|---|---|---|---|---|---|");
    let mut by_censors = 0;
    for (n, who, ((p99, max), (sp99, smax)), refused) in rows {
        eprintln!(
            "| {n} | {who} | {p99:?} | {max:?} | {sp99:?} | {smax:?} | {:?} | {refused} |",
            inclusion_bound(n)
        );
        if who == "honest only" {
            assert_eq!(
                refused, 0,
                "no honest leader's proposal is refused (n = {n})"
            );
        } else {
            by_censors += refused;
        }
    }
    // the whole path ran: lists, enforcement after Δ', a censor's proposal refused
    assert!(
        by_censors > 0,
        "the vote rule refused some censor's proposal"
    );
}
