//! Reveal, collect, release: members' collectors exchanging share batches over a lossless
//! in-memory network (with a withholding or lying member), the designated windows, requests
//! for batches, and the released batches a third party verifies.

use super::attest::Attestor;
use super::mempool::{Mempool, MempoolConfig, Source};
use super::reveal::*;
use super::testkit::{accepted, committee, ct, dup, rng, Committee};
use crate::ledger::block::{Block, BlockLimits};
use crate::ledger::evidence::{Accused, Evidence, EvidenceError, Judge, WrongShares};
use crate::ledger::release::*;
use crate::ledger::signed::SignedBatch;
use crate::ledger::{Height, KeyEpoch};
use curtain_crypto::{Decryption, EncodedCiphertext, ShareBatch};
use rand_chacha::ChaCha20Rng;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

struct Member {
    collector: Collector,
    /// What it signs with (a lying member signs its wrong batch too).
    attestor: Attestor,
    log: ReleaseLog,
    released: Vec<Vec<u8>>,
    /// Evidence it made.
    faults: Vec<Evidence>,
    /// Batch ids this member sent its batch for, in order.
    shared: Vec<[u8; 32]>,
}

/// The collector's fallback delay in these tests (the default).
const FALLBACK_MS: u64 = 1_000;

/// When the tests finalize height `h` everywhere (far enough apart for a fallback in between).
fn final_at(h: u64) -> u64 {
    h * 10 * FALLBACK_MS
}

fn members(c: &Committee) -> Vec<Member> {
    members_with(c, CollectorConfig::default())
}

fn members_with(c: &Committee, cfg: CollectorConfig) -> Vec<Member> {
    c.shares
        .iter()
        .map(|s| Member {
            collector: c.collector(s, cfg),
            attestor: c.attestor(s.index()),
            log: ReleaseLog::after(&Block::genesis()),
            released: Vec::new(),
            faults: Vec::new(),
            shared: Vec::new(),
        })
        .collect()
}

/// Finalized blocks at heights 1..=k with `per` ciphertexts each (mixed namespaces and one
/// undecryptable ciphertext per block).
fn chain(c: &Committee, k: u64, per: usize, r: &mut ChaCha20Rng) -> Vec<FinalizedBlock> {
    let mut pool = Mempool::new(MempoolConfig::default(), KeyEpoch(0), c.key.clone());
    let mut parent = Block::genesis();
    let mut out = Vec::new();
    for h in 1..=k {
        let cts: Vec<EncodedCiphertext> = (0..per)
            .map(|i| ct(&c.key, (i % 3) as u64, format!("h{h} tx{i}").as_bytes(), r))
            .collect();
        assert_eq!(accepted(&pool.admit(0, Source::Internal, cts, r)), per);
        let b = pool.build(&parent, &BlockLimits::default(), &HashSet::new());
        let verified: Vec<_> = b.ids().map(|id| pool.get(id).unwrap().clone()).collect();
        pool.on_finalized(Height(h), &verified);
        out.push(FinalizedBlock::new(
            b.clone(),
            format!("cert{h}").into_bytes(),
            verified,
        ));
        parent = b;
    }
    out
}

/// Delivers every broadcast to every other member, applying `tamper` to what `from` sends;
/// returns when nothing is in flight.
fn deliver(
    ms: &mut [Member],
    now_ms: u64,
    mut inbox: Vec<(u32, SignedBatch)>,
    withhold: Option<u32>,
    tamper: Option<u32>,
    r: &mut ChaCha20Rng,
) {
    while let Some((from, batch)) = inbox.pop() {
        if Some(from) == withhold {
            continue;
        }
        let batch = if Some(from) == tamper {
            corrupt(&ms[from as usize].attestor, &batch)
        } else {
            batch
        };
        for (i, m) in ms.iter_mut().enumerate() {
            if i as u32 == from {
                continue;
            }
            let fx = m
                .collector
                .on_shares(from, batch.clone(), now_ms, r)
                .unwrap();
            apply(m, i as u32, fx, &mut inbox);
        }
    }
}

