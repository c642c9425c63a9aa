//! The wallet SDK: fetch the committee and check it against a pinned committee identity (or
//! a quorum of its members), build a label, encrypt, submit with
//! retries (resubmitting is idempotent: a duplicate is a success), follow a namespace's
//! released batches and **verify** them as a third party (finality certificate, block
//! contents, openings and outcomes) instead of trusting the member that served them.
//!
//! Node-free: a wallet depends on `curtain = { default-features = false }` and gets this
//! module without commonware, axum or storage (finality is checked by [`FinalityVerifier`]).

use crate::ledger::committee::{committee_id, CheckedCommittee, CommitteeParts};
use crate::ledger::evidence::{Evidence, EvidenceError, EvidenceKind, Judge, Verdict};
use crate::ledger::finality::{FinalityVerifier, MAX_PROOF_DISTANCE};
use crate::ledger::release::{ReleaseError, ReleasedBatch};
use crate::ledger::Height;
use crate::protocol::json::{
    CommitteeInfo, ErrorBody, EvidenceItem, EvidencePage, NodeStatus, PageJson, Receipt, TxStatus,
};
use curtain_crypto::{encrypt, Ciphertext, CommitteeKey, KeyEpoch, Label, Namespace, Padding};
use rand_core::CryptoRng;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

mod committee;
pub mod quic;
pub mod resubmit;
pub mod rln;

use committee::{choose_committee, choose_successor};
pub use committee::{unpinned_quorum, CommitteeId};
pub use resubmit::{Action, Included, Resubmission, ResubmitPolicy};

