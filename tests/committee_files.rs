//! `curtain committee new` writes files a member can load: identities sorted, consensus and
//! decryption shares consistent with the public committee file, key files private.

use curtain::node::config::{
    load_consensus_share, load_decryption_share, load_identity, Committee, NodeFile,
};
use std::process::Command;

#[test]
fn dealt_committee_loads_and_is_consistent() {
    let dir = std::env::temp_dir().join(format!("curtain-committee-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let status = Command::new(env!("CARGO_BIN_EXE_curtain"))
        .args(["committee", "new", "--nodes", "4", "--out"])
        .arg(&dir)
        .status()
        .expect("run curtain");
    assert!(status.success());
    let committee = Committee::load(&dir.join("committee.json")).expect("committee loads");
    assert_eq!(committee.identities.len(), 4);
    assert_eq!(committee.encryption_key.t(), 3);
    for i in 0..4 {
        let node: NodeFile = toml::from_str(
            &std::fs::read_to_string(dir.join(format!("node{i}/node.toml"))).unwrap(),
        )
        .unwrap();
        assert_eq!(node.index, i);
        let identity = load_identity(&node.identity_key).unwrap();
        use commonware_cryptography::Signer as _;
        assert_eq!(identity.public_key(), committee.identities[i as usize]);
        let share = load_decryption_share(&node.decryption_share).unwrap();
        assert_eq!(share.index(), i);
        share
            .check(&committee.encryption_key)
            .expect("decryption share matches the key");
        let consensus = load_consensus_share(&node.consensus_share).unwrap();
        assert!(
            committee.signer(consensus).is_some(),
            "the consensus signer accepts the share"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&node.identity_key)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "key files are private");
        }
    }
    // a tampered committee file is refused with a reason
    let text = std::fs::read_to_string(dir.join("committee.json")).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        text.replacen("\"encryption_key\": \"", "\"encryption_key\": \"00", 1),
    )
    .unwrap();
    assert!(Committee::load(&bad).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}
