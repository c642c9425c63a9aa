//! `decode_gossip` (mempool gossip between members). The encoder takes verified ciphertexts,
//! so the target re-encodes the decoded envelopes in the same layout
//! (`version ‖ count(4) ‖ count × (len(4) ‖ Envelope)`) and requires the input back.
#![no_main]
use curtain::node::core::member::decode_gossip;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(envs) = decode_gossip(data) {
        let mut out = vec![data[0]];
        out.extend_from_slice(&(envs.len() as u32).to_be_bytes());
        for e in &envs {
            let b = e.to_bytes();
            out.extend_from_slice(&(b.len() as u32).to_be_bytes());
            out.extend_from_slice(&b);
        }
        assert_eq!(out, data, "gossip re-encodes differently");
    }
});
