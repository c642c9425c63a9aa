//! Which committee a client trusts (SPEC.md §7.4): a pinned committee identity, or the one a
//! quorum of the members asked agree on.

use super::*;

/// A committee identity (SPEC.md §7.4): what a client pins to trust a committee.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CommitteeId(pub [u8; 32]);

impl std::fmt::Display for CommitteeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl std::str::FromStr for CommitteeId {
    type Err = SdkError;
    /// 64 hex digits.
    fn from_str(s: &str) -> Result<Self, SdkError> {
        hex::decode(s)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .map(Self)
            .ok_or_else(|| SdkError::Key("a committee id is 64 hex digits".into()))
    }
}

impl CommitteeId {
    /// The identity of the committee a `committee.json` (SPEC.md §5.10) describes, read
    /// without the node: its `encryption_key` (whence `n` and `t`), `consensus_public`,
    /// `key_epoch` and `participants[].identity` in order.
    pub fn from_committee_json(json: &str) -> Result<Self, SdkError> {
        #[derive(serde::Deserialize)]
        struct Participant {
            identity: String,
        }
        #[derive(serde::Deserialize)]
        struct File {
            participants: Vec<Participant>,
            consensus_public: String,
            encryption_key: String,
            key_epoch: KeyEpoch,
        }
        let bad = |what: &str, e: &dyn std::fmt::Display| SdkError::Key(format!("{what}: {e}"));
        let f: File = serde_json::from_str(json).map_err(|e| bad("committee file", &e))?;
        let key = hex::decode(&f.encryption_key).map_err(|e| bad("encryption_key", &e))?;
        let parsed = CommitteeKey::from_bytes(&key).map_err(|e| bad("encryption_key", &e))?;
        let consensus =
            hex::decode(&f.consensus_public).map_err(|e| bad("consensus_public", &e))?;
        let members = f
            .participants
            .iter()
            .map(|p| {
                hex::decode(&p.identity)
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .ok_or_else(|| SdkError::Key("participant identity: 32 bytes hex".into()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self(committee_id(&CommitteeParts {
            key_epoch: f.key_epoch,
            n: parsed.n() as u32,
            t: parsed.t() as u32,
            encryption_key: &key,
            consensus_public: &consensus,
            members: &members,
        })))
    }

    /// [`Self::from_committee_json`] of a file.
    pub fn from_committee_file(path: &std::path::Path) -> Result<Self, SdkError> {
        let json = std::fs::read_to_string(path)
            .map_err(|e| SdkError::Key(format!("{}: {e}", path.display())))?;
        Self::from_committee_json(&json)
    }
}

/// Agreeing answers a client needs without a pin, when `asked` members were asked and the
/// answers claim a committee of `n`: `m − ⌊(m−1)/3⌋` with `m = max(n, asked)` (a quorum of
/// the committee, and of the members asked, so at most `f` liars cannot make one).
pub fn unpinned_quorum(n: usize, asked: usize) -> usize {
    let m = n.max(asked).max(1);
    m - (m - 1) / 3
}

/// Chooses the committee among members' answers (SPEC.md §7.4): with `pin`, the first valid
/// answer whose identity is the pin; without, the identity a quorum
/// ([`unpinned_quorum`]) of the `asked` members served.
pub(super) fn choose_committee(
    answers: Vec<(String, Result<CommitteeInfo, SdkError>)>,
    asked: usize,
    pin: Option<CommitteeId>,
) -> Result<(CommitteeInfo, CheckedCommittee), SdkError> {
    let mut refusals = Vec::new();
    let (mut last_err, mut answered) = (None, 0usize);
    let mut groups = Groups::default();
    for (node, answer) in answers {
        let info = match answer {
            Ok(info) => {
                answered += 1;
                info
            }
            Err(e) => {
                refusals.push(format!("{node}: {e}"));
                last_err = Some(e);
                continue;
            }
        };
        let checked = match CheckedCommittee::check(&info) {
            Ok(c) => c,
            Err(e) => {
                refusals.push(format!("{node}: invalid committee: {e}"));
                continue;
            }
        };
        if let Some(pin) = pin {
            if checked.id == pin.0 {
                return Ok((info, checked));
            }
            refusals.push(format!(
                "{node}: serves committee {}",
                hex::encode(checked.id)
            ));
            continue;
        }
        groups.add(info, checked);
    }
    if let Some(pin) = pin {
        return Err(match last_err {
            Some(e) if answered == 0 => e,
            None if answered == 0 => SdkError::Protocol("no nodes given".into()),
            _ => SdkError::CommitteeMismatch {
                pinned: pin.to_string(),
                answers: refusals.join("; "),
            },
        });
    }
    match (groups.decide(asked), last_err) {
        (Err(SdkError::NoQuorum { agreeing: 0, .. }), Some(e)) => Err(e),
        (decided, _) => decided,
    }
}

/// Identical committees served by the members asked, counted by identity.
#[derive(Default)]
struct Groups(Vec<(CommitteeInfo, CheckedCommittee, usize)>);

impl Groups {
    fn add(&mut self, info: CommitteeInfo, checked: CheckedCommittee) {
        match self.0.iter_mut().find(|g| g.1.id == checked.id) {
            Some(g) => g.2 += 1,
            None => self.0.push((info, checked, 1)),
        }
    }

    /// The largest group if it has [`unpinned_quorum`] of its `n` and the `asked` members,
    /// else [`SdkError::NoQuorum`] (also when no valid committee was served).
    fn decide(self, asked: usize) -> Result<(CommitteeInfo, CheckedCommittee), SdkError> {
        let best = self.0.into_iter().max_by_key(|g| g.2);
        let (agreeing, n) = best.as_ref().map_or((0, 0), |g| (g.2, g.0.n));
        let needed = unpinned_quorum(n, asked);
        match best {
            Some((info, checked, _)) if agreeing >= needed => Ok((info, checked)),
            _ => Err(SdkError::NoQuorum {
                agreeing,
                needed,
                asked,
            }),
        }
    }
}

/// Chooses, among members' answers, a key-continuous successor of `current` (SPEC.md §7.4,
/// "Following key epochs"): a committee of a later key epoch with the same group keys
/// ([`CheckedCommittee::same_keys`]) that a quorum ([`unpinned_quorum`] of its `n` and the
/// `asked` members) serves identically. `None` if no member serves a later epoch.
pub(super) fn choose_successor(
    current: &CheckedCommittee,
    current_epoch: KeyEpoch,
    answers: Vec<(String, Result<CommitteeInfo, SdkError>)>,
    asked: usize,
) -> Result<Option<(CommitteeInfo, CheckedCommittee)>, SdkError> {
    let mut groups = Groups::default();
    let mut later = false;
    for (_, answer) in answers {
        let Ok(info) = answer else { continue };
        if info.key_epoch <= current_epoch {
            continue;
        }
        later = true;
        let Ok(checked) = CheckedCommittee::check(&info) else {
            continue;
        };
        if !current.same_keys(&checked) {
            continue;
        }
        groups.add(info, checked);
    }
    if !later {
        return Ok(None);
    }
    groups.decide(asked).map(Some)
}
