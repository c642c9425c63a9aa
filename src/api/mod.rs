//! The client HTTP API of a member (SPEC.md §7 lists routes, bodies and error codes; the
//! same document is served as OpenAPI at `GET /v1/openapi.json`).
//!
//! Everything a wallet or rollup needs travels here: the committee key to encrypt to,
//! submission with a durable receipt, where a transaction stands, and the released batches of
//! a namespace with what a third party needs to check them.

mod index;
pub mod quic;

pub use index::ReleaseIndex;

use crate::node::envelope::Envelope;
use crate::node::mempool::{Reject, Source};
use crate::node::release::ReleasedBatch;
use crate::node::rln::RlnReject;
use crate::node::shell::NodeHandle;
use crate::wire::{self, CommitteeInfos, ErrorBody};
use axum::{
    body::Bytes,
    extract::{rejection::BytesRejection, ConnectInfo, Path, Query, State},
    http::{header, HeaderMap, StatusCode},
    response::{
        sse::{Event, KeepAlive, Sse},
        IntoResponse, Response,
    },
    routing::{get, post},
    Json, Router,
};
use commonware_utils::channel::mpsc;
use curtain_crypto::DecodeError;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

pub use crate::wire::MAX_BODY;

/// Most batches one `GET .../batches` returns.
pub const MAX_BATCHES_PER_PAGE: usize = 256;

/// Renders the Prometheus registry.
pub type MetricsEncoder = Arc<dyn Fn() -> String + Send + Sync>;

/// The OpenAPI document of this API (kept true by a test).
pub const OPENAPI: &str = include_str!("openapi.json");

#[derive(Clone)]
struct Api {
    node: NodeHandle,
    committee: Arc<CommitteeInfos>,
    releases: Arc<ReleaseIndex>,
    metrics: MetricsEncoder,
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

/// Serves the API on `addr` until `shutdown` resolves, then finishes the requests in flight
/// (a submission acknowledged is durable).
pub async fn serve(
    node: NodeHandle,
    committee: Arc<CommitteeInfos>,
    releases: Arc<ReleaseIndex>,
    metrics: MetricsEncoder,
    addr: SocketAddr,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(Api {
        node,
        committee,
        releases,
        metrics,
    });
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

fn router(api: Api) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(prometheus))
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/committee", get(committee))
        .route("/v1/status", get(status))
        .route("/v1/transactions", post(submit))
        .route("/v1/transactions/{id}", get(transaction))
        .route("/v1/releases/{height}", get(release))
        .route("/v1/namespaces/{ns}/batches", get(batches))
        .route("/v1/namespaces/{ns}/stream", get(stream))
        .route("/v1/stats/release_latency", get(latency))
        .route("/v1/rln/registry", get(rln_registry))
        .route("/v1/rln/leaves", get(rln_leaves))
        .route("/v1/slashing", get(slashing))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(api)
}

/// The routes served, for the OpenAPI test.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/health"),
    ("get", "/metrics"),
    ("get", "/v1/openapi.json"),
    ("get", "/v1/committee"),
    ("get", "/v1/status"),
    ("post", "/v1/transactions"),
    ("get", "/v1/transactions/{id}"),
    ("get", "/v1/releases/{height}"),
    ("get", "/v1/namespaces/{ns}/batches"),
    ("get", "/v1/namespaces/{ns}/stream"),
    ("get", "/v1/stats/release_latency"),
    ("get", "/v1/rln/registry"),
    ("get", "/v1/rln/leaves"),
    ("get", "/v1/slashing"),
];

fn no_rln() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        "this committee has no anonymous namespace",
    )
}

async fn rln_registry(State(api): State<Api>) -> Response {
    match api.node.rln_registry() {
        Some(r) => Json(r).into_response(),
        None => no_rln(),
    }
}

async fn rln_leaves(State(api): State<Api>) -> Response {
    match api.node.rln_leaves() {
        Some(leaves) => Json(wire::RlnLeaves { leaves }).into_response(),
        None => no_rln(),
    }
}

async fn slashing(State(api): State<Api>) -> Response {
    let evidence = api
        .node
        .slashing_evidence()
        .into_iter()
        .map(|e| {
            let (s1, s2) = (&e.first.1.statement, &e.second.1.statement);
            let secret = curtain_circuits::recover_secret(s1, s2)
                .map(|a0| hex::encode(curtain_circuits::fr_to_be_bytes(&a0)))
                .unwrap_or_default();
            wire::SlashingItem {
                nullifier: hex::encode(e.first.1.nullifier()),
                epoch: s1.epoch,
                first_id: hex::encode(e.first.0),
                first_proof: hex::encode(e.first.1.to_bytes()),
                second_id: hex::encode(e.second.0),
                second_proof: hex::encode(e.second.1.to_bytes()),
                recovered_secret: secret,
                encoded: hex::encode(e.to_bytes()),
            }
        })
        .collect();
    Json(wire::SlashingList { evidence }).into_response()
}

