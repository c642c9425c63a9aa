//! The wallet's resubmission rule: a member can answer `202` and then drop the ciphertext
//! (never gossip it, never propose it), and only the wallet can notice. [`Resubmission`]
//! decides what the wallet does next from what it observed; it does no IO and has no clock
//! (time is passed in as a [`Duration`] since any fixed origin), so a test drives it in
//! virtual time and [`Client::submit_included`](super::Client::submit_included) with tokio's.
//!
//! The rule, for one ciphertext among `n` members:
//! - Status is asked of the members not tried yet (that neither accepted nor refused it), in
//!   turn, one [`ResubmitPolicy::poll`] apart: an acceptor that dropped it could claim it
//!   ordered, and one that refused it may be down. Once every member was tried, the acceptors
//!   are asked, there being no one else (so a single member is asked about its own). Reports
//!   of members that would not be asked are ignored.
//! - If none reports it `ordered` or `released` within [`ResubmitPolicy::deadline`] of the
//!   latest acceptance, it is resubmitted to the next member not yet tried, in turn after
//!   the first acceptor; that acceptance restarts the deadline. A member that refuses or
//!   cannot be reached counts as tried (the next one is tried at once).
//! - Done at the first `ordered` or `released` report, with its height, namespace and
//!   position (one member's claim: the released batch proves it). Given up once every member
//!   was tried and the deadline of the last acceptance passed.
//! - An unknown id (`404`), `pending` or an error is "not ordered yet": only the deadline
//!   moves the wallet on.
//!
//! Resubmitting is safe because admission is idempotent by id: a member that already has
//! it answers `duplicate` or `already_ordered`, which count as accepted.

use crate::ledger::{Height, Namespace};
use crate::protocol::json::TxStatus;
use std::time::Duration;

/// How long the wallet trusts an acceptance, and how often it asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResubmitPolicy {
    /// From an acceptance until the wallet resubmits elsewhere if no member reported the
    /// ciphertext ordered.
    pub deadline: Duration,
    /// Between two status questions.
    pub poll: Duration,
}

impl Default for ResubmitPolicy {
    /// Deadline 10 s, poll 500 ms. Ordering normally takes well under a second (p99 ≈ 270 ms
    /// at 1 000 tx/s); a view with a faulty leader costs up to its leader and certification
    /// timeouts (1 s + 2 s), so 10 s rides out a few faulty views in a row without
    /// resubmitting needlessly, yet bounds what one dropping member costs. Two questions a
    /// second are cheap for a member (a small GET) and see an ordering within half a second.
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(10),
            poll: Duration::from_millis(500),
        }
    }
}

/// Where a ciphertext was ordered, and who took it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Included {
    pub height: Height,
    pub namespace: Namespace,
    pub position: u32,
    /// The member whose report said so (fetch and verify the release to be sure).
    pub reported_by: usize,
    /// The members that accepted it, in the order they did.
    pub accepted_by: Vec<usize>,
}

/// What the wallet does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Ask `member` for the ciphertext's status, then call [`Resubmission::on_status`].
    AskStatus { member: usize },
    /// Submit it to `member`, then call [`Resubmission::on_accepted`] or
    /// [`Resubmission::on_refused`].
    Resubmit { member: usize },
    /// Nothing is due for this long.
    Wait(Duration),
    /// Ordered.
    Done(Included),
    /// Every member was tried; none reported it ordered within the deadline.
    GiveUp,
}

/// The resubmission state of one ciphertext (see the module documentation for the rule).
#[derive(Clone, Debug)]
pub struct Resubmission {
    policy: ResubmitPolicy,
    /// The member that accepted it first: resubmissions go to the members after it, in turn.
    first: usize,
    /// Per member: sent it (accepted or refused).
    tried: Vec<bool>,
    /// Members that accepted it, in order.
    accepted: Vec<usize>,
    /// The latest acceptance: the deadline runs from here.
    accepted_at: Duration,
    /// When the next status question is due.
    ask_at: Duration,
    /// The next status question goes to the first askable member from here on.
    ask_from: usize,
    included: Option<Included>,
}

