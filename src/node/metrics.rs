//! curtain's own Prometheus metrics of a member.

use commonware_runtime::{
    telemetry::metrics::{self, MetricsExt as _},
    Metrics,
};

/// curtain's own Prometheus metrics (commonware's consensus, marshal and p2p metrics are
/// registered by those components on the same registry).
#[derive(Clone)]
pub(crate) struct NodeMetrics {
    pub(crate) finalized_height: metrics::Gauge,
    pub(crate) next_release: metrics::Gauge,
    pub(crate) mempool_size: metrics::Gauge,
    pub(crate) shares_sent: metrics::Counter,
    pub(crate) shares_received: metrics::Counter,
    /// Pieces of evidence made durable here, by kind and accused party.
    pub(crate) evidence: metrics::CounterFamily<EvidenceLabels>,
    pub(crate) release_latency: metrics::Histogram,
    /// Ciphertexts per finalized block.
    pub(crate) block_ciphertexts: metrics::Histogram,
    /// Ciphertexts per batched admission check (the validity MSM's size drives its cost).
    pub(crate) admit_batch: metrics::Histogram,
    /// Ids on this member's inclusion list (held pending for Δ and not ordered).
    pub(crate) overdue: metrics::Gauge,
    pub(crate) lists_sent: metrics::Counter,
    pub(crate) lists_received: metrics::Counter,
    /// Proposals this member refused because they left out a listed ciphertext, by leader.
    pub(crate) omissions: metrics::CounterFamily<Leader>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, metrics::EncodeLabelSet)]
pub(crate) struct Leader {
    /// The leader's peer number.
    pub(crate) leader: u32,
}

/// Buckets for counts of ciphertexts.
const COUNT_BUCKETS: [f64; 11] = [
    1.0, 4.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, metrics::EncodeLabelSet)]
pub(crate) struct EvidenceLabels {
    /// `wrong_shares`, `equivocation`, `double_signal`.
    pub(crate) kind: String,
    /// The accused member's index, or `sender` for an anonymous sender.
    pub(crate) accused: String,
}

impl NodeMetrics {
    pub(crate) fn new(context: &impl Metrics) -> Self {
        Self {
            finalized_height: context
                .gauge("finalized_height", "height of the last finalized block"),
            next_release: context.gauge("next_release", "first height not yet released"),
            mempool_size: context.gauge("mempool_size", "pending ciphertexts"),
            shares_sent: context.counter("shares_sent", "share batches sent"),
            shares_received: context.counter("shares_received", "share batches received"),
            evidence: context.family(
                "evidence",
                "pieces of evidence made durable, by kind and accused member",
            ),
            release_latency: context.histogram(
                "release_latency_seconds",
                "finalization delivered to durable release, per height",
                metrics::histogram::Buckets::LOCAL,
            ),
            block_ciphertexts: context.histogram(
                "block_ciphertexts",
                "ciphertexts per finalized block",
                COUNT_BUCKETS,
            ),
            admit_batch: context.histogram(
                "admit_batch_ciphertexts",
                "ciphertexts per batched admission check",
                COUNT_BUCKETS,
            ),
            overdue: context.gauge(
                "inclusion_overdue",
                "ids on this member's inclusion list (pending for longer than the list delay)",
            ),
            lists_sent: context.counter("inclusion_lists_sent", "inclusion lists sent"),
            lists_received: context.counter("inclusion_lists_received", "inclusion lists received"),
            omissions: context.family(
                "inclusion_omissions",
                "proposals refused for leaving out a listed ciphertext, by leader",
            ),
        }
    }
}