/// An error response, boxed for `Result`s (a `Response` is large).
type Refusal = Box<Response>;

fn refusal(status: StatusCode, code: &'static str, msg: impl ToString) -> Refusal {
    Box::new(error(status, code, msg))
}

fn error(status: StatusCode, code: &'static str, msg: impl ToString) -> Response {
    (status, Json(ErrorBody::new(code, msg.to_string()))).into_response()
}

/// The stable error code and status of an admission refusal (SPEC.md §7).
pub(crate) fn rejection(r: &Reject) -> (StatusCode, &'static str) {
    match r {
        Reject::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        Reject::Full => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
        Reject::UnknownNamespace(_) => (StatusCode::BAD_REQUEST, "unknown_namespace"),
        Reject::UnknownEpoch(_) | Reject::EpochEnded(_) => {
            (StatusCode::BAD_REQUEST, "wrong_key_epoch")
        }
        Reject::WrongKey => (StatusCode::BAD_REQUEST, "wrong_key"),
        Reject::Duplicate => (StatusCode::CONFLICT, "duplicate"),
        Reject::AlreadyOrdered => (StatusCode::CONFLICT, "already_ordered"),
        Reject::Malformed(_) => (StatusCode::BAD_REQUEST, "malformed"),
        Reject::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_ciphertext"),
        Reject::Rln(r) => match r {
            RlnReject::ProofRequired => (StatusCode::BAD_REQUEST, "proof_required"),
            RlnReject::UnexpectedProof => (StatusCode::BAD_REQUEST, "unexpected_proof"),
            RlnReject::Unbound | RlnReject::InvalidProof => {
                (StatusCode::BAD_REQUEST, "invalid_proof")
            }
            RlnReject::UnknownRoot => (StatusCode::BAD_REQUEST, "unknown_root"),
            RlnReject::WrongEpoch(_) => (StatusCode::BAD_REQUEST, "wrong_rln_epoch"),
            RlnReject::OverQuota => (StatusCode::TOO_MANY_REQUESTS, "over_quota"),
        },
    }
}

async fn health(State(api): State<Api>) -> Response {
    Json(serde_json::json!({
        "status": "ok",
        "finalized_height": api.node.finalized_height(),
        "next_release": api.node.next_release(),
    }))
    .into_response()
}

async fn status(State(api): State<Api>) -> Response {
    Json(wire::NodeStatus {
        finalized_height: api.node.finalized_height(),
        next_release: api.node.next_release(),
        faulty_members: api.node.faulty_members().iter().map(|(_, m)| *m).collect(),
    })
    .into_response()
}

async fn committee(State(api): State<Api>) -> Response {
    Json(api.node.committee_now(api.committee.as_ref())).into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// The envelope of a submission: raw bytes, or JSON `{"envelope": base64}`.
fn envelope(headers: &HeaderMap, body: &[u8]) -> Result<Envelope, Refusal> {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream");
    let ctype = ctype.split(';').next().unwrap_or("").trim();
    let bytes = match ctype {
        "application/octet-stream" => body.to_vec(),
        "application/json" => {
            let parsed: wire::SubmitJson = serde_json::from_slice(body)
                .map_err(|e| refusal(StatusCode::BAD_REQUEST, "malformed", e))?;
            wire::base64_decode(&parsed.envelope).ok_or_else(|| {
                refusal(
                    StatusCode::BAD_REQUEST,
                    "malformed",
                    "envelope is not base64",
                )
            })?
        }
        other => {
            return Err(refusal(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("{other}: send application/octet-stream or application/json"),
            ))
        }
    };
    Envelope::parse(&bytes).map_err(|e| match e {
        DecodeError::Length { len, max, .. } if len > max => {
            refusal(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e)
        }
        _ => refusal(StatusCode::BAD_REQUEST, "malformed", e),
    })
}

async fn submit(
    State(api): State<Api>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return error(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.body_text())
        }
        Err(e) => return error(StatusCode::BAD_REQUEST, "malformed", e.body_text()),
    };
    let ct = match envelope(&headers, &body) {
        Ok(ct) => ct,
        Err(r) => return *r,
    };
    let verdict = api
        .node
        .submit(Source::Client(peer.ip()), vec![ct])
        .await
        .remove(0);
    match verdict.result {
        Ok(_) => (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({ "id": hex::encode(verdict.id) })),
        )
            .into_response(),
        Err(r) => {
            let (status, code) = rejection(&r);
            error(status, code, r)
        }
    }
}

fn parse_id(id: &str) -> Result<[u8; 32], Refusal> {
    hex::decode(id)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| refusal(StatusCode::BAD_REQUEST, "malformed", "id: 64 hex digits"))
}

