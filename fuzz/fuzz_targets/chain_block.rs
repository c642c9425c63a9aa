//! `ChainBlock`'s commonware `Read` (blocks from consensus, marshal backfill and storage).
//! Canonical: a decoded block re-encodes to exactly the input.
#![no_main]
use commonware_codec::{Copying, Decode as _, Encode as _, EncodeSize as _};
use curtain::ledger::block::BlockLimits;
use curtain::node::core::chain::ChainBlock;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let small = BlockLimits {
        max_ciphertexts: 4,
        max_bytes: 1 << 16,
        max_namespaces: 3,
    };
    for limits in [BlockLimits::default(), small] {
        if let Ok(cb) = ChainBlock::decode_cfg(Copying(data), &limits) {
            assert_eq!(cb.encode_size(), data.len());
            assert_eq!(&cb.encode()[..], data, "chain block re-encodes differently");
            assert_eq!(cb.bodies().len(), cb.block().len());
        }
    }
});
