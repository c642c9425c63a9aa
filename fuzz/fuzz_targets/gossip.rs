//! `decode_gossip` (mempool gossip between members): a decoded message re-encodes
//! (`encode_envelopes`, the encoder gossip uses) to the input.
#![no_main]
use curtain::node::core::member::{decode_gossip, encode_envelopes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(envs) = decode_gossip(data) {
        let out = encode_envelopes(envs);
        assert_eq!(out, data, "gossip re-encodes differently");
    }
});
