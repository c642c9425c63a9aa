//! The client API over QUIC (SPEC.md §7.2): the same operations as HTTP for high-rate clients
//! and rollup nodes, one bidirectional stream per request, framed by `crate::protocol::quic`.
//!
//! TLS uses a self-signed certificate generated at first start and kept in the data dir
//! (`quic.cert`, `quic.key` 0600); clients pin its SHA-256 (`quic.fingerprint`, also printed
//! at start). Everything is bounded: connections, concurrent streams per connection, idle
//! time, frame sizes, the time to send a request; submissions go through the same per-address
//! admission as HTTP (`NodeHandle::submit` with `Source::Client(ip)`).

use super::budget::{Budget, Permit};
use super::evidence::{self, Follower, MAX_EVIDENCE_PER_PAGE};
use super::index::ReleaseIndex;
use super::rejection;
use crate::ledger::envelope::Envelope;
use crate::ledger::{Height, Namespace};
use crate::node::core::evidence::Filter;
use crate::node::core::mempool::Source;
use crate::node::settings::{write_secret, ConfigError};
use crate::node::NodeHandle;
use crate::protocol::json::{CommitteeInfos, ErrorBody};
use crate::protocol::quic::{self, answer, kind, FrameError, Request};
use curtain_crypto::DecodeError;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tracing::{debug, info, warn};
use zeroize::Zeroizing;

/// Concurrent request streams per connection (QUIC flow control enforces it). Submissions
/// wait for durability, so a high-rate client needs many in flight.
pub const MAX_STREAMS_PER_CONNECTION: u32 = 256;
/// Unread request bytes buffered per connection and per stream (QUIC flow control): with
/// the connection cap (`ApiLimits::quic`), bounds the memory clients can pin.
pub const CONNECTION_WINDOW: u32 = 4 << 20;
pub const STREAM_WINDOW: u32 = 256 << 10;
/// A connection with no traffic this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Time a client has to send its whole request frame.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Batches per read of the release index while following a namespace.
const SUBSCRIBE_PAGE: usize = 16;

/// The node's TLS identity for QUIC.
pub struct QuicIdentity {
    cert: rustls::pki_types::CertificateDer<'static>,
    key: Zeroizing<Vec<u8>>,
    /// SHA-256 of the certificate (DER): what clients pin.
    pub fingerprint: [u8; 32],
}

impl QuicIdentity {
    /// Loads `quic.cert` / `quic.key` from `data_dir`, or generates a self-signed pair there at
    /// first start; (re)writes `quic.fingerprint`.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, ConfigError> {
        let cert_path = data_dir.join("quic.cert");
        let key_path = data_dir.join("quic.key");
        let invalid = |path: &Path, reason: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        let (cert, key) = if cert_path.exists() && key_path.exists() {
            let cert = hex::decode(crate::node::settings::read(&cert_path)?.trim())
                .map_err(|e| invalid(&cert_path, e.to_string()))?;
            let text = Zeroizing::new(crate::node::settings::read(&key_path)?);
            let key = Zeroizing::new(
                hex::decode(text.trim()).map_err(|e| invalid(&key_path, e.to_string()))?,
            );
            (cert, key)
        } else {
            let generated = rcgen::generate_simple_self_signed(vec![quic::SERVER_NAME.into()])
                .map_err(|e| invalid(&cert_path, e.to_string()))?;
            let cert = generated.cert.der().to_vec();
            let key = Zeroizing::new(generated.key_pair.serialize_der());
            write_secret(&key_path, &Zeroizing::new(hex::encode(&*key)))?;
            std::fs::write(&cert_path, hex::encode(&cert)).map_err(|source| ConfigError::Io {
                path: cert_path.clone(),
                source,
            })?;
            (cert, key)
        };
        let fingerprint = quic::fingerprint(&cert);
        let fp_path = data_dir.join("quic.fingerprint");
        std::fs::write(&fp_path, format!("{}\n", hex::encode(fingerprint))).map_err(|source| {
            ConfigError::Io {
                path: fp_path,
                source,
            }
        })?;
        Ok(Self {
            cert: cert.into(),
            key,
            fingerprint,
        })
    }

    fn server_config(&self) -> std::io::Result<quinn::ServerConfig> {
        let invalid = |e: &dyn std::fmt::Display| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string())
        };
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(self.key.to_vec().into());
        let mut tls = rustls::ServerConfig::builder_with_provider(quic::crypto_provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| invalid(&e))?
            .with_no_client_auth()
            .with_single_cert(vec![self.cert.clone()], key)
            .map_err(|e| invalid(&e))?;
        tls.alpn_protocols = vec![quic::ALPN.to_vec()];
        let crypto =
            quinn::crypto::rustls::QuicServerConfig::try_from(tls).map_err(|e| invalid(&e))?;
        let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
        let mut transport = quinn::TransportConfig::default();
        transport
            .max_concurrent_bidi_streams(MAX_STREAMS_PER_CONNECTION.into())
            .max_concurrent_uni_streams(0u32.into())
            .receive_window(CONNECTION_WINDOW.into())
            .stream_receive_window(STREAM_WINDOW.into())
            .max_idle_timeout(Some(
                IDLE_TIMEOUT.try_into().expect("idle timeout in range"),
            ));
        config.transport_config(Arc::new(transport));
        Ok(config)
    }
}

