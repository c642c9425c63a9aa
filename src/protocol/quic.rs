//! The QUIC client protocol (SPEC.md §7.2), shared by the node's server (`api::quic`) and the
//! SDK's client (`sdk::quic`): frames, requests, answers, and the client's certificate pin.
//!
//! One bidirectional stream per request. Every frame is `len(u32 BE) ‖ body`, `len` bounded.
//! A request body is `version(1) ‖ op(1) ‖ args`; the client finishes its side after it. An
//! answer body is `kind(1) ‖ payload`. Encodings are those of the HTTP API: envelopes as
//! `application/octet-stream`, receipts, errors and batches as their JSON.

use crate::ledger::evidence::EvidenceKind;
use crate::ledger::{Height, Namespace};
use crate::protocol::json::MAX_BODY;
use sha2::{Digest as _, Sha256};
use std::sync::Arc;
use tokio::io::AsyncReadExt as _;

/// TLS application protocol.
pub const ALPN: &[u8] = b"curtain/1";
/// The only request version served.
pub const VERSION: u8 = 1;
/// Largest request frame body: version, op and one envelope (the HTTP body limit).
pub const MAX_REQUEST: usize = MAX_BODY + 2;
/// Largest answer frame body a client reads (a released batch of a full block, as JSON).
pub const MAX_ANSWER: usize = 64 << 20;
/// The server name a client presents; the certificate is pinned, not checked against it.
pub const SERVER_NAME: &str = "curtain";

/// Request operations.
pub mod op {
    /// `args` = the envelope encoding; answer: one `RECEIPT` or `ERROR`.
    pub const SUBMIT: u8 = 1;
    /// `args` = `namespace(u64 BE) ‖ from(u64 BE)`; answers: `BATCH` per released height
    /// holding `namespace` entries from `from` on, until either side ends the stream; or one
    /// `ERROR`.
    pub const SUBSCRIBE: u8 = 2;
    /// `args` = `height(u64 BE)`; answer: one `RELEASE` or `ERROR`.
    pub const RELEASE: u8 = 3;
    /// no args; answer: one `COMMITTEE`.
    pub const COMMITTEE: u8 = 4;
    /// `args` = `from(u64 BE) ‖ limit(u32 BE) ‖ kind(1) ‖ has_member(1) ‖ member(u32 BE)`,
    /// `kind` 0 for any or an evidence kind's code, `member` the filter if `has_member` is
    /// 1 and zero otherwise (one encoding per request); answer: one `EVIDENCE_PAGE` or `ERROR` (what `GET /v1/evidence` answers).
    pub const EVIDENCE_PAGE: u8 = 5;
    /// `args` = `id(32)`; answer: one `EVIDENCE` or `ERROR` (`not_found`).
    pub const EVIDENCE: u8 = 6;
    /// `args` = `from(u64 BE)`; answers: `EVIDENCE` per piece from `seq = from` on, in
    /// order, until either side ends the stream; or one `ERROR`.
    pub const SUBSCRIBE_EVIDENCE: u8 = 7;
}

/// Answer kinds.
pub mod kind {
    /// JSON `Receipt`.
    pub const RECEIPT: u8 = 0;
    /// JSON `ErrorBody` with the HTTP API's codes (and `unsupported_version`,
    /// `unknown_operation` for requests no HTTP route matches).
    pub const ERROR: u8 = 1;
    /// JSON `BatchJson` (what the HTTP stream's `batch` events carry).
    pub const BATCH: u8 = 2;
    /// A released batch's binary encoding (`GET /v1/releases/{height}`).
    pub const RELEASE: u8 = 3;
    /// JSON `CommitteeInfo`.
    pub const COMMITTEE: u8 = 4;
    /// JSON `EvidencePage`.
    pub const EVIDENCE_PAGE: u8 = 5;
    /// JSON `EvidenceItem`.
    pub const EVIDENCE: u8 = 6;
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    Submit(Vec<u8>),
    Subscribe {
        namespace: Namespace,
        from: Height,
    },
    Release {
        height: Height,
    },
    Committee,
    EvidencePage {
        kind: Option<EvidenceKind>,
        member: Option<u32>,
        from: u64,
        limit: u32,
    },
    Evidence {
        id: [u8; 32],
    },
    SubscribeEvidence {
        from: u64,
    },
}

