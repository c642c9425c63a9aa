//! The evidence routes (SPEC.md §2.6, §7.1): the member's evidence book, paged and filtered,
//! one piece by id (JSON, or its raw encoding), and a stream that replays the book and then
//! follows it. They read only the [`EvidenceHub`], so they are served (and tested) on a
//! router of their own, merged into the API's.

use super::errors::{self, error, malformed, PathParam, QueryParams, Refusal};
use super::http::shed;
use crate::ledger::evidence::EvidenceKind;
use crate::node::core::evidence::{Filter, Record};
use crate::node::EvidenceHub;
use crate::protocol::json::{EvidenceItem, EvidencePage};
use axum::{
    extract::State,
    http::{header, StatusCode},
    response::{
        sse::{Event, KeepAlive, Sse},
        IntoResponse, Response,
    },
    routing::get,
    Json, Router,
};
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;

/// Most pieces one `GET /v1/evidence` returns.
pub const MAX_EVIDENCE_PER_PAGE: usize = 256;
/// Pieces one `GET /v1/evidence` returns when no `limit` is given.
pub const DEFAULT_EVIDENCE_PAGE: usize = 64;
/// Pieces a stream reads from the book at a time.
const STREAM_PAGE: usize = 16;
/// Bytes of canonical encodings one page or one read of a stream holds, beyond its first
/// piece: a piece of wrong shares carries its block's ciphertexts (megabytes), and a page
/// of them at the full `limit` would take gigabytes as hex.
pub const MAX_PAGE_ENCODED: usize = 8 << 20;

#[derive(Clone)]
pub(super) struct EvidenceApi {
    pub(super) hub: EvidenceHub,
    /// The transport's stream permits (shared with release streams).
    pub(super) streams: Arc<tokio::sync::Semaphore>,
}

/// The evidence routes, for any outer router state.
pub(super) fn router<S: Clone + Send + Sync + 'static>(
    api: EvidenceApi,
    reads: usize,
) -> Router<S> {
    Router::new()
        .route("/v1/evidence", shed(get(page), reads, "evidence page"))
        .route("/v1/evidence/stream", get(stream))
        .route("/v1/evidence/{id}", shed(get(by_id), reads, "evidence"))
        .with_state(api)
}

/// The JSON of a record.
pub(crate) fn item(r: &Record) -> EvidenceItem {
    EvidenceItem {
        seq: r.seq,
        id: hex::encode(r.id),
        kind: r.kind,
        accused: r.accused,
        height: r.height,
        encoded: hex::encode(&r.bytes),
    }
}

/// The first of `records` whose encodings fit in [`MAX_PAGE_ENCODED`] (at least one), and
/// whether any were cut.
fn bounded(mut records: Vec<Record>) -> (Vec<Record>, bool) {
    let mut total = 0;
    let keep = records
        .iter()
        .position(|r| {
            total += r.bytes.len();
            total > MAX_PAGE_ENCODED
        })
        .map_or(records.len(), |i| i.max(1));
    let cut = keep < records.len();
    records.truncate(keep);
    (records, cut)
}

/// A page of `hub` (the `next` rule of [`EvidencePage`]).
pub(crate) fn page_of(hub: &EvidenceHub, filter: &Filter, from: u64, limit: usize) -> EvidencePage {
    let (records, cut) = bounded(hub.page(filter, from, limit));
    let next = match records.last() {
        Some(last) if cut || records.len() == limit => Some(last.seq + 1),
        _ => None,
    };
    EvidencePage {
        evidence: records.iter().map(item).collect(),
        next,
    }
}

#[derive(serde::Deserialize)]
struct PageQuery {
    kind: Option<String>,
    member: Option<u32>,
    from: Option<u64>,
    limit: Option<u64>,
}

/// `kind` by its stable name.
fn kind(name: &str) -> Result<EvidenceKind, Refusal> {
    EvidenceKind::from_name(name).ok_or_else(|| {
        let names: Vec<_> = EvidenceKind::ALL.iter().map(|k| k.name()).collect();
        malformed(format!("kind {name:?}: one of {}", names.join(", ")))
    })
}

/// The page size asked for, within `1..=MAX_EVIDENCE_PER_PAGE`.
fn limit(limit: Option<u64>) -> Result<usize, Refusal> {
    match limit {
        None => Ok(DEFAULT_EVIDENCE_PAGE),
        Some(l @ 1..) if l <= MAX_EVIDENCE_PER_PAGE as u64 => Ok(l as usize),
        Some(l) => Err(malformed(format!(
            "limit {l}: between 1 and {MAX_EVIDENCE_PER_PAGE}"
        ))),
    }
}

