//! A running committee switches key epochs at a height (SPEC.md §9.8), in deterministic
//! simulation of whole members (commonware's deterministic runtime and simulated p2p, real
//! simplex + marshal, real crypto): epoch 0 keys from a DKG and epoch 1 keys from a reshare,
//! both made by the real ceremony code. Traffic labelled 0 before the switch, labelled 0 and 1
//! after it; every accepted ciphertext is released exactly once, in one order at every member,
//! and no share batch leaves a member for a block not final there.

mod common;

use commonware_codec::Decode as _;
use commonware_consensus::simplex::types::Finalization;
use commonware_cryptography::certificate::Verifier as _;
use commonware_cryptography::{ed25519, sha256, Signer as _};
use commonware_p2p::simulated::{self, Link};
use commonware_p2p::Recipients;
use commonware_parallel::Sequential;
use commonware_runtime::{
    deterministic, Clock as _, IoBuf, Quota, Runner as _, Spawner as _, Supervisor as _,
};
use commonware_utils::channel::oneshot;
use commonware_utils::{channel::mpsc, ordered::Set, NZUsize, NZU32};
use curtain::dkg::{local, Timeouts as DkgTimeouts};
use curtain::ledger::block::BlockLimits;
use curtain::ledger::committee::{committee_id, CheckedCommittee, CommitteeParts};
use curtain::ledger::release::ReleasedBatch;
use curtain::ledger::{Height, KeyEpoch, Namespace};
use curtain::node::{
    self as node, channel,
    core::attest::{Attestor, CommitteeIdentity},
    core::epochs::EpochTable,
    core::member::{Member, ShareMessage},
    core::mempool::{Mempool, MempoolConfig, Source},
    core::reveal::{batch_id, Collector, CollectorConfig},
    Channels, ConsensusEpoch, ConsensusScheme, EngineConfig, NodeHandle,
};
use curtain::protocol::json::{CommitteeInfo, MemberInfo};
use curtain::sdk::{unpinned_quorum, Client, CommitteeId, SdkError};
use curtain_crypto::{CommitteeKey, Decryption, KeyShare, Label};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The namespace real members sign under, so the node-free verifier of the SDK checks these
/// finality proofs as it checks a live committee's.
const NAMESPACE: &[u8] = curtain::ledger::CONSENSUS_NAMESPACE;
type Pk = ed25519::PublicKey;
/// (peer, batch id, the peer's finalized height when it sent the batch)
type SentBatch = (usize, [u8; 32], Option<u64>);

const FAST: DkgTimeouts = DkgTimeouts {
    deal_ms: 1_000,
    logs_ms: 1_000,
    agree_ms: 1_000,
    publish_ms: 1_000,
};

/// The switch height and the drain window.
const SWITCH: u64 = 8;
const DRAIN: u64 = 1_000;

struct Outcome {
    /// Per peer (the union of both committees, sorted): its releases.
    releases: Vec<Vec<ReleasedBatch>>,
    submitted: BTreeSet<[u8; 32]>,
    shares: Vec<SentBatch>,
    keys: BTreeMap<KeyEpoch, Arc<CommitteeKey>>,
    verifiers: BTreeMap<u64, ConsensusScheme>,
    /// What `GET /v1/committee` serves in each epoch (its public part).
    infos: BTreeMap<u64, CommitteeInfo>,
    table: EpochTable,
    old: Vec<Pk>,
    new: Vec<Pk>,
    union: Vec<Pk>,
}