/// Why a frame or request was refused; each has a stable error code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {len} bytes exceeds {max}")]
    TooLarge { len: usize, max: usize },
    #[error("stream ended inside a frame")]
    Truncated,
    #[error("stream ended before a request")]
    Empty,
    #[error("unsupported protocol version {0}")]
    UnsupportedVersion(u8),
    #[error("unknown operation {0}")]
    UnknownOp(u8),
    #[error("malformed request: {0}")]
    Malformed(&'static str),
    #[error("stream: {0}")]
    Stream(std::io::ErrorKind),
}

impl FrameError {
    /// The error code answered for it (SPEC.md §7).
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "too_large",
            Self::UnsupportedVersion(_) => "unsupported_version",
            Self::UnknownOp(_) => "unknown_operation",
            Self::Truncated | Self::Empty | Self::Malformed(_) | Self::Stream(_) => "malformed",
        }
    }
}

impl Request {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![VERSION];
        match self {
            Self::Submit(envelope) => {
                out.push(op::SUBMIT);
                out.extend_from_slice(envelope);
            }
            Self::Subscribe { namespace, from } => {
                out.push(op::SUBSCRIBE);
                out.extend_from_slice(&namespace.to_be_bytes());
                out.extend_from_slice(&from.to_be_bytes());
            }
            Self::Release { height } => {
                out.push(op::RELEASE);
                out.extend_from_slice(&height.to_be_bytes());
            }
            Self::Committee => out.push(op::COMMITTEE),
            Self::EvidencePage {
                kind,
                member,
                from,
                limit,
            } => {
                out.push(op::EVIDENCE_PAGE);
                out.extend_from_slice(&from.to_be_bytes());
                out.extend_from_slice(&limit.to_be_bytes());
                out.push(kind.map_or(0, EvidenceKind::code));
                out.push(u8::from(member.is_some()));
                out.extend_from_slice(&member.unwrap_or(0).to_be_bytes());
            }
            Self::Evidence { id } => {
                out.push(op::EVIDENCE);
                out.extend_from_slice(id);
            }
            Self::SubscribeEvidence { from } => {
                out.push(op::SUBSCRIBE_EVIDENCE);
                out.extend_from_slice(&from.to_be_bytes());
            }
        }
        out
    }

    pub fn from_bytes(body: &[u8]) -> Result<Self, FrameError> {
        let [version, op, args @ ..] = body else {
            return Err(FrameError::Malformed("a request is version, op, args"));
        };
        if *version != VERSION {
            return Err(FrameError::UnsupportedVersion(*version));
        }
        let u64_at = |i: usize| -> u64 {
            u64::from_be_bytes(args[i..i + 8].try_into().expect("length checked"))
        };
        match (*op, args.len()) {
            (op::SUBMIT, _) => Ok(Self::Submit(args.to_vec())),
            (op::SUBSCRIBE, 16) => Ok(Self::Subscribe {
                namespace: Namespace(u64_at(0)),
                from: Height(u64_at(8)),
            }),
            (op::RELEASE, 8) => Ok(Self::Release {
                height: Height(u64_at(0)),
            }),
            (op::COMMITTEE, 0) => Ok(Self::Committee),
            (op::EVIDENCE_PAGE, 18) => {
                let kind = match args[12] {
                    0 => None,
                    code => Some(
                        EvidenceKind::ALL
                            .into_iter()
                            .find(|k| k.code() == code)
                            .ok_or(FrameError::Malformed("unknown evidence kind"))?,
                    ),
                };
                let member = u32::from_be_bytes(args[14..18].try_into().expect("length checked"));
                // one encoding per request: without a member, its field is zero
                let member = match (args[13], member) {
                    (0, 0) => None,
                    (0, _) => return Err(FrameError::Malformed("member set without has_member")),
                    (1, m) => Some(m),
                    _ => return Err(FrameError::Malformed("has_member is 0 or 1")),
                };
                Ok(Self::EvidencePage {
                    kind,
                    member,
                    from: u64_at(0),
                    limit: u32::from_be_bytes(args[8..12].try_into().expect("length checked")),
                })
            }
            (op::EVIDENCE, 32) => Ok(Self::Evidence {
                id: args.try_into().expect("length checked"),
            }),
            (op::SUBSCRIBE_EVIDENCE, 8) => Ok(Self::SubscribeEvidence { from: u64_at(0) }),
            (
                op::SUBSCRIBE
                | op::RELEASE
                | op::COMMITTEE
                | op::EVIDENCE_PAGE
                | op::EVIDENCE
                | op::SUBSCRIBE_EVIDENCE,
                _,
            ) => Err(FrameError::Malformed("wrong argument length")),
            (other, _) => Err(FrameError::UnknownOp(other)),
        }
    }
}

