//! Anonymous admission through the pure cores: registry, admission (members, strangers,
//! missing, mauled and moved proofs, over quota with slashing evidence), block rules and
//! release encoding. A depth-4 dev circuit keeps proofs fast.

use super::chain::{verify_chain_block, ChainBlock};
use super::mempool::{Mempool, MempoolConfig, Reject};
use super::rln::RlnSettings;
use super::rln::*;
use super::testkit::{committee, ct, rng, CLIENT};
use crate::ledger::block::{Block, BlockError, BlockLimits};
use crate::ledger::envelope::{Envelope, RlnProof};
use crate::ledger::release::{ReleasedBatch, ReleasedEntry, ReleasedNamespace};
use crate::ledger::{Digest, Height, KeyEpoch, Namespace};
use curtain_circuits::{
    fr_to_be_bytes, setup_dev, CircuitParams, Identity, MerkleTree, ProvingKey, VerifyingKey,
};
use curtain_crypto::{CommitteeKey, Decryption, Opening};
use rand_chacha::ChaCha20Rng;
use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, OnceLock};

const ANON: u64 = 5;
const OPEN: u64 = 1;
const REGISTRY: u64 = 0;

fn keys() -> &'static (ProvingKey, VerifyingKey) {
    static KEYS: OnceLock<(ProvingKey, VerifyingKey)> = OnceLock::new();
    KEYS.get_or_init(|| setup_dev(CircuitParams::new(4, 4).unwrap(), [7; 32]))
}

fn rules() -> RlnRules {
    let vk = keys().1.clone();
    RlnRules::new(
        RlnSettings {
            circuit_digest: vk.digest(),
            registry_namespace: Namespace(REGISTRY),
            epoch_blocks: 4,
            root_window: 2,
            root_lag: 0,
            anonymous: BTreeSet::from([Namespace(ANON)]),
        },
        vk,
    )
    .unwrap()
}

struct World {
    key: Arc<CommitteeKey>,
    pool: Mempool,
    /// The wallet's copy of the members' tree.
    tree: MerkleTree,
    members: Vec<Identity>,
    r: ChaCha20Rng,
}

/// A mempool with anonymous namespace ANON and `n` members registered at height 1.
fn world(n: usize) -> World {
    let mut r = rng(11);
    let key = committee(4, 3, &mut r).key;
    let rules = rules();
    let mut st = RlnState::new(rules.clone());
    let members: Vec<Identity> = (0..n).map(|_| Identity::random(2, &mut r)).collect();
    let regs: Vec<Vec<u8>> = members
        .iter()
        .map(|m| RegistryTx::register(&m.commitment(), m.limit()))
        .collect();
    let events = st
        .registry
        .apply(&rules, 1, regs.iter().map(|v| v.as_slice()));
    assert!(events
        .iter()
        .all(|e| matches!(e, RegistryEvent::Registered { .. })));
    let mut tree = MerkleTree::new(4).unwrap();
    for m in &members {
        tree.push(m.commitment()).unwrap();
    }
    assert_eq!(tree.root(), st.registry.root());
    let pool = Mempool::new(MempoolConfig::default(), KeyEpoch(0), key.clone()).with_rln(st);
    World {
        key,
        pool,
        tree,
        members,
        r,
    }
}

impl World {
    fn envelope(&mut self, member: usize, epoch: u64, k: u32, msg: &[u8]) -> Envelope {
        self.sealed(ANON, member, epoch, k, msg, None)
    }

    fn sealed(
        &mut self,
        ns: u64,
        member: usize,
        epoch: u64,
        k: u32,
        msg: &[u8],
        tree: Option<&MerkleTree>,
    ) -> Envelope {
        let m = Membership {
            identity: &self.members[member],
            tree: tree.unwrap_or(&self.tree),
            // an own tree holds only this identity
            index: if tree.is_some() { 0 } else { member as u64 },
            epoch,
            message_index: k,
        };
        seal_anonymous(
            &self.key,
            KeyEpoch(0),
            Namespace(ns),
            msg,
            &m,
            &keys().0,
            &mut self.r,
        )
        .unwrap()
    }

    fn admit(&mut self, e: Envelope) -> Result<(), Reject> {
        let mut r = rng(3);
        self.pool
            .admit(0, CLIENT, vec![e], &mut r)
            .remove(0)
            .result
            .map(|_| ())
    }
}

