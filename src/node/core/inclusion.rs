//! Inclusion lists (SPEC.md §5.7): what keeps a leader, or f members, from leaving an
//! accepted ciphertext out of the chain.
//!
//! Every member periodically sends every other member its list: the ids it has held pending
//! for at least Δ (`list_after_ms`), oldest first, at most `max_list`. A voter *enforces* an
//! id once the current lists of at least f + 1 members of the height's committee have named
//! it for Δ' (`enforce_after_ms`) and it holds the body itself: a proposal that leaves such
//! an id out is refused unless the block is full for it (SPEC.md §5.7 states the rule). f + 1
//! names include an honest one, so no coalition of f members can make honest voters refuse
//! an honest leader's block, and every honest member lists what it has held for Δ, so after
//! GST every honest voter enforces an honestly accepted id.
//!
//! This core keeps each author's latest list and since when it has named each id; the member
//! core ([`super::member::Member`]) applies the vote rule and the proposer's priority.

use crate::ledger::CtId;
use curtain_crypto::{encoding::Reader, DecodeError};
use std::collections::{BTreeMap, HashMap};

const LIST_VERSION: u8 = 1;

/// The timing and size parameters of inclusion lists (committee-wide: voters and leaders
/// must agree on them for the bound of SPEC.md §5.7 to hold).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InclusionConfig {
    /// How often a member recomputes its list (and sends it when due).
    pub tick_ms: u64,
    /// Δ: an id this member has held pending this long goes on its list.
    pub list_after_ms: u64,
    /// Δ': a voter enforces an id once f + 1 members' lists have named it this long.
    pub enforce_after_ms: u64,
    /// Most ids on one list (oldest first); longer lists are refused whole.
    pub max_list: usize,
    /// A list is sent when it changed, and at least this often while unchanged.
    pub resend_every_ms: u64,
    /// A listed body is gossiped again this often while it stays on this member's list.
    pub regossip_every_ms: u64,
    /// An author's list not refreshed for this long no longer counts.
    pub list_ttl_ms: u64,
}

impl Default for InclusionConfig {
    fn default() -> Self {
        Self {
            tick_ms: 250,
            list_after_ms: 1_000,
            enforce_after_ms: 1_500,
            max_list: 256,
            resend_every_ms: 2_000,
            regossip_every_ms: 2_000,
            list_ttl_ms: 6_000,
        }
    }
}

/// `version(1) = 1 ‖ count(4) ‖ count × id(32)`, ids distinct.
pub fn encode_list(ids: &[CtId]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + 32 * ids.len());
    out.push(LIST_VERSION);
    out.extend_from_slice(&(ids.len() as u32).to_be_bytes());
    for id in ids {
        out.extend_from_slice(id);
    }
    out
}

/// Decodes a list of at most `max` ids; a repeated id makes it malformed (canonical).
pub fn decode_list(bytes: &[u8], max: usize) -> Result<Vec<CtId>, DecodeError> {
    let mut r = Reader::new(bytes);
    r.version("inclusion list", LIST_VERSION)?;
    // the count is bounded by `max` and by the bytes that arrived, before any allocation
    let count = r.len_u32("inclusion list ids", 0, max.min(r.remaining() / 32))?;
    let mut ids = Vec::with_capacity(count);
    let mut seen = std::collections::HashSet::with_capacity(count);
    for _ in 0..count {
        let id: CtId = r.array("inclusion list id")?;
        if !seen.insert(id) {
            return Err(DecodeError::Invalid {
                field: "inclusion list id",
                reason: "repeated",
            });
        }
        ids.push(id);
    }
    r.finish()?;
    Ok(ids)
}

/// One author's latest list: when it arrived, and since when it has named each id.
struct AuthorList {
    at_ms: u64,
    since: HashMap<CtId, u64>,
}

/// What this member's list tick produced.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ListTick {
    /// The list to send to every other member, if it is due.
    pub list: Option<Vec<CtId>>,
    /// Listed ids whose bodies are due to be gossiped again (so a member that missed the
    /// first gossip, or never got it from a Byzantine origin, gets them).
    pub regossip: Vec<CtId>,
}

/// Received lists and this member's own listing state.
pub struct Inclusion {
    cfg: InclusionConfig,
    /// Latest list per author (peer number); at most `max_list` ids each.
    lists: HashMap<u32, AuthorList>,
    /// Per listed id, each author naming it and since when.
    by_id: HashMap<CtId, BTreeMap<u32, u64>>,
    /// This member's last list and when it was sent.
    sent: Option<(u64, Vec<CtId>)>,
    /// Ids on this member's list, with when their bodies were last gossiped.
    regossiped: HashMap<CtId, u64>,
}

