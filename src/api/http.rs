//! The HTTP routes and their handlers (SPEC.md §7.1): every route's answer, status and error
//! code, with the per-route load shedding of §7.3.

use super::*;

/// A costly read route: at most `limit` run at once (tower's `ConcurrencyLimit`); beyond
/// that, `LoadShed` answers `503 overloaded` at once instead of queueing.
pub(super) fn shed<S: Clone + Send + Sync + 'static>(
    route: MethodRouter<S>,
    limit: usize,
    what: &'static str,
) -> MethodRouter<S> {
    route.layer(
        tower::ServiceBuilder::new()
            .layer(HandleErrorLayer::new(
                move |_: tower::BoxError| async move { errors::overloaded(what) },
            ))
            .load_shed()
            .concurrency_limit(limit),
    )
}

pub(super) fn router(api: Api) -> Router {
    let reads = api.limits.reads;
    let evidence = evidence::EvidenceApi {
        hub: api.node.evidence().clone(),
        streams: api.streams.clone(),
    };
    Router::new()
        .route("/health", get(health))
        .route("/metrics", shed(get(prometheus), reads, "metrics"))
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/committee", get(committee))
        .route("/v1/status", get(status))
        .route("/v1/transactions", post(submit))
        .route("/v1/transactions/{id}", get(transaction))
        .route(
            "/v1/releases/{height}",
            shed(get(release), reads, "release"),
        )
        .route(
            "/v1/namespaces/{ns}/batches",
            shed(get(batches), reads, "page"),
        )
        .route("/v1/namespaces/{ns}/stream", get(stream))
        .route("/v1/stats/release_latency", get(latency))
        .route("/v1/rln/registry", get(rln_registry))
        .route("/v1/rln/leaves", get(rln_leaves))
        .route("/v1/slashing", get(slashing))
        .merge(evidence::router(evidence, reads))
        .fallback(errors::no_route)
        .method_not_allowed_fallback(errors::wrong_method)
        .with_state(api)
}

