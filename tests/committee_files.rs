//! `curtain committee new` writes files a member can load: identities sorted, consensus and
//! decryption shares consistent with the public committee file, keystores private and
//! encrypted.

use curtain::dkg::keystore::{self, KeystoreError, Passphrase};
use curtain::dkg::MemberShares;
use curtain::node::settings::{Committee, NodeFile};
use std::process::Command;

#[test]
fn dealt_committee_loads_and_is_consistent() {
    let dir = std::env::temp_dir().join(format!("curtain-committee-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let status = Command::new(env!("CARGO_BIN_EXE_curtain"))
        .args([
            "committee",
            "new",
            "--nodes",
            "4",
            "--insecure-fast-kdf",
            "--out",
        ])
        .arg(&dir)
        .env("CURTAIN_PASSPHRASE", "pw")
        .status()
        .expect("run curtain");
    assert!(status.success());
    let committee = Committee::load(&dir.join("committee.json")).expect("committee loads");
    assert_eq!(committee.identities.len(), 4);
    assert_eq!(committee.encryption_key.t(), 3);
    assert_eq!(committee.dkg.as_ref().unwrap().kind, "dealer");
    let pass = Passphrase::new("pw");
    for i in 0..4 {
        let node: NodeFile = toml::from_str(
            &std::fs::read_to_string(dir.join(format!("node{i}/node.toml"))).unwrap(),
        )
        .unwrap();
        assert_eq!(node.index, i);
        let secrets = keystore::read(&node.keystore, &pass).unwrap();
        assert!(matches!(
            keystore::read(&node.keystore, &Passphrase::new("nope")),
            Err(KeystoreError::WrongPassphrase)
        ));
        use commonware_cryptography::Signer as _;
        assert_eq!(
            secrets.identity.public_key(),
            committee.identities[i as usize]
        );
        let shares = secrets.shares.expect("shares");
        assert_eq!(shares.key_epoch, 0);
        let share = MemberShares {
            index: i,
            consensus: shares.consensus.clone(),
            encryption: shares.encryption.clone(),
        }
        .key_share();
        assert_eq!(share.index(), i);
        share
            .check(&committee.encryption_key)
            .expect("decryption share matches the key");
        assert!(
            committee.signer(shares.consensus).is_some(),
            "the consensus signer accepts the share"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&node.keystore)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "keystores are private");
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
