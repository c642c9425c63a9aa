//! Simulated ceremonies: the pure state machines driven over an in-memory network with
//! injected faults (bad share, silent dealer, crash and restart from the journal, too many
//! faulty), and resharing. Every successful run is checked with curtain-crypto: encrypt to
//! the output key, decrypt with t members.

use super::ceremony::{
    commitments, Ceremony, Effect, Outcome, PhaseKind, Previous, Reason, Report, RoundConfig,
    Secrets, Timeouts,
};
use super::msg::{Entry, Msg};
use super::{Pk, Sk};
use crate::ledger::{KeyEpoch, Namespace};
use commonware_codec::{Decode as _, Encode as _};
use commonware_cryptography::bls12381::dkg::feldman_desmedt::DealerPrivMsg;
use commonware_cryptography::bls12381::primitives::group::{Scalar, Share};
use commonware_cryptography::Signer as _;
use commonware_math::algebra::Random as _;
use commonware_utils::ordered::Set;
use curtain_crypto::{KeyShare, Label, Padding};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng as _;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::num::NonZeroU32;

const TIMEOUTS: Timeouts = Timeouts {
    deal_ms: 1_000,
    logs_ms: 1_000,
    agree_ms: 1_000,
    publish_ms: 1_000,
};

#[derive(Default, Clone)]
struct Faults {
    /// (dealer, player): the dealer's encryption dealing to the player is corrupted in flight.
    bad_share: Vec<(usize, usize)>,
    /// Members that never send anything.
    silent: Vec<usize>,
    /// (member, after this many delivered messages): crash, lose in-flight messages, restart
    /// from the journal once the network is quiet.
    crash: Option<(usize, usize)>,
    /// (member, message kind): these messages of the member are lost.
    lost: Vec<(usize, &'static str)>,
}

struct Sim {
    keys: Vec<Sk>,
    nodes: Vec<Option<Ceremony>>,
    journals: Vec<Vec<Entry>>,
    queue: VecDeque<(usize, usize, Msg)>,
    results: Vec<Option<Result<Outcome, Report>>>,
    now: u64,
    delivered: usize,
}

fn identities(n: usize, seed: u64) -> Vec<Sk> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut keys: Vec<Sk> = (0..n).map(|_| Sk::random(&mut rng)).collect();
    keys.sort_by_key(|k| k.public_key());
    keys
}

fn set(keys: &[Sk]) -> Set<Pk> {
    Set::try_from(keys.iter().map(|k| k.public_key()).collect::<Vec<_>>()).unwrap()
}

impl Sim {
    fn index(&self, pk: &Pk) -> usize {
        self.keys
            .iter()
            .position(|k| k.public_key() == *pk)
            .unwrap()
    }

    fn apply(&mut self, who: usize, effects: Vec<Effect>, faults: &Faults) {
        for e in effects {
            match e {
                Effect::Send(to, msg) => {
                    if faults.silent.contains(&who) || faults.lost.contains(&(who, msg.kind())) {
                        continue;
                    }
                    let to = self.index(&to);
                    // Every message crosses the codec, as on the wire.
                    let max = NonZeroU32::new(self.keys.len() as u32).unwrap();
                    let mut msg = Msg::decode_cfg(msg.encode(), &max).unwrap();
                    if let Msg::Deal(d) = &mut msg {
                        if faults.bad_share.contains(&(who, to)) {
                            let mut rng = ChaCha20Rng::seed_from_u64(99);
                            d.encryption.1 = DealerPrivMsg::new(Scalar::random(&mut rng));
                        }
                    }
                    self.queue.push_back((who, to, msg));
                }
                Effect::Persist(entry) => {
                    let max = NonZeroU32::new(self.keys.len() as u32).unwrap();
                    let back = Entry::decode_cfg(entry.encode(), &max).unwrap();
                    assert!(back == entry);
                    self.journals[who].push(entry)
                }
                Effect::Done(o) => {
                    assert!(self.results[who].is_none());
                    self.results[who] = Some(Ok(*o));
                }
                Effect::Failed(r) => {
                    assert!(self.results[who].is_none());
                    self.results[who] = Some(Err(r));
                }
            }
        }
    }
}

