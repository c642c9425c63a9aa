//! The releases a member's API serves: the latest heights in memory (a window bounded by
//! entries), indexed by ciphertext id, with a wake-up for streams waiting on the next height.

use crate::ledger::release::ReleasedBatch;
use crate::ledger::{CtId, Height, Namespace};
use crate::protocol::json::{self, BatchJson, EntryJson, Outcome, PageJson, TxStatus};
use curtain_crypto::Decryption;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// Entries kept in memory; older heights are dropped whole (the release log on disk keeps
/// everything).
const MAX_ENTRIES: usize = 1_000_000;

/// Most heights one page scans (a namespace with rare entries still answers quickly).
const MAX_SCAN: usize = 4096;

pub struct ReleaseIndex {
    inner: Mutex<Inner>,
    next: tokio::sync::Notify,
}

struct Inner {
    batches: BTreeMap<Height, Arc<ReleasedBatch>>,
    /// id → (height, namespace index in the batch, entry index)
    ids: HashMap<CtId, (Height, usize, usize)>,
    entries: usize,
    /// The next height to be released.
    next_height: Height,
}

impl Default for ReleaseIndex {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner {
                batches: BTreeMap::new(),
                ids: HashMap::new(),
                entries: 0,
                next_height: Height(1),
            }),
            next: tokio::sync::Notify::new(),
        }
    }
}

fn entries(b: &ReleasedBatch) -> usize {
    b.namespaces.iter().map(|n| n.entries.len()).sum()
}

pub(super) fn outcome(d: &Decryption) -> Outcome {
    match d {
        Decryption::Plaintext(p) => Outcome::Plaintext {
            data: json::base64_encode(p),
        },
        Decryption::Undecryptable(u) => Outcome::Undecryptable {
            reason: u.code().to_string(),
        },
    }
}

/// `b` seen from namespace `ns`; `None` if it holds no entry of `ns`.
pub(super) fn batch_json(b: &ReleasedBatch, ns: Namespace) -> Option<BatchJson> {
    let n = b.namespaces.iter().find(|n| n.namespace == ns)?;
    Some(BatchJson {
        height: b.height,
        namespace: ns,
        block: hex::encode(b.block.0),
        parent: hex::encode(b.parent.0),
        entries: n
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| EntryJson {
                position: i as u32,
                id: hex::encode(e.ciphertext.id()),
                outcome: outcome(&e.outcome),
            })
            .collect(),
        encoded: json::base64_encode(&b.to_bytes()),
    })
}

impl ReleaseIndex {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("release index")
    }

    /// Adds the next released height (heights arrive in order).
    pub fn push(&self, b: ReleasedBatch) {
        let mut inner = self.lock();
        for (ni, n) in b.namespaces.iter().enumerate() {
            for (ei, e) in n.entries.iter().enumerate() {
                inner.ids.insert(e.ciphertext.id(), (b.height, ni, ei));
            }
        }
        inner.entries += entries(&b);
        inner.next_height = b.height + 1;
        inner.batches.insert(b.height, Arc::new(b));
        while inner.entries > MAX_ENTRIES && inner.batches.len() > 1 {
            let (_, old) = inner.batches.pop_first().expect("non-empty");
            inner.entries -= entries(&old);
            for e in old.entries() {
                inner.ids.remove(&e.ciphertext.id());
            }
        }
        drop(inner);
        self.next.notify_waiters();
    }

    pub fn get(&self, height: Height) -> Option<Arc<ReleasedBatch>> {
        self.lock().batches.get(&height).cloned()
    }

    /// The oldest height still served.
    pub fn first_height(&self) -> Height {
        let inner = self.lock();
        inner
            .batches
            .first_key_value()
            .map_or(inner.next_height, |(h, _)| *h)
    }

    pub fn status(&self, id: &CtId) -> Option<TxStatus> {
        let inner = self.lock();
        let (height, ni, ei) = *inner.ids.get(id)?;
        let b = inner.batches.get(&height)?;
        let n = &b.namespaces[ni];
        Some(TxStatus::Released {
            height,
            namespace: n.namespace,
            position: ei as u32,
            outcome: outcome(&n.entries[ei].outcome),
        })
    }

    /// Up to `limit` batches with entries of `ns`, from height `from`.
    pub fn page(&self, ns: Namespace, from: Height, limit: usize) -> PageJson {
        let mut held = Vec::new();
        let mut next = from.max(Height(1));
        {
            let inner = self.lock();
            for (h, b) in inner.batches.range(next..).take(MAX_SCAN) {
                next = *h + 1;
                if b.namespaces.iter().any(|n| n.namespace == ns) {
                    held.push(b.clone());
                    if held.len() == limit {
                        break;
                    }
                }
            }
        }
        // encoded outside the lock: the release path never waits on a reader
        PageJson {
            batches: held.iter().filter_map(|b| batch_json(b, ns)).collect(),
            next,
        }
    }

    /// Resolves once a height at or above `height` is released.
    pub async fn wait_beyond(&self, height: Height) {
        loop {
            let notified = self.next.notified();
            if self.lock().next_height > height {
                return;
            }
            notified.await;
        }
    }
}
