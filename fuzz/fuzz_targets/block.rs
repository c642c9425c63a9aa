//! `Block::from_bytes` (block headers inside `ChainBlock`s, under the committee's limits).
//! Canonical: a decoded block re-encodes to exactly the input.
#![no_main]
use curtain::ledger::block::{Block, BlockLimits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // small limits let the fuzzer reach the caps; the defaults are what members use
    let small = BlockLimits {
        max_ciphertexts: 4,
        max_bytes: 1 << 16,
        max_namespaces: 3,
    };
    for limits in [BlockLimits::default(), small] {
        if let Ok(b) = Block::from_bytes(data, &limits) {
            assert_eq!(b.to_bytes(), data, "block re-encodes differently");
            assert!(b.check_shape(&limits).is_ok());
            assert!(b.len() <= limits.max_ciphertexts);
        }
    }
});