fn secrets(key: &Sk, prev: Option<&(Share, Share)>) -> Secrets {
    Secrets {
        identity: key.clone(),
        consensus: prev.map(|p| p.0.clone()),
        encryption: prev.map(|p| p.1.clone()),
    }
}

/// Runs one round among `keys` (dealers ∪ players) and returns each member's result.
fn run(
    keys: &[Sk],
    cfg: &RoundConfig,
    prev_shares: &BTreeMap<Pk, (Share, Share)>,
    faults: &Faults,
) -> Vec<Option<Result<Outcome, Report>>> {
    let n = keys.len();
    let mut sim = Sim {
        keys: keys.to_vec(),
        nodes: (0..n).map(|_| None).collect(),
        journals: vec![Vec::new(); n],
        queue: VecDeque::new(),
        results: (0..n).map(|_| None).collect(),
        now: 0,
        delivered: 0,
    };
    for (i, k) in keys.iter().enumerate() {
        let (c, out) = Ceremony::new(
            cfg.clone(),
            secrets(k, prev_shares.get(&k.public_key())),
            [i as u8; 32],
        )
        .unwrap();
        sim.nodes[i] = Some(c);
        sim.apply(i, out, faults);
    }
    let mut crashed: Option<usize> = None;
    let deadline = TIMEOUTS.deal_ms + TIMEOUTS.logs_ms + TIMEOUTS.agree_ms + TIMEOUTS.publish_ms;
    loop {
        while let Some((from, to, msg)) = sim.queue.pop_front() {
            sim.delivered += 1;
            if let Some((m, after)) = faults.crash {
                if crashed.is_none() && sim.delivered == after && sim.results[m].is_none() {
                    sim.nodes[m] = None;
                    crashed = Some(m);
                }
            }
            let from_pk = keys[from].public_key();
            if let Some(node) = sim.nodes[to].as_mut() {
                let out = node.receive(from_pk, msg);
                sim.apply(to, out, faults);
            }
        }
        if let Some(m) = crashed.take() {
            // Restart from the journal alone (the in-memory state is gone).
            let (mut c, out) = Ceremony::restore(
                cfg.clone(),
                secrets(&keys[m], prev_shares.get(&keys[m].public_key())),
                [200; 32],
                sim.journals[m].clone(),
            )
            .unwrap();
            c.set_start(sim.now);
            sim.nodes[m] = Some(c);
            sim.apply(m, out, faults);
            continue;
        }
        if sim.now > deadline + 1_000 {
            break;
        }
        sim.now += 500;
        for i in 0..n {
            if let Some(node) = sim.nodes[i].as_mut() {
                let out = node.tick(sim.now);
                sim.apply(i, out, faults);
            }
        }
    }
    sim.results
}

fn dkg_config(keys: &[Sk], round: u64) -> RoundConfig {
    RoundConfig {
        round,
        dealers: set(keys),
        players: set(keys),
        previous: None,
        timeouts: TIMEOUTS,
    }
}

/// Every honest member succeeded with the same public output; returns it with all shares.
fn agree(
    results: Vec<Option<Result<Outcome, Report>>>,
    honest: &[usize],
) -> (Outcome, Vec<KeyShare>, BTreeMap<Pk, (Share, Share)>) {
    let mut outcomes: Vec<Outcome> = Vec::new();
    for (i, r) in results.into_iter().enumerate() {
        if !honest.contains(&i) {
            continue;
        }
        match r {
            Some(Ok(o)) => outcomes.push(o),
            Some(Err(r)) => panic!("member {i} failed: {r}"),
            None => panic!("member {i} did not finish"),
        }
    }
    let first = &outcomes[0];
    for o in &outcomes[1..] {
        assert_eq!(o.key, first.key);
        assert_eq!(o.consensus, first.consensus);
        assert_eq!(o.encryption, first.encryption);
        assert_eq!(o.transcript, first.transcript);
    }
    let mut key_shares = Vec::new();
    let mut shares = BTreeMap::new();
    for o in &outcomes {
        let s = o.shares.as_ref().expect("players get shares");
        let ks = s.key_share();
        ks.check(&first.key)
            .expect("share matches the committee key");
        // The consensus share matches the consensus public polynomial too.
        let vk = first
            .consensus
            .public()
            .partial_public(s.consensus.index)
            .unwrap();
        assert_eq!(vk, s.consensus.public::<super::V>());
        let pk = o.players.iter().nth(s.index as usize).unwrap().clone();
        shares.insert(pk, (s.consensus.clone(), s.encryption.clone()));
        key_shares.push(ks);
    }
    let mut outcomes = outcomes;
    (outcomes.swap_remove(0), key_shares, shares)
}

