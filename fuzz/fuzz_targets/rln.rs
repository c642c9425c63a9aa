//! RLN decoders (curtain-circuits and the ledger's registry transactions): `Proof::from_bytes`
//! (Groth16 proof, compressed points with subgroup checks), `Statement::from_bytes`,
//! `RegistryTx::decode` (released plaintexts of the registry namespace) and
//! `SlashingEvidence::from_bytes`, and the verifying key file (`VerifyingKey::from_bytes`, a
//! downloaded file). All canonical: re-encoding gives back exactly the input.
#![no_main]
use curtain::ledger::rln::{RegistryTx, SlashingEvidence};
use curtain_circuits::{Proof, Statement, VerifyingKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, data)) = data.split_first() else {
        return;
    };
    match which % 4 {
        0 => {
            if let Ok(p) = Proof::from_bytes(data) {
                assert_eq!(&p.to_bytes()[..], data, "proof re-encodes differently");
            }
        }
        1 => {
            if let Ok(s) = Statement::from_bytes(data) {
                assert_eq!(&s.to_bytes()[..], data, "statement re-encodes differently");
            }
        }
        2 => {
            match RegistryTx::decode(data) {
                Ok(RegistryTx::Register { commitment, limit }) => {
                    let mut out = vec![data[0]];
                    out.extend_from_slice(&commitment);
                    out.extend_from_slice(&limit.to_be_bytes());
                    assert_eq!(out, data, "registration re-encodes differently");
                }
                Ok(RegistryTx::Slash(ev)) => {
                    assert_eq!(ev.to_bytes(), &data[1..], "slashing re-encodes differently");
                }
                Err(_) => {}
            }
            if let Ok(ev) = SlashingEvidence::from_bytes(data) {
                assert_eq!(ev.to_bytes(), data, "evidence re-encodes differently");
            }
        }
        _ => {
            if let Ok(vk) = VerifyingKey::from_bytes(data) {
                assert_eq!(vk.to_bytes(), data, "verifying key re-encodes differently");
            }
        }
    }
});
