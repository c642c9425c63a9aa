//! The client API under bad input, over real sockets against `curtain node` processes:
//! every kind of bad submission gets its documented status and error code (SPEC.md §7), the
//! node keeps serving everyone else, and everything accepted is released. And front-running:
//! no plaintext shows in any API answer, log line or data file before its batch is released.

mod common;

use common::{files_under, http, poll, seal, Nodes, Request};
use curtain::ledger::{Height, KeyEpoch, Namespace};
use curtain::protocol::json::{self, ErrorBody, Outcome, PageJson, Receipt, TxStatus};
use curtain_crypto::{CommitteeKey, EncodedCiphertext, Label};
use rand::RngExt as _;
use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The namespace every test envelope is for.
const NS: u64 = 7;
/// Generous bounds for a loaded two-core machine.
const STARTUP: Duration = Duration::from_secs(60);
const RELEASE: Duration = Duration::from_secs(90);
const POLL: Duration = Duration::from_millis(200);

/// The rate limit of the flooded member (node 3): submissions per second per client address,
/// and burst.
const FLOOD_RATE: u64 = 2;
const FLOOD_BURST: u64 = 10;

const JSON: Option<&str> = Some("application/json");
const OCTETS: Option<&str> = Some("application/octet-stream");

type Answer = (u16, Vec<u8>);

fn post(addr: SocketAddr, content_type: Option<&str>, body: &[u8]) -> Answer {
    post_from(addr, None, content_type, body)
}

fn post_from(addr: SocketAddr, from: Option<IpAddr>, ctype: Option<&str>, body: &[u8]) -> Answer {
    let mut req = Request::new(addr, "POST", "/v1/transactions").content_type(ctype);
    if let Some(ip) = from {
        req = req.from(ip);
    }
    req.send(body).expect("the member's API answers")
}

fn get(addr: SocketAddr, path: &str) -> Answer {
    http(addr, "GET", path, b"").expect("the member's API answers")
}

fn text(body: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(body)
}

/// Asserts an error answer: exact status and stable code.
#[track_caller]
fn assert_refused(answer: &Answer, status: u16, code: &str, case: &str) {
    let body: ErrorBody = serde_json::from_slice(&answer.1)
        .unwrap_or_else(|e| panic!("{case}: not an error body ({e}): {}", text(&answer.1)));
    assert_eq!(
        (answer.0, body.error.code.as_str()),
        (status, code),
        "{case}: {}",
        body.error.message
    );
}

fn json_envelope(bytes: &[u8]) -> Vec<u8> {
    serde_json::to_vec(&json::SubmitJson {
        envelope: json::base64_encode(bytes),
    })
    .unwrap()
}

/// Byte offsets in a ciphertext encoding (SPEC.md §3).
struct Layout {
    u: usize,
    f: usize,
    payload_len: usize,
}

fn layout(ct: &EncodedCiphertext) -> Layout {
    let label = 32 + 8 + 8 + 1 + ct.label().sender().len();
    let u = 1 + label;
    Layout {
        u,
        f: u + 192,
        payload_len: u + 224,
    }
}

/// `ct`'s bytes with bit 0 of byte `at` flipped.
fn flipped(ct: &EncodedCiphertext, at: usize) -> Vec<u8> {
    let mut b = ct.as_bytes().to_vec();
    b[at] ^= 1;
    b
}

/// A wallet of one committee: fresh envelopes, and what the members accepted.
struct Wallet {
    key: CommitteeKey,
    label: Label,
    rng: rand::rngs::ThreadRng,
    next: u64,
    /// id → plaintext of every envelope a member answered 202 for.
    accepted: BTreeMap<[u8; 32], Vec<u8>>,
    /// plaintext of every envelope made, by id
    made: BTreeMap<[u8; 32], Vec<u8>>,
}