/// Encrypts to the key and decrypts with the first `t` of `shares` (and checks the key's
/// commitments are the output's).
fn decrypts(o: &Outcome, shares: &[KeyShare], epoch: u64, ct: Option<&curtain_crypto::Ciphertext>) {
    let key = &o.key;
    assert_eq!(commitments(&o.encryption).len(), key.t());
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let fresh;
    let ct = match ct {
        Some(c) => c,
        None => {
            let label = Label::new(key.id(), KeyEpoch(epoch), Namespace(1), b"alice").unwrap();
            fresh = curtain_crypto::encrypt(
                key.encryption_key(),
                &label,
                b"hello committee",
                Padding::Buckets,
                &mut rng,
            )
            .unwrap();
            &fresh
        }
    };
    let v = curtain_crypto::verify(key, ct.clone()).unwrap();
    let cts = vec![v];
    let bid = [7u8; 32];
    let batches: Vec<_> = shares[..key.t()]
        .iter()
        .map(|s| s.decryption_shares(bid, &cts))
        .collect();
    let out = curtain_crypto::combine(key, bid, &cts, &batches, &mut rng).unwrap();
    assert_eq!(
        out.decryptions[0],
        curtain_crypto::Decryption::Plaintext(b"hello committee".to_vec())
    );
}

fn all(n: usize) -> Vec<usize> {
    (0..n).collect()
}

fn honest_run(n: usize, faults: Faults, honest: &[usize]) {
    let keys = identities(n, n as u64);
    let results = run(&keys, &dkg_config(&keys, 0), &BTreeMap::new(), &faults);
    let (o, shares, _) = agree(results, honest);
    assert_eq!(o.key.n(), n);
    decrypts(&o, &shares, 0, None);
    // any other t members decrypt too
    let mut rev: Vec<KeyShare> = shares.into_iter().rev().collect();
    rev.truncate(o.key.t());
    decrypts(&o, &rev, 0, None);
}

#[test]
fn all_honest_4_7_16() {
    for n in [4, 7, 16] {
        honest_run(n, Faults::default(), &all(n));
    }
}

#[test]
fn bad_share_to_one_player_is_revealed_and_the_round_completes() {
    for n in [4, 7, 16] {
        let faults = Faults {
            bad_share: vec![(1, 2)],
            ..Faults::default()
        };
        honest_run(n, faults, &all(n));
    }
}

#[test]
fn silent_dealer_is_excluded() {
    for n in [4, 7, 16] {
        // member 1 is silent (member 0 leads round 0)
        let faults = Faults {
            silent: vec![1],
            ..Faults::default()
        };
        let honest: Vec<usize> = (0..n).filter(|i| *i != 1).collect();
        let keys = identities(n, n as u64);
        let results = run(&keys, &dkg_config(&keys, 0), &BTreeMap::new(), &faults);
        let (o, shares, _) = agree(results, &honest);
        assert!(!o
            .encryption
            .dealers()
            .iter()
            .any(|d| *d == keys[1].public_key()));
        decrypts(&o, &shares, 0, None);
    }
}

#[test]
fn crashed_member_restarts_from_its_journal_and_completes() {
    // crash a non-leader mid-deal and the leader mid-agreement (n = 16: the leader only)
    for (n, crashes) in [(4, 2), (7, 2), (16, 1)] {
        for &(m, after) in [(0, n * n * 3), (2, n * 2)].iter().take(crashes) {
            let faults = Faults {
                crash: Some((m, after)),
                ..Faults::default()
            };
            honest_run(n, faults, &all(n));
        }
    }
}

