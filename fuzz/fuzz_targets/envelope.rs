//! `Envelope::parse` (what `POST /v1/submit`, QUIC `SUBMIT`, gossip, blocks and the logs
//! carry) and `RlnProof::from_bytes`. The encoding is canonical: re-encoding a parsed envelope
//! gives back exactly its bytes.
#![no_main]
use curtain::ledger::envelope::{Envelope, RlnProof};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(env) = Envelope::parse(data) {
        assert_eq!(env.to_bytes(), data, "envelope re-encodes differently");
        assert_eq!(env.encoded_len(), data.len());
        if let Some(rln) = env.rln() {
            // the proof's points are decoded by admission; must not panic either
            let _ = rln.decode_proof();
            let _ = rln.nullifier();
        }
        let _ = env.id();
    }
    if let Ok(p) = RlnProof::from_bytes(data) {
        assert_eq!(p.to_bytes(), data, "RLN proof re-encodes differently");
    }
});