#[test]
fn members_are_admitted_and_strangers_refused() {
    let mut w = world(2);
    // a member, twice in one epoch (its quota is 2), and its second message
    let e0 = w.envelope(0, 0, 0, b"hello");
    let e1 = w.envelope(0, 0, 1, b"again");
    assert_eq!(w.admit(e0.clone()), Ok(()));
    assert_eq!(w.admit(e1), Ok(()));
    // resubmission is a duplicate, not a double signal
    assert_eq!(w.admit(e0.clone()), Err(Reject::Duplicate));
    // the label shows the nullifier only
    assert_eq!(
        e0.ciphertext().label().sender(),
        nullifier_of(&w.members[0], 0, 0).as_slice()
    );

    // a stranger: a proof against a tree this committee never had
    let stranger = Identity::random(2, &mut w.r);
    let mut own = MerkleTree::new(4).unwrap();
    own.push(stranger.commitment()).unwrap();
    w.members.push(stranger);
    let e = w.sealed(ANON, 2, 0, 0, b"let me in", Some(&own));
    assert_eq!(w.admit(e), Err(RlnReject::UnknownRoot.into()));

    // no proof in the anonymous namespace; a proof in an open one
    let plain = ct(&w.key, ANON, b"no proof", &mut w.r);
    assert_eq!(w.admit(plain.into()), Err(RlnReject::ProofRequired.into()));
    let open = w.sealed(OPEN, 1, 0, 0, b"open", None);
    assert_eq!(w.admit(open), Err(RlnReject::UnexpectedProof.into()));

    // a mauled proof: every byte of C's encoding flipped in turn stays refused
    let good = w.envelope(1, 0, 0, b"mauled");
    let p = good.rln().unwrap();
    for at in [0usize, 47, 100, 191] {
        let mut bad = (**p).clone();
        bad.proof[at] ^= 0x01;
        let e = Envelope::anonymous(good.ciphertext().clone(), bad);
        assert_eq!(w.admit(e), Err(RlnReject::InvalidProof.into()), "byte {at}");
    }
    // a proof moved to another ciphertext is not bound to it
    let other = w.envelope(1, 0, 1, b"other");
    let moved = Envelope::anonymous(other.ciphertext().clone(), (**p).clone());
    assert_eq!(w.admit(moved), Err(RlnReject::Unbound.into()));
    // an epoch outside the window
    let late = w.envelope(1, 9, 0, b"future");
    assert_eq!(w.admit(late), Err(RlnReject::WrongEpoch(9).into()));
    // the untouched envelope is fine
    assert_eq!(w.admit(good), Ok(()));
}

#[test]
fn a_double_signal_is_refused_and_slashable() {
    let mut w = world(1);
    let first = w.envelope(0, 0, 0, b"one");
    let second = w.envelope(0, 0, 0, b"two");
    assert_eq!(w.admit(first.clone()), Ok(()));
    assert_eq!(w.admit(second.clone()), Err(RlnReject::OverQuota.into()));
    let st = w.pool.rln_mut().unwrap();
    let evidence = st.take_new_evidence();
    assert_eq!(evidence.len(), 1);
    let e = &evidence[0];
    assert_eq!((e.first.0, e.second.0), (first.id(), second.id()));
    // anyone recovers the secret from the evidence, and its encoding round-trips
    let a0 = e.verify(&keys().1).unwrap();
    assert_eq!(
        fr_to_be_bytes(&a0),
        *w.members[0].secret_bytes(),
        "recovered secret"
    );
    assert_eq!(SlashingEvidence::from_bytes(&e.to_bytes()).unwrap(), *e);
    // tampered evidence fails
    let mut bad = e.clone();
    bad.second.0 = [0; 32];
    assert!(bad.verify(&keys().1).is_err());

    // released as a slashing transaction, it removes the member's leaf at every member
    let rules = rules();
    let mut tx = vec![SLASH_TAG];
    tx.extend_from_slice(&e.to_bytes());
    let before = st.registry.root();
    let events = st.registry.apply(&rules, 2, [tx.as_slice()]);
    assert_eq!(
        events,
        vec![RegistryEvent::Removed {
            index: 0,
            commitment: fr_to_be_bytes(&w.members[0].commitment()),
        }]
    );
    assert_ne!(st.registry.root(), before);
    // the slashed commitment cannot register again
    let again = RegistryTx::register(&w.members[0].commitment(), 2);
    assert!(matches!(
        st.registry.apply(&rules, 3, [again.as_slice()])[0],
        RegistryEvent::Ignored(_)
    ));
}