impl Wallet {
    fn new(nodes: &Nodes, sender: &[u8]) -> Self {
        let key = nodes.committee.encryption_key.clone();
        let label = Label::new(key.id(), nodes.committee.key_epoch, Namespace(NS), sender).unwrap();
        Self {
            key,
            label,
            rng: rand::rng(),
            next: 0,
            accepted: BTreeMap::new(),
            made: BTreeMap::new(),
        }
    }

    /// A fresh valid envelope.
    fn envelope(&mut self) -> EncodedCiphertext {
        let plaintext = format!("{} {}", text(self.label.sender()), self.next).into_bytes();
        self.next += 1;
        self.sealed(plaintext)
    }

    fn sealed(&mut self, plaintext: Vec<u8>) -> EncodedCiphertext {
        let ct = seal(&self.key, &self.label, &plaintext, &mut self.rng);
        self.made.insert(ct.id(), plaintext);
        ct
    }

    /// Records a 202 for `ct`, asserting the receipt names it.
    #[track_caller]
    fn accepted(&mut self, ct: &EncodedCiphertext, answer: &Answer, case: &str) {
        assert_eq!(answer.0, 202, "{case}: {}", text(&answer.1));
        let receipt: Receipt = serde_json::from_slice(&answer.1).expect("a receipt");
        assert_eq!(receipt.id, hex::encode(ct.id()), "{case}: receipt id");
        self.accepted.insert(ct.id(), self.made[&ct.id()].clone());
    }

    /// A fresh envelope that `addr` must accept: the member still serves a good client.
    #[track_caller]
    fn submit(&mut self, addr: SocketAddr, case: &str) -> EncodedCiphertext {
        let ct = self.envelope();
        let answer = post(addr, OCTETS, ct.as_bytes());
        self.accepted(&ct, &answer, &format!("good submission after {case}"));
        ct
    }
}

/// Everything released in `ns` at `addr`: id (hex) → outcome; `None` if the API did not
/// answer. Asserts no id is released twice.
fn released(addr: SocketAddr, ns: u64) -> Option<BTreeMap<String, Outcome>> {
    let mut out = BTreeMap::new();
    let mut from = 1;
    loop {
        let (code, body) = http(
            addr,
            "GET",
            &format!("/v1/namespaces/{ns}/batches?from={from}&limit=256"),
            b"",
        )?;
        assert_eq!(code, 200, "batches: {}", text(&body));
        let page: PageJson = serde_json::from_slice(&body).expect("a page of batches");
        for e in page.batches.iter().flat_map(|b| &b.entries) {
            assert!(
                out.insert(e.id.clone(), e.outcome.clone()).is_none(),
                "{} released twice",
                e.id
            );
        }
        if page.next <= Height(from) {
            return Some(out);
        }
        from = page.next.get();
    }
}

/// Waits until every member released exactly what `wallet` had accepted, with the plaintexts
/// it sent.
fn assert_all_released(nodes: &Nodes, wallet: &Wallet) {
    let want: BTreeMap<String, Outcome> = wallet
        .accepted
        .iter()
        .map(|(id, m)| {
            let data = json::base64_encode(m);
            (hex::encode(id), Outcome::Plaintext { data })
        })
        .collect();
    for &addr in &nodes.api {
        let got = poll(RELEASE, POLL, "every accepted envelope released", || {
            released(addr, NS).filter(|got| want.keys().all(|id| got.contains_key(id)))
        });
        assert_eq!(got, want, "{addr} released exactly what was accepted");
    }
}

fn tx_status(addr: SocketAddr, id: &[u8; 32]) -> Option<TxStatus> {
    let (code, body) = http(
        addr,
        "GET",
        &format!("/v1/transactions/{}", hex::encode(id)),
        b"",
    )?;
    (code == 200).then(|| serde_json::from_slice(&body).expect("a transaction status"))
}

