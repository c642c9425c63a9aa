//! The member's evidence book (SPEC.md §2.6): every piece of evidence it made or received,
//! verified, deduplicated by id, numbered in the order it became durable here, and bounded —
//! a member that faults at every view cannot make the book grow without end.
//!
//! Pure: the persist actor writes a piece to the evidence log first and then
//! [`EvidenceBook::insert`]s it; a restarted member [`EvidenceBook::insert`]s what the log
//! holds, in order, and so numbers it as before.

use crate::ledger::evidence::{Accused, Evidence, EvidenceKind};
use crate::ledger::Height;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Pieces kept per (kind, accused): one proves the fault; a few more show it repeated.
pub const MAX_PER_ACCUSED: usize = 8;
/// Pieces kept in all.
pub const MAX_RECORDS: usize = 65_536;

/// One piece of evidence as the book holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Its place in this member's book (0, 1, …), stable across restarts.
    pub seq: u64,
    pub id: [u8; 32],
    pub kind: EvidenceKind,
    pub accused: Accused,
    pub height: Option<Height>,
    /// The canonical encoding ([`Evidence::to_bytes`]).
    pub bytes: Arc<[u8]>,
}

/// Which records a page holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    pub kind: Option<EvidenceKind>,
    /// Member index (of any key epoch).
    pub member: Option<u32>,
}

impl Filter {
    fn admits(&self, r: &Record) -> bool {
        self.kind.is_none_or(|k| k == r.kind)
            && self.member.is_none_or(|m| r.accused.member() == Some(m))
    }
}

/// Why a piece was not added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotAdded {
    /// The book has it.
    Duplicate,
    /// The book holds `MAX_PER_ACCUSED` pieces of this kind against this party already.
    Enough,
    /// The book is full.
    Full,
}

#[derive(Default)]
pub struct EvidenceBook {
    records: Vec<Record>,
    by_id: HashMap<[u8; 32], usize>,
    per_accused: BTreeMap<(EvidenceKind, Accused), usize>,
}

impl EvidenceBook {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `e` would be added (checked before it is written, so the log holds only
    /// what the book adds).
    pub fn admits(&self, id: &[u8; 32], e: &Evidence) -> Result<(), NotAdded> {
        if self.by_id.contains_key(id) {
            return Err(NotAdded::Duplicate);
        }
        if self
            .per_accused
            .get(&(e.kind(), e.accused()))
            .is_some_and(|c| *c >= MAX_PER_ACCUSED)
        {
            return Err(NotAdded::Enough);
        }
        if self.records.len() >= MAX_RECORDS {
            return Err(NotAdded::Full);
        }
        Ok(())
    }

    /// Adds a verified piece, given its encoding (`e.to_bytes()`, which its caller has
    /// already made to write or relay it); returns its record.
    pub fn insert(&mut self, e: &Evidence, bytes: Arc<[u8]>) -> Result<Record, NotAdded> {
        debug_assert_eq!(*bytes, *e.to_bytes());
        let id = crate::ledger::evidence::id_of(&bytes);
        self.admits(&id, e)?;
        let record = Record {
            seq: self.records.len() as u64,
            id,
            kind: e.kind(),
            accused: e.accused(),
            height: e.height(),
            bytes,
        };
        self.by_id.insert(id, self.records.len());
        *self.per_accused.entry((e.kind(), e.accused())).or_default() += 1;
        self.records.push(record.clone());
        Ok(record)
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn get(&self, id: &[u8; 32]) -> Option<&Record> {
        self.by_id.get(id).map(|i| &self.records[*i])
    }

    /// Up to `limit` records admitted by `filter` with `seq ≥ from`, in order.
    pub fn page(&self, filter: &Filter, from: u64, limit: usize) -> Vec<Record> {
        self.records
            .iter()
            .skip(from.min(self.records.len() as u64) as usize)
            .filter(|r| filter.admits(r))
            .take(limit)
            .cloned()
            .collect()
    }

    /// Everyone the book accuses, with how many pieces of each kind.
    pub fn accused(&self) -> impl Iterator<Item = (&(EvidenceKind, Accused), &usize)> {
        self.per_accused.iter()
    }
}