impl Inclusion {
    pub fn new(cfg: InclusionConfig) -> Self {
        Self {
            cfg,
            lists: HashMap::new(),
            by_id: HashMap::new(),
            sent: None,
            regossiped: HashMap::new(),
        }
    }

    pub fn config(&self) -> &InclusionConfig {
        &self.cfg
    }

    /// Whether a list from `from` at `now_ms` would be taken: an author gets one list per half
    /// tick (an honest member sends at most one per tick), so a peer flooding lists at its
    /// channel quota costs a lookup per message, not a decode and a re-index of 256 ids.
    pub fn takes_list(&self, now_ms: u64, from: u32) -> bool {
        self.lists
            .get(&from)
            .is_none_or(|l| now_ms >= l.at_ms + self.cfg.tick_ms / 2)
    }

    /// Author `from`'s new list replaces its previous one; an id it named before keeps its
    /// `since`.
    pub fn on_list(&mut self, now_ms: u64, from: u32, ids: Vec<CtId>) {
        let old = self
            .lists
            .remove(&from)
            .map(|l| l.since)
            .unwrap_or_default();
        let mut since = HashMap::with_capacity(ids.len());
        for id in ids.into_iter().take(self.cfg.max_list) {
            let t = old.get(&id).copied().unwrap_or(now_ms);
            since.insert(id, t);
            self.by_id.entry(id).or_default().insert(from, t);
        }
        for id in old.keys().filter(|id| !since.contains_key(*id)) {
            self.unname(id, from);
        }
        self.lists.insert(
            from,
            AuthorList {
                at_ms: now_ms,
                since,
            },
        );
    }

    fn unname(&mut self, id: &CtId, from: u32) {
        if let Some(authors) = self.by_id.get_mut(id) {
            authors.remove(&from);
            if authors.is_empty() {
                self.by_id.remove(id);
            }
        }
    }

    /// Forgets lists not refreshed within `list_ttl_ms` (their author is gone or cut off).
    pub fn expire(&mut self, now_ms: u64) {
        let ttl = self.cfg.list_ttl_ms;
        let stale: Vec<u32> = self
            .lists
            .iter()
            .filter(|(_, l)| l.at_ms + ttl < now_ms)
            .map(|(a, _)| *a)
            .collect();
        for a in stale {
            let l = self.lists.remove(&a).expect("listed");
            for id in l.since.keys() {
                self.unname(id, a);
            }
        }
    }

    /// Since when at least `quorum` of `authors` have named `id` without interruption
    /// (the `quorum`-th earliest `since` among them); `None` if fewer name it.
    pub fn named_since(&self, id: &CtId, authors: &[u32], quorum: usize) -> Option<u64> {
        let named = self.by_id.get(id)?;
        let mut since: Vec<u64> = authors
            .iter()
            .filter_map(|a| named.get(a).copied())
            .collect();
        if quorum == 0 || since.len() < quorum {
            return None;
        }
        since.sort_unstable();
        Some(since[quorum - 1])
    }

    /// Ids named by at least `quorum` of `authors`, each with since when: the candidates for
    /// a proposer's priority and a voter's rule.
    pub fn named(&self, authors: &[u32], quorum: usize) -> Vec<(CtId, u64)> {
        self.by_id
            .keys()
            .filter_map(|id| Some((*id, self.named_since(id, authors, quorum)?)))
            .collect()
    }

    /// This member's list tick: `overdue` are the ids it has held pending for at least Δ,
    /// oldest first (the caller filters them). Returns the list if it changed or is due to
    /// be sent again, and the bodies due to be gossiped again.
    pub fn tick(&mut self, now_ms: u64, overdue: Vec<CtId>) -> ListTick {
        let list: Vec<CtId> = overdue.into_iter().take(self.cfg.max_list).collect();
        let due = match &self.sent {
            None => true,
            Some((at, last)) => *last != list || at + self.cfg.resend_every_ms <= now_ms,
        };
        let every = self.cfg.regossip_every_ms;
        let mut regossip = Vec::new();
        let mut kept = HashMap::with_capacity(list.len());
        for id in &list {
            let last = self.regossiped.get(id).copied();
            let at = match last {
                Some(t) if t + every > now_ms => t,
                _ => {
                    regossip.push(*id);
                    now_ms
                }
            };
            kept.insert(*id, at);
        }
        self.regossiped = kept;
        let list = due.then(|| {
            self.sent = Some((now_ms, list.clone()));
            list
        });
        ListTick { list, regossip }
    }

    /// How many ids this member listed last (its overdue count).
    pub fn own_len(&self) -> usize {
        self.sent.as_ref().map_or(0, |(_, l)| l.len())
    }
}

/// f + 1 for a committee of `n` (f = ⌊(n − 1)/3⌋): the fewest lists that include an honest
/// member's.
pub fn list_quorum(n: usize) -> usize {
    n.saturating_sub(1) / 3 + 1
}