#[test]
fn bad_input_gets_its_documented_error_and_loses_nothing() {
    // the committee serves namespace NS only (committee.json, every member)
    let mut nodes = Nodes::deal_with(
        "curtain-bad-input",
        4,
        common::free_ports(10_000, 15_000, 8),
        &["--namespaces", &NS.to_string()],
    );
    // node 3 is the one flooded: a low per-client rate limit
    nodes.configure(3, |f| {
        f.limits.client_rate_per_s = Some(FLOOD_RATE);
        f.limits.client_burst = Some(FLOOD_BURST);
    });
    nodes.start(0..4, STARTUP);
    let api = nodes.api.clone();
    let mut wallet = Wallet::new(&nodes, b"bad-input");
    // every member shows the committee's namespaces
    for addr in &api {
        let (status, body) = get(*addr, "/v1/committee");
        assert_eq!(status, 200);
        let info: curtain::protocol::json::CommitteeInfo = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            info.namespaces,
            Some(vec![Namespace(NS)]),
            "served namespaces"
        );
    }

    // 1. bodies that are not an envelope, at member 0
    let to = api[0];
    let good = wallet.envelope();
    let at = layout(&good);
    let mut garbage: Vec<u8> = (0..300).map(|_| wallet.rng.random()).collect();
    garbage[0] = 0xff; // not the version byte
    let mut declared_too_long = good.as_bytes().to_vec();
    declared_too_long[at.payload_len..at.payload_len + 4]
        .copy_from_slice(&(curtain_crypto::ciphertext::MAX_PAYLOAD_LEN as u32 + 1).to_be_bytes());
    let oversized = vec![0x01; curtain::api::MAX_BODY + 1];
    let cases = [
        ("garbage bytes", OCTETS, garbage, 400, "malformed"),
        ("an empty body", OCTETS, Vec::new(), 400, "malformed"),
        (
            "an envelope cut short by one byte",
            OCTETS,
            good.as_bytes()[..good.encoded_len() - 1].to_vec(),
            400,
            "malformed",
        ),
        (
            "an envelope cut inside its label",
            OCTETS,
            good.as_bytes()[..20].to_vec(),
            400,
            "malformed",
        ),
        (
            "an envelope with a trailing byte",
            OCTETS,
            [good.as_bytes(), &[0]].concat(),
            400,
            "malformed",
        ),
        (
            "a body above the limit",
            OCTETS,
            oversized,
            413,
            "too_large",
        ),
        (
            "a payload length above the cap",
            OCTETS,
            declared_too_long,
            413,
            "too_large",
        ),
        (
            "text/plain",
            Some("text/plain"),
            good.as_bytes().to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "JSON whose envelope is not base64",
            JSON,
            br#"{"envelope":"!!not base64!!"}"#.to_vec(),
            400,
            "malformed",
        ),
        (
            "JSON cut short",
            JSON,
            br#"{"envelope":"#.to_vec(),
            400,
            "malformed",
        ),
        (
            "JSON without an envelope",
            JSON,
            br#"{"payload":"AAAA"}"#.to_vec(),
            400,
            "malformed",
        ),
        (
            "JSON of a truncated envelope",
            JSON,
            json_envelope(&good.as_bytes()[..100]),
            400,
            "malformed",
        ),
    ];
    for (case, ctype, body, status, code) in &cases {
        assert_refused(&post(to, *ctype, body), *status, code, case);
        wallet.submit(to, case);
    }
    // the envelope refused above in those wrappings is accepted as JSON
    let answer = post(to, JSON, &json_envelope(good.as_bytes()));
    wallet.accepted(&good, &answer, "the JSON form of a valid envelope");

    // 2. well-formed envelopes that fail their checks, at member 1
    let to = api[1];
    let ct = wallet.envelope();
    let at = layout(&ct);
    let mauled = [
        // a bit of f, still canonical (< r): the proof no longer verifies
        (
            "a flipped bit in the proof scalar f",
            at.f + 31,
            400,
            "invalid_ciphertext",
        ),
        // the payload is under the proof's challenge
        (
            "a flipped bit in the payload",
            ct.encoded_len() - 1,
            400,
            "invalid_ciphertext",
        ),
    ];
    for (case, byte, status, code) in mauled {
        assert_refused(&post(to, OCTETS, &flipped(&ct, byte)), status, code, case);
        wallet.submit(to, case);
    }
    // u's x coordinate ≥ p: not a point (u is uncompressed, its three flag bits clear)
    let mut bad_u = ct.as_bytes().to_vec();
    bad_u[at.u] = 0x1f;
    bad_u[at.u + 1..at.u + 48].fill(0xff);
    let case = "u's x coordinate out of range";
    assert_refused(&post(to, OCTETS, &bad_u), 400, "malformed", case);
    wallet.submit(to, case);
    // the unmauled original is fine
    let answer = post(to, OCTETS, ct.as_bytes());
    wallet.accepted(&ct, &answer, "the envelope before mauling");

    // 3. labels this committee does not serve, at member 2
    let to = api[2];
    let key = wallet.key.clone();
    let epoch7 = Label::new(key.id(), KeyEpoch(7), Namespace(NS), b"bad-input").unwrap();
    let (other, _) = curtain_crypto::deal(4, 3, &mut wallet.rng).unwrap();
    let foreign = Label::new(
        other.id(),
        nodes.committee.key_epoch,
        Namespace(NS),
        b"bad-input",
    )
    .unwrap();
    let unserved = Label::new(
        key.id(),
        nodes.committee.key_epoch,
        Namespace(NS + 1),
        b"bad-input",
    )
    .unwrap();
    let labelled = [
        (
            "a namespace the committee does not serve",
            &key,
            &unserved,
            400,
            "unknown_namespace",
        ),
        ("key epoch 7", &key, &epoch7, 400, "wrong_key_epoch"),
        (
            "another committee's key",
            &other,
            &foreign,
            400,
            "wrong_key",
        ),
    ];
    for (case, key, label, status, code) in labelled {
        let ct = seal(key, label, b"not for this committee", &mut wallet.rng);
        assert_refused(&post(to, OCTETS, ct.as_bytes()), status, code, case);
        wallet.submit(to, case);
    }

    // 4. resubmissions, at member 0
    let to = api[0];
    let ct = wallet.envelope();
    let answer = post(to, OCTETS, ct.as_bytes());
    wallet.accepted(&ct, &answer, "first submission");
    let again = post(to, OCTETS, ct.as_bytes());
    // `duplicate` while pending; a fast committee may already have made its block final,
    // which the member reports as `already_ordered` (the stalled committee of the
    // front-running test sees exactly `duplicate`)
    let code = serde_json::from_slice::<ErrorBody>(&again.1)
        .ok()
        .map(|b| b.error.code);
    if code.as_deref() == Some("already_ordered") {
        assert_refused(&again, 409, "already_ordered", "the same envelope twice");
        assert!(
            !matches!(tx_status(to, &ct.id()), Some(TxStatus::Pending)),
            "already_ordered for a pending envelope"
        );
    } else {
        assert_refused(&again, 409, "duplicate", "the same envelope twice");
    }
    for (i, &addr) in api.iter().enumerate() {
        poll(RELEASE, POLL, "the envelope released", || {
            matches!(tx_status(addr, &ct.id()), Some(TxStatus::Released { .. })).then_some(())
        });
        let again = post(addr, OCTETS, ct.as_bytes());
        assert_refused(
            &again,
            409,
            "already_ordered",
            &format!("an envelope already released, at member {i}"),
        );
    }
    wallet.submit(to, "resubmissions");
    // ids: not hex, and unknown
    assert_refused(
        &get(to, "/v1/transactions/zz"),
        400,
        "malformed",
        "a bad id",
    );
    let unknown = format!("/v1/transactions/{}", hex::encode([7u8; 32]));
    assert_refused(&get(to, &unknown), 404, "not_found", "an unknown id");

    // 5. a flood from one client address at member 3, while another client (127.0.0.2)
    // submits there too and 127.0.0.1 submits to member 0
    let flooded = api[3];
    let local = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let other_client = Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
    let floods: Vec<Vec<EncodedCiphertext>> = (0..3)
        .map(|_| (0..20).map(|_| wallet.envelope()).collect())
        .collect();
    let others: Vec<EncodedCiphertext> = (0..3).map(|_| wallet.envelope()).collect();
    let elsewhere = wallet.envelope();
    let limited = AtomicBool::new(false);
    let other_done = AtomicBool::new(false);
    let started = Instant::now();
    let (flood_answers, other_answers, elsewhere_answer) = std::thread::scope(|s| {
        let flood: Vec<_> = floods
            .iter()
            .map(|cts| {
                let (limited, other_done) = (&limited, &other_done);
                s.spawn(move || {
                    // an envelope refused is sent again until the other client is done
                    let mut queue: VecDeque<&EncodedCiphertext> = cts.iter().collect();
                    let mut answers = Vec::new();
                    while let Some(ct) = queue.pop_front() {
                        let answer = post_from(flooded, local, OCTETS, ct.as_bytes());
                        if answer.0 == 429 {
                            limited.store(true, Ordering::SeqCst);
                            if !other_done.load(Ordering::SeqCst) {
                                queue.push_back(ct);
                            }
                        }
                        answers.push((ct.clone(), answer));
                        assert!(answers.len() < 5_000, "the flood is bounded");
                    }
                    answers
                })
            })
            .collect();
        let other = s.spawn(|| {
            poll(
                RELEASE,
                Duration::from_millis(10),
                "the flood limited",
                || limited.load(Ordering::SeqCst).then_some(()),
            );
            let answers: Vec<Answer> = others
                .iter()
                .map(|ct| post_from(flooded, other_client, OCTETS, ct.as_bytes()))
                .collect();
            // and the flooding address itself, at another member
            let elsewhere = post_from(api[0], local, OCTETS, elsewhere.as_bytes());
            other_done.store(true, Ordering::SeqCst);
            (answers, elsewhere)
        });
        let flood: Vec<_> = flood
            .into_iter()
            .flat_map(|t| t.join().expect("flood thread"))
            .collect();
        let (answers, elsewhere) = other.join().expect("other client");
        (flood, answers, elsewhere)
    });
    let elapsed = started.elapsed().as_secs_f64();
    for (ct, answer) in others.iter().zip(&other_answers) {
        wallet.accepted(ct, answer, "another client during the flood");
    }
    wallet.accepted(
        &elsewhere,
        &elsewhere_answer,
        "the flooder at another member",
    );
    let mut admitted = 0;
    let mut limited_count = 0;
    for (ct, answer) in &flood_answers {
        if answer.0 == 202 {
            wallet.accepted(ct, answer, "the flood");
            admitted += 1;
        } else {
            assert_refused(answer, 429, "rate_limited", "the flood");
            limited_count += 1;
        }
    }
    assert!(limited_count > 0, "the flood was limited");
    let allowed = FLOOD_BURST as f64 + FLOOD_RATE as f64 * elapsed + 1.0;
    assert!(
        f64::from(admitted) <= allowed,
        "{admitted} admitted from one address in {elapsed:.1} s (at most {allowed:.0})"
    );
    // afterwards: the other client and the other members serve as before, and the flooder
    // is served again once its bucket refills
    let ct = wallet.envelope();
    let answer = post_from(flooded, other_client, OCTETS, ct.as_bytes());
    wallet.accepted(&ct, &answer, "another client after the flood");
    for &addr in &api[..3] {
        wallet.submit(addr, "the flood at member 3");
    }
    let ct = wallet.envelope();
    let answer = poll(RELEASE, POLL, "the flooder served again", || {
        let answer = post_from(flooded, local, OCTETS, ct.as_bytes());
        (answer.0 != 429).then_some(answer)
    });
    wallet.accepted(&ct, &answer, "the flooder after its bucket refilled");

    // 6. nothing accepted is lost, nothing refused is released: every member releases
    // exactly the accepted envelopes, with their plaintexts
    assert_all_released(&nodes, &wallet);

    // 7. every member is still up and healthy
    for (i, &addr) in api.iter().enumerate() {
        assert!(nodes.running(i), "member {i} still running");
        let (code, body) = get(addr, "/health");
        let health: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!((code, health["status"].as_str()), (200, Some("ok")));
    }
    nodes.remove();
}

