//! DKG ceremony messages (`Msg`, from peers over the p2p channel) and journal entries
//! (`Entry`, read back from the ceremony journal file), bounded by the participant count.
//! commonware's codec is canonical: a decoded value re-encodes to exactly the input.
#![no_main]
use commonware_codec::{Copying, Decode as _, Encode as _};
use curtain::dkg::msg::{Entry, Msg};
use libfuzzer_sys::fuzz_target;
use std::num::NonZeroU32;

fuzz_target!(|data: &[u8]| {
    let max = NonZeroU32::new(8).unwrap();
    if let Ok(m) = Msg::decode_cfg(Copying(data), &max) {
        assert_eq!(&m.encode()[..], data, "DKG message re-encodes differently");
        let _ = m.kind();
    }
    if let Ok(e) = Entry::decode_cfg(Copying(data), &max) {
        assert_eq!(&e.encode()[..], data, "journal entry re-encodes differently");
    }
});