impl Resubmission {
    /// A ciphertext accepted by member `accepted_by` of `members` at `now`.
    ///
    /// # Panics
    /// If `accepted_by` is not below `members`.
    pub fn new(members: usize, accepted_by: usize, now: Duration, policy: ResubmitPolicy) -> Self {
        assert!(accepted_by < members, "member {accepted_by} of {members}");
        let mut tried = vec![false; members];
        tried[accepted_by] = true;
        Self {
            policy,
            first: accepted_by,
            tried,
            accepted: vec![accepted_by],
            accepted_at: now,
            ask_at: now.saturating_add(policy.poll),
            ask_from: (accepted_by + 1) % members,
            included: None,
        }
    }

    /// What to do at `now` (the same answer until an event is reported or time passes).
    pub fn next(&self, now: Duration) -> Action {
        if let Some(included) = &self.included {
            return Action::Done(included.clone());
        }
        let deadline = self.accepted_at.saturating_add(self.policy.deadline);
        if now >= deadline {
            return match self.next_untried() {
                Some(member) => Action::Resubmit { member },
                None => Action::GiveUp,
            };
        }
        if now >= self.ask_at {
            return Action::AskStatus {
                member: self.next_asked(),
            };
        }
        Action::Wait(self.ask_at.min(deadline) - now)
    }

    /// Member `member` answered a status question at `now`: `None` if it does not know the
    /// id or the question failed. Ignored from a member that would not be asked.
    pub fn on_status(&mut self, now: Duration, member: usize, status: Option<&TxStatus>) {
        if self.included.is_some() || !self.askable(member) {
            return;
        }
        self.ask_at = now.saturating_add(self.policy.poll);
        self.ask_from = (member + 1) % self.tried.len();
        if let Some(
            &TxStatus::Ordered {
                height,
                namespace,
                position,
            }
            | &TxStatus::Released {
                height,
                namespace,
                position,
                ..
            },
        ) = status
        {
            self.included = Some(Included {
                height,
                namespace,
                position,
                reported_by: member,
                accepted_by: self.accepted.clone(),
            });
        }
    }

    /// Member `member` accepted it at `now` (`202`, `duplicate` or `already_ordered`): the
    /// deadline restarts. Ignored for a member already tried (each member counts once, so
    /// the wallet gives up after at most `members` acceptances).
    pub fn on_accepted(&mut self, now: Duration, member: usize) {
        if self.included.is_some() || self.tried.get(member) != Some(&false) {
            return;
        }
        self.tried[member] = true;
        self.accepted.push(member);
        self.accepted_at = now;
        self.ask_at = now.saturating_add(self.policy.poll);
    }

    /// Member `member` refused it or could not be reached: tried, and the deadline stands
    /// (the next member is due at once if it already passed).
    pub fn on_refused(&mut self, member: usize) {
        if let Some(tried) = self.tried.get_mut(member) {
            *tried = true;
        }
    }

    /// The members that accepted it, in order.
    pub fn accepted(&self) -> &[usize] {
        &self.accepted
    }

    pub fn members(&self) -> usize {
        self.tried.len()
    }

    /// Status is asked of the members not tried yet; of the acceptors once every member was.
    fn askable(&self, member: usize) -> bool {
        match self.tried.get(member) {
            None => false,
            Some(&tried) if self.tried.contains(&false) => !tried,
            Some(_) => self.accepted.contains(&member),
        }
    }

    fn next_asked(&self) -> usize {
        let n = self.members();
        (0..n)
            .map(|k| (self.ask_from + k) % n)
            .find(|&m| self.askable(m))
            .expect("someone is askable: a member not tried, or an acceptor")
    }

