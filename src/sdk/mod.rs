//! The wallet SDK: fetch and pin the committee key, build a label, encrypt, submit with
//! retries (resubmitting is idempotent: a duplicate is a success), follow a namespace's
//! released batches and **verify** them as a third party (finality certificate, block
//! contents, openings and outcomes) instead of trusting the member that served them.
//!
//! Node-free: a wallet depends on `curtain = { default-features = false }` and gets this
//! module without commonware, axum or storage (finality is checked by [`FinalityVerifier`]).

use crate::ledger::finality::FinalityVerifier;
use crate::ledger::release::{ReleaseError, ReleasedBatch};
use crate::wire::{CommitteeInfo, ErrorBody, NodeStatus, PageJson, Receipt, TxStatus};
use curtain_crypto::{encrypt, Ciphertext, CommitteeKey, Label, Namespace, Padding};
use rand_core::CryptoRng;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub mod quic;
pub mod rln;

#[derive(Debug, thiserror::Error)]
pub enum SdkError {
    #[error("transport: {0}")]
    Transport(#[from] reqwest::Error),
    #[error("QUIC transport: {0}")]
    Quic(String),
    #[error("node refused ({status}): {code}: {message}")]
    Refused {
        /// HTTP status; 0 over QUIC (the code carries the meaning).
        status: u16,
        code: String,
        message: String,
    },
    #[error("unexpected answer: {0}")]
    Protocol(String),
    #[error("committee key: {0}")]
    Key(String),
    #[error("key file: {0}")]
    Keystore(#[from] crate::keystore::KeystoreError),
    #[error("encryption: {0}")]
    Encrypt(#[from] curtain_crypto::EncryptError),
    #[error("gave up after {0} attempts")]
    Exhausted(usize),
    #[error("released batch at height {height} does not verify: {reason}")]
    Unverified { height: u64, reason: String },
}

/// How far past a released block its finality proof may point (a finalization of a
/// descendant; SPEC §5.4) before a verifier gives up.
const MAX_PROOF_DISTANCE: u64 = 64;

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
    key: Arc<CommitteeKey>,
    verifier: Arc<FinalityVerifier>,
    /// Attempts per submission (over the members in turn).
    pub attempts: usize,
}

impl Client {
    /// Fetches the committee from `nodes` (base URLs, e.g. `http://127.0.0.1:8100`) and pins
    /// its key: every member that answers must serve the same committee, and if `pin` is given
    /// the key id must equal it.
    pub async fn connect(nodes: Vec<String>, pin: Option<[u8; 32]>) -> Result<Self, SdkError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(256)
            .build()?;
        let mut seen: Option<CommitteeInfo> = None;
        let mut last_err = None;
        for node in &nodes {
            match get_json::<CommitteeInfo>(&http, &format!("{node}/v1/committee")).await {
                Ok(info) => match &seen {
                    Some(s) if *s != info => {
                        return Err(SdkError::Key(format!("{node} serves another committee")))
                    }
                    _ => seen = Some(info),
                },
                Err(e) => last_err = Some(e),
            }
        }
        let info = match (seen, last_err) {
            (Some(i), _) => i,
            (None, Some(e)) => return Err(e),
            (None, None) => return Err(SdkError::Protocol("no nodes given".into())),
        };
        Self::with_committee(http, nodes, info, pin)
    }

    /// A client of the committee `info` (e.g. fetched over QUIC with
    /// [`quic::QuicClient::committee`]), pinned like [`Client::connect`]; `nodes` (HTTP base
    /// URLs) may be empty if only QUIC is used.
    pub fn from_committee(
        nodes: Vec<String>,
        info: CommitteeInfo,
        pin: Option<[u8; 32]>,
    ) -> Result<Self, SdkError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?;
        Self::with_committee(http, nodes, info, pin)
    }