async fn page(State(api): State<EvidenceApi>, QueryParams(q): QueryParams<PageQuery>) -> Response {
    let kind = match q.kind.as_deref().map(kind).transpose() {
        Ok(k) => k,
        Err(r) => return *r,
    };
    let limit = match limit(q.limit) {
        Ok(l) => l,
        Err(r) => return *r,
    };
    let filter = Filter {
        kind,
        member: q.member,
    };
    Json(page_of(&api.hub, &filter, q.from.unwrap_or(0), limit)).into_response()
}

#[derive(serde::Deserialize)]
struct ById {
    format: Option<String>,
}

/// One piece: its JSON, or with `?format=raw` its canonical encoding
/// (`application/octet-stream`).
async fn by_id(
    State(api): State<EvidenceApi>,
    PathParam(id): PathParam<String>,
    QueryParams(q): QueryParams<ById>,
) -> Response {
    let raw = match q.format.as_deref() {
        None | Some("json") => false,
        Some("raw") => true,
        Some(other) => return *malformed(format!("format {other:?}: json or raw")),
    };
    let Some(id) = hex::decode(&id)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
    else {
        return *malformed("id: 64 hex digits");
    };
    match api.hub.get(&id) {
        Some(r) if raw => (
            [(header::CONTENT_TYPE, "application/octet-stream")],
            r.bytes.to_vec(),
        )
            .into_response(),
        Some(r) => Json(item(&r)).into_response(),
        None => error(StatusCode::NOT_FOUND, "not_found", "no such evidence here"),
    }
}

#[derive(serde::Deserialize)]
struct StreamQuery {
    from: Option<u64>,
    limit: Option<u64>,
}

/// Where a stream stands: the next `seq` it sends, and the feed of new records.
pub(crate) struct Follower {
    hub: EvidenceHub,
    feed: tokio::sync::broadcast::Receiver<Record>,
    next: u64,
}

impl Follower {
    /// Follows `hub` from `seq = from` (subscribed before the book is read, so nothing
    /// written in between is missed).
    pub(crate) fn new(hub: EvidenceHub, from: u64) -> Self {
        Self {
            feed: hub.subscribe(),
            hub,
            next: from,
        }
    }