/// The forms a plaintext could take in an answer, a log line or a file.
struct Marker {
    /// The random part of the plaintext.
    marker: String,
    needles: Vec<Vec<u8>>,
}

impl Marker {
    fn new(marker: String, plaintext: &[u8]) -> Self {
        let debug = format!("{:?}", marker.as_bytes()); // "[102, 48, …]"
        let needles = vec![
            marker.as_bytes().to_vec(),
            hex::encode(&marker).into_bytes(),
            json::base64_encode(plaintext).into_bytes(),
            debug.trim_matches(['[', ']']).as_bytes().to_vec(),
        ];
        Self { marker, needles }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The markers that show in `bytes`: in any of their forms, or raw inside any JSON string
/// that decodes as base64 or hex (how the API carries plaintexts and released batches).
fn shown<'a>(markers: &'a [Marker], bytes: &[u8]) -> Vec<&'a str> {
    let mut decoded = Vec::new();
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(bytes) {
        json_strings(&json, &mut |s| {
            decoded.extend(json::base64_decode(s));
            decoded.extend(hex::decode(s).ok());
        });
    }
    markers
        .iter()
        .filter(|m| {
            m.needles.iter().any(|n| contains(bytes, n))
                || decoded.iter().any(|d| contains(d, m.marker.as_bytes()))
        })
        .map(|m| m.marker.as_str())
        .collect()
}

