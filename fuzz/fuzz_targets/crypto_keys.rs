//! curtain-crypto's key and opening decoders: `CommitteeKey::from_bytes` (committee.json's
//! encryption key, `GET /v1/committee`), `EncryptionKey`, `KeyShare` (share files) and
//! `Opening` (released batches). All canonical: re-encoding gives back exactly the input.
#![no_main]
use curtain_crypto::{CommitteeKey, EncryptionKey, KeyShare, Opening};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(k) = CommitteeKey::from_bytes(data) {
        assert_eq!(k.to_bytes(), data, "committee key re-encodes differently");
    }
    if let Ok(k) = EncryptionKey::from_bytes(data) {
        assert_eq!(&k.to_bytes()[..], data, "encryption key re-encodes differently");
    }
    if let Ok(k) = KeyShare::from_bytes(data) {
        assert_eq!(&k.to_bytes()[..], data, "key share re-encodes differently");
    }
    if let Ok(o) = Opening::from_bytes(data) {
        assert_eq!(&o.to_bytes()[..], data, "opening re-encodes differently");
    }
});
