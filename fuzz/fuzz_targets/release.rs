//! `ReleasedBatch::from_bytes` (the release log, `GET /v1/releases/{height}`, QUIC `RELEASE`
//! answers read by wallets and third-party verifiers). Canonical: re-encoding gives back
//! exactly the input.
#![no_main]
use curtain::ledger::release::ReleasedBatch;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = ReleasedBatch::from_bytes(data) {
        assert_eq!(b.to_bytes(), data, "released batch re-encodes differently");
        // what a verifier does before the cryptographic checks
        let _ = b.rebuild_block();
        let _ = b.content_bytes();
    }
});