/// `len ‖ body`.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// An answer frame: `len ‖ kind ‖ payload`.
pub fn answer(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + payload.len());
    out.extend_from_slice(&(payload.len() as u32 + 1).to_be_bytes());
    out.push(kind);
    out.extend_from_slice(payload);
    out
}

/// Reads one frame body of at most `max` bytes; `Ok(None)` if the stream ended cleanly before
/// a frame began. The length is checked before anything is allocated. Generic over the
/// stream (a `quinn::RecvStream` in the node and the SDK; a byte slice in the fuzz target).
pub async fn read_frame<R: tokio::io::AsyncRead + Unpin + ?Sized>(
    recv: &mut R,
    max: usize,
) -> Result<Option<Vec<u8>>, FrameError> {
    let mut header = [0u8; 4];
    match fill(recv, &mut header).await? {
        0 => return Ok(None),
        4 => {}
        _ => return Err(FrameError::Truncated),
    }
    let len = u32::from_be_bytes(header) as usize;
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    // The buffer grows with the bytes that arrive, not with the announced length: a peer
    // announcing `max` and then sending nothing holds at most `FIRST_READ` bytes of ours.
    let mut body = Vec::with_capacity(len.min(FIRST_READ));
    (&mut *recv)
        .take(len as u64)
        .read_to_end(&mut body)
        .await
        .map_err(|e| FrameError::Stream(e.kind()))?;
    if body.len() < len {
        return Err(FrameError::Truncated);
    }
    Ok(Some(body))
}

/// The buffer a frame body starts with; it doubles as bytes arrive.
const FIRST_READ: usize = 16 << 10;

/// Reads until `buf` is full or the stream ends; returns the bytes read.
async fn fill<R: tokio::io::AsyncRead + Unpin + ?Sized>(
    recv: &mut R,
    buf: &mut [u8],
) -> Result<usize, FrameError> {
    let mut n = 0;
    while n < buf.len() {
        let mut rb = tokio::io::ReadBuf::new(&mut buf[n..]);
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut *recv).poll_read(cx, &mut rb))
            .await
            .map_err(|e| FrameError::Stream(e.kind()))?;
        match rb.filled().len() {
            0 => break,
            got => n += got,
        }
    }
    Ok(n)
}

/// SHA-256 of a DER certificate: what a client pins.
pub fn fingerprint(cert_der: &[u8]) -> [u8; 32] {
    Sha256::digest(cert_der).into()
}

/// Parses a fingerprint as printed by the node (64 hex digits, `:` separators allowed).
pub fn parse_fingerprint(text: &str) -> Option<[u8; 32]> {
    let hex: String = text.trim().chars().filter(|c| *c != ':').collect();
    hex::decode(hex).ok()?.try_into().ok()
}

