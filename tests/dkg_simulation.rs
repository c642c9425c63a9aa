//! The DKG as `curtain dkg` runs it (SPEC.md §9), in deterministic simulation: every member
//! runs `dkg::driver::Driver` as its own task on commonware's deterministic runtime, over the
//! simulated p2p network, with its journal in the runtime's storage. A fresh DKG of four
//! members, a refresh of its keys, and a DKG in which one member crashes mid-ceremony and
//! restarts from its journal: every member ends with the same outputs, and every share fits
//! the public polynomials and decrypts with the committee key.

use commonware_cryptography::bls12381::primitives::group::Share;
use commonware_cryptography::{ed25519, Signer as _};
use commonware_p2p::simulated::{self, Link};
use commonware_runtime::{
    deterministic, Clock as _, Handle, Quota, Runner as _, Spawner as _, Supervisor as _,
};
use commonware_utils::{ordered::Set, NZUsize, NZU32};
use curtain::dkg::driver::{Driver, DriverError, Member};
use curtain::dkg::journal::BlobStore;
use curtain::dkg::{Outcome, Pk, Previous, RoundConfig, Secrets, Timeouts, V};
use curtain::ledger::{KeyEpoch, Namespace};
use curtain_crypto::{Decryption, Label, Padding};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng as _;
use std::collections::BTreeMap;
use std::time::Duration;

type Sk = ed25519::PrivateKey;
type Oracle = simulated::Oracle<Pk, deterministic::Context>;
/// What a member's task ends with: its outcome and how many journal entries it resumed from.
type Finished = Result<(Box<Outcome>, usize), DriverError>;

const TIMEOUTS: Timeouts = Timeouts {
    deal_ms: 1_000,
    logs_ms: 1_000,
    agree_ms: 1_000,
    publish_ms: 1_000,
};
/// How long a finished member keeps answering peers that are still finishing.
const LINGER: Duration = Duration::from_secs(10);

/// A member's task is dropped at `at` (its journal storage stays) and started again
/// `down_for` later.
#[derive(Clone, Copy)]
struct Crash {
    member: usize,
    at: Duration,
    down_for: Duration,
}

/// Four identities, sorted (a member's index is its place among them).
fn identities(seed: u64) -> Vec<Sk> {
    let mut keys: Vec<Sk> = (seed..seed + 4).map(Sk::from_seed).collect();
    keys.sort_by_key(|k| k.public_key());
    keys
}

fn set(keys: &[Sk]) -> Set<Pk> {
    Set::try_from(keys.iter().map(|k| k.public_key()).collect::<Vec<_>>()).unwrap()
}

/// One member, as `curtain dkg` runs it: register on the p2p channel, open the journal,
/// start (or resume) the ceremony, run it, then linger for peers still finishing.
async fn member(
    context: deterministic::Context,
    oracle: Oracle,
    index: usize,
    identity: Sk,
    config: RoundConfig,
    previous: Option<(Share, Share)>,
) -> Finished {
    let control = oracle.control(identity.public_key());
    let (tx, rx) = control
        .register(0, Quota::per_second(NZU32!(1_000)))
        .await
        .expect("channel");
    let partition = format!("dkg-epoch{}-member{index}", config.key_epoch());
    let journal = BlobStore::open(&context, &partition, b"journal").await?;
    let journal_context = format!("dkg/epoch{}/round{}", config.key_epoch(), config.round);
    let member = Member {
        config,
        secrets: Secrets {
            identity,
            consensus: previous.as_ref().map(|p| p.0.clone()),
            encryption: previous.map(|p| p.1),
        },
        rng_seed: [index as u8; 32],
        journal,
        journal_context: journal_context.into_bytes(),
    };
    let mut driver = Driver::start(context.child("driver"), member, tx, rx).await?;
    let resumed = driver.resumed();
    let outcome = driver.run(|_| {}).await?;
    driver.linger(LINGER).await?;
    Ok((outcome, resumed))
}