#[test]
fn too_many_faulty_fails_cleanly_naming_them_and_the_next_round_succeeds() {
    for n in [4, 7, 16] {
        let f = (n - 1) / 3;
        let keys = identities(n, n as u64);
        let silent: Vec<usize> = (1..=f + 1).collect();
        let faults = Faults {
            silent: silent.clone(),
            ..Faults::default()
        };
        let results = run(&keys, &dkg_config(&keys, 0), &BTreeMap::new(), &faults);
        for (i, r) in results.into_iter().enumerate() {
            if silent.contains(&i) {
                continue;
            }
            let report = match r {
                Some(Err(r)) => r,
                _ => panic!("member {i} should fail"),
            };
            let missing: BTreeSet<Pk> = report.missing.iter().cloned().collect();
            for s in &silent {
                assert!(missing.contains(&keys[*s].public_key()), "{report}");
            }
            assert!(report.to_string().contains("run round 1 next"));
        }
        // Round 1 with the members back.
        let results = run(
            &keys,
            &dkg_config(&keys, 1),
            &BTreeMap::new(),
            &Faults::default(),
        );
        let (o, shares, _) = agree(results, &all(n));
        decrypts(&o, &shares, 0, None);
    }
}

#[test]
fn silent_leader_fails_the_round_and_the_next_leader_completes() {
    let n = 4;
    let keys = identities(n, 11);
    // round 0's leader is member 0
    let faults = Faults {
        silent: vec![0],
        ..Faults::default()
    };
    let results = run(&keys, &dkg_config(&keys, 0), &BTreeMap::new(), &faults);
    for r in results.into_iter().skip(1) {
        let Some(Err(r)) = r else {
            panic!("should fail")
        };
        assert!(r.reason.to_string().contains("no proposal"), "{r}");
    }
    let results = run(&keys, &dkg_config(&keys, 1), &BTreeMap::new(), &faults);
    let (o, shares, _) = agree(results, &[1, 2, 3]);
    decrypts(&o, &shares, 0, None);
}

#[test]
fn members_that_echoed_fail_at_the_publish_deadline_when_no_certificate_reaches_them() {
    // the echoes and certificates of members 2 and 3 are lost: they certify with their own
    // echo and those of 0 and 1, but 0 and 1 never see a third echo
    let n = 4;
    let keys = identities(n, 13);
    let faults = Faults {
        lost: vec![(2, "echo"), (3, "echo"), (2, "commit"), (3, "commit")],
        ..Faults::default()
    };
    let results = run(&keys, &dkg_config(&keys, 0), &BTreeMap::new(), &faults);
    for (i, r) in results.into_iter().enumerate() {
        let Some(Err(r)) = r else {
            panic!("member {i} should fail")
        };
        if i < 2 {
            assert_eq!(r.phase, PhaseKind::Agree, "{r}");
            assert!(
                matches!(
                    r.reason,
                    Reason::NoCertificate {
                        echoes: 2,
                        quorum: 3
                    }
                ),
                "{r}"
            );
        } else {
            assert!(matches!(r.reason, Reason::TooFewPublics { .. }), "{r}");
        }
    }
}