/// rustls with the `ring` provider (the process-wide default is not relied upon).
pub fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Accepts exactly one server certificate: the end-entity certificate whose SHA-256 is the
/// pinned fingerprint (compared in constant time), with no chain; the handshake signature
/// must still verify under that certificate's key (TLS 1.3 only).
#[derive(Debug)]
pub struct PinnedCert {
    fingerprint: [u8; 32],
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl PinnedCert {
    pub fn new(fingerprint: [u8; 32]) -> Self {
        Self {
            fingerprint,
            provider: crypto_provider(),
        }
    }
}

impl rustls::client::danger::ServerCertVerifier for PinnedCert {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        use subtle::ConstantTimeEq as _;
        let matches: bool = fingerprint(end_entity).ct_eq(&self.fingerprint).into();
        if matches && intermediates.is_empty() {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &rustls::pki_types::CertificateDer<'_>,
        _dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        // QUIC is TLS 1.3 only
        Err(rustls::Error::PeerIncompatible(
            rustls::PeerIncompatible::Tls13RequiredForQuic,
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_and_hostile_ones_get_typed_errors() {
        for r in [
            Request::Submit(vec![1, 2, 3]),
            Request::Subscribe {
                namespace: Namespace(7),
                from: Height(1 << 40),
            },
            Request::Release { height: Height(9) },
            Request::Committee,
            Request::EvidencePage {
                kind: None,
                member: None,
                from: 0,
                limit: 64,
            },
            Request::EvidencePage {
                kind: Some(EvidenceKind::DoubleSignal),
                member: Some(3),
                from: 1 << 50,
                limit: u32::MAX,
            },
            Request::Evidence { id: [9; 32] },
            Request::SubscribeEvidence { from: 77 },
        ] {
            assert_eq!(Request::from_bytes(&r.to_bytes()), Ok(r));
        }
        assert_eq!(
            Request::from_bytes(&[]),
            Err(FrameError::Malformed("a request is version, op, args"))
        );
        assert_eq!(
            Request::from_bytes(&[2, op::SUBMIT]),
            Err(FrameError::UnsupportedVersion(2))
        );
        assert_eq!(
            Request::from_bytes(&[VERSION, 99]),
            Err(FrameError::UnknownOp(99))
        );
        assert_eq!(
            Request::from_bytes(&[VERSION, op::SUBSCRIBE, 0, 0]).map_err(|e| e.code()),
            Err("malformed")
        );
        assert_eq!(
            Request::from_bytes(&[VERSION, op::COMMITTEE, 0]).map_err(|e| e.code()),
            Err("malformed")
        );
        // evidence requests: an unknown kind code, a bad flag, a short id
        let mut page = Request::EvidencePage {
            kind: None,
            member: Some(1),
            from: 0,
            limit: 1,
        }
        .to_bytes();
        page[2 + 12] = 3;
        assert_eq!(
            Request::from_bytes(&page),
            Err(FrameError::Malformed("unknown evidence kind"))
        );
        page[2 + 12] = 0;
        page[2 + 13] = 2;
        assert_eq!(
            Request::from_bytes(&page).map_err(|e| e.code()),
            Err("malformed")
        );
        assert_eq!(
            Request::from_bytes(&[VERSION, op::EVIDENCE, 1, 2]).map_err(|e| e.code()),
            Err("malformed")
        );
    }

    /// A stream that serves `data` and records the largest read buffer it was offered.
    struct Recorder {
        data: Vec<u8>,
        at: usize,
        largest: usize,
    }

    impl tokio::io::AsyncRead for Recorder {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            self.largest = self.largest.max(buf.remaining());
            let n = buf.remaining().min(self.data.len() - self.at).min(1000);
            buf.put_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn a_frame_announcing_the_maximum_costs_only_the_bytes_sent() {
        let mut data = (MAX_ANSWER as u32).to_be_bytes().to_vec();
        data.extend([7u8; 100]);
        let mut r = Recorder {
            data,
            at: 0,
            largest: 0,
        };
        assert_eq!(
            read_frame(&mut r, MAX_ANSWER).await,
            Err(FrameError::Truncated)
        );
        assert!(r.largest <= FIRST_READ, "offered {} bytes", r.largest);

        // a whole frame is read, and a frame one byte over `max` is refused before its body
        let mut data = 5u32.to_be_bytes().to_vec();
        data.extend(b"hello");
        data.extend(6u32.to_be_bytes());
        let mut r = Recorder {
            data,
            at: 0,
            largest: 0,
        };
        assert_eq!(read_frame(&mut r, 5).await, Ok(Some(b"hello".to_vec())));
        assert_eq!(
            read_frame(&mut r, 5).await,
            Err(FrameError::TooLarge { len: 6, max: 5 })
        );
    }

    #[test]
    fn fingerprints_parse_with_or_without_separators() {
        let f = [0xabu8; 32];
        let plain = hex::encode(f);
        let colons = f.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>();
        assert_eq!(parse_fingerprint(&plain), Some(f));
        assert_eq!(parse_fingerprint(&colons.join(":")), Some(f));
        assert_eq!(parse_fingerprint(&plain[2..]), None);
    }
}
