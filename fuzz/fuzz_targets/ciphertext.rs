//! curtain-crypto's ciphertext decoders: `EncodedCiphertext::parse` (structure), its point
//! decoding (`decode`, `decode_all`), `Ciphertext::from_bytes` and `Label::from_bytes`. All
//! are canonical: a decoded value re-encodes to exactly the input.
#![no_main]
use curtain_crypto::{decode_all, Ciphertext, EncodedCiphertext, Label};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(enc) = EncodedCiphertext::parse(data) {
        assert_eq!(enc.as_bytes(), data, "parse does not keep the bytes");
        assert_eq!(enc.encoded_len(), data.len());
        let _ = enc.id();
        let _ = enc.label();
        let decoded = enc.decode();
        let all = decode_all(std::slice::from_ref(&enc));
        assert_eq!(decoded.is_ok(), all[0].is_ok(), "decode and decode_all disagree");
        if let Ok(ct) = decoded {
            assert_eq!(ct.to_bytes(), data, "decoded ciphertext re-encodes differently");
            assert_eq!(ct.id(), enc.id());
        }
    }
    if let Ok(ct) = Ciphertext::from_bytes(data) {
        assert_eq!(ct.to_bytes(), data, "ciphertext re-encodes differently");
        assert!(EncodedCiphertext::parse(data).is_ok(), "from_bytes accepts what parse refuses");
    }
    if let Ok(label) = Label::from_bytes(data) {
        assert_eq!(label.to_bytes(), data, "label re-encodes differently");
    }
});
