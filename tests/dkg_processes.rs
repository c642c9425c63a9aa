//! `curtain dkg` and `curtain reshare --refresh` as one process per member over loopback p2p:
//! every member writes the same committee, its keystore opens, its shares fit the key; the
//! refresh keeps the key and moves to key epoch 1. One member is started late (its peers'
//! first messages are dropped and recovered by resync).

mod common;

use curtain::dkg::keystore::{self, Passphrase};
use curtain::dkg::MemberShares;
use curtain::ledger::{Height, KeyEpoch};
use curtain::node::settings::{Committee, NodeFile, Participant};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const PASS: &str = "dkg-test";

fn spawn(args: &[&str], config: &Path, log: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_curtain"))
        .args(args)
        .arg("--config")
        .arg(config)
        .env("CURTAIN_PASSPHRASE", PASS)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

fn wait_all(children: Vec<Child>, logs: &[PathBuf]) {
    for (mut c, log) in children.into_iter().zip(logs) {
        let status = c.wait().unwrap();
        assert!(
            status.success(),
            "member failed: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
    }
}

fn check(dirs: &[PathBuf], epoch: u64) -> Committee {
    let first = Committee::load(&dirs[0].join("committee.json")).unwrap();
    let record = first.dkg.clone().unwrap();
    assert_eq!(first.key_epoch, KeyEpoch(epoch));
    for (i, d) in dirs.iter().enumerate() {
        let c = Committee::load(&d.join("committee.json")).unwrap();
        assert_eq!(c.encryption_key, first.encryption_key);
        assert_eq!(c.dkg.as_ref().unwrap().transcript, record.transcript);
        let node: NodeFile =
            toml::from_str(&std::fs::read_to_string(d.join("node.toml")).unwrap()).unwrap();
        // after a reshare node.toml lists the previous epoch, then the new one
        let path = match node.epochs.last() {
            Some(e) => e.keystore.clone().unwrap(),
            None => node.keystore.clone(),
        };
        assert_eq!(node.epochs.len() as u64, epoch);
        let s = keystore::read(&path, &Passphrase::new(PASS)).unwrap();
        let shares = s.shares.unwrap();
        assert_eq!(shares.key_epoch, epoch);
        let ks = MemberShares {
            index: node.index,
            consensus: shares.consensus.clone(),
            encryption: shares.encryption,
        }
        .key_share();
        ks.check(&c.encryption_key).unwrap();
        assert!(c.signer(shares.consensus).is_some(), "member {i}");
    }
    first
}

#[test]
fn four_processes_run_a_dkg_then_a_refresh() {
    let n = 4;
    let base = common::free_ports(20_000, 25_000, 8);
    let root = std::env::temp_dir().join(format!("curtain-dkg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let dirs: Vec<PathBuf> = (0..n).map(|i| root.join(format!("m{i}"))).collect();
    let mut members = Vec::new();
    for (i, d) in dirs.iter().enumerate() {
        std::fs::create_dir_all(d).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_curtain"))
            .args(["keygen", "--insecure-fast-kdf", "--out"])
            .arg(d.join("identity.ks"))
            .env("CURTAIN_PASSPHRASE", PASS)
            .output()
            .unwrap();
        assert!(out.status.success());
        members.push(Participant {
            identity: String::from_utf8(out.stdout).unwrap().trim().to_string(),
            p2p: ([127, 0, 0, 1], base + i as u16).into(),
            api: ([127, 0, 0, 1], base + 100 + i as u16).into(),
            quic: None,
        });
    }
    let toml_members: String = members
        .iter()
        .map(|m| {
            format!(
                "[[members]]\nidentity = \"{}\"\np2p = \"{}\"\napi = \"{}\"\n\n",
                m.identity, m.p2p, m.api
            )
        })
        .collect();
    for d in &dirs {
        std::fs::write(
            d.join("dkg.toml"),
            format!(
                "round = 0\nkeystore = \"identity.ks\"\nout = \".\"\nkdf = \"insecure-fast\"\n\n{toml_members}"
            ),
        )
        .unwrap();
    }
    let logs: Vec<PathBuf> = dirs.iter().map(|d| d.join("dkg.log")).collect();
    let mut children: Vec<Child> = (0..n - 1)
        .map(|i| spawn(&["dkg"], &dirs[i].join("dkg.toml"), &logs[i]))
        .collect();
    // the last member starts late
    std::thread::sleep(Duration::from_millis(1500));
    children.push(spawn(&["dkg"], &dirs[n - 1].join("dkg.toml"), &logs[n - 1]));
    wait_all(children, &logs);
    let dkg = check(&dirs, 0);
    assert_eq!(dkg.dkg.as_ref().unwrap().kind, "dkg");
    let log = std::fs::read_to_string(&logs[0]).unwrap();
    assert!(log.contains("phase Deal"), "progress lines: {log}");
    // No secret in any log: not the passphrase, not a share, not an identity key.
    for (d, l) in dirs.iter().zip(&logs) {
        let log = std::fs::read_to_string(l).unwrap();
        let node: NodeFile =
            toml::from_str(&std::fs::read_to_string(d.join("node.toml")).unwrap()).unwrap();
        let s = keystore::read(&node.keystore, &Passphrase::new(PASS)).unwrap();
        let shares = s.shares.as_ref().unwrap();
        use commonware_codec::Encode as _;
        for secret in [
            hex::encode(shares.encryption.private.expose(|x| x.encode())),
            hex::encode(shares.consensus.private.expose(|x| x.encode())),
            hex::encode(s.identity.encode()),
            PASS.to_string(),
        ] {
            assert!(!log.contains(&secret), "a secret in {}", l.display());
        }
    }

    // refresh: same members, fresh shares, same key, epoch 1
    for d in &dirs {
        std::fs::write(
            d.join("refresh.toml"),
            format!(
                "round = 0\nkeystore = \"member-epoch0.ks\"\nout = \"epoch1\"\nprevious_committee = \"committee.json\"\nactivation_height = 50\nkdf = \"insecure-fast\"\n\n{toml_members}"
            ),
        )
        .unwrap();
    }
    let logs: Vec<PathBuf> = dirs.iter().map(|d| d.join("refresh.log")).collect();
    let children: Vec<Child> = (0..n)
        .map(|i| {
            spawn(
                &["reshare", "--refresh"],
                &dirs[i].join("refresh.toml"),
                &logs[i],
            )
        })
        .collect();
    wait_all(children, &logs);
    let epoch1: Vec<PathBuf> = dirs.iter().map(|d| d.join("epoch1")).collect();
    let refreshed = check(&epoch1, 1);
    assert_eq!(refreshed.encryption_key.id(), dkg.encryption_key.id());
    assert_eq!(refreshed.dkg.unwrap().kind, "refresh");
    assert_eq!(refreshed.activation_height, Some(Height(50)));
    let _ = std::fs::remove_dir_all(&root);
}
