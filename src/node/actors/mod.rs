//! The member's actors: IO around the [`Member`] core, each a task (or a few) with typed
//! channels in and out.
//!
//! - `ordering`: marshal and the simplex engine of each key epoch; builds and checks
//!   proposals with the core.
//! - `reveal`: finalized blocks → this member's shares → peers' shares → releases.
//! - `admission`: client submissions and peers' gossip → batched checks → the mempool.
//! - `persist`: the durable logs (releases, accepted entries, slashing evidence).
//!
//! They share the core through [`SharedMember`]: one lock, held for one core call at a time
//! and never across an await, so no actor waits on another's IO.

pub(crate) mod admission;
pub(crate) mod evidence;
pub(crate) mod ordering;
pub(crate) mod persist;
pub(crate) mod reveal;

use super::consensus::PublicKey;
use super::core::member::Member;
use commonware_runtime::Clock;
use std::sync::{Arc, Mutex};

/// The member core, shared by the actors.
#[derive(Clone)]
pub(crate) struct SharedMember(Arc<Mutex<Member>>);

impl SharedMember {
    pub(crate) fn new(member: Member) -> Self {
        Self(Arc::new(Mutex::new(member)))
    }

    /// Runs `f` on the core under the lock. A panic inside a core call poisons the lock and
    /// every later call panics too: a core interrupted mid-call has no state left to trust,
    /// and the node turns the panic into a fatal exit.
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut Member) -> T) -> T {
        f(&mut self
            .0
            .lock()
            .expect("member core poisoned by an earlier panic"))
    }
}

/// The actors' clock in ms since the Unix epoch (what the cores take as `now_ms`).
pub(crate) fn unix_ms(context: &impl Clock) -> u64 {
    context
        .current()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A peer's number: its position in the sorted peer set.
pub(crate) fn index_of(participants: &[PublicKey], pk: &PublicKey) -> Option<u32> {
    participants.iter().position(|p| p == pk).map(|i| i as u32)
}
