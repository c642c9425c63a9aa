//! The member's timers: consensus timeouts, share retries and the leader's block pacing.

use std::time::Duration;

/// Consensus timers (simplex requires `certification > leader > 0`).
#[derive(Clone)]
pub struct Timeouts {
    pub leader: Duration,
    pub certification: Duration,
    pub timeout_retry: Duration,
    /// How often to ask peers again for share batches of heights still waiting.
    pub share_retry: Duration,
    /// How often the collector checks for heights stalled on their designated members' shares
    /// (the stall itself is `CollectorConfig::fallback_ms`).
    pub share_fallback_tick: Duration,
    /// Block pacing of a leader (see [`Pacing`]).
    pub pacing: Pacing,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            leader: Duration::from_secs(1),
            certification: Duration::from_secs(2),
            timeout_retry: Duration::from_secs(5),
            share_retry: Duration::from_secs(1),
            share_fallback_tick: Duration::from_millis(100),
            pacing: Pacing::default(),
        }
    }
}

/// When a leader proposes. Every block costs each member about the same consensus work
/// (threshold-BLS partial signatures, their checks, certificate recovery and fsyncs), whatever
/// it carries: unpaced, four idle members finalized ~35 blocks/s and burnt ~1.1 cores of this
/// 2-core machine on empty blocks, and under load the same per-block cost crowded out
/// decryption. A leader therefore waits until `min_interval` has passed since it saw the
/// parent, and proposes an empty block only once `idle_interval` has passed (it proposes as soon
/// as something is pending). `idle_interval` must stay well below the leader timeout, or idle
/// views would be nullified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pacing {
    pub min_interval: Duration,
    pub idle_interval: Duration,
}

impl Default for Pacing {
    fn default() -> Self {
        Self {
            min_interval: Duration::from_millis(100),
            idle_interval: Duration::from_millis(500),
        }
    }
}

/// How often a leader with nothing to propose looks at its mempool again.
const PACING_POLL: Duration = Duration::from_millis(5);

impl Pacing {
    /// How long a leader that saw the parent `since_parent` ago waits before looking again,
    /// given the size of the block it could build now; `None`: propose now.
    pub fn wait(&self, since_parent: Duration, block_len: usize) -> Option<Duration> {
        if since_parent < self.min_interval {
            return Some(self.min_interval - since_parent);
        }
        if block_len == 0 && since_parent < self.idle_interval {
            return Some(PACING_POLL.min(self.idle_interval - since_parent));
        }
        None
    }
}
