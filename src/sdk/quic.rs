//! The SDK's QUIC client (SPEC.md §7.2): submit with retries over members (resubmission is
//! idempotent), follow a namespace from a height (resumable), fetch released batches. Each
//! member's certificate is pinned by its SHA-256 fingerprint (`quic.fingerprint` in the
//! member's data dir, printed at start); nothing else is trusted, and released batches are
//! still verified with [`super::Client::verify_release_via`].

use super::SdkError;
use crate::ledger::evidence::EvidenceKind;
use crate::ledger::release::ReleasedBatch;
use crate::ledger::{Height, Namespace};
use crate::protocol::json::{
    BatchJson, CommitteeInfo, ErrorBody, EvidenceItem, EvidencePage, Receipt,
};
use crate::protocol::quic::{self, kind, PinnedCert, Request};
use curtain_crypto::Ciphertext;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// One member's QUIC endpoint and the certificate fingerprint to pin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuicMember {
    pub addr: SocketAddr,
    pub fingerprint: [u8; 32],
}

/// A QUIC client of a committee's members; connections are opened on first use and
/// re-opened after they fail.
pub struct QuicClient {
    endpoint: quinn::Endpoint,
    members: Vec<QuicMember>,
    connections: Vec<Mutex<Option<quinn::Connection>>>,
    /// Attempts per submission (over the members in turn).
    pub attempts: usize,
    /// Time allowed for a handshake or a single answer.
    pub timeout: Duration,
}