fn json_strings(v: &serde_json::Value, f: &mut impl FnMut(&str)) {
    match v {
        serde_json::Value::String(s) => f(s),
        serde_json::Value::Array(a) => a.iter().for_each(|v| json_strings(v, f)),
        serde_json::Value::Object(o) => o.values().for_each(|v| json_strings(v, f)),
        _ => {}
    }
}

/// The value of the Prometheus sample whose name ends with `name` (curtain's metrics carry
/// the runtime's prefix).
fn metric(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let (sample, value) = l.split_once(' ')?;
            sample.ends_with(name).then(|| value.trim().parse().ok())?
        })
        .unwrap_or_else(|| panic!("{name} exported"))
}

/// A file's bytes; empty if it vanished since it was listed (the members run meanwhile and
/// rotate their metadata files).
fn read(path: &std::path::Path) -> Vec<u8> {
    match std::fs::read(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        r => r.unwrap(),
    }
}

fn finalized_height(addr: SocketAddr) -> u64 {
    let (code, body) = get(addr, "/health");
    assert_eq!(code, 200);
    let health: serde_json::Value = serde_json::from_slice(&body).unwrap();
    health["finalized_height"]
        .as_u64()
        .expect("finalized_height")
}

#[test]
fn no_plaintext_shows_before_its_batch_is_released() {
    let mut nodes = Nodes::deal("curtain-frontrun", 4, common::free_ports(15_000, 20_000, 8));
    nodes
        .env
        .push(("RUST_LOG".into(), "debug,curtain=trace".into()));
    // two of four members: no quorum, nothing can be final
    nodes.start(0..2, STARTUP);
    let api = nodes.api.clone();
    let mut wallet = Wallet::new(&nodes, b"front-run");
    let mut markers = Vec::new();
    let mut cts = Vec::new();
    let mut answers: Vec<(String, Vec<u8>)> = Vec::new();
    for k in 0..8 {
        let marker = hex::encode(wallet.rng.random::<[u8; 16]>());
        let plaintext = format!("front-run secret {marker}").into_bytes();
        markers.push(Marker::new(marker, &plaintext));
        let ct = wallet.sealed(plaintext);
        let to = api[k % 2];
        let answer = if k % 4 == 3 {
            post(to, JSON, &json_envelope(ct.as_bytes()))
        } else {
            post(to, OCTETS, ct.as_bytes())
        };
        wallet.accepted(&ct, &answer, "a submission without quorum");
        answers.push((format!("POST {k}"), answer.1));
        cts.push(ct);
    }
    // nothing is final, so a resubmission is exactly a duplicate
    let again = post(api[0], OCTETS, cts[0].as_bytes());
    assert_refused(&again, 409, "duplicate", "the same envelope twice, pending");
    answers.push(("POST again".into(), again.1));
    // the accepting member holds each submission pending; the other one too if gossip
    // reached it (gossip sent before the two members connected is dropped)
    for (i, &addr) in api[..2].iter().enumerate() {
        for (k, ct) in cts.iter().enumerate() {
            let (code, body) = get(addr, &format!("/v1/transactions/{}", hex::encode(ct.id())));
            if code == 404 && k % 2 != i {
                assert_refused(&(code, body.clone()), 404, "not_found", "not gossiped");
            } else {
                let status: TxStatus = serde_json::from_slice(&body)
                    .unwrap_or_else(|_| panic!("a status: {code} {}", text(&body)));
                assert_eq!(status, TxStatus::Pending, "nothing can be ordered");
            }
            answers.push((format!("GET {addr} tx {k}"), body));
        }
        for path in [
            "/health",
            "/metrics",
            "/v1/status",
            "/v1/committee",
            "/v1/releases/1",
            "/v1/stats/release_latency",
            &format!("/v1/namespaces/{NS}/batches"),
        ] {
            answers.push((format!("GET {addr}{path}"), get(addr, path).1));
        }
    }
    for (i, &addr) in api[..2].iter().enumerate() {
        assert_eq!(finalized_height(addr), 0, "no quorum, nothing final");
        // operators see the backlog while nothing is final
        let metrics = get(addr, "/metrics").1;
        let pending = metric(&text(&metrics), "curtain_mempool_size");
        assert!(
            pending >= cts.len() as f64 / 2.0,
            "member {i} reports {pending} pending"
        );
    }
    let leaks: Vec<String> = answers
        .iter()
        .flat_map(|(what, body)| {
            shown(&markers, body)
                .into_iter()
                .map(move |m| format!("{what}: {m}"))
        })
        .chain(files_under(&nodes.dir).into_iter().flat_map(|path| {
            let bytes = read(&path);
            shown(&markers, &bytes)
                .into_iter()
                .map(move |m| format!("{}: {m}", path.display()))
                .collect::<Vec<_>>()
        }))
        .collect();
    assert!(leaks.is_empty(), "plaintext before release: {leaks:?}");
    // still nothing final: the scan saw the state before finality
    for &addr in &api[..2] {
        assert_eq!(finalized_height(addr), 0, "no quorum, nothing final");
    }
    let logged: u64 = (0..2)
        .map(|i| std::fs::metadata(nodes.log(i)).unwrap().len())
        .sum();
    assert!(logged > 0, "the members' debug logs were scanned");

    // quorum: everything is ordered and released, and the same scan now finds every marker
    nodes.start(2..4, STARTUP);
    assert_all_released(&nodes, &wallet);
    let all: Vec<&str> = markers.iter().map(|m| m.marker.as_str()).collect();
    let page = get(api[0], &format!("/v1/namespaces/{NS}/batches")).1;
    assert_eq!(
        shown(&markers, &page),
        all,
        "released plaintexts in the batches API"
    );
    let mut on_disk: Vec<&str> = files_under(&nodes.dir.join("node0/data"))
        .iter()
        .flat_map(|p| shown(&markers, &read(p)))
        .collect();
    on_disk.sort();
    on_disk.dedup();
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(on_disk, sorted, "released plaintexts in the release log");
    nodes.remove();
}