#[derive(Clone)]
struct Server {
    node: NodeHandle,
    committee: Arc<CommitteeInfos>,
    releases: Arc<ReleaseIndex>,
    /// Open subscriptions, each holding a permit.
    subscriptions: Arc<tokio::sync::Semaphore>,
}

/// Binds the QUIC endpoint (UDP `addr`) with `identity`'s certificate.
pub fn bind(identity: &QuicIdentity, addr: SocketAddr) -> std::io::Result<quinn::Endpoint> {
    quinn::Endpoint::server(identity.server_config()?, addr)
}

/// Serves QUIC on `endpoint` until `shutdown` resolves. Every connection is admitted against
/// `budget` (SPEC.md §7.3) before its handshake; at most `subscriptions` subscriptions are
/// open at once.
pub async fn serve(
    endpoint: quinn::Endpoint,
    node: NodeHandle,
    committee: Arc<CommitteeInfos>,
    releases: Arc<ReleaseIndex>,
    budget: Arc<Budget>,
    subscriptions: usize,
    shutdown: impl std::future::Future<Output = ()> + Send,
) {
    let server = Server {
        node,
        committee,
        releases,
        subscriptions: Arc::new(tokio::sync::Semaphore::new(subscriptions)),
    };
    tokio::pin!(shutdown);
    loop {
        let incoming = tokio::select! {
            incoming = endpoint.accept() => incoming,
            _ = &mut shutdown => break,
        };
        let Some(incoming) = incoming else { break };
        let peer = incoming.remote_address();
        let permit = match budget.admit(peer.ip()) {
            Ok(p) => p,
            Err(e) => {
                debug!(%peer, "quic: connection refused: {e}");
                incoming.refuse();
                continue;
            }
        };
        let server = server.clone();
        tokio::spawn(async move {
            match incoming.await {
                Ok(conn) => server.connection(conn, permit).await,
                Err(e) => debug!(%peer, "quic: handshake failed: {e}"),
            }
        });
    }
    endpoint.close(0u32.into(), b"shutting down");
    let _ = tokio::time::timeout(Duration::from_secs(5), endpoint.wait_idle()).await;
}

impl Server {
    async fn connection(&self, conn: quinn::Connection, permit: Permit) {
        let peer = conn.remote_address();
        debug!(%peer, "quic: connected");
        loop {
            let (send, recv) = tokio::select! {
                accepted = conn.accept_bi() => match accepted {
                    Ok(s) => s,
                    Err(e) => {
                        debug!(%peer, "quic: connection ended: {e}");
                        return;
                    }
                },
                _ = permit.close.notified() => {
                    debug!(%peer, "quic: idle connection evicted for a new one");
                    conn.close(0u32.into(), b"evicted: the member is at its connection cap");
                    return;
                }
            };
            let in_flight = permit.request();
            let server = self.clone();
            tokio::spawn(async move {
                server.stream(peer.ip(), send, recv).await;
                drop(in_flight);
            });
        }
    }

    /// One request; every outcome is an answer on the stream (or the stream is gone).
    async fn stream(&self, ip: IpAddr, send: quinn::SendStream, mut recv: quinn::RecvStream) {
        let request = match tokio::time::timeout(
            REQUEST_TIMEOUT,
            quic::read_frame(&mut recv, quic::MAX_REQUEST),
        )
        .await
        {
            Err(_) => Err(FrameError::Malformed("request not sent in time")),
            Ok(Err(e)) => Err(e),
            Ok(Ok(None)) => Err(FrameError::Empty),
            Ok(Ok(Some(body))) => Request::from_bytes(&body),
        };
        let request = match request {
            Ok(r) => r,
            Err(e) => {
                debug!(%ip, "quic: bad request: {e}");
                // the rest of the stream is not read
                let _ = recv.stop(0u32.into());
                return finish(send, error(e.code(), e)).await;
            }
        };
        match request {
            Request::Submit(envelope) => {
                let out = self.submit(ip, &envelope).await;
                finish(send, out).await
            }
            Request::Release { height } => {
                let out = match self.releases.get(height) {
                    Some(b) => answer(kind::RELEASE, &b.to_bytes()),
                    // heights start at 1: 0 never existed
                    None if height >= Height(1) && height < self.releases.first_height() => {
                        pruned()
                    }
                    None => error("not_found", "not released yet"),
                };
                finish(send, out).await
            }
            Request::Committee => {
                let info = self.node.committee_now(self.committee.as_ref());
                let json = serde_json::to_vec(&info).expect("serializes");
                finish(send, answer(kind::COMMITTEE, &json)).await
            }
            Request::Subscribe { namespace, from } => self.subscribe(send, namespace, from).await,
            Request::EvidencePage {
                kind: k,
                member,
                from,
                limit,
            } => {
                let out = if limit == 0 || limit as usize > MAX_EVIDENCE_PER_PAGE {
                    error(
                        "malformed",
                        format!("limit {limit}: between 1 and {MAX_EVIDENCE_PER_PAGE}"),
                    )
                } else {
                    let filter = Filter { kind: k, member };
                    let page =
                        evidence::page_of(self.node.evidence(), &filter, from, limit as usize);
                    answer(
                        kind::EVIDENCE_PAGE,
                        &serde_json::to_vec(&page).expect("serializes"),
                    )
                };
                finish(send, out).await
            }
            Request::Evidence { id } => {
                let out = match self.node.evidence().get(&id) {
                    Some(r) => answer(
                        kind::EVIDENCE,
                        &serde_json::to_vec(&evidence::item(&r)).expect("serializes"),
                    ),
                    None => error("not_found", "no such evidence here"),
                };
                finish(send, out).await
            }
            Request::SubscribeEvidence { from } => self.subscribe_evidence(send, from).await,
        }
    }