/// What went wrong on a QUIC connection to a member.
#[derive(Debug, thiserror::Error)]
pub enum QuicError {
    #[error("endpoint: {0}")]
    Endpoint(#[from] std::io::Error),
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    #[error("QUIC configuration: {0}")]
    Config(#[from] quinn::crypto::rustls::NoInitialCipherSuite),
    #[error("connect: {0}")]
    Connect(#[from] quinn::ConnectError),
    #[error("connection: {0}")]
    Connection(#[from] quinn::ConnectionError),
    #[error("write: {0}")]
    Write(#[from] quinn::WriteError),
    #[error("stream already closed: {0}")]
    Closed(#[from] quinn::ClosedStream),
    #[error("frame: {0}")]
    Frame(#[from] quic::FrameError),
    #[error("{0} timed out")]
    Timeout(&'static str),
}

fn transport(e: impl Into<QuicError>) -> SdkError {
    SdkError::Quic(e.into())
}

impl QuicClient {
    /// A client for `members` (at least one). Needs a tokio runtime.
    pub fn new(members: Vec<QuicMember>) -> Result<Self, SdkError> {
        if members.is_empty() {
            return Err(SdkError::Protocol("no QUIC members given".into()));
        }
        let bind: SocketAddr = if members.iter().all(|m| m.addr.is_ipv4()) {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let endpoint = quinn::Endpoint::client(bind).map_err(transport)?;
        Ok(Self {
            endpoint,
            connections: members.iter().map(|_| Mutex::new(None)).collect(),
            members,
            attempts: 8,
            timeout: Duration::from_secs(10),
        })
    }

    pub fn members(&self) -> &[QuicMember] {
        &self.members
    }

    fn client_config(fingerprint: [u8; 32]) -> Result<quinn::ClientConfig, SdkError> {
        let mut tls = rustls::ClientConfig::builder_with_provider(quic::crypto_provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(transport)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedCert::new(fingerprint)))
            .with_no_client_auth();
        tls.alpn_protocols = vec![quic::ALPN.to_vec()];
        let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls).map_err(transport)?;
        let mut config = quinn::ClientConfig::new(Arc::new(crypto));
        let mut t = quinn::TransportConfig::default();
        // keeps an idle subscription's connection open
        t.keep_alive_interval(Some(Duration::from_secs(10)));
        config.transport_config(Arc::new(t));
        Ok(config)
    }

    /// Member `i`'s connection, opened (and its certificate checked) if needed.
    async fn connection(&self, i: usize) -> Result<quinn::Connection, SdkError> {
        let i = i % self.members.len();
        let mut slot = self.connections[i].lock().await;
        if let Some(c) = slot.as_ref() {
            if c.close_reason().is_none() {
                return Ok(c.clone());
            }
        }
        let m = self.members[i];
        let connecting = self
            .endpoint
            .connect_with(
                Self::client_config(m.fingerprint)?,
                m.addr,
                quic::SERVER_NAME,
            )
            .map_err(transport)?;
        let conn = tokio::time::timeout(self.timeout, connecting)
            .await
            .map_err(|_| transport(QuicError::Timeout("handshake")))?
            .map_err(transport)?;
        *slot = Some(conn.clone());
        Ok(conn)
    }

    /// Opens a stream to member `i` and sends `request` (the client's side is finished).
    async fn open(
        &self,
        i: usize,
        request: &Request,
    ) -> Result<(quinn::SendStream, quinn::RecvStream), SdkError> {
        let conn = self.connection(i).await?;
        let (mut send, recv) = conn.open_bi().await.map_err(transport)?;
        send.write_all(&quic::frame(&request.to_bytes()))
            .await
            .map_err(transport)?;
        send.finish().map_err(transport)?;
        Ok((send, recv))
    }

    /// One request with one answer: `(kind, payload)`.
    async fn call(&self, i: usize, request: &Request) -> Result<(u8, Vec<u8>), SdkError> {
        let (_send, mut recv) = self.open(i, request).await?;
        let frame =
            tokio::time::timeout(self.timeout, quic::read_frame(&mut recv, quic::MAX_ANSWER))
                .await
                .map_err(|_| transport(QuicError::Timeout("answer")))?
                .map_err(transport)?
                .ok_or_else(|| SdkError::Protocol("stream ended without an answer".into()))?;
        split(frame)
    }

    /// Submits `ct`, starting with member `first` and moving on after a transient failure
    /// (with backoff); a duplicate counts as accepted. Returns the ciphertext id once some
    /// member made it durable.
    pub async fn submit(&self, ct: &Ciphertext, first: usize) -> Result<[u8; 32], SdkError> {
        let request = Request::Submit(ct.to_bytes());
        let id = ct.id();
        let mut backoff = Duration::from_millis(20);
        for attempt in 0..self.attempts {
            let err = match self.call(first + attempt, &request).await {
                Ok((kind::RECEIPT, payload)) => {
                    let receipt: Receipt = serde_json::from_slice(&payload)
                        .map_err(|e| SdkError::Protocol(e.to_string()))?;
                    if receipt.id != hex::encode(id) {
                        return Err(SdkError::Protocol("receipt for another id".into()));
                    }
                    return Ok(id);
                }
                Ok((k, _)) => return Err(SdkError::Protocol(format!("answer kind {k} to submit"))),
                Err(SdkError::Refused { code, .. })
                    if code == "duplicate" || code == "already_ordered" =>
                {
                    return Ok(id)
                }
                Err(e) => e,
            };
            if !err.transient() {
                return Err(err);
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
        Err(SdkError::Exhausted(self.attempts))
    }

    /// The released batch at `height` as member `i` serves it (not yet verified).
    pub async fn release(&self, i: usize, height: Height) -> Result<ReleasedBatch, SdkError> {
        match self.call(i, &Request::Release { height }).await? {
            (kind::RELEASE, payload) => {
                ReleasedBatch::from_bytes(&payload).map_err(|e| SdkError::Protocol(e.to_string()))
            }
            (k, _) => Err(SdkError::Protocol(format!("answer kind {k} to release"))),
        }
    }

    /// The committee member `i` serves, unchecked: use it through
    /// [`super::Client::from_committee`], which accepts it only with the pinned committee id.
    pub async fn committee(&self, i: usize) -> Result<CommitteeInfo, SdkError> {
        match self.call(i, &Request::Committee).await? {
            (kind::COMMITTEE, payload) => {
                serde_json::from_slice(&payload).map_err(|e| SdkError::Protocol(e.to_string()))
            }
            (k, _) => Err(SdkError::Protocol(format!("answer kind {k} to committee"))),
        }
    }

    /// A page of the evidence member `i` holds (what `GET /v1/evidence` answers): up to
    /// `limit` (1..=256) pieces with `seq ≥ from`, of `kind` and accusing `member` if given.
    /// Each piece is checked to be what its id names; whether it holds is
    /// [`super::verify_evidence`]'s question.
    pub async fn evidence(
        &self,
        i: usize,
        kind: Option<EvidenceKind>,
        member: Option<u32>,
        from: u64,
        limit: u32,
    ) -> Result<EvidencePage, SdkError> {
        let request = Request::EvidencePage {
            kind,
            member,
            from,
            limit,
        };
        match self.call(i, &request).await? {
            (kind::EVIDENCE_PAGE, payload) => {
                let page: EvidencePage = serde_json::from_slice(&payload)
                    .map_err(|e| SdkError::Protocol(e.to_string()))?;
                for item in &page.evidence {
                    super::item_bytes(item)?;
                }
                Ok(page)
            }
            (k, _) => Err(SdkError::Protocol(format!("answer kind {k} to evidence"))),
        }
    }

    /// The piece of evidence `id` member `i` holds; `None` if it holds none.
    pub async fn evidence_by_id(
        &self,
        i: usize,
        id: &[u8; 32],
    ) -> Result<Option<EvidenceItem>, SdkError> {
        match self.call(i, &Request::Evidence { id: *id }).await {
            Ok((kind::EVIDENCE, payload)) => {
                let item: EvidenceItem = serde_json::from_slice(&payload)
                    .map_err(|e| SdkError::Protocol(e.to_string()))?;
                if super::item_bytes(&item)?.0 != *id {
                    return Err(SdkError::Protocol("evidence for another id".into()));
                }
                Ok(Some(item))
            }
            Ok((k, _)) => Err(SdkError::Protocol(format!("answer kind {k} to evidence"))),
            Err(SdkError::Refused { code, .. }) if code == "not_found" => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Follows member `i`'s evidence book from `seq = from`: every piece it holds, then each
    /// new one, in order. Resume after a failure with [`EvidenceSubscription::resume_from`].
    pub async fn subscribe_evidence(
        &self,
        i: usize,
        from: u64,
    ) -> Result<EvidenceSubscription, SdkError> {
        let (send, recv) = self.open(i, &Request::SubscribeEvidence { from }).await?;
        Ok(EvidenceSubscription {
            _send: send,
            recv,
            next: from,
        })
    }

    /// Follows `namespace` at member `i` from height `from`: the batches holding its entries,
    /// in height order, as they are released. Resume after a failure with
    /// [`Subscription::resume_from`].
    pub async fn subscribe(
        &self,
        i: usize,
        namespace: Namespace,
        from: Height,
    ) -> Result<Subscription, SdkError> {
        let (send, recv) = self
            .open(i, &Request::Subscribe { namespace, from })
            .await?;
        Ok(Subscription {
            _send: send,
            recv,
            next: from.max(Height(1)),
        })
    }
}

/// A namespace followed over one QUIC stream.
pub struct Subscription {
    // kept so the stream stays open
    _send: quinn::SendStream,
    recv: quinn::RecvStream,
    next: Height,
}

impl Subscription {
    /// The next batch; `Ok(None)` if the member ended the stream.
    pub async fn next(&mut self) -> Result<Option<BatchJson>, SdkError> {
        let Some(frame) = quic::read_frame(&mut self.recv, quic::MAX_ANSWER)
            .await
            .map_err(transport)?
        else {
            return Ok(None);
        };
        match split(frame)? {
            (kind::BATCH, payload) => {
                let b: BatchJson = serde_json::from_slice(&payload)
                    .map_err(|e| SdkError::Protocol(e.to_string()))?;
                if b.height < self.next {
                    return Err(SdkError::Protocol("batches out of order".into()));
                }
                self.next = b.height + 1;
                Ok(Some(b))
            }
            (k, _) => Err(SdkError::Protocol(format!(
                "answer kind {k} in a subscription"
            ))),
        }
    }

    /// The height to subscribe from to continue where this subscription stopped.
    pub fn resume_from(&self) -> Height {
        self.next
    }
}

/// A member's evidence book followed over one QUIC stream.
pub struct EvidenceSubscription {
    // kept so the stream stays open
    _send: quinn::SendStream,
    recv: quinn::RecvStream,
    next: u64,
}

impl EvidenceSubscription {
    /// The next piece (checked to be what its id names); `Ok(None)` if the member ended the
    /// stream.
    pub async fn next(&mut self) -> Result<Option<EvidenceItem>, SdkError> {
        let Some(frame) = quic::read_frame(&mut self.recv, quic::MAX_ANSWER)
            .await
            .map_err(transport)?
        else {
            return Ok(None);
        };
        match split(frame)? {
            (kind::EVIDENCE, payload) => {
                let item: EvidenceItem = serde_json::from_slice(&payload)
                    .map_err(|e| SdkError::Protocol(e.to_string()))?;
                if item.seq < self.next {
                    return Err(SdkError::Protocol("evidence out of order".into()));
                }
                super::item_bytes(&item)?;
                self.next = item.seq + 1;
                Ok(Some(item))
            }
            (k, _) => Err(SdkError::Protocol(format!(
                "answer kind {k} in an evidence subscription"
            ))),
        }
    }

    /// The `seq` to subscribe from to continue where this subscription stopped.
    pub fn resume_from(&self) -> u64 {
        self.next
    }
}

/// `(kind, payload)` of an answer frame; an `ERROR` answer becomes `SdkError::Refused`.
fn split(frame: Vec<u8>) -> Result<(u8, Vec<u8>), SdkError> {
    let Some((&k, payload)) = frame.split_first() else {
        return Err(SdkError::Protocol("empty answer frame".into()));
    };
    if k == kind::ERROR {
        let e: ErrorBody =
            serde_json::from_slice(payload).map_err(|e| SdkError::Protocol(e.to_string()))?;
        return Err(SdkError::Refused {
            status: 0,
            code: e.error.code,
            message: e.error.message,
        });
    }
    Ok((k, payload.to_vec()))
}