async fn transaction(State(api): State<Api>, Path(id): Path<String>) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(r) => return *r,
    };
    if let Some(status) = api.releases.status(&id) {
        return Json(status).into_response();
    }
    match api.node.tx_status(&id) {
        Some(status) => Json(status).into_response(),
        // released before this node's window, or never seen
        None => error(StatusCode::NOT_FOUND, "not_found", "unknown transaction"),
    }
}

async fn release(State(api): State<Api>, Path(height): Path<u64>) -> Response {
    match api.releases.get(height) {
        Some(b) => (
            [(header::CONTENT_TYPE, "application/octet-stream")],
            b.to_bytes(),
        )
            .into_response(),
        None if height < api.releases.first_height() => *pruned(),
        None => error(StatusCode::NOT_FOUND, "not_found", "not released yet"),
    }
}

#[derive(serde::Deserialize)]
struct Page {
    from: Option<u64>,
    limit: Option<usize>,
}

impl Page {
    /// The first height asked for (default 1), if this node still holds it.
    fn start(&self, releases: &ReleaseIndex) -> Result<u64, Refusal> {
        let from = self.from.unwrap_or(1).max(1);
        if from < releases.first_height() {
            return Err(pruned());
        }
        Ok(from)
    }
}

fn pruned() -> Refusal {
    refusal(
        StatusCode::GONE,
        "pruned",
        "older than this node's release window",
    )
}

async fn batches(
    State(api): State<Api>,
    Path(ns): Path<u64>,
    Query(page): Query<Page>,
) -> Response {
    let from = match page.start(&api.releases) {
        Ok(from) => from,
        Err(r) => return *r,
    };
    let limit = page.limit.unwrap_or(64).clamp(1, MAX_BATCHES_PER_PAGE);
    Json(api.releases.page(ns, from, limit)).into_response()
}

/// Server-sent events: one `batch` event per released height holding `ns` entries, from
/// `from`; the event id is the height, so a client resumes with `?from=id+1`.
async fn stream(State(api): State<Api>, Path(ns): Path<u64>, Query(page): Query<Page>) -> Response {
    let from = match page.start(&api.releases) {
        Ok(from) => from,
        Err(r) => return *r,
    };
    let index = api.releases.clone();
    let events = futures::stream::unfold(from, move |next| {
        let index = index.clone();
        async move {
            loop {
                let page = index.page(ns, next, 16);
                if !page.batches.is_empty() || page.next > next {
                    let events: Vec<Result<Event, Infallible>> = page
                        .batches
                        .iter()
                        .map(|b| {
                            Ok(Event::default()
                                .event("batch")
                                .id(b.height.to_string())
                                .json_data(b)
                                .expect("batches serialize"))
                        })
                        .collect();
                    return Some((futures::stream::iter(events), page.next));
                }
                index.wait_beyond(next).await;
            }
        }
    });
    use futures::StreamExt as _;
    Sse::new(events.flatten())
        .keep_alive(KeepAlive::default())
        .into_response()
}

async fn latency(State(api): State<Api>) -> Response {
    Json(serde_json::json!({ "samples_ms": api.node.release_latencies_ms() })).into_response()
}

async fn prometheus(State(api): State<Api>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        (api.metrics)(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every admission refusal answers its SPEC.md §7 status and code (the process tests in
    /// tests/api_bad_input.rs reach all but `unknown_namespace`, which no configuration file
    /// can enable yet, and `overloaded`).
    #[test]
    fn admission_refusals_answer_their_documented_codes() {
        let cases = [
            (Reject::RateLimited, 429, "rate_limited"),
            (Reject::Full, 503, "overloaded"),
            (Reject::UnknownNamespace(3), 400, "unknown_namespace"),
            (Reject::UnknownEpoch(7), 400, "wrong_key_epoch"),
            (Reject::EpochEnded(0), 400, "wrong_key_epoch"),
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

    /// The served OpenAPI document describes exactly the routes the router serves.
    #[test]
    fn openapi_lists_exactly_the_routes_served() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).expect("valid JSON");
        let mut documented: Vec<(String, String)> = doc["paths"]
            .as_object()
            .expect("paths")
            .iter()
            .flat_map(|(path, ops)| {
                ops.as_object()
                    .expect("operations")
                    .keys()
                    .map(move |m| (m.clone(), path.clone()))
            })
            .collect();
        let mut served: Vec<(String, String)> = ROUTES
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        documented.sort();
        served.sort();
        assert_eq!(documented, served);
        // every error code the server can answer is documented
        let codes = doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]
            ["code"]["enum"]
            .as_array()
            .expect("codes")
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect::<Vec<_>>();
        for code in [
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
                wire::Outcome::Undecryptable {
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