/// Runs one round among `keys` (dealers ∪ players, sorted) over a simulated network with
/// 20 ms links; returns every member's result, in the order of `keys`.
fn run(
    seed: u64,
    keys: Vec<Sk>,
    config: RoundConfig,
    previous: BTreeMap<Pk, (Share, Share)>,
    crash: Option<Crash>,
) -> Vec<(Box<Outcome>, usize)> {
    let runtime = deterministic::Config::new()
        .with_seed(seed)
        .with_timeout(Some(Duration::from_secs(120)));
    deterministic::Runner::new(runtime).start(|context| async move {
        let pks: Vec<Pk> = keys.iter().map(|k| k.public_key()).collect();
        let (network, oracle) = simulated::Network::new_with_peers(
            context.child("network"),
            simulated::Config {
                max_size: 8 << 20,
                max_peers_per_set: NZUsize!(pks.len()),
                disconnect_on_block: true,
                tracked_peer_sets: NZUsize!(1),
            },
            pks.clone(),
        )
        .await;
        network.start();
        let link = Link {
            latency: Duration::from_millis(20),
            jitter: Duration::from_millis(5),
            success_rate: commonware_utils::Probability::try_from(1.0).unwrap(),
        };
        for a in &pks {
            for b in &pks {
                if a != b {
                    oracle
                        .add_link(a.clone(), b.clone(), link.clone())
                        .await
                        .unwrap();
                }
            }
        }
        let spawn = |i: usize| -> Handle<Finished> {
            let (oracle, key, config) = (oracle.clone(), keys[i].clone(), config.clone());
            let previous = previous.get(&pks[i]).cloned();
            context
                .child("member")
                .with_attribute("index", i)
                .spawn(move |ctx| member(ctx, oracle, i, key, config, previous))
        };
        let mut tasks: Vec<Handle<Finished>> = (0..keys.len()).map(spawn).collect();
        if let Some(c) = crash {
            context.sleep(c.at).await;
            tasks[c.member].abort();
            context.sleep(c.down_for).await;
            tasks[c.member] = spawn(c.member);
        }
        let mut results = Vec::new();
        for (i, task) in tasks.into_iter().enumerate() {
            match task.await.expect("member task") {
                Ok(r) => results.push(r),
                Err(e) => panic!("member {i}: {e}"),
            }
        }
        results
    })
}

fn dkg_config(keys: &[Sk]) -> RoundConfig {
    RoundConfig {
        round: 0,
        dealers: set(keys),
        players: set(keys),
        previous: None,
        timeouts: TIMEOUTS,
    }
}

/// Every member has the same public outputs and transcript, and its own shares of both keys
/// fit the public polynomials; `t` members decrypt a ciphertext to the committee key.
/// Returns the common outcome (shares taken out) and each member's shares.
fn agree(results: Vec<(Box<Outcome>, usize)>) -> (Outcome, BTreeMap<Pk, (Share, Share)>) {
    let mut outcomes: Vec<Outcome> = results.into_iter().map(|(o, _)| *o).collect();
    let first = &outcomes[0];
    for o in &outcomes[1..] {
        assert_eq!(o.key, first.key);
        assert_eq!(o.consensus, first.consensus);
        assert_eq!(o.encryption, first.encryption);
        assert_eq!(o.transcript, first.transcript);
        assert_eq!(o.key_epoch, first.key_epoch);
    }
    let mut shares = BTreeMap::new();
    let mut key_shares = Vec::new();
    for o in &mut outcomes {
        let s = o.shares.take().expect("every member is a player");
        let pk = o.players.iter().nth(s.index as usize).unwrap().clone();
        // both shares against their public polynomials
        let cvk = o
            .consensus
            .public()
            .partial_public(s.consensus.index)
            .unwrap();
        assert_eq!(cvk, s.consensus.public::<V>());
        let evk = o
            .encryption
            .public()
            .partial_public(s.encryption.index)
            .unwrap();
        assert_eq!(evk, s.encryption.public::<V>());
        let ks = s.key_share();
        ks.check(&o.key).expect("share matches the committee key");
        key_shares.push(ks);
        assert!(shares.insert(pk, (s.consensus, s.encryption)).is_none());
    }
    let outcome = outcomes.swap_remove(0);
    let key = &outcome.key;
    assert_eq!(key_shares.len(), key.n());
    // t members decrypt what a wallet encrypted to the key (the last t: any t will do)
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let label = Label::new(
        key.id(),
        KeyEpoch(outcome.key_epoch),
        Namespace(1),
        b"alice",
    )
    .unwrap();
    let ct = curtain_crypto::encrypt(
        key.encryption_key(),
        &label,
        b"hello committee",
        Padding::Buckets,
        &mut rng,
    )
    .unwrap();
    let cts = vec![curtain_crypto::verify(key, ct).unwrap()];
    let batch = [9u8; 32];
    let batches: Vec<_> = key_shares[key.n() - key.t()..]
        .iter()
        .map(|s| s.decryption_shares(batch, &cts))
        .collect();
    let out = curtain_crypto::combine(key, batch, &cts, &batches, &mut rng).unwrap();
    assert_eq!(
        out.decryptions[0],
        Decryption::Plaintext(b"hello committee".to_vec())
    );
    (outcome, shares)
}