#[derive(Debug, thiserror::Error)]
pub enum SdkError {
    #[error("transport: {0}")]
    Transport(#[from] reqwest::Error),
    #[error("QUIC transport: {0}")]
    Quic(#[from] quic::QuicError),
    #[error("node refused ({status}): {code}: {message}")]
    Refused {
        /// HTTP status; 0 over QUIC (the code carries the meaning).
        status: u16,
        code: String,
        message: String,
    },
    #[error("unexpected answer: {0}")]
    Protocol(String),
    /// An HTTP answer body longer than the SDK reads for that request.
    #[error("answer body over {limit} bytes")]
    TooLarge { limit: usize },
    #[error("committee key: {0}")]
    Key(String),
    #[error("key file: {0}")]
    Keystore(#[from] crate::secrets::sealed::KeystoreError),
    #[error("encryption: {0}")]
    Encrypt(#[from] curtain_crypto::EncryptError),
    #[error("anonymous envelope: {0}")]
    Seal(#[from] crate::ledger::rln::SealError),
    #[error("gave up after {0} attempts")]
    Exhausted(usize),
    /// [`Client::submit_included`] tried every member and none reported it ordered within
    /// the deadline of the last acceptance.
    #[error(
        "not ordered: every one of the {members} members was tried (accepted by {accepted:?}), \
         none reported it ordered in time"
    )]
    NotIncluded {
        members: usize,
        /// The members that accepted it, in order.
        accepted: Vec<usize>,
    },
    /// A committee given to [`verify_evidence`] does not check.
    #[error("committee: {0}")]
    Committee(#[from] crate::ledger::committee::CommitteeError),
    /// The evidence does not hold: why.
    #[error("evidence does not hold: {0}")]
    Evidence(#[from] EvidenceError),
    #[error("released batch at height {height} does not verify: {reason}")]
    Unverified { height: Height, reason: String },
    /// Connecting with a pin: members answered, none with the pinned committee.
    #[error("no member served the pinned committee {pinned}: {answers}")]
    CommitteeMismatch { pinned: String, answers: String },
    /// Connecting without a pin: fewer than `needed` (n − f) of the members asked served one
    /// identical committee.
    #[error(
        "{agreeing} of the {asked} members asked agree on the committee, {needed} needed: \
         give more members or pin the committee id"
    )]
    NoQuorum {
        agreeing: usize,
        needed: usize,
        asked: usize,
    },
}

/// Each member once: a URL given twice (or with and without a trailing `/`) is not two
/// members agreeing.
fn distinct_urls(nodes: &[String]) -> Vec<&str> {
    let mut distinct: Vec<&str> = Vec::with_capacity(nodes.len());
    for node in nodes {
        if !distinct
            .iter()
            .any(|d| d.trim_end_matches('/') == node.trim_end_matches('/'))
        {
            distinct.push(node);
        }
    }
    distinct
}

/// Pooled connections idle longer than this are closed by the client: members close a
/// connection that waits longer than their request-head timeout (10 s by default, SPEC.md
/// §7.3), and a request sent on a connection the member is closing fails.
const POOL_IDLE: Duration = Duration::from_secs(5);

/// The SDK's HTTP client: requests time out after 10 s; idle connections are reused for
/// `POOL_IDLE`.
fn http_client() -> Result<reqwest::Client, SdkError> {
    Ok(reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(256)
        .pool_idle_timeout(POOL_IDLE)
        .build()?)
}

/// Largest body read for a small JSON answer (committee, status, receipt, transaction
/// status, RLN registry, error bodies): a committee of 1024 members is well under 1 MiB.
pub const MAX_SMALL_ANSWER: usize = 4 << 20;

/// Largest body read for a released batch (`GET /v1/releases/{h}`) or a page of batches: the
/// bound of one QUIC answer, which one released batch (block limits, SPEC.md §5.1) and its
/// JSON fit in. A page over it is asked again one batch at a time.
pub const MAX_BATCH_ANSWER: usize = crate::protocol::quic::MAX_ANSWER;

/// Largest `GET /v1/rln/leaves` body for a tree of `depth`: every leaf as a quoted 64-digit
/// hex string and a comma.
fn max_leaves_answer(depth: u8) -> usize {
    (68usize << depth.min(32)) + 64
}

impl SdkError {
    /// Worth trying again (elsewhere or later).
    pub fn transient(&self) -> bool {
        match self {
            Self::Transport(_) | Self::Quic(_) => true,
            Self::Refused { code, .. } => code == "rate_limited" || code == "overloaded",
            _ => false,
        }
    }
}

/// A client of one committee, talking to any of its members.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    nodes: Vec<String>,
    committee: Arc<CommitteeInfo>,
    id: CommitteeId,
    key: Arc<CommitteeKey>,
    verifier: Arc<FinalityVerifier>,
    /// Attempts per submission (over the members in turn).
    pub attempts: usize,
}

impl Client {
    /// Fetches the committee from `nodes` (base URLs, e.g. `http://127.0.0.1:8100`) and
    /// checks it (SPEC.md §7.4). With `pin` (a committee id known out of band, e.g.
    /// [`CommitteeId::from_committee_file`]), the first member whose answer has that identity
    /// is enough, and members serving anything else are skipped ([`SdkError::CommitteeMismatch`]
    /// if none does). Without a pin, a quorum of the members asked (distinct URLs) must serve
    /// one identical committee ([`unpinned_quorum`], else [`SdkError::NoQuorum`]): a client
    /// given fewer than `n − f` members must pin.
    pub async fn connect(nodes: Vec<String>, pin: Option<CommitteeId>) -> Result<Self, SdkError> {
        let http = http_client()?;
        let distinct = distinct_urls(&nodes);
        let mut answers = Vec::with_capacity(distinct.len());
        for &node in &distinct {
            let answer =
                get_json::<CommitteeInfo>(&http, &format!("{node}/v1/committee"), MAX_SMALL_ANSWER)
                    .await;
            let pinned_hit = pin.is_some_and(|p| {
                answer
                    .as_ref()
                    .is_ok_and(|i| CheckedCommittee::check(i).is_ok_and(|c| c.id == p.0))
            });
            answers.push((node.to_string(), answer));
            if pinned_hit {
                break;
            }
        }
        let (info, checked) = choose_committee(answers, distinct.len(), pin)?;
        Ok(Self::with_committee(http, nodes, info, checked))
    }

    /// A client of the committee `info` (e.g. fetched from one member over QUIC with
    /// [`quic::QuicClient::committee`]), accepted only if its identity is `pin`; `nodes`
    /// (HTTP base URLs) may be empty if only QUIC is used.
    pub fn from_committee(
        nodes: Vec<String>,
        info: CommitteeInfo,
        pin: CommitteeId,
    ) -> Result<Self, SdkError> {
        let http = http_client()?;
        let (info, checked) = choose_committee(vec![("answer".into(), Ok(info))], 1, Some(pin))?;
        Ok(Self::with_committee(http, nodes, info, checked))
    }

    fn with_committee(
        http: reqwest::Client,
        nodes: Vec<String>,
        info: CommitteeInfo,
        checked: CheckedCommittee,
    ) -> Self {
        Self {
            http,
            nodes,
            committee: Arc::new(info),
            id: CommitteeId(checked.id),
            key: Arc::new(checked.key),
            verifier: Arc::new(checked.verifier),
            attempts: 8,
        }
    }

    /// Follows a resharing (SPEC.md §7.4, "Following key epochs"): asks every member given
    /// for its committee and adopts a later key epoch's committee with the same group keys if
    /// a quorum of the members asked serves it identically; from then on labels carry the new
    /// key epoch and [`Client::committee_id`] is the new identity. Returns whether it adopted
    /// one. A client given fewer than `n − f` members cannot follow (re-pin it with the new
    /// committee file); nothing changes on an error.
    pub async fn follow_epoch(&mut self) -> Result<bool, SdkError> {
        let distinct = distinct_urls(&self.nodes);
        let mut answers = Vec::with_capacity(distinct.len());
        for node in &distinct {
            let url = format!("{node}/v1/committee");
            let answer = get_json::<CommitteeInfo>(&self.http, &url, MAX_SMALL_ANSWER).await;
            answers.push((node.to_string(), answer));
        }
        self.follow_epoch_from(answers, distinct.len())
    }

    /// [`Client::follow_epoch`] on answers fetched elsewhere (e.g. over QUIC).
    pub fn follow_epoch_from(
        &mut self,
        answers: Vec<(String, Result<CommitteeInfo, SdkError>)>,
        asked: usize,
    ) -> Result<bool, SdkError> {
        let current = CheckedCommittee::check(&self.committee)
            .map_err(|e| SdkError::Protocol(format!("own committee: {e}")))?;
        let Some((info, checked)) =
            choose_successor(&current, self.committee.key_epoch, answers, asked)?
        else {
            return Ok(false);
        };
        self.committee = Arc::new(info);
        self.id = CommitteeId(checked.id);
        self.key = Arc::new(checked.key);
        self.verifier = Arc::new(checked.verifier);
        Ok(true)
    }

    /// The identity of the committee this client checked (and verifies releases against).
    pub fn committee_id(&self) -> CommitteeId {
        self.id
    }

    /// Member `i`'s base URL (members in turn).
    fn node(&self, i: usize) -> Result<&str, SdkError> {
        match self.nodes.len() {
            0 => Err(SdkError::Protocol("no HTTP nodes given".into())),
            n => Ok(&self.nodes[i % n]),
        }
    }

    pub fn committee(&self) -> &CommitteeInfo {
        &self.committee
    }

    pub fn key(&self) -> &Arc<CommitteeKey> {
        &self.key
    }

    pub fn label(&self, namespace: Namespace, sender: &[u8]) -> Result<Label, SdkError> {
        Label::new(self.key.id(), self.committee.key_epoch, namespace, sender)
            .ok_or_else(|| SdkError::Protocol("sender tag too long".into()))
    }

    /// Encrypts `payload` for `namespace` under the pinned key.
    pub fn encrypt<R: CryptoRng + ?Sized>(
        &self,
        namespace: Namespace,
        sender: &[u8],
        payload: &[u8],
        rng: &mut R,
    ) -> Result<Ciphertext, SdkError> {
        let label = self.label(namespace, sender)?;
        Ok(encrypt(
            self.key.encryption_key(),
            &label,
            payload,
            Padding::Buckets,
            rng,
        )?)
    }

    /// Submits `ct`, starting with member `first` and moving on to the next after a
    /// transient failure (with backoff); a duplicate counts as accepted (resubmission is
    /// idempotent). Returns the ciphertext id once some member made it durable.
    pub async fn submit(&self, ct: &Ciphertext, first: usize) -> Result<[u8; 32], SdkError> {
        self.submit_envelope(ct.to_bytes(), ct.id(), first).await
    }

    /// [`Self::submit`] for any envelope encoding (open or anonymous) whose id is `id`.
    pub async fn submit_envelope(
        &self,
        body: Vec<u8>,
        id: [u8; 32],
        first: usize,
    ) -> Result<[u8; 32], SdkError> {
        self.submit_from(&body, id, first).await.map(|_| id)
    }

    /// [`Self::submit_envelope`], returning the member that accepted it.
    async fn submit_from(
        &self,
        body: &[u8],
        id: [u8; 32],
        first: usize,
    ) -> Result<usize, SdkError> {
        let mut backoff = Duration::from_millis(20);
        for attempt in 0..self.attempts {
            let member = (first + attempt) % self.nodes.len().max(1);
            match self.post_envelope(member, body, id).await {
                Ok(()) => return Ok(member),
                Err(e) if !e.transient() => return Err(e),
                Err(_) => {}
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
        Err(SdkError::Exhausted(self.attempts))
    }

    /// Submits to `member` only (the resubmission policy chose it): transient failures are
    /// tried again there a few times, never at another member.
    async fn submit_to(&self, member: usize, body: &[u8], id: [u8; 32]) -> Result<(), SdkError> {
        const TRIES: usize = 3;
        let mut backoff = Duration::from_millis(20);
        for _ in 1..TRIES {
            match self.post_envelope(member, body, id).await {
                Err(e) if e.transient() => tokio::time::sleep(backoff).await,
                done => return done,
            }
            backoff *= 2;
        }
        self.post_envelope(member, body, id).await
    }

    /// One `POST /v1/transactions` to `member`: `Ok` once it made the envelope durable (202)
    /// or already has it (`duplicate`, `already_ordered`).
    async fn post_envelope(
        &self,
        member: usize,
        body: &[u8],
        id: [u8; 32],
    ) -> Result<(), SdkError> {
        let res = self
            .http
            .post(format!("{}/v1/transactions", self.node(member)?))
            .header("content-type", "application/octet-stream")
            .body(body.to_vec())
            .send()
            .await?;
        if res.status().as_u16() == 202 {
            let receipt: Receipt =
                serde_json::from_slice(&read_capped(res, MAX_SMALL_ANSWER).await?)
                    .map_err(|e| SdkError::Protocol(e.to_string()))?;
            if receipt.id != hex::encode(id) {
                return Err(SdkError::Protocol("receipt for another id".into()));
            }
            return Ok(());
        }
        match refused(res).await {
            SdkError::Refused { code, .. } if code == "duplicate" || code == "already_ordered" => {
                Ok(())
            }
            e => Err(e),
        }
    }

    /// Submits `body` (whose id is `id`) like [`Self::submit_envelope`], then follows it until
    /// a member reports it ordered, resubmitting to another member whenever none did within
    /// `policy.deadline` of the latest acceptance (the rule: [`resubmit`]). Members are this
    /// client's nodes; a member that drops what it accepted costs one deadline.
    /// [`SdkError::NotIncluded`] once every member was tried. The position returned is one
    /// member's report: [`Self::verify_release`] of that height proves it.
    pub async fn submit_included(
        &self,
        body: Vec<u8>,
        id: [u8; 32],
        first: usize,
        policy: ResubmitPolicy,
    ) -> Result<Included, SdkError> {
        let origin = tokio::time::Instant::now();
        let accepted_by = self.submit_from(&body, id, first).await?;
        let members = self.nodes.len();
        let mut wallet = Resubmission::new(members, accepted_by, origin.elapsed(), policy);
        loop {
            match wallet.next(origin.elapsed()) {
                Action::AskStatus { member } => {
                    // a failed question is "not ordered yet" too: the deadline moves on
                    let status = self.status(member, &id).await.ok().flatten();
                    wallet.on_status(origin.elapsed(), member, status.as_ref());
                }
                // any refusal, even a permanent one, only rules that member out: a Byzantine
                // member must not end the wallet's attempts by refusing
                Action::Resubmit { member } => match self.submit_to(member, &body, id).await {
                    Ok(()) => wallet.on_accepted(origin.elapsed(), member),
                    Err(_) => wallet.on_refused(member),
                },
                Action::Wait(pause) => tokio::time::sleep(pause).await,
                Action::Done(included) => return Ok(included),
                Action::GiveUp => {
                    return Err(SdkError::NotIncluded {
                        members,
                        accepted: wallet.accepted().to_vec(),
                    })
                }
            }
        }
    }

    /// [`Self::submit_included`] for a ciphertext.
    pub async fn submit_ciphertext_included(
        &self,
        ct: &Ciphertext,
        first: usize,
        policy: ResubmitPolicy,
    ) -> Result<Included, SdkError> {
        self.submit_included(ct.to_bytes(), ct.id(), first, policy)
            .await
    }

    /// Where transaction `id` stands at member `node`; `None` if it does not know it.
    pub async fn status(&self, node: usize, id: &[u8; 32]) -> Result<Option<TxStatus>, SdkError> {
        let url = format!("{}/v1/transactions/{}", self.node(node)?, hex::encode(id));
        match get_json::<TxStatus>(&self.http, &url, MAX_SMALL_ANSWER).await {
            Ok(s) => Ok(Some(s)),
            Err(SdkError::Refused { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Released batches of `namespace` from height `from`, as member `node` serves them. A
    /// page longer than [`MAX_BATCH_ANSWER`] is asked again with `limit = 1` (one batch always
    /// fits).
    pub async fn batches(
        &self,
        node: usize,
        namespace: Namespace,
        from: Height,
        limit: usize,
    ) -> Result<PageJson, SdkError> {
        let base = self.node(node)?;
        let url = |limit: usize| {
            format!("{base}/v1/namespaces/{namespace}/batches?from={from}&limit={limit}")
        };
        match get_json(&self.http, &url(limit), MAX_BATCH_ANSWER).await {
            Err(SdkError::TooLarge { .. }) if limit > 1 => {
                get_json(&self.http, &url(1), MAX_BATCH_ANSWER).await
            }
            page => page,
        }
    }

    /// Member `node`'s progress (`GET /v1/status`).
    pub async fn node_status(&self, node: usize) -> Result<NodeStatus, SdkError> {
        let url = format!("{}/v1/status", self.node(node)?);
        get_json(&self.http, &url, MAX_SMALL_ANSWER).await
    }

    /// The released batch at `height`, as member `node` serves it (not yet verified).
    pub async fn release(&self, node: usize, height: Height) -> Result<ReleasedBatch, SdkError> {
        let url = format!("{}/v1/releases/{height}", self.node(node)?);
        let r = self.http.get(&url).send().await?;
        if !r.status().is_success() {
            return Err(refused(r).await);
        }
        ReleasedBatch::from_bytes(&read_capped(r, MAX_BATCH_ANSWER).await?)
            .map_err(|e| SdkError::Protocol(e.to_string()))
    }

    /// Checks `batch` without trusting whoever served it: its finality proof is a valid
    /// finalization certificate of the committee for its block or for a descendant (then the
    /// released batches in between, fetched from member `node`, must link the two by parent
    /// digests, each rebuilt from its own contents); its entries are exactly its block's
    /// ciphertexts; every opening is correct under the pinned key and every outcome is what
    /// the opening gives. Only the checked committee's keys are used, which a resharing keeps
    /// (SPEC.md §9.8): batches of later key epochs verify too.
    pub async fn verify_release(&self, node: usize, batch: &ReleasedBatch) -> Result<(), SdkError> {
        self.verify_release_via(batch, |height| self.release(node, height))
            .await
    }

    /// [`Client::verify_release`] with the released batches past `batch` (needed when its
    /// proof finalizes a descendant) fetched by `fetch` (e.g. over QUIC).
    pub async fn verify_release_via<F, Fut>(
        &self,
        batch: &ReleasedBatch,
        fetch: F,
    ) -> Result<(), SdkError>
    where
        F: FnMut(Height) -> Fut,
        Fut: Future<Output = Result<ReleasedBatch, SdkError>>,
    {
        let unverified = |height: Height, reason: &dyn std::fmt::Display| SdkError::Unverified {
            height,
            reason: reason.to_string(),
        };
        let certified = self
            .verifier
            .verify(&batch.certificate)
            .map_err(|e| unverified(batch.height, &format!("finality certificate: {e}")))?;
        link_to_certified(batch, certified, fetch).await?;
        // Every key epoch of one key has the same `PK2`, the only part of the key an opening
        // is checked against (§9.8): entries of any epoch are checked under the pinned key
        // (and must carry its key id).
        batch
            .verify(
                |_| Some(Arc::clone(&self.key)),
                |_, _, _| true, // checked above
                &mut rand::rng(),
            )
            .map_err(|e| unverified(batch.height, &e))
    }

    /// A page of the evidence member `node` holds (`GET /v1/evidence`), as
    /// [`EvidenceReader::page`] reads it.
    pub async fn evidence(
        &self,
        node: usize,
        kind: Option<EvidenceKind>,
        member: Option<u32>,
        from: u64,
        limit: usize,
    ) -> Result<EvidencePage, SdkError> {
        self.evidence_reader(node)?
            .page(kind, member, from, limit)
            .await
    }

    /// One piece of evidence member `node` holds, as [`EvidenceReader::get`] reads it.
    pub async fn evidence_by_id(
        &self,
        node: usize,
        id: &[u8; 32],
    ) -> Result<Option<EvidenceItem>, SdkError> {
        self.evidence_reader(node)?.get(id).await
    }

    fn evidence_reader(&self, node: usize) -> Result<EvidenceReader, SdkError> {
        Ok(EvidenceReader {
            http: self.http.clone(),
            node: self.node(node)?.to_string(),
        })
    }

    /// Release-latency samples (ms) of member `node`.
    pub async fn release_latencies(&self, node: usize) -> Result<Vec<f64>, SdkError> {
        #[derive(serde::Deserialize)]
        struct Samples {
            samples_ms: Vec<f64>,
        }
        let url = format!("{}/v1/stats/release_latency", self.node(node)?);
        Ok(get_json::<Samples>(&self.http, &url, MAX_SMALL_ANSWER)
            .await?
            .samples_ms)
    }
}

/// Largest body read for one piece of evidence as JSON: its encoding in hex, and the rest.
pub const MAX_EVIDENCE_ANSWER: usize = 2 * crate::ledger::evidence::MAX_EVIDENCE_LEN + (64 << 10);

/// Reads one member's evidence book over HTTP. Nothing it reads is trusted: each piece is
/// checked to be what its id names, and whether it holds is [`verify_evidence`]'s question,
/// answered with a committee the caller trusts. So it needs no committee (unlike [`Client`]).
#[derive(Clone)]
pub struct EvidenceReader {
    http: reqwest::Client,
    node: String,
}

impl EvidenceReader {
    /// A reader of the member at `node` (base URL, e.g. `http://127.0.0.1:8100`).
    pub fn new(node: impl Into<String>) -> Result<Self, SdkError> {
        Ok(Self {
            http: http_client()?,
            node: node.into().trim_end_matches('/').to_string(),
        })
    }

    /// Up to `limit` pieces (1..=256) with `seq ≥ from`, of `kind` and accusing `member` if
    /// given. A page longer than [`MAX_BATCH_ANSWER`] is asked again with `limit = 1`.
    pub async fn page(
        &self,
        kind: Option<EvidenceKind>,
        member: Option<u32>,
        from: u64,
        limit: usize,
    ) -> Result<EvidencePage, SdkError> {
        let mut base = format!("{}/v1/evidence?from={from}", self.node);
        if let Some(k) = kind {
            base.push_str(&format!("&kind={}", k.name()));
        }
        if let Some(m) = member {
            base.push_str(&format!("&member={m}"));
        }
        let url = |limit: usize| format!("{base}&limit={limit}");
        let page: EvidencePage = match get_json(&self.http, &url(limit), MAX_BATCH_ANSWER).await {
            Err(SdkError::TooLarge { .. }) if limit > 1 => {
                get_json(&self.http, &url(1), MAX_EVIDENCE_ANSWER).await?
            }
            page => page?,
        };
        for item in &page.evidence {
            item_bytes(item)?;
        }
        Ok(page)
    }

    /// The piece with `id`; `None` if the member does not hold it.
    pub async fn get(&self, id: &[u8; 32]) -> Result<Option<EvidenceItem>, SdkError> {
        let url = format!("{}/v1/evidence/{}", self.node, hex::encode(id));
        let item: EvidenceItem = match get_json(&self.http, &url, MAX_EVIDENCE_ANSWER).await {
            Ok(item) => item,
            Err(SdkError::Refused { status: 404, .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        if item_bytes(&item)?.0 != *id {
            return Err(SdkError::Protocol("evidence for another id".into()));
        }
        Ok(Some(item))
    }
}

/// An item's id and canonical encoding, checked to agree.
pub fn item_bytes(item: &EvidenceItem) -> Result<([u8; 32], Vec<u8>), SdkError> {
    let bytes = hex::decode(&item.encoded)
        .map_err(|_| SdkError::Protocol("evidence encoding is not hex".into()))?;
    let id = crate::ledger::evidence::id_of(&bytes);
    if hex::encode(id) != item.id {
        return Err(SdkError::Protocol(format!(
            "evidence {} is not what its encoding hashes to",
            item.id
        )));
    }
    Ok((id, bytes))
}

/// Checks a piece of evidence (its canonical encoding) as a third party, with nothing but
/// the committees given (what `GET /v1/committee` serves, each checked against its own
/// committee id: pin those ids out of band) and, for anonymous senders' evidence, the RLN
/// verifying key. `Ok` names whom it accuses and the fault; [`SdkError::Evidence`] says why
/// it does not hold.
pub fn verify_evidence(
    bytes: &[u8],
    committees: &[CommitteeInfo],
    rln: Option<&curtain_circuits::VerifyingKey>,
) -> Result<Verdict, SdkError> {
    let committees = committees
        .iter()
        .map(CheckedCommittee::check)
        .collect::<Result<Vec<_>, _>>()?;
    let evidence = Evidence::from_bytes(bytes)?;
    let judge = Judge {
        committees: &committees,
        rln,
    };
    Ok(evidence.verify(&judge, &mut rand::rng())?)
}

/// Links `batch` to the block its finality proof certifies (`certified`): itself, or a
/// descendant at most [`MAX_PROOF_DISTANCE`] heights above (as far as a member searches for a
/// proof), through the released batches in between (`fetch`), each rebuilt from its own
/// contents and naming the previous one as parent.
async fn link_to_certified<F, Fut>(
    batch: &ReleasedBatch,
    certified: crate::ledger::Digest,
    mut fetch: F,
) -> Result<(), SdkError>
where
    F: FnMut(Height) -> Fut,
    Fut: Future<Output = Result<ReleasedBatch, SdkError>>,
{
    let unverified = |reason: &dyn std::fmt::Display| SdkError::Unverified {
        height: batch.height,
        reason: reason.to_string(),
    };
    let mut tip = batch.block;
    let mut height = batch.height;
    while tip != certified {
        height += 1;
        if height > batch.height.saturating_add(MAX_PROOF_DISTANCE) {
            return Err(unverified(&"certified block not found"));
        }
        let next = fetch(height).await?;
        if next.parent != tip || next.rebuild_block().digest() != next.block {
            return Err(unverified(&ReleaseError::BlockMismatch));
        }
        tip = next.block;
    }
    Ok(())
}

/// Reads `r`'s body, at most `cap` bytes ([`SdkError::TooLarge`] past it, from the declared
/// length when there is one, else as soon as the chunks read exceed it).
async fn read_capped(mut r: reqwest::Response, cap: usize) -> Result<Vec<u8>, SdkError> {
    let too_large = || SdkError::TooLarge { limit: cap };
    if r.content_length().is_some_and(|n| n > cap as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = r.chunk().await? {
        if chunk.len() > cap - body.len() {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

async fn refused(r: reqwest::Response) -> SdkError {
    let status = r.status().as_u16();
    match read_capped(r, MAX_SMALL_ANSWER).await {
        Ok(body) => match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(e) => SdkError::Refused {
                status,
                code: e.error.code,
                message: e.error.message,
            },
            Err(_) => SdkError::Protocol(format!("status {status} without an error body")),
        },
        Err(e) => e,
    }
}

/// GETs `url` and decodes its JSON answer, read up to `cap` bytes.
async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    cap: usize,
) -> Result<T, SdkError> {
    let r = http.get(url).send().await?;
    if !r.status().is_success() {
        return Err(refused(r).await);
    }
    serde_json::from_slice(&read_capped(r, cap).await?)
        .map_err(|e| SdkError::Protocol(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Digest;
    use std::io::{Read as _, Write as _};

    /// Empty released batches at heights `1..=k`, each naming the previous as parent.
    fn empty_chain(k: u64) -> Vec<ReleasedBatch> {
        let mut out: Vec<ReleasedBatch> = Vec::new();
        for height in 1..=k {
            let mut b = ReleasedBatch {
                height: Height(height),
                parent: out.last().map_or(Digest([0; 32]), |p| p.block),
                block: Digest([0; 32]),
                certificate: Vec::new(),
                namespaces: Vec::new(),
            };
            b.block = b.rebuild_block().digest();
            out.push(b);
        }
        out
    }

    /// A verifier follows a finality proof as far above the batch as a member searches for
    /// one (`MAX_PROOF_DISTANCE`), through linked batches, and no further.
    #[tokio::test]
    async fn a_proof_as_far_as_members_search_links_and_one_further_does_not() {
        let chain = empty_chain(MAX_PROOF_DISTANCE + 2);
        let fetch = |h: Height| {
            let b = chain[h.get() as usize - 1].clone();
            async move { Ok::<_, SdkError>(b) }
        };
        for distance in [0, 100, MAX_PROOF_DISTANCE] {
            let certified = chain[distance as usize].block;
            link_to_certified(&chain[0], certified, fetch)
                .await
                .unwrap();
        }
        let too_far = chain[MAX_PROOF_DISTANCE as usize + 1].block;
        assert!(matches!(
            link_to_certified(&chain[0], too_far, fetch).await,
            Err(SdkError::Unverified {
                height: Height(1),
                ..
            })
        ));
        // a batch in between that does not link is refused
        let mut broken = chain.clone();
        broken[50].parent = Digest([9; 32]);
        let fetch = |h: Height| {
            let b = broken[h.get() as usize - 1].clone();
            async move { Ok::<_, SdkError>(b) }
        };
        assert!(link_to_certified(&chain[0], chain[100].block, fetch)
            .await
            .is_err());
    }

    /// A raw HTTP/1.1 server answering each connection, in turn, with one of `answers`.
    fn serve(answers: Vec<Vec<u8>>) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for answer in answers {
                let (mut s, _) = listener.accept().unwrap();
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && s.read(&mut byte).unwrap() == 1 {
                    head.push(byte[0]);
                }
                // the client may hang up early: that is what is tested
                let _ = s.write_all(&answer);
            }
        });
        format!("http://{addr}")
    }

    fn answer(status: &str, length: bool, body: &[u8]) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {status}\r\nconnection: close\r\n").into_bytes();
        if length {
            out.extend(format!("content-length: {}\r\n\r\n", body.len()).bytes());
            out.extend_from_slice(body);
        } else {
            out.extend(b"transfer-encoding: chunked\r\n\r\n");
            for c in body.chunks(1000) {
                out.extend(format!("{:x}\r\n", c.len()).bytes());
                out.extend_from_slice(c);
                out.extend(b"\r\n");
            }
            out.extend(b"0\r\n\r\n");
        }
        out
    }

    /// Answers are read up to a cap: a longer body, declared or streamed, is a typed error,
    /// on success and error statuses alike.
    #[tokio::test]
    async fn answer_bodies_past_the_cap_are_refused() {
        let ok = br#"{"finalized_height":3,"next_release":4,"faulty_members":[]}"#;
        let mut padded = ok.to_vec();
        padded.resize(5000, b' ');
        let base = serve(vec![
            answer("200 OK", true, ok),
            answer("200 OK", true, &padded),
            answer("200 OK", false, &padded),
            answer("503 Service Unavailable", false, &padded),
        ]);
        let http = http_client().unwrap();
        let url = format!("{base}/v1/status");
        let status: NodeStatus = get_json(&http, &url, 4096).await.unwrap();
        assert_eq!(status.next_release, Height(4));
        for _ in 0..2 {
            assert!(matches!(
                get_json::<NodeStatus>(&http, &url, 4096).await,
                Err(SdkError::TooLarge { limit: 4096 })
            ));
        }
        // an error body is read with the small-answer cap
        let refusal = get_json::<NodeStatus>(&http, &url, 4096).await;
        assert!(matches!(refusal, Err(SdkError::Protocol(_))), "{refusal:?}");
        let huge = vec![b'x'; MAX_SMALL_ANSWER + 1];
        let base = serve(vec![answer("503 Service Unavailable", false, &huge)]);
        assert!(matches!(
            get_json::<NodeStatus>(&http, &format!("{base}/v1/status"), 4096).await,
            Err(SdkError::TooLarge {
                limit: MAX_SMALL_ANSWER
            })
        ));
    }

    /// Evidence that does not decode, committees that do not check and evidence of a key
    /// epoch no committee given covers each have their typed error.
    #[test]
    fn verify_evidence_refuses_with_typed_reasons() {
        use crate::ledger::block::Block;
        use crate::ledger::evidence::WrongShares;
        use crate::ledger::signed::SignedBatch;
        assert!(matches!(
            verify_evidence(b"not evidence", &[], None),
            Err(SdkError::Evidence(_))
        ));
        let block = Block::new(Digest::default(), Height(4), Vec::new());
        let mut batch = vec![1u8];
        batch.extend([7u8; 32]);
        batch.extend(3u32.to_be_bytes());
        batch.extend(0u32.to_be_bytes());
        let signed = SignedBatch::sign(
            &[0; 32],
            KeyEpoch(5),
            Height(4),
            block.digest(),
            curtain_crypto::ShareBatch::from_bytes(&batch).unwrap(),
            |_| [0; 64],
        );
        let piece =
            Evidence::WrongShares(Box::new(WrongShares::new(signed, block, Vec::new()))).to_bytes();
        assert!(matches!(
            verify_evidence(&piece, &[], None),
            Err(SdkError::Evidence(EvidenceError::NoCommittee(KeyEpoch(5))))
        ));
        let info: CommitteeInfo = serde_json::from_value(serde_json::json!({
            "key": "00", "key_id": "", "committee_id": "", "key_epoch": 5, "n": 1, "t": 1,
            "consensus_public": "", "members": [], "namespaces": null,
            "max_plaintext_bytes": 0, "max_sender_bytes": 0, "client_rate_per_s": 0,
            "client_burst": 0
        }))
        .unwrap();
        assert!(matches!(
            verify_evidence(&piece, &[info], None),
            Err(SdkError::Committee(_))
        ));
    }

    /// A quorum of the committee the answers claim and of the members asked: a liar claiming
    /// a small committee still needs most of the members asked.
    #[test]
    fn the_unpinned_quorum_counts_the_claimed_committee_and_the_members_asked() {
        assert_eq!(unpinned_quorum(4, 1), 3);
        assert_eq!(unpinned_quorum(4, 2), 3);
        assert_eq!(unpinned_quorum(4, 4), 3);
        assert_eq!(unpinned_quorum(4, 5), 4);
        assert_eq!(unpinned_quorum(7, 3), 5);
        // a claimed committee of one, among three members asked
        assert_eq!(unpinned_quorum(1, 3), 3);
        assert_eq!(unpinned_quorum(1, 1), 1);
        assert_eq!(unpinned_quorum(0, 0), 1);
    }
}