    fn next_untried(&self) -> Option<usize> {
        let n = self.members();
        (1..n)
            .map(|k| (self.first + k) % n)
            .find(|&m| !self.tried[m])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::json::Outcome;

    const POLICY: ResubmitPolicy = ResubmitPolicy {
        deadline: Duration::from_secs(10),
        poll: Duration::from_millis(500),
    };

    fn ms(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    fn ordered(height: u64) -> TxStatus {
        TxStatus::Ordered {
            height: Height(height),
            namespace: Namespace(7),
            position: 3,
        }
    }

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Member {
        /// Orders what it accepts this long after, and gossips it at once.
        Honest(Duration),
        /// Answers 202 and drops it; asked about it afterwards, claims it pending.
        Dropper,
        /// Answers 202 and drops it; asked about it afterwards, claims it ordered at height
        /// 666 (a lie the wallet hears only once every member was tried).
        Liar,
        /// Cannot be reached.
        Down,
    }

    /// What the wallet did, and when.
    #[derive(Debug, Default)]
    struct Log {
        asked: Vec<(Duration, usize)>,
        resubmitted: Vec<(Duration, usize)>,
        end: Option<(Duration, Action)>,
    }

    /// Runs the policy against `members` in virtual time, the ciphertext first accepted by
    /// `first` at time 0 (`first` is not `Down`). Checks on every question that a member
    /// already tried is asked only once every member was, and then only an acceptor.
    fn run(members: &[Member], first: usize) -> Log {
        let n = members.len();
        let mut r = Resubmission::new(n, first, Duration::ZERO, POLICY);
        let mut accepted_at = vec![None; n];
        accepted_at[first] = Some(Duration::ZERO);
        let mut tried = vec![false; n];
        tried[first] = true;
        let mut now = Duration::ZERO;
        let mut log = Log::default();
        // when an honest acceptor's ordering is final
        let ordered_at = |accepted_at: &[Option<Duration>]| {
            (0..n)
                .filter_map(|m| match (members[m], accepted_at[m]) {
                    (Member::Honest(delay), Some(at)) => Some(at + delay),
                    _ => None,
                })
                .min()
        };
        for _ in 0..100_000 {
            match r.next(now) {
                Action::AskStatus { member } => {
                    if tried.contains(&false) {
                        assert!(!tried[member], "asked {member}, tried, at {now:?}");
                    } else {
                        assert!(accepted_at[member].is_some(), "asked {member} at {now:?}");
                    }
                    log.asked.push((now, member));
                    let accepted = accepted_at[member].is_some();
                    let status = match members[member] {
                        Member::Down => None,
                        Member::Dropper if accepted => Some(TxStatus::Pending),
                        Member::Liar if accepted => Some(ordered(666)),
                        _ => match ordered_at(&accepted_at) {
                            Some(t) if now >= t => Some(ordered(42)),
                            Some(_) => Some(TxStatus::Pending),
                            None => None,
                        },
                    };
                    r.on_status(now, member, status.as_ref());
                }
                Action::Resubmit { member } => {
                    log.resubmitted.push((now, member));
                    tried[member] = true;
                    if members[member] == Member::Down {
                        r.on_refused(member);
                    } else {
                        accepted_at[member] = Some(now);
                        r.on_accepted(now, member);
                    }
                }
                Action::Wait(d) => {
                    assert!(d > Duration::ZERO);
                    now += d;
                }
                end => {
                    log.end = Some((now, end));
                    return log;
                }
            }
        }
        panic!("no end");
    }

    #[test]
    fn a_dropping_acceptor_leads_to_resubmission_to_another_member_after_exactly_the_deadline() {
        let log = run(
            &[
                Member::Dropper,
                Member::Honest(ms(300)),
                Member::Honest(ms(300)),
                Member::Honest(ms(300)),
            ],
            0,
        );
        assert_eq!(log.resubmitted, vec![(POLICY.deadline, 1)]);
        let (at, end) = log.end.unwrap();
        assert!(at > POLICY.deadline + ms(300) && at <= POLICY.deadline + ms(1000));
        match end {
            Action::Done(i) => {
                assert_eq!(
                    (i.height, i.namespace, i.position),
                    (Height(42), Namespace(7), 3)
                );
                assert_eq!(i.accepted_by, vec![0, 1]);
                assert!(i.reported_by > 1);
            }
            other => panic!("{other:?}"),
        }

        // to the instant: nothing before the deadline, the resubmission at it
        let mut r = Resubmission::new(4, 2, ms(1000), POLICY);
        let deadline = ms(1000) + POLICY.deadline;
        assert!(matches!(
            r.next(deadline - Duration::from_nanos(1)),
            Action::AskStatus { .. }
        ));
        r.on_status(deadline - Duration::from_nanos(1), 3, None);
        assert_eq!(r.next(deadline), Action::Resubmit { member: 3 });
    }

    #[test]
    fn ordered_before_the_deadline_is_not_resubmitted() {
        let log = run(&[Member::Honest(ms(1200)); 4], 1);
        assert!(log.resubmitted.is_empty());
        let (at, end) = log.end.unwrap();
        assert_eq!(at, ms(1500), "the first question after the ordering");
        assert!(
            matches!(end, Action::Done(Included { height: Height(42), ref accepted_by, .. })
            if accepted_by == &[1])
        );
        // questions one poll apart, from one poll after the acceptance
        let times: Vec<_> = log.asked.iter().map(|&(t, _)| t).collect();
        assert_eq!(times, vec![ms(500), ms(1000), ms(1500)]);

        // a released report ends it as well
        let mut r = Resubmission::new(3, 0, Duration::ZERO, POLICY);
        let released = TxStatus::Released {
            height: Height(9),
            namespace: Namespace(1),
            position: 0,
            outcome: Outcome::Undecryptable {
                reason: "aead_failure".into(),
            },
        };
        r.on_status(ms(500), 1, Some(&released));
        assert_eq!(
            r.next(ms(500)),
            Action::Done(Included {
                height: Height(9),
                namespace: Namespace(1),
                position: 0,
                reported_by: 1,
                accepted_by: vec![0],
            })
        );
        // and stays done, whatever comes later
        r.on_accepted(POLICY.deadline * 3, 2);
        r.on_status(POLICY.deadline * 3, 2, None);
        assert!(matches!(r.next(POLICY.deadline * 3), Action::Done(_)));
    }

    #[test]
    fn every_member_dropping_gives_up_after_each_was_tried_once() {
        for first in 0..4 {
            let log = run(&[Member::Dropper; 4], first);
            let order: Vec<_> = (1..4).map(|k| (first + k) % 4).collect();
            let expected: Vec<_> = order
                .iter()
                .enumerate()
                .map(|(k, &m)| (POLICY.deadline * (k as u32 + 1), m))
                .collect();
            assert_eq!(log.resubmitted, expected, "first {first}");
            assert_eq!(log.end, Some((POLICY.deadline * 4, Action::GiveUp)));
        }
    }

    #[test]
    fn status_is_never_asked_of_an_acceptor_while_another_member_is_left() {
        let log = run(
            &[
                Member::Liar,
                Member::Liar,
                Member::Honest(ms(200)),
                Member::Liar,
            ],
            0,
        );
        // (`run` asserts it on every question) members not tried, in turn: 1, 2, 3, 1, ...
        let firsts: Vec<_> = log.asked.iter().take(4).map(|&(_, m)| m).collect();
        assert_eq!(firsts, vec![1, 2, 3, 1]);
        assert_eq!(
            log.resubmitted,
            vec![(POLICY.deadline, 1), (POLICY.deadline * 2, 2)]
        );
        let between = |from: u32, to: u32| {
            log.asked
                .iter()
                .filter(move |&&(t, _)| t > POLICY.deadline * from && t < POLICY.deadline * to)
                .map(|&(_, m)| m)
        };
        assert!(between(1, 2).all(|m| m == 2 || m == 3));
        assert!(between(2, 3).all(|m| m == 3));
        // the liars that accepted it were never heard
        assert!(matches!(
            log.end,
            Some((t, Action::Done(Included { height: Height(42), reported_by: 3, .. })))
                if t == POLICY.deadline * 2 + ms(500)
        ));

        // a report from an acceptor is not heard
        let mut r = Resubmission::new(4, 0, Duration::ZERO, POLICY);
        r.on_status(ms(500), 0, Some(&ordered(666)));
        assert_eq!(r.next(ms(500)), Action::AskStatus { member: 1 });
        assert_eq!(r.next(POLICY.deadline), Action::Resubmit { member: 1 });
        // nor from a member that is not one
        r.on_status(ms(600), 9, Some(&ordered(666)));
        assert_eq!(r.next(ms(600)), Action::AskStatus { member: 1 });
    }

    #[test]
    fn the_deadline_restarts_at_each_acceptance() {
        let log = run(
            &[Member::Dropper, Member::Dropper, Member::Honest(ms(100))],
            0,
        );
        assert_eq!(
            log.resubmitted,
            vec![(POLICY.deadline, 1), (POLICY.deadline * 2, 2)]
        );
        // an acceptance that took a while: the deadline runs from when it came
        let mut r = Resubmission::new(4, 0, Duration::ZERO, POLICY);
        assert_eq!(r.next(POLICY.deadline), Action::Resubmit { member: 1 });
        let accepted = POLICY.deadline + ms(700);
        r.on_accepted(accepted, 1);
        assert_eq!(r.next(accepted), Action::Wait(POLICY.poll));
        assert_eq!(r.accepted(), &[0, 1]);
        let again = accepted + POLICY.deadline;
        assert!(matches!(
            r.next(again - Duration::from_nanos(1)),
            Action::AskStatus { .. }
        ));
        assert_eq!(r.next(again), Action::Resubmit { member: 2 });
        // a member already tried does not restart it
        r.on_accepted(again, 0);
        assert_eq!(r.next(again), Action::Resubmit { member: 2 });
    }

    #[test]
    fn unknown_pending_and_failed_answers_are_not_ordered() {
        let mut r = Resubmission::new(2, 0, Duration::ZERO, POLICY);
        let mut now = Duration::ZERO;
        let answers = [None, Some(TxStatus::Pending)];
        let mut k = 0;
        loop {
            match r.next(now) {
                Action::AskStatus { member } => {
                    assert_eq!(member, 1);
                    r.on_status(now, member, answers[k % 2].as_ref());
                    k += 1;
                }
                Action::Wait(d) => now += d,
                Action::Resubmit { member } => {
                    assert_eq!((now, member), (POLICY.deadline, 1));
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(k, 19, "every poll until the deadline");
    }

    #[test]
    fn an_unreachable_member_counts_as_tried_and_the_next_is_tried_at_once() {
        let log = run(
            &[
                Member::Dropper,
                Member::Down,
                Member::Down,
                Member::Honest(ms(100)),
            ],
            0,
        );
        assert_eq!(
            log.resubmitted,
            vec![
                (POLICY.deadline, 1),
                (POLICY.deadline, 2),
                (POLICY.deadline, 3)
            ]
        );
        assert!(
            matches!(log.end, Some((_, Action::Done(Included { ref accepted_by, .. })))
            if accepted_by == &[0, 3])
        );
        // unreachable to the last: given up at the deadline
        let log = run(&[Member::Dropper, Member::Down, Member::Down], 0);
        assert_eq!(log.end, Some((POLICY.deadline, Action::GiveUp)));
    }

    #[test]
    fn once_every_member_was_tried_the_acceptors_are_asked() {
        // one member: no one else to ask
        let log = run(&[Member::Honest(ms(800))], 0);
        assert!(log.asked.iter().all(|&(_, m)| m == 0));
        assert!(matches!(log.end, Some((t, Action::Done(_))) if t == ms(1000)));
        // two: after the resubmission both acceptors are asked, in turn
        let log = run(&[Member::Honest(ms(20_000)), Member::Honest(ms(100))], 0);
        assert_eq!(log.resubmitted, vec![(POLICY.deadline, 1)]);
        let after: Vec<_> = log
            .asked
            .iter()
            .filter(|&&(t, _)| t > POLICY.deadline)
            .map(|&(_, m)| m)
            .collect();
        assert_eq!(after, vec![0], "member 1 ordered it 100 ms after accepting");
    }

    #[test]
    fn a_late_report_still_counts_and_slow_ordering_survives_a_resubmission() {
        // the answer to a question asked before the deadline arrives after it
        let mut r = Resubmission::new(3, 0, Duration::ZERO, POLICY);
        r.on_status(POLICY.deadline + ms(50), 1, Some(&ordered(5)));
        assert!(matches!(r.next(POLICY.deadline + ms(50)), Action::Done(_)));
        // an honest acceptor slower than the deadline: resubmitted once (a duplicate at worst)
        let log = run(
            &[Member::Honest(ms(10_400)), Member::Dropper, Member::Dropper],
            0,
        );
        assert_eq!(log.resubmitted, vec![(POLICY.deadline, 1)]);
        assert!(
            matches!(log.end, Some((t, Action::Done(Included { height: Height(42), .. }))) if t == POLICY.deadline + ms(500))
        );
    }

    /// Every committee of up to 5 members, every first acceptor, every mix of honest,
    /// dropping and lying members: resubmissions go round-robin after the first acceptor, one
    /// deadline apart, each member at most once, until an honest member took it; a lie is
    /// heard only once every member was tried; it gives up exactly after every member was
    /// tried, and only if none of them was honest.
    #[test]
    fn every_mix_of_members_ends_as_the_rule_says() {
        let kinds = [Member::Honest(ms(250)), Member::Dropper, Member::Liar];
        for n in 1..=5usize {
            for first in 0..n {
                for mix in 0..3usize.pow(n as u32) {
                    let members: Vec<_> = (0..n)
                        .map(|m| kinds[mix / 3usize.pow(m as u32) % 3])
                        .collect();
                    let log = run(&members, first);
                    let order: Vec<_> = (0..n).map(|k| (first + k) % n).collect();
                    let honest = order
                        .iter()
                        .position(|&m| matches!(members[m], Member::Honest(_)));
                    let tries = honest.map_or(n, |k| k + 1);
                    let expected: Vec<_> = (1..tries)
                        .map(|k| (POLICY.deadline * k as u32, order[k]))
                        .collect();
                    let case = format!("{members:?} first {first}");
                    assert_eq!(log.resubmitted, expected, "{case}");
                    match log.end.clone().unwrap() {
                        (_, Action::Done(i)) => {
                            assert_eq!(i.accepted_by, order[..tries], "{case}");
                            if i.height == Height(666) {
                                assert_eq!(tries, n, "{case}");
                                assert_eq!(members[i.reported_by], Member::Liar, "{case}");
                            } else {
                                assert!(honest.is_some(), "{case}");
                                assert_eq!(i.height, Height(42), "{case}");
                            }
                        }
                        (t, Action::GiveUp) => {
                            assert!(honest.is_none(), "{case}");
                            assert!(!members.contains(&Member::Liar), "{case}");
                            assert_eq!(t, POLICY.deadline * n as u32, "{case}");
                        }
                        other => panic!("{case}: {other:?}"),
                    }
                    if tries < n {
                        assert!(
                            matches!(
                                log.end,
                                Some((
                                    _,
                                    Action::Done(Included {
                                        height: Height(42),
                                        ..
                                    })
                                ))
                            ),
                            "{case}"
                        );
                    }
                }
            }
        }
    }
}