#[test]
fn four_members_run_a_dkg_then_a_refresh_over_simulated_p2p() {
    let keys = identities(0);
    let results = run(1, keys.clone(), dkg_config(&keys), BTreeMap::new(), None);
    assert!(results.iter().all(|(_, resumed)| *resumed == 0));
    let (dkg, shares) = agree(results);
    assert_eq!((dkg.key.n(), dkg.key.t(), dkg.key_epoch), (4, 3, 0));

    // refresh: same members deal their shares; same keys, fresh shares, key epoch 1
    let config = RoundConfig {
        round: 0,
        dealers: set(&keys),
        players: set(&keys),
        previous: Some(Previous {
            consensus: dkg.consensus.clone(),
            encryption: dkg.encryption.clone(),
            key: dkg.key.clone(),
            key_epoch: 0,
        }),
        timeouts: TIMEOUTS,
    };
    let (refreshed, new_shares) = agree(run(2, keys.clone(), config, shares.clone(), None));
    assert_eq!(refreshed.key_epoch, 1);
    assert_eq!(refreshed.key.id(), dkg.key.id(), "same encryption key");
    assert_eq!(
        refreshed.consensus.public().public(),
        dkg.consensus.public().public(),
        "same consensus key"
    );
    assert_ne!(refreshed.transcript, dkg.transcript);
    for (pk, (c, e)) in &new_shares {
        let (old_c, old_e) = &shares[pk];
        assert_ne!(
            c.public::<V>(),
            old_c.public::<V>(),
            "fresh consensus share"
        );
        assert_ne!(
            e.public::<V>(),
            old_e.public::<V>(),
            "fresh encryption share"
        );
    }
}

#[test]
fn a_member_that_crashes_mid_ceremony_resumes_from_its_journal_and_agrees() {
    let keys = identities(10);
    let leader = 0; // participants[round 0 mod n]
                    // a player crashed while dealings and acks are in flight, and the leader crashed while
                    // logs come in and it proposes
    for (seed, crash) in [
        (
            3,
            Crash {
                member: 2,
                at: Duration::from_millis(50),
                down_for: Duration::from_millis(500),
            },
        ),
        (
            4,
            Crash {
                member: leader,
                at: Duration::from_millis(90),
                down_for: Duration::from_millis(300),
            },
        ),
    ] {
        let results = run(
            seed,
            keys.clone(),
            dkg_config(&keys),
            BTreeMap::new(),
            Some(crash),
        );
        // the restarted member was rebuilt from what it had journaled before the crash
        let resumed: Vec<usize> = results.iter().map(|(_, r)| *r).collect();
        assert!(resumed[crash.member] > 0, "resumed: {resumed:?}");
        for (i, r) in resumed.iter().enumerate() {
            if i != crash.member {
                assert_eq!(*r, 0);
            }
        }
        let (outcome, _) = agree(results);
        assert_eq!(outcome.key.n(), 4);
    }
}
