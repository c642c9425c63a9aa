//! The HTTP listener (SPEC.md §7.3): HTTP/1.1 only, every connection admitted against the
//! member's connection [`Budget`], with a deadline for each request head (which also bounds
//! how long a keep-alive connection may sit idle) and a cap on header bytes. A request body
//! has its own deadline, enforced by the route that reads it ([`super::read_body`]).
//!
//! hyper's connection is used directly rather than `axum::serve`, which has no connection
//! caps or timeouts and speaks cleartext HTTP/2 when hyper's `http2` feature is on anywhere in
//! the build.

use super::budget::{Budget, Permit};
use axum::extract::ConnectInfo;
use axum::Router;
use http_body_util::BodyExt as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tower::ServiceExt as _;
use tracing::{debug, warn};

/// The HTTP listener's bounds (node.toml `[limits]`, SPEC.md §7.3).
#[derive(Clone, Copy, Debug)]
pub struct HttpBounds {
    /// Time to send a whole request head, counted from when the connection starts waiting
    /// for it (so also the longest a keep-alive connection stays idle).
    pub head_timeout: Duration,
    /// Largest request head (request line and headers).
    pub max_head_bytes: usize,
    /// How long connections still serving a request get at shutdown or eviction.
    pub grace: Duration,
}

/// hyper's floor for its read buffer.
const MIN_READ_BUFFER: usize = 8192;

/// Accepts connections on `listener` and serves `app` on each until `shutdown` resolves;
/// then stops accepting, lets requests in flight finish within `bounds.grace`, and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    budget: Arc<Budget>,
    bounds: HttpBounds,
    refused: impl Fn(&'static str) + Send + Sync + 'static,
    shutdown: impl std::future::Future<Output = ()> + Send,
) {
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        while connections.try_join_next().is_some() {}
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors (or another transient failure): the budget keeps
                    // clients well below the limit, so this is another process's doing or a
                    // misconfiguration; back off instead of spinning.
                    warn!("api: accept failed: {e}");
                    refused("accept_error");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let permit = match budget.admit(peer.ip()) {
            Ok(p) => p,
            Err(e) => {
                debug!(%peer, "api: connection refused: {e}");
                refused(match e {
                    super::budget::Refused::AddressFull => "address_full",
                    super::budget::Refused::Full => "full",
                });
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        connections.spawn(connection(
            stream,
            peer,
            app.clone(),
            permit,
            bounds,
            stop.clone(),
        ));
    }
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(bounds.grace + Duration::from_secs(1), async {
        while connections.join_next().await.is_some() {}
    })
    .await;
}

async fn connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    app: Router,
    permit: Permit,
    bounds: HttpBounds,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let permit = Arc::new(permit);
    let requests = permit.clone();
    let service = tower::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        // in flight from its head until its response body is done (an SSE stream stays in
        // flight while it is open)
        let in_flight = requests.request();
        req.extensions_mut().insert(ConnectInfo(peer));
        let app = app.clone();
        async move {
            let response = app.oneshot(req).await?;
            // the response body carries the in-flight mark until it is dropped
            Ok::<_, std::convert::Infallible>(response.map(|body| {
                axum::body::Body::new(body.map_frame(move |frame| {
                    let _ = &in_flight;
                    frame
                }))
            }))
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(bounds.head_timeout)
        .max_buf_size(bounds.max_head_bytes.max(MIN_READ_BUFFER))
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
    tokio::pin!(conn);
    let ended = tokio::select! {
        r = conn.as_mut() => Some(r),
        // evicted: it had no request in flight, so it is closed at once (a request whose
        // head arrived meanwhile is cut; its client retries)
        _ = permit.close.notified() => return,
        _ = stop.wait_for(|s| *s) => None,
    };
    let result = match ended {
        Some(r) => r,
        None => {
            // shutting down: no new requests; the one in flight may finish
            conn.as_mut().graceful_shutdown();
            match tokio::time::timeout(bounds.grace, conn.as_mut()).await {
                Ok(r) => r,
                Err(_) => return,
            }
        }
    };
    if let Err(e) = result {
        debug!(%peer, "api: connection ended: {e}");
    }
}