    fn with_committee(
        http: reqwest::Client,
        nodes: Vec<String>,
        info: CommitteeInfo,
        pin: Option<[u8; 32]>,
    ) -> Result<Self, SdkError> {
        let bytes = hex::decode(&info.key).map_err(|e| SdkError::Key(e.to_string()))?;
        let key = CommitteeKey::from_bytes(&bytes).map_err(|e| SdkError::Key(e.to_string()))?;
        if hex::encode(key.id()) != info.key_id {
            return Err(SdkError::Key("key id does not match the key".into()));
        }
        if let Some(pin) = pin {
            if key.id() != pin {
                return Err(SdkError::Key(
                    "committee key differs from the pinned one".into(),
                ));
            }
        }
        let verifier = verifier_from_info(&info)?;
        Ok(Self {
            http,
            nodes,
            committee: Arc::new(info),
            key: Arc::new(key),
            verifier: Arc::new(verifier),
            attempts: 8,
        })
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
        let mut backoff = Duration::from_millis(20);
        for attempt in 0..self.attempts {
            let node = self.node(first + attempt)?;
            let res = self
                .http
                .post(format!("{node}/v1/transactions"))
                .header("content-type", "application/octet-stream")
                .body(body.clone())
                .send()
                .await;
            let err = match res {
                Ok(r) if r.status().as_u16() == 202 => {
                    let receipt: Receipt = serde_json::from_slice(&r.bytes().await?)
                        .map_err(|e| SdkError::Protocol(e.to_string()))?;
                    if receipt.id != hex::encode(id) {
                        return Err(SdkError::Protocol("receipt for another id".into()));
                    }
                    return Ok(id);
                }
                Ok(r) => {
                    let e = refused(r).await;
                    if let SdkError::Refused { code, .. } = &e {
                        if code == "duplicate" || code == "already_ordered" {
                            return Ok(id);
                        }
                    }
                    e
                }
                Err(e) => SdkError::Transport(e),
            };
            if !err.transient() {
                return Err(err);
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
        Err(SdkError::Exhausted(self.attempts))
    }

    /// Where transaction `id` stands at member `node`; `None` if it does not know it.
    pub async fn status(&self, node: usize, id: &[u8; 32]) -> Result<Option<TxStatus>, SdkError> {
        let url = format!("{}/v1/transactions/{}", self.node(node)?, hex::encode(id));
        match get_json::<TxStatus>(&self.http, &url).await {
            Ok(s) => Ok(Some(s)),
            Err(SdkError::Refused { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Released batches of `namespace` from height `from`, as member `node` serves them.
    pub async fn batches(
        &self,
        node: usize,
        namespace: Namespace,
        from: u64,
        limit: usize,
    ) -> Result<PageJson, SdkError> {
        let url = format!(
            "{}/v1/namespaces/{namespace}/batches?from={from}&limit={limit}",
            self.node(node)?
        );
        get_json(&self.http, &url).await
    }

    /// Member `node`'s progress (`GET /v1/status`).
    pub async fn node_status(&self, node: usize) -> Result<NodeStatus, SdkError> {
        let url = format!("{}/v1/status", self.node(node)?);
        get_json(&self.http, &url).await
    }

    /// The released batch at `height`, as member `node` serves it (not yet verified).
    pub async fn release(&self, node: usize, height: u64) -> Result<ReleasedBatch, SdkError> {
        let url = format!("{}/v1/releases/{height}", self.node(node)?);
        let r = self.http.get(&url).send().await?;
        if !r.status().is_success() {
            return Err(refused(r).await);
        }
        ReleasedBatch::from_bytes(&r.bytes().await?).map_err(|e| SdkError::Protocol(e.to_string()))
    }

    /// Checks `batch` without trusting whoever served it: its finality proof is a valid
    /// finalization certificate of the committee for its block or for a descendant (then the
    /// released batches in between, fetched from member `node`, must link the two by parent
    /// digests, each rebuilt from its own contents); its entries are exactly its block's
    /// ciphertexts; every opening is correct under the pinned key and every outcome is what
    /// the opening gives.
    pub async fn verify_release(&self, node: usize, batch: &ReleasedBatch) -> Result<(), SdkError> {
        self.verify_release_via(batch, |height| self.release(node, height))
            .await
    }

    /// [`Client::verify_release`] with the released batches past `batch` (needed when its
    /// proof finalizes a descendant) fetched by `fetch` (e.g. over QUIC).
    pub async fn verify_release_via<F, Fut>(
        &self,
        batch: &ReleasedBatch,
        mut fetch: F,
    ) -> Result<(), SdkError>
    where
        F: FnMut(u64) -> Fut,
        Fut: Future<Output = Result<ReleasedBatch, SdkError>>,
    {
        let unverified = |height: u64, reason: &dyn std::fmt::Display| SdkError::Unverified {
            height,
            reason: reason.to_string(),
        };
        let certified = self
            .verifier
            .verify(&batch.certificate)
            .map_err(|e| unverified(batch.height, &format!("finality certificate: {e}")))?;
        let mut tip = batch.block;
        let mut height = batch.height;
        while tip != certified {
            height += 1;
            if height > batch.height + MAX_PROOF_DISTANCE {
                return Err(unverified(batch.height, &"certified block not found"));
            }
            let next = fetch(height).await?;
            if next.parent != tip || next.rebuild_block().digest() != next.block {
                return Err(unverified(batch.height, &ReleaseError::BlockMismatch));
            }
            tip = next.block;
        }
        let (epoch, key) = (self.committee.key_epoch, Arc::clone(&self.key));
        batch
            .verify(
                |e| (e == epoch).then(|| Arc::clone(&key)),
                |_, _, _| true, // checked above
                &mut rand::rng(),
            )
            .map_err(|e| unverified(batch.height, &e))
    }

    /// Release-latency samples (ms) of member `node`.
    pub async fn release_latencies(&self, node: usize) -> Result<Vec<f64>, SdkError> {
        #[derive(serde::Deserialize)]
        struct Samples {
            samples_ms: Vec<f64>,
        }
        let url = format!("{}/v1/stats/release_latency", self.node(node)?);
        Ok(get_json::<Samples>(&self.http, &url).await?.samples_ms)
    }
}

/// The finality verifier of the committee a client was served: its threshold public key
/// (the constant term of `consensus_public`), bounded by the number of members.
pub fn verifier_from_info(info: &CommitteeInfo) -> Result<FinalityVerifier, SdkError> {
    let public = hex::decode(&info.consensus_public)
        .map_err(|e| SdkError::Key(format!("consensus_public: {e}")))?;
    FinalityVerifier::from_consensus_public(&public, info.members.len())
        .map_err(|e| SdkError::Key(format!("consensus_public: {e}")))
}

async fn refused(r: reqwest::Response) -> SdkError {
    let status = r.status().as_u16();
    match r.bytes().await {
        Ok(body) => match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(e) => SdkError::Refused {
                status,
                code: e.error.code,
                message: e.error.message,
            },
            Err(_) => SdkError::Protocol(format!("status {status} without an error body")),
        },
        Err(e) => SdkError::Transport(e),
    }
}

async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
) -> Result<T, SdkError> {
    let r = http.get(url).send().await?;
    if !r.status().is_success() {
        return Err(refused(r).await);
    }
    serde_json::from_slice(&r.bytes().await?).map_err(|e| SdkError::Protocol(e.to_string()))
}
