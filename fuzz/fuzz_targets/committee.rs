//! `committee.json` (`Committee::from_json`, what `Committee::load` reads; also fetched by
//! `curtain dkg` from a previous committee). JSON has many encodings of one value
//! (whitespace, key order, escapes), so the check is decode(encode(x)) == x: the decoded
//! file, serialized again, decodes to the same committee.
#![no_main]
use curtain::node::settings::{Committee, CommitteeFile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(c) = Committee::from_json(text) else {
        return;
    };
    let file: CommitteeFile = serde_json::from_str(text).expect("from_json parsed it");
    let again = serde_json::to_string(&file).expect("serializes");
    let d = Committee::from_json(&again).expect("re-encoded committee decodes");
    let json = |c: &Committee| serde_json::to_value(&c.participants).unwrap();
    assert!(json(&c) == json(&d));
    assert!(c.identities == d.identities);
    assert!(c.consensus_public == d.consensus_public);
    assert!(c.encryption_key == d.encryption_key);
    assert!(c.key_epoch == d.key_epoch);
    assert!(c.activation_height == d.activation_height);
    assert!(c.namespaces == d.namespaces);
    assert!(c.rln == d.rln);
});