fn apply(m: &mut Member, me: u32, fx: Vec<Effect>, inbox: &mut Vec<(u32, SignedBatch)>) {
    for e in fx {
        match e {
            Effect::Broadcast(b) => {
                m.shared.push(b.batch_id());
                inbox.push((me, b));
            }
            Effect::Release(rb) => {
                m.log.append(&rb).unwrap();
                m.released.push(rb.to_bytes());
            }
            Effect::Fault(f) => m.faults.push(f),
        }
    }
}

/// A piece of wrong-shares evidence against member 3, altered: none holds.
fn wrong_share_evidence_cannot_be_forged(
    c: &Committee,
    real: &Evidence,
    judge: &Judge<'_>,
    r: &mut ChaCha20Rng,
) {
    let Evidence::WrongShares(w) = real else {
        panic!("not wrong shares")
    };
    let s = w.signed();
    let (block, cts) = (w.block().clone(), w.ciphertexts().to_vec());
    let piece = |signed: SignedBatch, block: &Block, cts: &[EncodedCiphertext]| {
        Evidence::WrongShares(Box::new(WrongShares::new(
            signed,
            block.clone(),
            cts.to_vec(),
        )))
    };
    // the wrong batch signed by another member (its key, its index): a signature over
    // someone else's batch
    let framed = c
        .attestor(2)
        .sign_batch(s.key_epoch(), s.height(), s.block(), s.batch().clone())
        .unwrap();
    assert_eq!(
        piece(framed, &block, &cts).verify(judge, r).unwrap_err(),
        EvidenceError::BadSignature
    );
    // a correct batch, properly signed, presented as wrong
    let honest = c.shares[3].decryption_shares(
        s.batch_id(),
        &cts.iter()
            .map(|ct| curtain_crypto::verify(&c.key, ct.decode().unwrap()).unwrap())
            .collect::<Vec<_>>(),
    );
    let honest = c
        .attestor(3)
        .sign_batch(s.key_epoch(), s.height(), s.block(), honest)
        .unwrap();
    assert_eq!(
        piece(honest, &block, &cts).verify(judge, r).unwrap_err(),
        EvidenceError::NotWrong
    );
    // the right batch with other ciphertexts, or another block
    let mut other = cts.clone();
    other.swap(0, 1);
    assert!(matches!(
        piece(s.clone(), &block, &other)
            .verify(judge, r)
            .unwrap_err(),
        EvidenceError::NotTheCiphertexts { position: Some(0) }
    ));
    assert_eq!(
        piece(s.clone(), &Block::genesis(), &[])
            .verify(judge, r)
            .unwrap_err(),
        EvidenceError::NotTheBlock
    );
    // against another key epoch's committee, or none
    let mut later = c.checked();
    later.key_epoch = KeyEpoch(1);
    assert!(real
        .verify(
            &Judge {
                committees: &[later],
                rln: None
            },
            r
        )
        .is_err());
    // every truncation is a typed decode error, never a panic
    let bytes = real.to_bytes();
    for cut in [0, 1, 2, 6, 100, bytes.len() / 2, bytes.len() - 1] {
        assert!(Evidence::from_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(Evidence::from_bytes(&longer).is_err());
}

/// Swaps a batch's first two shares: well-formed, on the curve, and wrong; signed by its
/// member all the same.
fn corrupt(attestor: &Attestor, b: &SignedBatch) -> SignedBatch {
    attestor
        .sign_batch(b.key_epoch(), b.height(), b.block(), swapped(b.batch()))
        .unwrap()
}

fn swapped(b: &ShareBatch) -> ShareBatch {
    let mut bytes = b.to_bytes();
    if b.len() >= 2 {
        let (head, tail) = bytes[41..].split_at_mut(96);
        head.swap_with_slice(&mut tail[..96]);
    }
    ShareBatch::from_bytes(&bytes).unwrap()
}

/// Every member finalizes each block at `final_at(h)`; shares are delivered; then the clock
/// reaches the fallback and whatever it produces is delivered too.
fn finalize_all(
    ms: &mut [Member],
    fins: &[FinalizedBlock],
    withhold: Option<u32>,
    tamper: Option<u32>,
    r: &mut ChaCha20Rng,
) {
    for fin in fins {
        let inbox = finalize_everywhere(ms, fin, final_at(fin.height()), r);
        deliver(ms, final_at(fin.height()), inbox, withhold, tamper, r);
        tick_all(
            ms,
            final_at(fin.height()) + FALLBACK_MS,
            withhold,
            tamper,
            r,
        );
    }
}

/// Every member finalizes `fin` at `now_ms`; returns what they broadcast (undelivered).
fn finalize_everywhere(
    ms: &mut [Member],
    fin: &FinalizedBlock,
    now_ms: u64,
    r: &mut ChaCha20Rng,
) -> Vec<(u32, SignedBatch)> {
    let mut inbox = Vec::new();
    for (i, m) in ms.iter_mut().enumerate() {
        let fx = m.collector.on_finalized(fin.clone(), now_ms, r).unwrap();
        apply(m, i as u32, fx, &mut inbox);
    }
    inbox
}

/// Every member's clock reaches `now_ms`; returns what they broadcast (undelivered).
fn tick_everywhere(ms: &mut [Member], now_ms: u64, r: &mut ChaCha20Rng) -> Vec<(u32, SignedBatch)> {
    let mut inbox = Vec::new();
    for (i, m) in ms.iter_mut().enumerate() {
        let fx = m.collector.on_tick(now_ms, r);
        apply(m, i as u32, fx, &mut inbox);
    }
    inbox
}

fn tick_all(
    ms: &mut [Member],
    now_ms: u64,
    withhold: Option<u32>,
    tamper: Option<u32>,
    r: &mut ChaCha20Rng,
) {
    let inbox = tick_everywhere(ms, now_ms, r);
    deliver(ms, now_ms, inbox, withhold, tamper, r);
}

#[test]
fn honest_members_release_identical_verifiable_logs() {
    let mut r = rng(7);
    let c = committee(4, 3, &mut r);
    let fins = chain(&c, 3, 7, &mut r);
    let mut ms = members(&c);
    finalize_all(&mut ms, &fins, None, None, &mut r);
    for (i, m) in ms.iter().enumerate() {
        assert_eq!(m.released.len(), 3);
        assert_eq!(m.released, ms[0].released);
        assert!(m.faults.is_empty());
        // only the t designated members share for each height, and no fallback fires
        let expected: Vec<[u8; 32]> = fins
            .iter()
            .filter(|f| designated(f.height(), i as u32, 4, 3))
            .map(|f| batch_id(&f.block().digest(), KeyEpoch(0)))
            .collect();
        assert_eq!(m.shared, expected, "member {i}");
        // it can answer a peer's retry with exactly the batches it made
        for f in &fins {
            let id = batch_id(&f.block().digest(), KeyEpoch(0));
            assert_eq!(m.collector.my_batch(&id).is_some(), expected.contains(&id));
        }
    }
    for (h, bytes) in ms[0].released.iter().enumerate() {
        let rb = ReleasedBatch::from_bytes(bytes).unwrap();
        assert_eq!(rb.height, Height(h as u64 + 1));
        assert_eq!(rb.to_bytes(), *bytes);
        let key = c.key.clone();
        rb.verify(
            |e| (e == KeyEpoch(0)).then(|| key.clone()),
            |_, _, cert| cert == format!("cert{}", h + 1).as_bytes(),
            &mut r,
        )
        .unwrap();
        // plaintexts in committed order, per namespace
        let block = fins[h].block();
        assert_eq!(rb.rebuild_block(), *block);
        for (ns, nb) in rb.namespaces.iter().zip(&block.batches) {
            assert_eq!(ns.namespace, nb.namespace);
            for e in &ns.entries {
                let Decryption::Plaintext(p) = &e.outcome else {
                    panic!("undecryptable")
                };
                assert!(p.starts_with(format!("h{} tx", h + 1).as_bytes()));
            }
        }
    }
}

#[test]
fn wrong_shares_become_evidence_and_withheld_shares_do_not_stall() {
    let mut r = rng(8);
    let c = committee(4, 3, &mut r);
    let fins = chain(&c, 2, 5, &mut r);
    let mut ms = members(&c);
    // member 3 lies: every honest member makes evidence against it, the same piece, that a
    // third party checks with the committee alone; and still releases
    finalize_all(&mut ms, &fins, None, Some(3), &mut r);
    let checked = [c.checked()];
    let judge = Judge {
        committees: &checked,
        rln: None,
    };
    let mut ids = HashSet::new();
    for m in &ms[..3] {
        assert_eq!(m.released.len(), 2);
        assert_eq!(m.released, ms[0].released);
        assert_eq!(m.faults.len(), 1, "named once, then ignored");
        let e = Evidence::from_bytes(&m.faults[0].to_bytes()).unwrap();
        assert_eq!(e, m.faults[0]);
        let verdict = e.verify(&judge, &mut r).unwrap();
        assert_eq!(
            verdict.accused,
            Accused::Member {
                key_epoch: KeyEpoch(0),
                index: 3
            }
        );
        ids.insert(e.id());
    }
    assert!(ids.len() <= 2, "one piece per wrong batch seen");
    wrong_share_evidence_cannot_be_forged(&c, &ms[0].faults[0], &judge, &mut r);
    // member 1 withholds: the other three suffice (t = 3)
    let mut ms = members(&c);
    finalize_all(&mut ms, &fins, Some(1), None, &mut r);
    for (i, m) in ms.iter().enumerate() {
        if i != 1 {
            assert_eq!(m.released.len(), 2);
        }
    }
    // two withhold: members 0 and 1 hold 2 < t batches and release nothing (2 and 3 have
    // their own share on top of the two they receive, so they can)
    let mut ms = members(&c);
    for fin in &fins {
        let mut inbox = finalize_everywhere(&mut ms, fin, final_at(fin.height()), &mut r);
        // after the fallback every member has made its batch
        inbox.extend(tick_everywhere(
            &mut ms,
            final_at(fin.height()) + FALLBACK_MS,
            &mut r,
        ));
        inbox.retain(|(from, _)| *from < 2);
        deliver(
            &mut ms,
            final_at(fin.height()) + FALLBACK_MS,
            inbox,
            None,
            None,
            &mut r,
        );
    }
    assert!(ms[..2].iter().all(|m| m.released.is_empty()));
    assert!(ms[2..].iter().all(|m| m.released.len() == 2));
    assert_eq!(ms[0].collector.waiting().collect::<Vec<_>>(), vec![1, 2]);
}

#[test]
fn a_silent_designated_member_costs_one_fallback_then_everyone_shares_for_a_while() {
    let mut r = rng(11);
    let c = committee(4, 3, &mut r);
    let fins = chain(&c, 3, 2, &mut r);
    let cfg = CollectorConfig {
        eager_heights: 1,
        ..CollectorConfig::default()
    };
    let mut ms = members_with(&c, cfg);
    let silent = Some(1);
    let finalize = |ms: &mut [Member], fin: &FinalizedBlock, r: &mut ChaCha20Rng| {
        let inbox = finalize_everywhere(ms, fin, final_at(fin.height()), r);
        deliver(ms, final_at(fin.height()), inbox, silent, None, r);
    };
    let released = |ms: &[Member]| [0, 2, 3].map(|i| ms[i].released.len());
    // height 1: designated {1, 2, 3}; member 1 is silent, so nobody has t batches
    assert!(designated(1, 1, 4, 3) && !designated(1, 0, 4, 3));
    finalize(&mut ms, &fins[0], &mut r);
    assert_eq!(released(&ms), [0, 0, 0]);
    tick_all(&mut ms, final_at(1) + FALLBACK_MS - 1, silent, None, &mut r);
    assert_eq!(released(&ms), [0, 0, 0]);
    assert!(ms[0].shared.is_empty());
    // at the fallback member 0 shares and everyone releases
    tick_all(&mut ms, final_at(1) + FALLBACK_MS, silent, None, &mut r);
    assert_eq!(ms[0].shared.len(), 1);
    assert_eq!(released(&ms), [1, 1, 1]);
    // height 2 is within the eager window of those that stalled: they share at once, no
    // waiting (member 1 had its own batch and two others at height 1, so it never stalled)
    finalize(&mut ms, &fins[1], &mut r);
    assert_eq!(released(&ms), [2, 2, 2]);
    assert_eq!(
        ms.iter().map(|m| m.shared.len()).collect::<Vec<_>>(),
        [2, 1, 2, 2]
    );
    // height 3 is past it: designated {3, 0, 1} again, member 1 silent, one more fallback
    assert!(designated(3, 1, 4, 3) && !designated(3, 2, 4, 3));
    finalize(&mut ms, &fins[2], &mut r);
    assert_eq!(released(&ms), [2, 2, 2]);
    assert_eq!(ms[2].shared.len(), 2);
    tick_all(&mut ms, final_at(3) + FALLBACK_MS, silent, None, &mut r);
    assert_eq!(released(&ms), [3, 3, 3]);
    assert_eq!(ms[2].shared.len(), 3);
    assert_eq!(ms[0].released, ms[3].released);
}

#[test]
fn a_request_for_a_batch_never_made_makes_it_from_the_pending_height() {
    let mut r = rng(12);
    let c = committee(4, 3, &mut r);
    let fins = chain(&c, 1, 2, &mut r);
    let mut ms = members(&c);
    let silent = Some(1);
    // height 1: designated {1, 2, 3}, member 1 silent: nobody reaches t
    let inbox = finalize_everywhere(&mut ms, &fins[0], final_at(1), &mut r);
    deliver(&mut ms, final_at(1), inbox, silent, None, &mut r);
    assert!(ms[0].shared.is_empty() && ms[0].released.is_empty());
    let id = batch_id(&fins[0].block().digest(), KeyEpoch(0));
    // a stalled peer asks member 0, which never made its batch: made from the pending group,
    // broadcast, and with it member 0 itself reaches t and releases
    let Answer::Made(fx) = ms[0].collector.on_request(1, 1, &id, final_at(1), &mut r) else {
        panic!("member 0 should make its batch");
    };
    let mut inbox = Vec::new();
    apply(&mut ms[0], 0, fx, &mut inbox);
    assert_eq!(ms[0].shared, vec![id]);
    assert_eq!(ms[0].released.len(), 1);
    deliver(&mut ms, final_at(1), inbox, silent, None, &mut r);
    assert!([0, 2, 3].iter().all(|&i| ms[i].released.len() == 1));
    assert_eq!(ms[0].released, ms[2].released);
    // asked again: the same batch, from memory, not made twice
    match ms[0].collector.on_request(2, 1, &id, final_at(1), &mut r) {
        Answer::Batch(b) => assert_eq!(b.batch_id(), id),
        other => panic!("expected the remembered batch, got {other:?}"),
    }
    assert_eq!(ms[0].shared.len(), 1);
    // a batch id neither pending nor released here costs a lookup and gets nothing
    assert!(matches!(
        ms[0]
            .collector
            .on_request(1, 1, &[9; 32], final_at(1), &mut r),
        Answer::Unanswered(Unanswered::Unknown)
    ));
}

#[test]
fn a_slow_designated_member_is_waited_for_and_a_skipping_one_is_not() {
    let mut r = rng(12);
    let c = committee(4, 3, &mut r);
    let fins = chain(&c, 2, 2, &mut r);
    // member 3 is designated at heights 1 and 2; member 1 only at 1
    assert!(designated(1, 3, 4, 3) && designated(2, 3, 4, 3) && !designated(2, 1, 4, 3));
    let t0 = final_at(1);
    // everyone finalizes both heights at t0; member 3's batches are held back
    let start = |r: &mut ChaCha20Rng| {
        let mut ms = members(&c);
        let mut held = Vec::new();
        for fin in &fins {
            let mut inbox = finalize_everywhere(&mut ms, fin, t0, r);
            held.extend(inbox.iter().filter(|(from, _)| *from == 3).cloned());
            inbox.retain(|(from, _)| *from != 3);
            deliver(&mut ms, t0, inbox, None, None, r);
        }
        // member 3 has its own batches; the others lack one for each height
        assert!(ms[..3].iter().all(|m| m.released.is_empty()));
        (ms, held)
    };
    let released = |ms: &[Member]| [0, 1, 2].map(|i| ms[i].released.len());

    // slow: its batch for height 1 arrives after 900 ms; nobody falls back for height 2
    // while it was heard less than `fallback_ms` ago, and everybody does once it was not
    let (mut ms, mut held) = start(&mut r);
    held.pop(); // its batch for height 2 never arrives
    deliver(&mut ms, t0 + 900, held, None, None, &mut r);
    assert_eq!(released(&ms), [1, 1, 1]);
    tick_all(&mut ms, t0 + FALLBACK_MS, None, None, &mut r);
    assert_eq!(released(&ms), [1, 1, 1]);
    assert_eq!(ms[1].shared.len(), 1, "no fallback for an alive member");
    tick_all(&mut ms, t0 + 900 + FALLBACK_MS, None, None, &mut r);
    assert_eq!(released(&ms), [2, 2, 2]);
    assert_eq!(ms[1].shared.len(), 2, "fallback once it was silent");

    // skipping: its batch for height 2 arrives, the one for height 1 never does; height 1
    // falls back as soon as it has waited `fallback_ms`
    let (mut ms, mut held) = start(&mut r);
    let h2 = held.pop().unwrap();
    deliver(&mut ms, t0 + 100, vec![h2], None, None, &mut r);
    assert_eq!(released(&ms), [0, 0, 0]);
    tick_all(&mut ms, t0 + FALLBACK_MS, None, None, &mut r);
    assert_eq!(released(&ms), [2, 2, 2]);
    assert_eq!(ms[0].shared.len(), 2, "member 0 shared for height 1 too");
}

#[test]
fn designated_windows_cover_t_members_and_rotate() {
    for (n, t) in [(1, 1), (4, 3), (7, 5), (10, 7), (16, 11)] {
        let mut per_member = vec![0; n];
        for h in 0..(3 * n as u64) {
            let d: Vec<u32> = (0..n as u32).filter(|&i| designated(h, i, n, t)).collect();
            assert_eq!(d.len(), t, "n={n} t={t} h={h}");
            for i in d {
                per_member[i as usize] += 1;
            }
        }
        assert!(
            per_member.iter().all(|&k| k == 3 * t),
            "n={n} t={t}: {per_member:?}"
        );
    }
}

#[test]
fn early_shares_are_kept_and_heights_release_in_order() {
    let mut r = rng(9);
    let c = committee(4, 3, &mut r);
    let fins = chain(&c, 3, 3, &mut r);
    let mut ms = members(&c);
    // members 1..3 finalize every height and share; member 0 is behind and sees the shares
    // first, then finalizes the heights in reverse order
    let mut inbox = Vec::new();
    for fin in &fins {
        for (i, m) in ms.iter_mut().enumerate().skip(1) {
            let fx = m
                .collector
                .on_finalized(fin.clone(), final_at(fin.height()), &mut r)
                .unwrap();
            apply(m, i as u32, fx, &mut inbox);
        }
    }
    deliver(&mut ms, final_at(3), inbox, None, None, &mut r);
    assert!(ms[0].released.is_empty());
    // height 1 has its three designated batches (members 1..3); 2 and 3 need member 0's
    assert_eq!(ms[1].released.len(), 1);
    for fin in fins.iter().rev() {
        let h = fin.height();
        let fx = ms[0]
            .collector
            .on_finalized(fin.clone(), final_at(3), &mut r)
            .unwrap();
        let mut inbox = Vec::new();
        apply(&mut ms[0], 0, fx, &mut inbox);
        assert_eq!(
            inbox.len(),
            usize::from(designated(h, 0, 4, 3)),
            "height {h}"
        );
        deliver(&mut ms, final_at(3), inbox, None, None, &mut r);
    }
    assert_eq!(ms[0].released, ms[1].released);
    assert_eq!(ms[0].released.len(), 3);
    // impersonation is refused: a batch of member 2's, relayed by member 1 or signed by it
    let fin = &fins[0];
    let b = reveal(
        &BTreeMap::from([(KeyEpoch(0), Arc::new(dup(&c.shares[2])))]),
        KeyEpoch(0),
        fin,
    )
    .remove(0);
    let signed = |by: u32| {
        c.attestor(by)
            .sign_batch(
                KeyEpoch(0),
                fin.block().height,
                fin.block().digest(),
                b.clone(),
            )
            .unwrap()
    };
    assert_eq!(
        ms[0]
            .collector
            .on_shares(1, signed(2), 0, &mut r)
            .unwrap_err(),
        ShareError::Impersonation {
            from: 1,
            claimed: 2
        }
    );
    assert_eq!(
        ms[0]
            .collector
            .on_shares(2, signed(1), 0, &mut r)
            .unwrap_err(),
        ShareError::BadSignature { from: 2 }
    );
    // signed for another height than its block's
    let elsewhere = c
        .attestor(2)
        .sign_batch(KeyEpoch(0), Height(9), fin.block().digest(), b.clone())
        .unwrap();
    let mut fresh = c.collector(&c.shares[0], CollectorConfig::default());
    fresh.on_finalized(fin.clone(), 0, &mut r).unwrap();
    assert_eq!(
        fresh.on_shares(2, elsewhere, 0, &mut r).unwrap_err(),
        ShareError::WrongHeight {
            from: 2,
            height: fin.height()
        }
    );
}

#[test]
fn released_batches_reject_tampering_and_bad_bytes() {
    let mut r = rng(10);
    let c = committee(4, 3, &mut r);
    let fins = chain(&c, 1, 4, &mut r);
    let mut ms = members(&c);
    finalize_all(&mut ms, &fins, None, None, &mut r);
    let bytes = &ms[0].released[0];
    let rb = ReleasedBatch::from_bytes(bytes).unwrap();
    let key = c.key.clone();
    let keys = move |e: KeyEpoch| (e == KeyEpoch(0)).then(|| key.clone());
    // a different plaintext
    let mut lie = rb.clone();
    lie.namespaces[0].entries[0].outcome = Decryption::Plaintext(b"forged".to_vec());
    assert!(matches!(
        lie.verify(&keys, |_, _, _| true, &mut r),
        Err(ReleaseError::WrongOutcome(_))
    ));
    // reordered entries no longer match the finalized block
    let mut swapped = rb.clone();
    swapped.namespaces[0].entries.swap(0, 1);
    assert_eq!(
        swapped.verify(&keys, |_, _, _| true, &mut r),
        Err(ReleaseError::BlockMismatch)
    );
    assert_eq!(
        rb.verify(&keys, |_, _, _| false, &mut r),
        Err(ReleaseError::BadCertificate)
    );
    // out-of-order appends are refused
    let mut log = ReleaseLog::after(&Block::genesis());
    let mut later = rb.clone();
    later.height = Height(2);
    assert!(matches!(
        log.append(&later),
        Err(ReleaseError::OutOfOrder { .. })
    ));
    log.append(&rb).unwrap();
    assert_eq!(log.next_height(), Height(2));
    // truncations and flips decode to typed errors, never panics
    for cut in 0..bytes.len() {
        assert!(ReleasedBatch::from_bytes(&bytes[..cut]).is_err());
    }
    for i in (0..bytes.len()).step_by(7) {
        let mut b = bytes.clone();
        b[i] ^= 0x40;
        if let Ok(x) = ReleasedBatch::from_bytes(&b) {
            assert!(x.verify(&keys, |_, _, c| c == b"cert1", &mut r).is_err() || x == rb);
        }
    }
}

#[test]
fn share_requests_for_released_heights_are_rate_limited_per_peer() {
    let mut r = rng(31);
    let c = committee(4, 3, &mut r);
    let fins = chain(&c, 1, 2, &mut r);
    let mut ms = members(&c);
    let inbox = finalize_everywhere(&mut ms, &fins[0], final_at(1), &mut r);
    deliver(&mut ms, final_at(1), inbox, None, None, &mut r);
    assert!(ms.iter().all(|m| m.released.len() == 1));
    let id = batch_id(&fins[0].block().digest(), KeyEpoch(0));
    // member 0 made no batch for height 1 (not designated), so each request is a
    // recomputation, within the asker's budget
    let ask = |ms: &mut [Member], peer, now_ms, r: &mut ChaCha20Rng| {
        ms[0].collector.on_request(peer, 1, &id, now_ms, r)
    };
    let t0 = final_at(1);
    for _ in 0..4 {
        assert!(matches!(ask(&mut ms, 1, t0, &mut r), Answer::Recompute(_)));
    }
    assert!(matches!(
        ask(&mut ms, 1, t0, &mut r),
        Answer::Unanswered(Unanswered::RateLimited)
    ));
    // another peer has its own budget; the first one earns a token back in time
    assert!(matches!(ask(&mut ms, 2, t0, &mut r), Answer::Recompute(_)));
    assert!(matches!(
        ask(&mut ms, 1, t0 + 500, &mut r),
        Answer::Recompute(_)
    ));
    // heights older than the window are not recomputed at all
    ms[0].collector.resume_after(RESHARE_WINDOW + 5);
    assert!(matches!(
        ask(&mut ms, 3, t0 + 10_000, &mut r),
        Answer::Unanswered(Unanswered::Unknown)
    ));
}
