//! The client HTTP API of a member (SPEC.md §7 lists routes, bodies and error codes; the
//! same document is served as OpenAPI at `GET /v1/openapi.json`).
//!
//! Everything a wallet or rollup needs travels here: the committee key to encrypt to,
//! submission with a durable receipt, where a transaction stands, and the released batches of
//! a namespace with what a third party needs to check them.

pub mod budget;
mod errors;
pub mod evidence;
mod http;
mod index;
pub mod listener;
pub mod quic;

pub use budget::Caps;
pub use index::ReleaseIndex;
pub use listener::HttpBounds;

use http::router;
#[cfg(test)]
use http::ROUTES;

use crate::ledger::envelope::Envelope;
use crate::ledger::release::ReleasedBatch;
use crate::ledger::{Height, Namespace};
use crate::node::core::mempool::Source;
use crate::node::NodeHandle;
use crate::protocol::json::{self, CommitteeInfos};
use axum::{
    body::Body,
    error_handling::HandleErrorLayer,
    extract::{ConnectInfo, State},
    http::{header, HeaderMap, StatusCode},
    response::{
        sse::{Event, KeepAlive, Sse},
        IntoResponse, Response,
    },
    routing::{get, post, MethodRouter},
    Json, Router,
};
use budget::Budget;
use commonware_utils::channel::mpsc;
use curtain_crypto::DecodeError;
pub(crate) use errors::rejection;
use errors::{error, malformed, refusal, PathParam, QueryParams, Refusal};
use http_body_util::BodyExt as _;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use crate::protocol::json::MAX_BODY;

/// Most batches one `GET .../batches` returns.
pub const MAX_BATCHES_PER_PAGE: usize = 256;

/// Renders the Prometheus registry.
pub type MetricsEncoder = Arc<dyn Fn() -> String + Send + Sync>;

/// The OpenAPI document of this API (kept true by a test).
pub const OPENAPI: &str = include_str!("openapi.json");

/// A member's client-facing bounds (SPEC.md §7.3; node.toml `[limits]`).
#[derive(Clone, Copy, Debug)]
pub struct ApiLimits {
    pub http: Caps,
    pub quic: Caps,
    /// Time to send a request head; also the longest a keep-alive connection stays idle.
    pub head_timeout: Duration,
    /// Time to send a request body once its head is in.
    pub body_timeout: Duration,
    /// Largest request head (request line and headers).
    pub max_head_bytes: usize,
    /// Concurrent release streams (SSE) per transport.
    pub streams: usize,
    /// Concurrent requests of each costly read route (pages, releases, metrics).
    pub reads: usize,
}

impl Default for ApiLimits {
    fn default() -> Self {
        Self {
            http: Caps {
                total: 4096,
                per_address: 256,
            },
            quic: Caps {
                total: 1024,
                per_address: 64,
            },
            head_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            max_head_bytes: 16 << 10,
            streams: 1024,
            reads: 64,
        }
    }
}

#[derive(Clone)]
struct Api {
    node: NodeHandle,
    committee: Arc<CommitteeInfos>,
    releases: Arc<ReleaseIndex>,
    metrics: MetricsEncoder,
    limits: ApiLimits,
    resources: Arc<Resources>,
    /// Open release streams (SSE), each holding a permit.
    streams: Arc<tokio::sync::Semaphore>,
}

/// The member's client connection budgets and descriptor limit, reported by `/v1/status`.
pub struct Resources {
    /// The process's descriptor limit (after `curtain node` raised it to the hard limit).
    pub open_files_limit: u64,
    pub http: Arc<Budget>,
    pub quic: Arc<Budget>,
}

impl Resources {
    pub fn new(limits: &ApiLimits, open_files_limit: u64) -> Self {
        Self {
            open_files_limit,
            http: Budget::new(limits.http),
            quic: Budget::new(limits.quic),
        }
    }

    pub fn report(&self) -> json::Resources {
        json::Resources {
            open_files_limit: self.open_files_limit,
            open_files: open_files(),
            http_connections: self.http.open(),
            http_connections_max: self.http.caps().total,
            http_connections_per_address_max: self.http.caps().per_address,
            quic_connections: self.quic.open(),
            quic_connections_max: self.quic.caps().total,
            quic_connections_per_address_max: self.quic.caps().per_address,
        }
    }
}