    async fn submit(&self, ip: IpAddr, envelope: &[u8]) -> Vec<u8> {
        // the same envelope bytes as HTTP's octet-stream body: open or anonymous
        let envelope = match Envelope::parse(envelope) {
            Ok(e) => e,
            Err(e @ DecodeError::Length { len, max, .. }) if len > max => {
                return error("too_large", e)
            }
            Err(e) => return error("malformed", e),
        };
        let verdict = self
            .node
            .submit(Source::Client(ip), vec![envelope])
            .await
            .remove(0);
        match verdict.result {
            Ok(_) => {
                let receipt = crate::protocol::json::Receipt {
                    id: hex::encode(verdict.id),
                };
                answer(
                    kind::RECEIPT,
                    &serde_json::to_vec(&receipt).expect("serializes"),
                )
            }
            Err(r) => error(rejection(&r).1, r),
        }
    }

    /// Follows `namespace` from `from` (as the HTTP stream does) until the client stops the
    /// stream or the connection ends.
    async fn subscribe(&self, mut send: quinn::SendStream, namespace: Namespace, from: Height) {
        let mut next = from.max(Height(1));
        if next < self.releases.first_height() {
            return finish(send, pruned()).await;
        }
        let Ok(_permit) = self.subscriptions.clone().try_acquire_owned() else {
            return finish(
                send,
                error("overloaded", "too many concurrent subscriptions"),
            )
            .await;
        };
        loop {
            let page = self.releases.page(namespace, next, SUBSCRIBE_PAGE);
            for b in &page.batches {
                let json = serde_json::to_vec(b).expect("serializes");
                if send.write_all(&answer(kind::BATCH, &json)).await.is_err() {
                    return;
                }
            }
            if page.next > next {
                next = page.next;
                continue;
            }
            tokio::select! {
                _ = self.releases.wait_beyond(next) => {}
                _ = send.stopped() => return,
            }
        }
    }
}

impl Server {
    /// Sends the evidence book from `seq = from`, then each new piece (as the HTTP stream
    /// does), until the client stops the stream or the connection ends.
    async fn subscribe_evidence(&self, mut send: quinn::SendStream, from: u64) {
        let Ok(_permit) = self.subscriptions.clone().try_acquire_owned() else {
            return finish(
                send,
                error("overloaded", "too many concurrent subscriptions"),
            )
            .await;
        };
        let mut follower = Follower::new(self.node.evidence().clone(), from);
        loop {
            let records = tokio::select! {
                records = follower.next() => match records {
                    Some(r) => r,
                    None => return,
                },
                _ = send.stopped() => return,
            };
            for r in &records {
                let json = serde_json::to_vec(&evidence::item(r)).expect("serializes");
                if send
                    .write_all(&answer(kind::EVIDENCE, &json))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    }
}

/// Answers and finishes the stream.
async fn finish(mut send: quinn::SendStream, frame: Vec<u8>) {
    if send.write_all(&frame).await.is_ok() {
        let _ = send.finish();
        // the answer is delivered before the stream's state goes
        let _ = tokio::time::timeout(Duration::from_secs(5), send.stopped()).await;
    }
}

fn error(code: &str, message: impl ToString) -> Vec<u8> {
    let body = ErrorBody::new(code, message.to_string());
    answer(kind::ERROR, &serde_json::to_vec(&body).expect("serializes"))
}

fn pruned() -> Vec<u8> {
    error("pruned", "older than this node's release window")
}

/// Logs where clients find the QUIC endpoint and the fingerprint to pin.
pub fn announce(index: usize, addr: SocketAddr, identity: &QuicIdentity, data_dir: &Path) {
    info!(
        index,
        %addr,
        fingerprint = %hex::encode(identity.fingerprint),
        "quic: serving"
    );
    eprintln!(
        "curtain node {index}: quic {addr} fingerprint {} (also in {})",
        hex::encode(identity.fingerprint),
        data_dir.join("quic.fingerprint").display()
    );
    if addr.ip().is_unspecified() {
        warn!("quic: listening on every interface");
    }
}
