//! `Evidence::from_bytes` (SPEC.md §5.9: what members relay and what `curtain evidence
//! verify` reads from a file): bounded, never panics, canonical (a decoded piece re-encodes to
//! the input, so its id names exactly these bytes).
#![no_main]
use curtain::ledger::evidence::Evidence;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = Evidence::from_bytes(data) {
        assert_eq!(e.to_bytes(), data, "evidence re-encodes differently");
        let _ = (e.id(), e.accused(), e.kind(), e.height());
    }
});
