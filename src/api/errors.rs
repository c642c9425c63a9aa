//! Every non-2xx answer of the HTTP API in one format, `{"error":{"code","message"}}` (SPEC.md
//! §7.1), framework rejections included: path and query extractors that answer `malformed`,
//! JSON fallbacks for unknown routes and methods, `Retry-After` on 429 and 503.

use crate::node::core::mempool::Reject;
use crate::node::core::rln::RlnReject;
use crate::protocol::json::ErrorBody;
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::{header, request::Parts, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;

/// Seconds a client waits before retrying after `429` or `503` (the token bucket refills
/// within a second at any configured rate; a full queue drains in about a block interval).
pub(super) const RETRY_AFTER_S: u64 = 1;

/// An error response in the API's format.
pub(super) fn error(status: StatusCode, code: &'static str, msg: impl ToString) -> Response {
    let body = Json(ErrorBody::new(code, msg.to_string()));
    if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
        (
            status,
            [(header::RETRY_AFTER, RETRY_AFTER_S.to_string())],
            body,
        )
            .into_response()
    } else {
        (status, body).into_response()
    }
}

/// An error response, boxed for `Result`s (a `Response` is large).
pub(super) type Refusal = Box<Response>;

pub(super) fn refusal(status: StatusCode, code: &'static str, msg: impl ToString) -> Refusal {
    Box::new(error(status, code, msg))
}

pub(super) fn malformed(msg: impl ToString) -> Refusal {
    refusal(StatusCode::BAD_REQUEST, "malformed", msg)
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
        // a drop after admission, never an admission verdict
        Reject::NotOrdered(_) => (StatusCode::CONFLICT, "not_ordered"),
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

/// `Path<T>` whose rejection (a segment that does not parse, invalid percent-encoding or
/// UTF-8) is a `malformed` error.
pub(super) struct PathParam<T>(pub T);

impl<T, S> FromRequestParts<S> for PathParam<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(t)) => Ok(Self(t)),
            Err(e) => Err(*malformed(e.body_text())),
        }
    }
}

/// `Query<T>` whose rejection (an unknown shape, a number out of range, invalid
/// percent-encoding) is a `malformed` error.
pub(super) struct QueryParams<T>(pub T);

impl<T, S> FromRequestParts<S> for QueryParams<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(t)) => Ok(Self(t)),
            Err(e) => Err(*malformed(e.body_text())),
        }
    }
}

/// The answer for a route that does not exist.
pub(super) async fn no_route() -> Response {
    error(StatusCode::NOT_FOUND, "not_found", "no such route")
}

/// The answer for a route that exists under other methods.
pub(super) async fn wrong_method() -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}

/// The answer when a route's concurrency limit sheds a request.
pub(super) fn overloaded(what: &str) -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "overloaded",
        format!("too many concurrent {what} requests"),
    )
}