    /// The next records in `seq` order, each once: from the book while it holds some past
    /// the cursor, then from the feed. A record past the cursor on the feed, or a lagged
    /// feed, sends it back to the book (a record is in the book before it is on the feed),
    /// so nothing is skipped. `None` once the member is gone.
    pub(crate) async fn next(&mut self) -> Option<Vec<Record>> {
        loop {
            let (page, _) = bounded(self.hub.page(&Filter::default(), self.next, STREAM_PAGE));
            if let Some(last) = page.last() {
                self.next = last.seq + 1;
                return Some(page);
            }
            match self.feed.recv().await {
                Ok(r) if r.seq == self.next => {
                    self.next += 1;
                    return Some(vec![r]);
                }
                Ok(r) if r.seq < self.next => {}
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

/// Server-sent events: one `evidence` event per piece, from `seq = from` (default 0) in
/// order, then each new piece as it becomes durable; the event id is the `seq`, so a client
/// resumes with `?from=id+1`. Each open stream holds one of the transport's stream permits.
async fn stream(
    State(api): State<EvidenceApi>,
    QueryParams(q): QueryParams<StreamQuery>,
) -> Response {
    if q.limit.is_some() {
        return *malformed("a stream takes no limit");
    }
    let Ok(permit) = api.streams.clone().try_acquire_owned() else {
        return errors::overloaded("stream");
    };
    let follower = Follower::new(api.hub.clone(), q.from.unwrap_or(0));
    let events = futures::stream::unfold((follower, permit), |(mut f, permit)| async move {
        let records = f.next().await?;
        let events: Vec<Result<Event, Infallible>> = records
            .iter()
            .map(|r| {
                Ok(Event::default()
                    .event("evidence")
                    .id(r.seq.to_string())
                    .json_data(item(r))
                    .expect("evidence serializes"))
            })
            .collect();
        Some((futures::stream::iter(events), (f, permit)))
    });
    use futures::StreamExt as _;
    Sse::new(events.flatten())
        .keep_alive(KeepAlive::default())
        .into_response()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ledger::block::Block;
    use crate::ledger::evidence::{Accused, Evidence, WrongShares};
    use crate::ledger::signed::SignedBatch;
    use crate::ledger::{Digest, Height, KeyEpoch};
    use crate::protocol::json::ErrorBody;
    use curtain_crypto::ShareBatch;
    use std::net::SocketAddr;
    use std::time::Duration;

    /// Adds a piece to the book as the persist actor does, with its encoding.
    fn add(
        hub: &EvidenceHub,
        e: &Evidence,
    ) -> Result<crate::node::core::evidence::Record, crate::node::core::evidence::NotAdded> {
        hub.insert(e, e.to_bytes().into())
    }

    /// A piece of wrong-shares evidence against `member` at `height` (it decodes; it does not
    /// verify, which the book does not ask).
    pub(crate) fn piece(member: u32, height: u64) -> Evidence {
        let block = Block::new(Digest::default(), Height(height), Vec::new());
        let mut batch = vec![1u8];
        batch.extend([7u8; 32]);
        batch.extend(member.to_be_bytes());
        batch.extend(0u32.to_be_bytes());
        let batch = ShareBatch::from_bytes(&batch).unwrap();
        let signed = SignedBatch::sign(
            &[0; 32],
            KeyEpoch(0),
            Height(height),
            block.digest(),
            batch,
            |_| [0; 64],
        );
        Evidence::WrongShares(Box::new(WrongShares::new(signed, block, Vec::new())))
    }

    /// Serves the evidence routes of `hub` on a loopback port.
    async fn serve(hub: EvidenceHub, streams: usize) -> SocketAddr {
        let api = EvidenceApi {
            hub,
            streams: Arc::new(tokio::sync::Semaphore::new(streams)),
        };
        let app: Router = router(api, 4).fallback(errors::no_route);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    async fn get(addr: SocketAddr, path: &str) -> (u16, Vec<u8>) {
        let r = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
        (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
    }

    async fn page(addr: SocketAddr, path: &str) -> EvidencePage {
        let (status, body) = get(addr, path).await;
        assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
        serde_json::from_slice(&body).unwrap()
    }

    #[track_caller]
    fn refused(answer: &(u16, Vec<u8>), status: u16, code: &str) {
        let body: ErrorBody = serde_json::from_slice(&answer.1).unwrap();
        assert_eq!((answer.0, body.error.code.as_str()), (status, code));
    }

    /// Pages follow `seq` with `next`, filters select by kind and member, and every bad
    /// query is a typed `400`.
    #[tokio::test]
    async fn evidence_pages_filter_and_refuse_bad_queries() {
        let hub = EvidenceHub::default();
        for h in 1..=5 {
            for m in [1, 3] {
                add(&hub, &piece(m, h)).unwrap();
            }
        }
        let addr = serve(hub.clone(), 4).await;

        let all = page(addr, "/v1/evidence").await;
        assert_eq!(all.evidence.len(), 10);
        assert_eq!(all.next, None);
        assert!(all
            .evidence
            .iter()
            .enumerate()
            .all(|(i, e)| e.seq == i as u64));

        let first = page(addr, "/v1/evidence?limit=4").await;
        assert_eq!(first.evidence.len(), 4);
        assert_eq!(first.next, Some(4));
        let second = page(addr, "/v1/evidence?limit=4&from=4").await;
        assert_eq!(second.evidence[0].seq, 4);
        let last = page(addr, "/v1/evidence?limit=4&from=8").await;
        assert_eq!((last.evidence.len(), last.next), (2, None));

        let threes = page(addr, "/v1/evidence?member=3&kind=wrong_shares").await;
        assert_eq!(threes.evidence.len(), 5);
        for e in &threes.evidence {
            assert!(matches!(e.accused, Accused::Member { index: 3, .. }));
            assert_eq!(e.kind, EvidenceKind::WrongShares);
            let bytes = hex::decode(&e.encoded).unwrap();
            assert_eq!(hex::encode(crate::ledger::evidence::id_of(&bytes)), e.id);
            assert_eq!(Evidence::from_bytes(&bytes).unwrap().accused(), e.accused);
        }
        let none = page(addr, "/v1/evidence?kind=equivocation").await;
        assert!(none.evidence.is_empty());
        assert!(page(addr, "/v1/evidence?member=2")
            .await
            .evidence
            .is_empty());
        assert!(page(addr, "/v1/evidence?from=99").await.evidence.is_empty());

        for bad in [
            "/v1/evidence?kind=nonsense",
            "/v1/evidence?limit=0",
            "/v1/evidence?limit=257",
            "/v1/evidence?from=-1",
            "/v1/evidence?member=x",
            "/v1/evidence?from=18446744073709551616",
        ] {
            refused(&get(addr, bad).await, 400, "malformed");
        }
    }

    /// A page stops at `MAX_PAGE_ENCODED` bytes of encodings (with at least one piece) and
    /// then says where to go on.
    #[test]
    fn evidence_pages_are_bounded_in_bytes() {
        let record = |seq: u64, len: usize| Record {
            seq,
            id: [0; 32],
            kind: EvidenceKind::WrongShares,
            accused: Accused::Member {
                key_epoch: KeyEpoch(0),
                index: 0,
            },
            height: None,
            bytes: vec![0u8; len].into(),
        };
        let third = MAX_PAGE_ENCODED / 3;
        let (kept, cut) = bounded((0..5).map(|s| record(s, third)).collect());
        assert_eq!((kept.len(), cut), (3, true));
        let (kept, cut) = bounded(vec![record(0, MAX_PAGE_ENCODED + 1), record(1, 1)]);
        assert_eq!((kept.len(), cut), (1, true));
        let (kept, cut) = bounded((0..4).map(|s| record(s, 10)).collect());
        assert_eq!((kept.len(), cut), (4, false));
    }

    /// One piece by id, as JSON or raw; an unknown id is `404 not_found`, a bad one `400`.
    #[tokio::test]
    async fn evidence_by_id_answers_json_raw_and_typed_errors() {
        let hub = EvidenceHub::default();
        let e = piece(3, 2);
        add(&hub, &e).unwrap();
        let addr = serve(hub, 4).await;
        let id = hex::encode(e.id());

        let (status, body) = get(addr, &format!("/v1/evidence/{id}")).await;
        assert_eq!(status, 200);
        let got: EvidenceItem = serde_json::from_slice(&body).unwrap();
        assert_eq!((got.seq, got.id.as_str()), (0, id.as_str()));
        assert_eq!(got.height, Some(Height(2)));
        let (status, raw) = get(addr, &format!("/v1/evidence/{id}?format=raw")).await;
        assert_eq!(status, 200);
        assert_eq!(raw, e.to_bytes());

        refused(
            &get(addr, &format!("/v1/evidence/{}", "ab".repeat(32))).await,
            404,
            "not_found",
        );
        refused(&get(addr, "/v1/evidence/abcd").await, 400, "malformed");
        refused(
            &get(addr, &format!("/v1/evidence/{id}?format=xml")).await,
            400,
            "malformed",
        );
    }

    /// The next SSE event of `body`'s stream: (`id`, data).
    async fn event(r: &mut reqwest::Response, buf: &mut String) -> (u64, EvidenceItem) {
        loop {
            if let Some(end) = buf.find("\n\n") {
                let block: String = buf.drain(..end + 2).collect();
                let mut id = None;
                let mut data = None;
                let mut name = None;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().parse().unwrap());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data = Some(serde_json::from_str(v.trim()).unwrap());
                    } else if let Some(v) = line.strip_prefix("event:") {
                        name = Some(v.trim().to_string());
                    }
                }
                if let (Some(id), Some(data)) = (id, data) {
                    assert_eq!(name.as_deref(), Some("evidence"));
                    return (id, data);
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), r.chunk())
                .await
                .expect("an event in time")
                .unwrap()
                .expect("the stream stays open");
            buf.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// A stream replays the book from `from`, then sends each new piece once, in order,
    /// including pieces written faster than the feed holds (the lag is read from the book);
    /// streams share the transport's permits.
    #[tokio::test]
    async fn evidence_stream_replays_then_follows_without_gaps() {
        let hub = EvidenceHub::default();
        for h in 1..=3 {
            add(&hub, &piece(1, h)).unwrap();
        }
        let addr = serve(hub.clone(), 1).await;
        let mut r = reqwest::get(format!("http://{addr}/v1/evidence/stream?from=1"))
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let mut buf = String::new();
        for want in 1..3 {
            let (id, item) = event(&mut r, &mut buf).await;
            assert_eq!((id, item.seq), (want, want));
        }
        // the only permit is held: another stream is shed
        refused(&get(addr, "/v1/evidence/stream").await, 503, "overloaded");
        // live, then more than the feed holds at once
        add(&hub, &piece(2, 1)).unwrap();
        assert_eq!(event(&mut r, &mut buf).await.0, 3);
        let burst = 1100u64;
        for h in 0..burst {
            // one accused each: the book keeps only a few pieces per accused
            add(&hub, &piece(100 + h as u32, 1)).unwrap();
        }
        for want in 4..4 + burst {
            assert_eq!(event(&mut r, &mut buf).await.0, want);
        }
        refused(
            &get(addr, "/v1/evidence/stream?limit=3").await,
            400,
            "malformed",
        );
    }
}
