//! Evidence exchange (SPEC.md §2.6): every piece that becomes durable here is sent once to
//! every member on the shares channel, and a piece a peer sends is checked node-free, as a
//! third party would, before it is written here. So every honest member ends with the same
//! evidence, whoever caught the fault.
//!
//! A peer's pieces cost a decode and a check each: they are rate-limited per peer and
//! checked on their own task, never on the one that handles share batches.

use super::persist::{EvidenceHub, Mailbox as Persist};
use crate::ledger::committee::CheckedCommittee;
use crate::ledger::evidence::{id_of, Evidence, EvidenceKind, Judge};
use commonware_runtime::Clock;
use commonware_utils::channel::mpsc;
use rand_core::CryptoRng;
use std::collections::HashMap;
use tokio::sync::broadcast::error::RecvError;
use tracing::{debug, warn};

/// Pieces from peers waiting to be checked; more are dropped (a peer that has them will send
/// them again when they become durable at another member).
pub(crate) const INBOX: usize = 16;
/// Each peer's budget: a piece every `REFILL_MS`, at most `BURST` saved.
const REFILL_MS: u64 = 2_000;
const BURST: u64 = 8;

/// A piece a peer sent: its peer number and the encoding.
pub(crate) type Incoming = (u32, Vec<u8>);

/// Sends every piece that becomes durable here to every member (`send` broadcasts an
/// encoded piece).
pub(crate) async fn relay<F, Fut>(hub: EvidenceHub, send: F)
where
    F: Fn(Vec<u8>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut feed = hub.subscribe();
    loop {
        match feed.recv().await {
            Ok(record) => send(record.bytes.to_vec()).await,
            // peers missing some have them from other members, who relay them too
            Err(RecvError::Lagged(skipped)) => debug!(skipped, "evidence relay lagged"),
            Err(RecvError::Closed) => return,
        }
    }
}

/// Checks peers' pieces node-free against `committees` and writes those that hold. Double
/// signals are not taken from peers: every member finds them in the chain itself.
pub(crate) async fn check_incoming<E: Clock + CryptoRng>(
    mut context: E,
    hub: EvidenceHub,
    persist: Persist,
    committees: Vec<CheckedCommittee>,
    mut inbox: mpsc::Receiver<Incoming>,
) {
    let judge = Judge {
        committees: &committees,
        rln: None,
    };
    let mut budgets: HashMap<u32, (u64, u64)> = HashMap::new();
    while let Some((from, bytes)) = inbox.recv().await {
        let now_ms = super::unix_ms(&context);
        let (tokens, at_ms) = budgets.entry(from).or_insert((BURST, now_ms));
        let earned = now_ms.saturating_sub(*at_ms) / REFILL_MS;
        if earned > 0 {
            *tokens = (*tokens + earned).min(BURST);
            *at_ms += earned * REFILL_MS;
        }
        if *tokens == 0 {
            debug!(from, "evidence from a peer over its budget: dropped");
            continue;
        }
        *tokens -= 1;
        let e = match Evidence::from_bytes(&bytes) {
            Ok(e) if e.kind() != EvidenceKind::DoubleSignal => e,
            Ok(_) => continue,
            Err(error) => {
                warn!(from, %error, "malformed evidence from a peer");
                continue;
            }
        };
        if hub.get(&id_of(&bytes)).is_some() {
            continue;
        }
        match e.verify(&judge, &mut context) {
            Ok(_) => persist.evidence([e]),
            Err(error) => warn!(from, %error, "evidence from a peer does not hold"),
        }
    }
}