/// The routes served and every status each can answer, for the OpenAPI test (which fails if
/// the document differs); the hostile-client and schemathesis runs check the answers.
#[cfg(test)]
pub(super) const ROUTES: &[(&str, &str, &[u16])] = &[
    ("get", "/health", &[200]),
    ("get", "/metrics", &[200, 503]),
    ("get", "/v1/openapi.json", &[200]),
    ("get", "/v1/committee", &[200]),
    ("get", "/v1/status", &[200]),
    (
        "post",
        "/v1/transactions",
        &[202, 400, 408, 409, 413, 415, 429, 503],
    ),
    ("get", "/v1/transactions/{id}", &[200, 400, 404]),
    ("get", "/v1/releases/{height}", &[200, 400, 404, 410, 503]),
    ("get", "/v1/namespaces/{ns}/batches", &[200, 400, 410, 503]),
    ("get", "/v1/namespaces/{ns}/stream", &[200, 400, 410, 503]),
    ("get", "/v1/stats/release_latency", &[200]),
    ("get", "/v1/rln/registry", &[200, 404]),
    ("get", "/v1/rln/leaves", &[200, 404]),
    ("get", "/v1/slashing", &[200]),
    ("get", "/v1/evidence", &[200, 400, 503]),
    ("get", "/v1/evidence/stream", &[200, 400, 503]),
    ("get", "/v1/evidence/{id}", &[200, 400, 404, 503]),
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
        Some(leaves) => Json(json::RlnLeaves { leaves }).into_response(),
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
            json::SlashingItem {
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
    Json(json::SlashingList { evidence }).into_response()
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
    Json(json::NodeStatus {
        finalized_height: api.node.finalized_height(),
        next_release: api.node.next_release(),
        faulty_members: api.node.faulty_members().iter().map(|(_, m)| *m).collect(),
        resources: Some(api.resources.report()),
    })
    .into_response()
}

async fn committee(State(api): State<Api>) -> Response {
    Json(api.node.committee_now(api.committee.as_ref())).into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// The envelope of a submission: raw bytes, or JSON `{"envelope": base64}` (media types
/// compare case-insensitively, RFC 9110 §8.3.1).
fn envelope(headers: &HeaderMap, body: &[u8]) -> Result<Envelope, Refusal> {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream");
    let ctype = ctype.split(';').next().unwrap_or("").trim();
    let bytes = if ctype.eq_ignore_ascii_case("application/octet-stream") {
        body.to_vec()
    } else if ctype.eq_ignore_ascii_case("application/json") {
        let parsed: json::SubmitJson = serde_json::from_slice(body).map_err(malformed)?;
        json::base64_decode(&parsed.envelope).ok_or_else(|| malformed("envelope is not base64"))?
    } else {
        return Err(refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("{ctype}: send application/octet-stream or application/json"),
        ));
    };
    Envelope::parse(&bytes).map_err(|e| match e {
        DecodeError::Length { len, max, .. } if len > max => {
            refusal(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e)
        }
        _ => malformed(e),
    })
}

fn too_large() -> Refusal {
    refusal(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("request bodies are at most {MAX_BODY} bytes"),
    )
}

/// Reads a request body of at most `MAX_BODY` bytes within `limits.body_timeout`. An
/// announced `Content-Length` over the limit is refused before anything is read, so a client
/// that sent `Expect: 100-continue` gets `413` and never `100 Continue`.
async fn read_body(headers: &HeaderMap, body: Body, timeout: Duration) -> Result<Vec<u8>, Refusal> {
    if let Some(len) = headers.get(header::CONTENT_LENGTH) {
        let len = len
            .to_str()
            .ok()
            .and_then(|l| l.parse::<u64>().ok())
            .ok_or_else(|| malformed("Content-Length is not a number"))?;
        if len > MAX_BODY as u64 {
            return Err(too_large());
        }
    }
    let limited = http_body_util::Limited::new(body, MAX_BODY);
    match tokio::time::timeout(timeout, limited.collect()).await {
        Err(_) => Err(refusal(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            format!("the body was not sent within {} ms", timeout.as_millis()),
        )),
        Ok(Ok(collected)) => Ok(collected.to_bytes().to_vec()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Ok(Err(e)) => Err(malformed(format!("reading the body: {e}"))),
    }
}

async fn submit(
    State(api): State<Api>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let ct = match read_body(&headers, body, api.limits.body_timeout).await {
        Ok(body) => envelope(&headers, &body),
        Err(r) => Err(r),
    };
    let ct = match ct {
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
        .ok_or_else(|| malformed("id: 64 hex digits"))
}

async fn transaction(State(api): State<Api>, PathParam(id): PathParam<String>) -> Response {
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

async fn release(State(api): State<Api>, PathParam(height): PathParam<u64>) -> Response {
    let height = Height(height);
    match api.releases.get(height) {
        Some(b) => (
            [(header::CONTENT_TYPE, "application/octet-stream")],
            b.to_bytes(),
        )
            .into_response(),
        // heights start at 1: 0 never existed
        None if height >= Height(1) && height < api.releases.first_height() => *pruned(),
        None => error(StatusCode::NOT_FOUND, "not_found", "not released yet"),
    }
}

#[derive(serde::Deserialize)]
struct Page {
    from: Option<u64>,
    limit: Option<u64>,
}

impl Page {
    /// The first height asked for (default 1), if this node still holds it.
    fn start(&self, releases: &ReleaseIndex) -> Result<Height, Refusal> {
        let from = Height(self.from.unwrap_or(1).max(1));
        if from < releases.first_height() {
            return Err(pruned());
        }
        Ok(from)
    }

    /// The page size asked for (default 64), within `1..=MAX_BATCHES_PER_PAGE`.
    fn limit(&self) -> Result<usize, Refusal> {
        match self.limit {
            None => Ok(64),
            Some(l @ 1..) if l <= MAX_BATCHES_PER_PAGE as u64 => Ok(l as usize),
            Some(l) => Err(malformed(format!(
                "limit {l}: between 1 and {MAX_BATCHES_PER_PAGE}"
            ))),
        }
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
    PathParam(ns): PathParam<u64>,
    QueryParams(page): QueryParams<Page>,
) -> Response {
    let (from, limit) = match (page.start(&api.releases), page.limit()) {
        (Ok(from), Ok(limit)) => (from, limit),
        (Err(r), _) | (_, Err(r)) => return *r,
    };
    Json(api.releases.page(Namespace(ns), from, limit)).into_response()
}

/// Server-sent events: one `batch` event per released height holding `ns` entries, from
/// `from`; the event id is the height, so a client resumes with `?from=id+1`. Each open
/// stream holds one of `limits.streams` permits.
async fn stream(
    State(api): State<Api>,
    PathParam(ns): PathParam<u64>,
    QueryParams(page): QueryParams<Page>,
) -> Response {
    if page.limit.is_some() {
        return *malformed("a stream takes no limit");
    }
    let from = match page.start(&api.releases) {
        Ok(from) => from,
        Err(r) => return *r,
    };
    let Ok(permit) = api.streams.clone().try_acquire_owned() else {
        return errors::overloaded("stream");
    };
    let index = api.releases.clone();
    let ns = Namespace(ns);
    let events = futures::stream::unfold((from, permit), move |(next, permit)| {
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
                    return Some((futures::stream::iter(events), (page.next, permit)));
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