/// Runs epoch 0 with members `old` (indices into five identities) and switches at `SWITCH`
/// to epoch 1 with members `new`.
fn run(seed: u64, old: &[usize], new: &[usize]) -> Outcome {
    let cfg = deterministic::Config::new()
        .with_seed(seed)
        .with_timeout(Some(Duration::from_secs(900)));
    let old = old.to_vec();
    let new = new.to_vec();
    deterministic::Runner::new(cfg).start(|context| async move {
        let mut rng = context.child("rng");
        let ids: Vec<ed25519::PrivateKey> = (0..5).map(ed25519::PrivateKey::from_seed).collect();
        let sorted = |which: &[usize]| {
            let mut v: Vec<ed25519::PrivateKey> = which.iter().map(|&i| ids[i].clone()).collect();
            v.sort_by_key(|k| k.public_key());
            v
        };
        let (old_sk, new_sk) = (sorted(&old), sorted(&new));
        // the real ceremonies: a DKG, then a reshare (refresh when the sets are equal)
        let k0 = local::dkg(&old_sk, FAST).expect("dkg");
        let k1 = local::reshare(&k0, &old_sk, &new_sk, FAST).expect("reshare");
        assert_eq!(
            k1.outcome.key.id(),
            k0.outcome.key.id(),
            "same encryption key"
        );
        let pks = |v: &[ed25519::PrivateKey]| v.iter().map(|k| k.public_key()).collect::<Vec<_>>();
        let (old_pk, new_pk) = (pks(&old_sk), pks(&new_sk));
        let mut union: Vec<Pk> = old_pk.iter().chain(&new_pk).cloned().collect();
        union.sort();
        union.dedup();
        let table = EpochTable::new(
            vec![(KeyEpoch(0), Height(0)), (KeyEpoch(1), Height(SWITCH))],
            DRAIN,
        )
        .unwrap();
        let keys = BTreeMap::from([
            (KeyEpoch(0), Arc::new(k0.outcome.key.clone())),
            (KeyEpoch(1), Arc::new(k1.outcome.key.clone())),
        ]);
        let publics = [
            (old_pk.clone(), k0.outcome.consensus.public().clone()),
            (new_pk.clone(), k1.outcome.consensus.public().clone()),
        ];
        let infos: BTreeMap<u64, CommitteeInfo> = publics
            .iter()
            .zip([&k0.outcome, &k1.outcome])
            .enumerate()
            .map(|(e, ((members, public), o))| (e as u64, info(e as u64, members, public, &o.key)))
            .collect();
        let verifiers: BTreeMap<u64, ConsensusScheme> = publics
            .iter()
            .enumerate()
            .map(|(e, (members, public))| {
                let set = Set::try_from(members.clone()).unwrap();
                (
                    e as u64,
                    ConsensusScheme::verifier(NAMESPACE, set, public.clone()),
                )
            })
            .collect();

        let (network, oracle) = simulated::Network::new_with_peers(
            context.child("network"),
            simulated::Config {
                max_size: 8 << 20,
                max_peers_per_set: NZUsize!(union.len()),
                disconnect_on_block: true,
                tracked_peer_sets: NZUsize!(1),
            },
            union.clone(),
        )
        .await;
        network.start();
        let link = Link {
            latency: Duration::from_millis(20),
            jitter: Duration::from_millis(5),
            success_rate: commonware_utils::Probability::try_from(1.0).unwrap(),
        };
        for a in &union {
            for b in &union {
                if a != b {
                    oracle
                        .add_link(a.clone(), b.clone(), link.clone())
                        .await
                        .unwrap();
                }
            }
        }

        let signatures: BTreeMap<KeyEpoch, CommitteeIdentity> = infos
            .iter()
            .map(|(e, info)| {
                let c = CheckedCommittee::check(info).expect("committee");
                (
                    KeyEpoch(*e),
                    CommitteeIdentity {
                        id: c.id,
                        members: c.members,
                    },
                )
            })
            .collect();
        let wire: Arc<Mutex<Vec<SentBatch>>> = Arc::default();
        let mut handles: Vec<NodeHandle> = Vec::new();
        let mut streams = Vec::new();
        for (p, pk) in union.iter().enumerate() {
            let control = oracle.control(pk.clone());
            let quota = Quota::per_second(NZU32!(1_000));
            let slot: Arc<Mutex<Option<NodeHandle>>> = Arc::default();
            let mut ch = Vec::new();
            for id in [
                channel::VOTE,
                channel::CERTIFICATE,
                channel::RESOLVER,
                channel::BACKFILL,
                channel::BLOCKS,
                channel::SHARES,
                channel::GOSSIP,
                channel::LISTS,
            ] {
                let (tx, rx) = control.register(id, quota).await.unwrap();
                let (wire, slot) = (wire.clone(), slot.clone());
                // record every share batch this peer sends, with its finalized height then
                let (tx, _) = tx.split_with(move |_, to: &Recipients<Pk>, msg: &IoBuf| {
                    if id == channel::SHARES {
                        if let Ok(ShareMessage::Batch(b)) =
                            ShareMessage::decode(msg.as_ref(), 1 << 16)
                        {
                            let h = slot
                                .lock()
                                .unwrap()
                                .as_ref()
                                .map(|h| h.finalized_height().get());
                            wire.lock().unwrap().push((p, b.batch_id(), h));
                        }
                    }
                    Some(to.clone())
                });
                ch.push((tx, rx));
            }
            let mut ch = ch.into_iter();
            let channels = Channels {
                vote: ch.next().unwrap(),
                certificate: ch.next().unwrap(),
                resolver: ch.next().unwrap(),
                backfill: ch.next().unwrap(),
                blocks: ch.next().unwrap(),
                shares: ch.next().unwrap(),
                gossip: ch.next().unwrap(),
                lists: ch.next().unwrap(),
            };
            let sk = ids
                .iter()
                .find(|k| k.public_key() == *pk)
                .expect("one of the five");
            let mut my_shares: BTreeMap<KeyEpoch, KeyShare> = BTreeMap::new();
            let mut epochs = Vec::new();
            for (e, (k, (members, public))) in [&k0, &k1].iter().zip(&publics).enumerate() {
                let set = Set::try_from(members.clone()).unwrap();
                let scheme = match k.shares.get(pk) {
                    Some(s) => {
                        my_shares.insert(KeyEpoch(e as u64), s.key_share());
                        ConsensusScheme::signer(NAMESPACE, set, public.clone(), s.consensus.clone())
                            .expect("signer")
                    }
                    None => ConsensusScheme::verifier(NAMESPACE, set, public.clone()),
                };
                epochs.push(ConsensusEpoch {
                    epoch: e as u64,
                    members: members.clone(),
                    scheme,
                });
            }
            let member = Member::new(
                Mempool::with_epochs(MempoolConfig::default(), table.clone(), keys.clone()),
                Collector::new(
                    CollectorConfig::default(),
                    keys.clone(),
                    my_shares,
                    Height(1),
                    Attestor::new(sk.clone(), signatures.clone()),
                ),
                BlockLimits::default(),
            );
            let cfg = EngineConfig {
                me: pk.clone(),
                peers: union.clone(),
                epochs,
                table: table.clone(),
                member,
                timeouts: Default::default(),
                partition: format!("peer{p}"),
                committees: infos
                    .values()
                    .map(|i| CheckedCommittee::check(i).expect("committee"))
                    .collect(),
            };
            let (tx, rx) = mpsc::unbounded_channel();
            let (handle_tx, handle_rx) = oneshot::channel();
            let peers = oracle.manager();
            let blocker = oracle.control(pk.clone());
            context
                .child("member")
                .with_attribute("peer", p)
                .spawn(move |ctx| async move {
                    let (handle, _tasks) =
                        node::start(ctx, cfg, channels, peers, blocker, tx).await;
                    let _ = handle_tx.send(handle);
                    futures::future::pending::<()>().await
                });
            let handle = handle_rx.await.expect("started");
            *slot.lock().unwrap() = Some(handle.clone());
            handles.push(handle);
            streams.push(rx);
        }
        let peer_of = |pk: &Pk| union.iter().position(|p| p == pk).unwrap();
        let old_peers: Vec<usize> = old_pk.iter().map(peer_of).collect();
        let new_peers: Vec<usize> = new_pk.iter().map(peer_of).collect();

        let key = k0.outcome.key.clone();
        let mut submitted = BTreeSet::new();
        let mut k = 0u64;
        let mut submit = |epoch: u64, to: usize, rng: &mut deterministic::Context| {
            let label = Label::new(key.id(), KeyEpoch(epoch), Namespace(k % 3), b"wallet").unwrap();
            let ct = common::seal(&key, &label, format!("tx {k} e{epoch}").as_bytes(), rng);
            k += 1;
            (ct, to)
        };
        // before the switch: epoch-0 labels to the old members
        for i in 0..6 {
            let (ct, to) = submit(0, old_peers[i % old_peers.len()], &mut rng);
            let out = handles[to]
                .submit(
                    Source::Client(IpAddr::V4(Ipv4Addr::new(10, 0, 0, i as u8))),
                    vec![ct.clone().into()],
                )
                .await;
            assert!(out[0].result.is_ok(), "{:?}", out[0].result.as_ref().err());
            submitted.insert(ct.id());
            context.sleep(Duration::from_millis(50)).await;
        }
        // an epoch-1 label before the switch is refused, with the typed reason
        let (early, _) = submit(1, old_peers[0], &mut rng);
        let out = handles[old_peers[0]]
            .submit(
                Source::Client(IpAddr::V4(Ipv4Addr::new(10, 0, 1, 0))),
                vec![early.into()],
            )
            .await;
        assert!(out[0].result.is_err());
        // wait until the new committee orders
        while new_peers
            .iter()
            .all(|&p| handles[p].finalized_height() < Height(SWITCH + 1))
        {
            context.sleep(Duration::from_millis(100)).await;
        }
        // after the switch: both labels, to the new members
        for i in 0..6 {
            let (ct, to) = submit((i % 2) as u64, new_peers[i % new_peers.len()], &mut rng);
            let out = handles[to]
                .submit(
                    Source::Client(IpAddr::V4(Ipv4Addr::new(10, 0, 2, i as u8))),
                    vec![ct.clone().into()],
                )
                .await;
            assert!(out[0].result.is_ok(), "{:?}", out[0].result.as_ref().err());
            submitted.insert(ct.id());
            context.sleep(Duration::from_millis(50)).await;
        }
        let mut releases: Vec<Vec<ReleasedBatch>> = vec![Vec::new(); union.len()];
        let mut seen: Vec<BTreeSet<[u8; 32]>> = vec![BTreeSet::new(); union.len()];
        while new_peers.iter().any(|&p| seen[p].len() < submitted.len()) {
            for (p, s) in streams.iter_mut().enumerate() {
                while let Ok(b) = s.try_recv() {
                    seen[p].extend(b.entries().map(|e| e.ciphertext.id()));
                    releases[p].push(b);
                }
            }
            context.sleep(Duration::from_millis(100)).await;
        }
        // let members that left catch up with what they can release (below the switch)
        context.sleep(Duration::from_secs(3)).await;
        for (p, s) in streams.iter_mut().enumerate() {
            while let Ok(b) = s.try_recv() {
                releases[p].push(b);
            }
        }
        let shares = std::mem::take(&mut *wire.lock().unwrap());
        Outcome {
            releases,
            submitted,
            shares,
            keys,
            verifiers,
            infos,
            table,
            old: old_pk,
            new: new_pk,
            union,
        }
    })
}