/// DKG among `old`, then reshare to `new` (which may overlap).
fn reshare(old_n: usize, new_n: usize, overlap: usize) {
    let old = identities(old_n, 100 + old_n as u64);
    let (o, old_shares, old_map) = agree(
        run(
            &old,
            &dkg_config(&old, 0),
            &BTreeMap::new(),
            &Faults::default(),
        ),
        &all(old_n),
    );
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let label = Label::new(o.key.id(), KeyEpoch(0), Namespace(1), b"bob").unwrap();
    let before = curtain_crypto::encrypt(
        o.key.encryption_key(),
        &label,
        b"hello committee",
        Padding::Buckets,
        &mut rng,
    )
    .unwrap();

    let mut new: Vec<Sk> = old[..overlap].to_vec();
    new.extend(identities(new_n - overlap, 200 + new_n as u64));
    new.sort_by_key(|k| k.public_key());
    let mut everyone: Vec<Sk> = old.iter().chain(new.iter()).cloned().collect();
    everyone.sort_by_key(|k| k.public_key());
    everyone.dedup_by_key(|k| k.public_key());
    let cfg = RoundConfig {
        round: 1,
        dealers: set(&old),
        players: set(&new),
        previous: Some(Previous {
            consensus: o.consensus.clone(),
            encryption: o.encryption.clone(),
            key: o.key.clone(),
            key_epoch: 0,
        }),
        timeouts: TIMEOUTS,
    };
    let results = run(&everyone, &cfg, &old_map, &Faults::default());
    let players: Vec<usize> = everyone
        .iter()
        .enumerate()
        .filter(|(_, k)| new.iter().any(|x| x.public_key() == k.public_key()))
        .map(|(i, _)| i)
        .collect();
    // dealers that left also finish, with the public output only
    for (i, r) in results.iter().enumerate() {
        if !players.contains(&i) {
            let r = r.as_ref().unwrap().as_ref().unwrap();
            assert!(r.shares.is_none());
        }
    }
    let (r, new_shares, _) = agree(results, &players);
    assert_eq!(r.key_epoch, 1);
    assert_eq!(r.key.id(), o.key.id(), "same key");
    assert_eq!(
        r.key.encryption_key().to_bytes(),
        o.key.encryption_key().to_bytes()
    );
    assert_eq!(r.consensus.public().public(), o.consensus.public().public());
    assert_eq!((r.key.n(), r.key.t()), (new_n, o_quorum(new_n)));
    // the old ciphertext decrypts with the new committee, and fresh ones too
    decrypts(&r, &new_shares, 0, Some(&before));
    decrypts(&r, &new_shares, 1, None);
    // old shares no longer combine with new ones: mixing gives no valid decryption shares
    let mixed: Vec<KeyShare> = old_shares
        .iter()
        .take(1)
        .map(|s| KeyShare::from_bytes(&s.to_bytes()).unwrap())
        .chain(
            new_shares
                .iter()
                .skip(1)
                .map(|s| KeyShare::from_bytes(&s.to_bytes()).unwrap()),
        )
        .collect();
    let stale = mixed.iter().filter(|s| s.check(&r.key).is_err()).count();
    assert!(stale >= 1);
    let cts = vec![curtain_crypto::verify(&r.key, before.clone()).unwrap()];
    let bid = [1u8; 32];
    let batches: Vec<_> = mixed[..r.key.t()]
        .iter()
        .map(|s| s.decryption_shares(bid, &cts))
        .collect();
    let combined = curtain_crypto::combine(&r.key, bid, &cts, &batches, &mut rng);
    assert!(combined.is_err(), "a stale share must not combine");
}

fn o_quorum(n: usize) -> usize {
    n - (n - 1) / 3
}

#[test]
fn reshare_4_to_7_keeps_the_key() {
    reshare(4, 7, 2);
}

#[test]
fn reshare_7_to_4_keeps_the_key() {
    reshare(7, 4, 3);
}

#[test]
fn refresh_same_members_fresh_shares() {
    let keys = identities(4, 42);
    let (o, old, map) = agree(
        run(
            &keys,
            &dkg_config(&keys, 0),
            &BTreeMap::new(),
            &Faults::default(),
        ),
        &all(4),
    );
    let cfg = RoundConfig {
        round: 1,
        dealers: set(&keys),
        players: set(&keys),
        previous: Some(Previous {
            consensus: o.consensus.clone(),
            encryption: o.encryption.clone(),
            key: o.key.clone(),
            key_epoch: 0,
        }),
        timeouts: TIMEOUTS,
    };
    let (r, new, _) = agree(run(&keys, &cfg, &map, &Faults::default()), &all(4));
    assert_eq!(r.key.id(), o.key.id());
    assert_ne!(old[0].to_bytes(), new[0].to_bytes());
    decrypts(&r, &new, 1, None);
}