#[test]
fn registry_ignores_bad_transactions_and_windows_roots() {
    let rules = rules();
    let mut reg = Registry::new(4);
    let mut r = rng(5);
    let id = Identity::random(1, &mut r);
    let ok = RegistryTx::register(&id.commitment(), 1);
    let mut zero_limit = ok.clone();
    zero_limit[33..].copy_from_slice(&0u32.to_be_bytes());
    let mut too_big = ok.clone();
    too_big[33..].copy_from_slice(&17u32.to_be_bytes()); // range bits 4: limit ≤ 16
    let events = reg.apply(
        &rules,
        1,
        [
            &b"junk"[..],
            &ok[..5],
            zero_limit.as_slice(),
            too_big.as_slice(),
            ok.as_slice(),
            ok.as_slice(),
        ],
    );
    let registered = events
        .iter()
        .filter(|e| matches!(e, RegistryEvent::Registered { .. }))
        .count();
    assert_eq!((events.len(), registered), (6, 1));
    // an already-applied height is ignored (a restart replays the log)
    assert!(reg.apply(&rules, 1, [ok.as_slice()]).is_empty());
    // roots: the window keeps the last two, a block sees roots released up to its height
    let mut roots = vec![reg.root()];
    for h in 2..6u64 {
        let m = Identity::random(1, &mut r);
        reg.apply(
            &rules,
            h,
            [RegistryTx::register(&m.commitment(), 1).as_slice()],
        );
        roots.push(reg.root());
    }
    assert_eq!(
        reg.roots_for_block(&rules, 5).unwrap(),
        roots[roots.len() - 2..].to_vec()
    );
    assert!(
        reg.roots_for_block(&rules, 6).is_none(),
        "height 6 not released here"
    );
    // the tree is full at 16 leaves: further registrations are ignored, deterministically
    for h in 6..20u64 {
        let m = Identity::random(1, &mut r);
        reg.apply(
            &rules,
            h,
            [RegistryTx::register(&m.commitment(), 1).as_slice()],
        );
    }
    assert_eq!(reg.tree().next_index(), 16);
}