/// The public committee information of a key epoch, with its identity (SPEC.md §7.4).
fn info(
    key_epoch: u64,
    members: &[Pk],
    public: &commonware_cryptography::bls12381::primitives::sharing::Sharing<
        commonware_cryptography::bls12381::primitives::variant::MinSig,
    >,
    key: &CommitteeKey,
) -> CommitteeInfo {
    use commonware_codec::Encode as _;
    let ids: Vec<[u8; 32]> = members
        .iter()
        .map(|m| m.as_ref().try_into().unwrap())
        .collect();
    let consensus = public.encode().to_vec();
    let id = committee_id(&CommitteeParts {
        key_epoch: KeyEpoch(key_epoch),
        n: key.n() as u32,
        t: key.t() as u32,
        encryption_key: &key.to_bytes(),
        consensus_public: &consensus,
        members: &ids,
    });
    CommitteeInfo {
        key: hex::encode(key.to_bytes()),
        key_id: hex::encode(key.id()),
        committee_id: hex::encode(id),
        key_epoch: KeyEpoch(key_epoch),
        n: key.n(),
        t: key.t(),
        consensus_public: hex::encode(consensus),
        members: ids
            .iter()
            .map(|i| MemberInfo {
                identity: hex::encode(i),
                api: "127.0.0.1:1".parse().unwrap(),
                quic: None,
            })
            .collect(),
        namespaces: None,
        max_plaintext_bytes: 0,
        max_sender_bytes: 0,
        client_rate_per_s: 0,
        client_burst: 0,
        anonymous_namespaces: Vec::new(),
        rln: None,
    }
}