/// Descriptors this process has open (Linux; `None` elsewhere).
pub fn open_files() -> Option<usize> {
    std::fs::read_dir("/proc/self/fd").ok().map(|d| d.count())
}

/// The index both APIs (HTTP, QUIC) serve releases from, fed by the member's release stream
/// (from height 1).
pub fn release_index(mut releases: mpsc::UnboundedReceiver<ReleasedBatch>) -> Arc<ReleaseIndex> {
    let index = Arc::new(ReleaseIndex::default());
    let sink = index.clone();
    tokio::spawn(async move {
        while let Some(b) = releases.recv().await {
            sink.push(b);
        }
    });
    index
}

/// What the HTTP API serves.
pub struct HttpApi {
    pub node: NodeHandle,
    pub committee: Arc<CommitteeInfos>,
    pub releases: Arc<ReleaseIndex>,
    pub metrics: MetricsEncoder,
    pub limits: ApiLimits,
    pub resources: Arc<Resources>,
    /// Counts connections turned away (by reason: `address_full`, `full`, `accept_error`).
    pub refused: Arc<dyn Fn(&'static str) + Send + Sync>,
}

/// Serves the API on `addr` until `shutdown` resolves, then finishes the requests in flight
/// (a submission acknowledged is durable).
pub async fn serve(
    api: HttpApi,
    addr: SocketAddr,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let limits = api.limits;
    let refused = api.refused.clone();
    let budget = api.resources.http.clone();
    let app = router(Api {
        node: api.node,
        committee: api.committee,
        releases: api.releases,
        metrics: api.metrics,
        limits,
        resources: api.resources,
        streams: Arc::new(tokio::sync::Semaphore::new(limits.streams)),
    });
    let listener = tokio::net::TcpListener::bind(addr).await?;
    listener::serve(
        listener,
        app,
        budget,
        HttpBounds {
            head_timeout: limits.head_timeout,
            max_head_bytes: limits.max_head_bytes,
            grace: Duration::from_secs(10),
        },
        move |why| refused(why),
        shutdown,
    )
    .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::KeyEpoch;
    use crate::node::core::mempool::Reject;
    use crate::node::core::rln::RlnReject;

    /// Every admission refusal answers its SPEC.md §7 status and code (the process tests in
    /// tests/api_bad_input.rs reach all but `unknown_namespace`, which no configuration file
    /// can enable yet, and `overloaded`).
    #[test]
    fn admission_refusals_answer_their_documented_codes() {
        let cases = [
            (Reject::RateLimited, 429, "rate_limited"),
            (Reject::Full, 503, "overloaded"),
            (
                Reject::UnknownNamespace(Namespace(3)),
                400,
                "unknown_namespace",
            ),
            (Reject::UnknownEpoch(KeyEpoch(7)), 400, "wrong_key_epoch"),
            (Reject::EpochEnded(KeyEpoch(0)), 400, "wrong_key_epoch"),
            (Reject::WrongKey, 400, "wrong_key"),
            (Reject::Duplicate, 409, "duplicate"),
            (Reject::AlreadyOrdered, 409, "already_ordered"),
            (RlnReject::ProofRequired.into(), 400, "proof_required"),
            (RlnReject::UnexpectedProof.into(), 400, "unexpected_proof"),
            (RlnReject::Unbound.into(), 400, "invalid_proof"),
            (RlnReject::InvalidProof.into(), 400, "invalid_proof"),
            (RlnReject::UnknownRoot.into(), 400, "unknown_root"),
            (RlnReject::WrongEpoch(3).into(), 400, "wrong_rln_epoch"),
            (RlnReject::OverQuota.into(), 429, "over_quota"),
            (
                Reject::Malformed(DecodeError::Truncated("ciphertext")),
                400,
                "malformed",
            ),
            (
                Reject::Invalid(curtain_crypto::ValidityError::InvalidProof),
                400,
                "invalid_ciphertext",
            ),
        ];
        for (reject, status, code) in cases {
            assert_eq!(
                rejection(&reject),
                (StatusCode::from_u16(status).unwrap(), code)
            );
        }
    }

    /// The served OpenAPI document describes exactly the routes the router serves, the
    /// statuses each answers, and the real bounds of parameters and bodies.
    #[test]
    fn openapi_lists_exactly_the_routes_statuses_and_bounds_served() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).expect("valid JSON");
        let mut documented: Vec<(String, String, Vec<u16>)> = doc["paths"]
            .as_object()
            .expect("paths")
            .iter()
            .flat_map(|(path, ops)| {
                ops.as_object()
                    .expect("operations")
                    .iter()
                    .map(move |(m, op)| {
                        let mut codes: Vec<u16> = op["responses"]
                            .as_object()
                            .expect("responses")
                            .keys()
                            .map(|c| c.parse().expect("numeric status"))
                            .collect();
                        codes.sort();
                        (m.clone(), path.clone(), codes)
                    })
            })
            .collect();
        let mut served: Vec<(String, String, Vec<u16>)> = ROUTES
            .iter()
            .map(|(m, p, c)| (m.to_string(), p.to_string(), c.to_vec()))
            .collect();
        documented.sort();
        served.sort();
        assert_eq!(documented, served);
        // 429 and 503 carry Retry-After
        for (path, ops) in doc["paths"].as_object().unwrap() {
            for (_, op) in ops.as_object().unwrap() {
                for code in ["429", "503"] {
                    if let Some(r) = op["responses"].get(code) {
                        assert!(r["headers"].get("Retry-After").is_some(), "{path} {code}");
                    }
                }
            }
        }
        // parameter bounds: page size, and unsigned integers
        let batches = &doc["paths"]["/v1/namespaces/{ns}/batches"]["get"]["parameters"];
        for p in batches.as_array().unwrap() {
            let schema = &p["schema"];
            assert!(schema["minimum"].as_u64().is_some(), "{p}");
            if p["name"] == "limit" {
                assert_eq!(schema["minimum"], 1);
                assert_eq!(schema["maximum"], MAX_BATCHES_PER_PAGE as u64);
            }
        }
        let body = &doc["paths"]["/v1/transactions"]["post"]["requestBody"]["content"];
        assert_eq!(
            body["application/octet-stream"]["schema"]["maxLength"],
            MAX_BODY as u64
        );
        // every error code the server can answer is documented
        let codes = doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]
            ["code"]["enum"]
            .as_array()
            .expect("codes")
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect::<Vec<_>>();
        for code in [
            "timeout",
            "method_not_allowed",
            "proof_required",
            "unexpected_proof",
            "invalid_proof",
            "unknown_root",
            "wrong_rln_epoch",
            "over_quota",
            "malformed",
            "too_large",
            "unsupported_media_type",
            "invalid_ciphertext",
            "unknown_namespace",
            "wrong_key_epoch",
            "wrong_key",
            "duplicate",
            "already_ordered",
            "rate_limited",
            "overloaded",
            "not_found",
            "pruned",
        ] {
            assert!(codes.contains(&code.to_string()), "{code} documented");
        }
    }

    /// An undecryptable outcome's `reason` is the verdict's stable SPEC §2.7 name, one of
    /// those the OpenAPI document lists, not its human-readable description.
    #[test]
    fn undecryptable_reasons_are_the_spec_names() {
        use curtain_crypto::{Decryption, Undecryptable};
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).expect("valid JSON");
        let documented = &doc["components"]["schemas"]["Outcome"]["properties"]["reason"]["enum"];
        for (verdict, name) in [
            (Undecryptable::AeadFailure, "aead_failure"),
            (Undecryptable::BadFraming, "bad_framing"),
        ] {
            assert_eq!(
                index::outcome(&Decryption::Undecryptable(verdict)),
                json::Outcome::Undecryptable {
                    reason: name.to_string()
                }
            );
            assert!(documented
                .as_array()
                .expect("reasons")
                .contains(&name.into()));
        }
    }
}