#[test]
fn blocks_carry_proofs_and_members_check_them() {
    let mut w = world(2);
    let limits = BlockLimits::default();
    let a = w.envelope(0, 0, 0, b"a");
    let b = w.envelope(1, 0, 0, b"b");
    assert_eq!(w.admit(a.clone()), Ok(()));
    assert_eq!(w.admit(b.clone()), Ok(()));
    let g = Block::genesis();
    let block = w.pool.build(&g, &limits, &HashSet::new());
    assert_eq!(block.len(), 2);
    assert!(
        block.admissions.is_some(),
        "the block commits to the proofs"
    );
    let bodies: Vec<Envelope> = block
        .ids()
        .map(|id| w.pool.get(id).unwrap().envelope())
        .collect();
    let cb = ChainBlock::new(block.clone(), bodies.clone()).unwrap();
    // the encoding round-trips with the proofs
    use commonware_codec::{Decode as _, Encode as _};
    let bytes = cb.encode();
    assert_eq!(ChainBlock::decode_cfg(bytes, &limits).unwrap(), cb);

    // a checker that never saw the envelopes verifies the proofs itself
    let mut checker = world(2);
    let mut r = rng(9);
    // verified against genesis with no nullifiers used in unfinalized ancestors, unless given
    let check = |cb: &ChainBlock, used: &HashSet<_>, r: &mut ChaCha20Rng| {
        verify_chain_block(cb, &g, &limits, &HashSet::new(), &checker.pool, used, r)
    };
    let got = check(&cb, &HashSet::new(), &mut r).unwrap();
    assert_eq!(got.len(), 2);
    // a nullifier already used in an unfinalized ancestor
    let used = HashSet::from([(0u64, a.rln().unwrap().nullifier())]);
    assert!(matches!(
        check(&cb, &used, &mut r),
        Err(BlockError::Rln(_, RlnReject::OverQuota))
    ));
    // other proofs than the block commits to
    let mut swapped = bodies.clone();
    swapped.swap(0, 1);
    assert!(ChainBlock::new(block.clone(), swapped).is_err());
    // a consistent block with a proof that does not verify
    let mut bad = (**bodies[0].rln().unwrap()).clone();
    bad.proof[191] ^= 1;
    let lying: Vec<Envelope> = std::iter::once(Envelope::anonymous(
        bodies[0].ciphertext().clone(),
        bad.clone(),
    ))
    .chain(bodies[1..].iter().cloned())
    .collect();
    let lying_block = Block::with_admissions(
        g.digest(),
        Height(1),
        block.batches.clone(),
        crate::ledger::envelope::admissions_digest(lying.iter().map(|e| e.rln().map(|p| &**p))),
    );
    let lcb = ChainBlock::new(lying_block, lying).unwrap();
    assert!(matches!(
        check(&lcb, &HashSet::new(), &mut r),
        Err(BlockError::Rln(_, RlnReject::InvalidProof))
    ));
    // an anonymous entry without proof in a block
    let plain = ct(&w.key, ANON, b"no proof", &mut w.r);
    let pb = Block::new(
        g.digest(),
        Height(1),
        vec![crate::ledger::block::NamespaceBatch {
            namespace: Namespace(ANON),
            ids: vec![plain.id()],
        }],
    );
    let pcb = ChainBlock::new(pb, vec![plain.into()]).unwrap();
    assert!(matches!(
        check(&pcb, &HashSet::new(), &mut r),
        Err(BlockError::Rln(_, RlnReject::ProofRequired))
    ));

    // finalization orders the nullifiers: a pending entry with the same nullifier is
    // dropped as over quota (with evidence), and no later block may reuse it
    let dup = checker.envelope(0, 0, 0, b"a, again");
    assert_eq!(checker.admit(dup.clone()), Ok(()));
    let dropped = checker.pool.on_finalized(Height(1), &got);
    assert_eq!(dropped, vec![(dup.id(), RlnReject::OverQuota.into())]);
    assert_eq!(checker.pool.rln_mut().unwrap().take_new_evidence().len(), 1);
    assert!(checker.pool.get(&dup.id()).is_none());
    let next = checker.pool.build(&block, &limits, &HashSet::new());
    assert!(next.is_empty());
    // epochs leave the window: pending entries of epoch 0 expire at height 8 (epoch 2)
    let c = checker.envelope(1, 0, 1, b"late");
    assert_eq!(checker.admit(c.clone()), Ok(()));
    let dropped = checker.pool.on_finalized(Height(7), &[]);
    assert_eq!(dropped, vec![(c.id(), RlnReject::WrongEpoch(0).into())]);
}

#[test]
fn released_batches_keep_proofs_and_show_only_the_nullifier() {
    let mut w = world(1);
    let e = w.envelope(0, 0, 0, b"payload");
    let entry = ReleasedEntry {
        ciphertext: e.ciphertext().clone(),
        rln: e.rln().cloned(),
        opening: Opening::from_bytes(&w.key.encryption_key().to_bytes()).unwrap(),
        outcome: Decryption::Plaintext(b"payload".to_vec()),
    };
    let mut rb = ReleasedBatch {
        height: Height(1),
        parent: Digest::default(),
        block: Digest::default(),
        certificate: Vec::new(),
        namespaces: vec![ReleasedNamespace {
            namespace: Namespace(ANON),
            entries: vec![entry],
        }],
    };
    rb.block = rb.rebuild_block().digest();
    let bytes = rb.to_bytes();
    assert_eq!(ReleasedBatch::from_bytes(&bytes).unwrap(), rb);
    // the block digest commits to the proof
    assert!(rb.rebuild_block().admissions.is_some());
    // nothing identifying: neither the secret, nor the commitment appear in the release
    let secret = w.members[0].secret_bytes();
    let commitment = fr_to_be_bytes(&w.members[0].commitment());
    for needle in [&secret[..], &commitment[..]] {
        assert!(!bytes.windows(32).any(|win| win == needle));
    }
    let _: &RlnProof = rb.namespaces[0].entries[0].rln.as_deref().unwrap();
}