/// A verifier pinned to epoch 0's committee identity (the SDK, node-free) verifies every
/// released batch of both epochs: a reshare keeps the group keys it checks against (SPEC.md
/// §7.4, §9.8). Epoch 1's committee is another identity with the same keys.
fn check_pinned_to_the_first_epoch(o: &Outcome, log: &[ReleasedBatch]) {
    let (first, second) = (&o.infos[&0], &o.infos[&1]);
    let c0 = CheckedCommittee::check(first).expect("epoch 0 committee");
    let c1 = CheckedCommittee::check(second).expect("epoch 1 committee");
    assert_ne!(c0.id, c1.id, "another epoch, another identity");
    assert!(c0.same_keys(&c1), "a reshare keeps the keys");
    let pin = CommitteeId(c0.id);
    let client = Client::from_committee(Vec::new(), first.clone(), pin).unwrap();
    assert!(Client::from_committee(Vec::new(), second.clone(), pin).is_err());
    let fetch = |h: Height| {
        let b = log.get(h.get() as usize - 1).cloned();
        async move { b.ok_or(SdkError::Protocol("beyond the log".into())) }
    };
    let mut epochs = BTreeSet::new();
    for b in log {
        futures::executor::block_on(client.verify_release_via(b, fetch))
            .unwrap_or_else(|e| panic!("height {}: {e}", b.height));
        epochs.insert(o.table.epoch_at(b.height));
    }
    assert_eq!(
        epochs,
        BTreeSet::from([KeyEpoch(0), KeyEpoch(1)]),
        "both epochs' batches checked"
    );

    // A long-lived wallet follows the reshare once a quorum of the members it asks serve the
    // later epoch's committee, and then labels for that epoch.
    let mut wallet = Client::from_committee(Vec::new(), first.clone(), pin).unwrap();
    let answers =
        |serving: usize, asked: usize| -> Vec<(String, Result<CommitteeInfo, SdkError>)> {
            (0..asked)
                .map(|i| {
                    let answer = if i < serving {
                        Ok(second.clone())
                    } else {
                        Err(SdkError::Protocol("unreachable".into()))
                    };
                    (format!("member{i}"), answer)
                })
                .collect()
        };
    let n = second.n;
    let quorum = unpinned_quorum(n, n);
    assert!(matches!(
        wallet.follow_epoch_from(answers(quorum - 1, n), n),
        Err(SdkError::NoQuorum { .. })
    ));
    assert_eq!(
        wallet.committee_id(),
        pin,
        "nothing changes without a quorum"
    );
    assert!(
        !wallet
            .follow_epoch_from(vec![("m".into(), Ok(first.clone()))], 1)
            .unwrap(),
        "nothing later to follow"
    );
    assert!(wallet.follow_epoch_from(answers(quorum, n), n).unwrap());
    assert_eq!(wallet.committee_id(), CommitteeId(c1.id));
    assert_eq!(
        wallet.label(Namespace(0), b"wallet").unwrap().key_epoch(),
        KeyEpoch(1)
    );
    for b in log {
        futures::executor::block_on(wallet.verify_release_via(b, fetch))
            .unwrap_or_else(|e| panic!("height {} after following: {e}", b.height));
    }
}

