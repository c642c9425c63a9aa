//! Keystore files (member keystores, `dkg::keystore`; wallet RLN identities, `sdk::rln`): the
//! container (`keystore::parse`: magic, version, KDF cost, lengths; everything `open` checks
//! before deriving a key), `open` itself for files at the cheapest KDF setting (others are
//! only parsed: the fuzzer cannot forge the AEAD, and a costly KDF would only be slow), and
//! both decrypted payloads (`MemberSecrets::decode`, `identity_from_payload`). All canonical:
//! re-encoding gives back exactly the input.
#![no_main]
use curtain::dkg::keystore::MemberSecrets;
use curtain::secrets::sealed::{open, parse, KdfParams, Passphrase};
use curtain::sdk::rln::identity_from_payload;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, data)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => {
            for magic in [b"CURTAINK", b"CURTAINI"] {
                if let Ok(sealed) = parse(magic, data) {
                    assert_eq!(sealed.to_bytes(), data, "keystore re-encodes differently");
                    if sealed.kdf == KdfParams::INSECURE_FAST {
                        let _ = open(magic, data, &Passphrase::new("fuzz"));
                    }
                }
            }
        }
        1 => {
            if let Ok(s) = MemberSecrets::decode(data) {
                assert_eq!(&s.encode()[..], data, "member secrets re-encode differently");
            }
        }
        _ => {
            if let Ok(id) = identity_from_payload(data) {
                let mut out = id.secret_bytes().to_vec();
                out.extend_from_slice(&id.limit().to_be_bytes());
                assert_eq!(out, data, "identity re-encodes differently");
            }
        }
    }
});
