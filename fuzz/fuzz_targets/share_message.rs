//! The shares channel: `ShareMessage::decode` (`0x00 ‖ SignedBatch`, a request, or
//! `0x02 ‖ Evidence`) and
//! `ShareBatch::from_bytes{,_capped}`. Canonical: re-encoding gives back exactly the input.
#![no_main]
use curtain::node::core::member::ShareMessage;
use curtain_crypto::ShareBatch;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for max in [2048, 3] {
        if let Ok(m) = ShareMessage::decode(data, max) {
            assert_eq!(m.encode(), data, "share message re-encodes differently");
        }
        if let Ok(b) = ShareBatch::from_bytes_capped(data, max) {
            assert_eq!(b.to_bytes(), data, "share batch re-encodes differently");
        }
    }
    if let Ok(b) = ShareBatch::from_bytes(data) {
        assert_eq!(b.to_bytes(), data, "share batch re-encodes differently");
    }
});
