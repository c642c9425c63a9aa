//! What the bench binaries share.

/// The 1-minute load average (`/proc/loadavg`; None off Linux): recorded beside timings taken
/// on a shared machine, where a load above the core count means waiting for a core.
pub(crate) fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
