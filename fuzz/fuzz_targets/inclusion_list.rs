//! `decode_list` (inclusion lists between members, SPEC.md §5.7): bounded by the list size,
//! canonical (a decoded list re-encodes to the input).
#![no_main]
use curtain::node::core::inclusion::{decode_list, encode_list, InclusionConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(ids) = decode_list(data, InclusionConfig::default().max_list) {
        assert_eq!(encode_list(&ids), data, "inclusion list re-encodes differently");
    }
});
