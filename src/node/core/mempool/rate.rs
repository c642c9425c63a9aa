//! Per-source token buckets (clients by address, peers by member).

use super::*;

#[derive(Clone, Copy, Debug)]
pub(super) struct Bucket {
    /// Thousandths of a token, so refill is exact integer arithmetic.
    pub(super) milli: u64,
    pub(super) at_ms: u64,
}

/// A source's token rate (per second) and bucket capacity (thousandths of a token); `None`
/// for sources that are not rate-limited.
pub(super) fn bucket_limits(cfg: &MempoolConfig, source: Source) -> Option<(u64, u64)> {
    let (rate, burst) = match source {
        Source::Internal => return None,
        Source::Client(_) => (cfg.client_rate_per_s, cfg.client_burst),
        Source::Peer(_) => (cfg.peer_rate_per_s, cfg.peer_burst),
    };
    Some((rate, burst.saturating_mul(1000)))
}

/// Refills a bucket to `now_ms` and returns its level in thousandths of a token.
pub(super) fn refill(b: &mut Bucket, now_ms: u64, rate_per_s: u64, cap_milli: u64) -> u64 {
    let elapsed = now_ms.saturating_sub(b.at_ms);
    b.milli = b
        .milli
        .saturating_add(elapsed.saturating_mul(rate_per_s))
        .min(cap_milli);
    b.at_ms = b.at_ms.max(now_ms);
    b.milli
}