fn check(o: &Outcome) {
    let longest = o.releases.iter().max_by_key(|r| r.len()).unwrap();
    assert!(longest.len() as u64 > SWITCH, "ordered past the switch");

    for log in &o.releases {
        for (i, (a, b)) in log.iter().zip(longest).enumerate() {
            assert_eq!(a.height, Height(i as u64 + 1), "consecutive heights");
            assert_eq!(a.content_bytes(), b.content_bytes(), "release logs diverge");
        }
    }
    let mut released = BTreeSet::new();
    let mut rng = rand::rng();
    for b in longest {
        b.verify(
            |e| o.keys.get(&e).cloned(),
            |height, digest, cert| {
                // the finality proof is a certificate of the committee of its epoch, on this
                // block or a descendant in the log
                let Some(any) = o.verifiers.values().next() else {
                    return false;
                };
                let Ok(f) = Finalization::<ConsensusScheme, sha256::Digest>::decode_cfg(
                    bytes::Bytes::copy_from_slice(cert),
                    &any.certificate_codec_config(),
                ) else {
                    return false;
                };
                let epoch = f.proposal.round.epoch().get();
                // heights below the switch are certified by the old committee, the rest by
                // the new one (the boundary block is finalized in the old epoch)
                assert_eq!(KeyEpoch(epoch), o.table.epoch_at(height), "height {height}");
                let Some(v) = o.verifiers.get(&epoch) else {
                    return false;
                };
                if !f.verify(&mut rand::rng(), v, &Sequential) {
                    return false;
                }
                let certified = f.proposal.payload.0;
                let Some(pos) = longest.iter().position(|x| x.block.0 == certified) else {
                    return false;
                };
                pos + 1 >= height.get() as usize
                    && longest[height.get() as usize - 1].block == *digest
            },
            &mut rng,
        )
        .expect("released batch verifies");
        for e in b.entries() {
            assert!(released.insert(e.ciphertext.id()), "released twice");
            let Decryption::Plaintext(p) = &e.outcome else {
                panic!("undecryptable");
            };
            let epoch = e.ciphertext.label().key_epoch();
            assert!(p.ends_with(format!(" e{epoch}").as_bytes()));
            // labels within their windows
            assert!(o.table.admits(b.height, epoch).is_ok());
        }
    }
    assert_eq!(
        released, o.submitted,
        "every accepted ciphertext released once"
    );
    check_pinned_to_the_first_epoch(o, longest);
    // both labels were ordered after the switch
    let after: BTreeSet<KeyEpoch> = longest
        .iter()
        .filter(|b| b.height >= Height(SWITCH))
        .flat_map(|b| b.entries().map(|e| e.ciphertext.label().key_epoch()))
        .collect();
    assert_eq!(after, BTreeSet::from([KeyEpoch(0), KeyEpoch(1)]));
    // every member of the new committee released everything; members that left released
    // a prefix that ends below the switch
    for (p, pk) in o.union.iter().enumerate() {
        let log = &o.releases[p];
        if o.new.contains(pk) {
            assert_eq!(
                log.len(),
                longest.len(),
                "new member {p} released everything"
            );
        } else {
            assert!(o.old.contains(pk));
            assert!(
                log.len() as u64 >= SWITCH - 1,
                "a leaving member released to the switch"
            );
        }
    }
    // no share batch for a block outside the final chain, or before it was final there; and
    // each names the committee of its height
    let final_batches: BTreeMap<[u8; 32], u64> = longest
        .iter()
        .map(|b| {
            (
                batch_id(&b.block, o.table.epoch_at(b.height)),
                b.height.get(),
            )
        })
        .collect();
    assert!(!o.shares.is_empty());
    for (p, id, finalized) in &o.shares {
        let h = final_batches
            .get(id)
            .unwrap_or_else(|| panic!("peer {p} shared for a block not final"));
        if let Some(f) = finalized {
            assert!(f >= h, "peer {p} shared height {h} when final up to {f}");
        }
        let members = if *h < SWITCH { &o.old } else { &o.new };
        assert!(
            members.contains(&o.union[*p]),
            "peer {p} shared outside its committee"
        );
    }
}

/// Same members, fresh shares (`curtain reshare --refresh`).
#[test]
fn a_refreshed_committee_takes_over_at_the_switch_height() {
    check(&run(1, &[0, 1, 2, 3], &[0, 1, 2, 3]));
}

/// One member leaves and another joins: the joiner follows the old epoch's chain through
/// marshal's backfill (it runs no engine there), the leaver stops at the switch.
#[test]
fn a_reshared_committee_with_a_leaver_and_a_joiner_takes_over() {
    check(&run(2, &[0, 1, 2, 3], &[0, 1, 2, 4]));
}
