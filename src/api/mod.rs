//! The client HTTP API of a member (the minimum the node needs today; the full API, QUIC and
//! the SDK come with their own issue):
//!
//! - `POST /v1/submit`: body = one encoded ciphertext. `200 {"id", "accepted": true}` once it
//!   is durable; `400`/`429`/`503` with `{"error"}` otherwise.
//! - `GET /v1/status`: `{"finalized_height", "next_release"}`.
//! - `GET /v1/releases/{height}`: the released batch at `height` (its canonical encoding,
//!   `application/octet-stream`), `404` if not released yet.
//! - `GET /metrics`: Prometheus text (curtain's metrics and commonware's consensus, marshal and
//!   p2p metrics).

use crate::node::mempool::{Reject, Source};
use crate::node::release::ReleasedBatch;
use crate::node::shell::NodeHandle;
use axum::{
    body::Bytes,
    extract::{ConnectInfo, Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use commonware_utils::channel::mpsc;
use curtain_crypto::Ciphertext;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// Largest request body: one ciphertext.
const MAX_BODY: usize = curtain_crypto::ciphertext::MAX_PAYLOAD_LEN + 1024;

/// Renders the Prometheus registry.
pub type MetricsEncoder = Arc<dyn Fn() -> String + Send + Sync>;

#[derive(Clone)]
struct Api {
    node: NodeHandle,
    released: Arc<Mutex<BTreeMap<u64, Vec<u8>>>>,
    metrics: MetricsEncoder,
}

/// Serves the API on `addr` until `shutdown` resolves, then finishes the requests in flight
/// (a submission acknowledged is durable); `releases` is the member's release stream (from
/// height 1).
pub async fn serve(
    node: NodeHandle,
    mut releases: mpsc::UnboundedReceiver<ReleasedBatch>,
    metrics: MetricsEncoder,
    addr: SocketAddr,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let released = Arc::new(Mutex::new(BTreeMap::new()));
    let sink = released.clone();
    tokio::spawn(async move {
        while let Some(b) = releases.recv().await {
            sink.lock()
                .expect("release index")
                .insert(b.height, b.to_bytes());
        }
    });
    let app = Router::new()
        .route("/v1/submit", post(submit))
        .route("/v1/status", get(status))
        .route("/v1/releases/{height}", get(release))
        .route("/metrics", get(prometheus))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(Api {
            node,
            released,
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

fn error(status: StatusCode, msg: impl ToString) -> Response {
    (
        status,
        Json(serde_json::json!({ "error": msg.to_string() })),
    )
        .into_response()
}

async fn submit(
    State(api): State<Api>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    let ct = match Ciphertext::from_bytes(&body) {
        Ok(ct) => ct,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    // A Send generator (the handler's future crosses threads), seeded from the OS.
    let mut rng = {
        use rand::SeedableRng as _;
        rand::rngs::StdRng::from_rng(&mut rand::rng())
    };
    let verdict = api
        .node
        .submit(now_ms, Source::Client(peer.ip()), vec![ct], &mut rng)
        .await
        .remove(0);
    match verdict.result {
        Ok(_) => Json(serde_json::json!({ "id": hex::encode(verdict.id), "accepted": true }))
            .into_response(),
        Err(r @ Reject::RateLimited) => error(StatusCode::TOO_MANY_REQUESTS, r),
        Err(r @ Reject::Full) => error(StatusCode::SERVICE_UNAVAILABLE, r),
        Err(r) => error(StatusCode::BAD_REQUEST, r),
    }
}

async fn status(State(api): State<Api>) -> Response {
    Json(serde_json::json!({
        "finalized_height": api.node.finalized_height(),
        "next_release": api.node.next_release(),
    }))
    .into_response()
}

async fn release(State(api): State<Api>, Path(height): Path<u64>) -> Response {
    match api.released.lock().expect("release index").get(&height) {
        Some(b) => (StatusCode::OK, b.clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, "not released yet"),
    }
}

async fn prometheus(State(api): State<Api>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        (api.metrics)(),
    )
        .into_response()
}
