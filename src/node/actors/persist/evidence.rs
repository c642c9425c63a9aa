//! What the client APIs read of the member's evidence: the book (durable pieces, in the order
//! they were written) and a feed of new ones for streams. The persist actor is its only
//! writer: a piece is in the book only after it is in the evidence log.

use crate::ledger::evidence::Evidence;
use crate::node::core::evidence::{EvidenceBook, Filter, NotAdded, Record};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// New records a slow stream reader may lag behind before it is told it lagged.
const FEED: usize = 1024;

#[derive(Clone)]
pub struct EvidenceHub {
    book: Arc<Mutex<EvidenceBook>>,
    feed: broadcast::Sender<Record>,
}

impl Default for EvidenceHub {
    fn default() -> Self {
        Self {
            book: Arc::default(),
            feed: broadcast::channel(FEED).0,
        }
    }
}

impl EvidenceHub {
    fn with<T>(&self, f: impl FnOnce(&mut EvidenceBook) -> T) -> T {
        f(&mut self.book.lock().expect("evidence book"))
    }

    /// Whether the book would add `e` (so that only what it adds is written).
    pub(crate) fn admits(&self, id: &[u8; 32], e: &Evidence) -> Result<(), NotAdded> {
        self.with(|b| b.admits(id, e))
    }

    /// Adds a durable piece, given its encoding, and tells the streams.
    pub(crate) fn insert(&self, e: &Evidence, bytes: Arc<[u8]>) -> Result<Record, NotAdded> {
        let r = self.with(|b| b.insert(e, bytes))?;
        let _ = self.feed.send(r.clone());
        Ok(r)
    }

    pub fn get(&self, id: &[u8; 32]) -> Option<Record> {
        self.with(|b| b.get(id).cloned())
    }

    /// Up to `limit` records admitted by `filter` from `seq` on.
    pub fn page(&self, filter: &Filter, from: u64, limit: usize) -> Vec<Record> {
        self.with(|b| b.page(filter, from, limit))
    }

    pub fn len(&self) -> usize {
        self.with(|b| b.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// New records from now on (a stream reads [`Self::page`] from its cursor first, then
    /// this, skipping what it has seen by `seq`).
    pub fn subscribe(&self) -> broadcast::Receiver<Record> {
        self.feed.subscribe()
    }
}
