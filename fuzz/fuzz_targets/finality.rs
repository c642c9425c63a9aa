//! Finality proofs as wallets and third parties read them: `Finalization::decode` (the
//! certificate a released batch carries) and `FinalityVerifier::from_consensus_public` (the
//! committee's public polynomial, from `GET /v1/committee`). `Finalization` is canonical
//! (minimal varints): re-encoding gives back exactly the input.
#![no_main]
use curtain::ledger::finality::{Finalization, FinalityVerifier};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = Finalization::decode(data) {
        assert_eq!(f.to_bytes(), data, "finalization re-encodes differently");
    }
    if let Some((&n, rest)) = data.split_first() {
        let _ = FinalityVerifier::from_consensus_public(rest, (n % 8) as usize + 1);
    }
});
