//! Anonymous senders (SPEC.md §8.11): an RLN identity kept in an encrypted key file, its
//! registration through the committee's registry namespace, and membership proofs for
//! envelopes.
//!
//! The identity file is a passphrase-encrypted keystore ([`crate::secrets::sealed`], magic
//! `CURTAINI`, payload `a0(32) ‖ limit(4)`), mode 0600; in memory the secret is zeroized on
//! drop (`curtain_circuits::Identity`). Next to it, `<file>.used` records the last message
//! index used per epoch, so a restarted wallet never signals twice with one index (which
//! would reveal its secret and get it slashed).

use super::{get_json, max_leaves_answer, Client, SdkError, MAX_SMALL_ANSWER};
use crate::ledger::envelope::Envelope;
use crate::ledger::rln::{seal_anonymous, Membership, RegistryTx, SealError};
use crate::protocol::json::{RlnLeaves, RlnRegistry};
use crate::secrets::sealed::{self, KdfParams, KeystoreError, Magic, Passphrase};
use curtain_circuits::{fr_to_be_bytes, Identity, MerkleTree, ProvingKey};
use curtain_crypto::Namespace;
use rand_core::CryptoRng;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// The kind of an RLN identity keystore.
const IDENTITY_MAGIC: &Magic = b"CURTAINI";

/// Creates an identity with quota `limit` (messages per epoch) and writes it to `path`,
/// sealed under `pass` (0600). Use [`KdfParams::STRONG`] outside tests.
pub fn create_identity<R: CryptoRng + ?Sized>(
    path: &Path,
    limit: u32,
    pass: &Passphrase,
    kdf: KdfParams,
    rng: &mut R,
) -> Result<Identity, SdkError> {
    let id = Identity::random(limit, rng);
    let mut plain = Zeroizing::new(Vec::with_capacity(36));
    plain.extend_from_slice(id.secret_bytes().as_ref());
    plain.extend_from_slice(&limit.to_be_bytes());
    let sealed = sealed::seal(IDENTITY_MAGIC, &plain, pass, kdf, rng)?;
    sealed::write(path, &sealed)?;
    Ok(id)
}

/// Loads an identity written by [`create_identity`].
pub fn load_identity(path: &Path, pass: &Passphrase) -> Result<Identity, SdkError> {
    let plain = sealed::read(IDENTITY_MAGIC, path, pass)?;
    identity_from_payload(&plain)
}

/// Decodes an identity keystore's payload, `a0(32) ‖ limit(4)` (what [`load_identity`] does
/// after decrypting).
pub fn identity_from_payload(plain: &[u8]) -> Result<Identity, SdkError> {
    let bad = || {
        SdkError::Keystore(KeystoreError::Corrupt(
            "identity payload is not a0(32) ‖ limit(4)",
        ))
    };
    let (secret, limit): (&[u8; 32], &[u8; 4]) = match plain {
        [s @ .., l0, l1, l2, l3] if s.len() == 32 => {
            (s.try_into().map_err(|_| bad())?, &[*l0, *l1, *l2, *l3])
        }
        _ => return Err(bad()),
    };
    Identity::from_secret_bytes(secret, u32::from_be_bytes(*limit)).map_err(|_| bad())
}

/// A wallet that sends to anonymous namespaces.
pub struct AnonymousWallet {
    client: Client,
    identity: Identity,
    pk: Arc<ProvingKey>,
    /// Where the last used `(epoch, message index)` is kept.
    used_path: PathBuf,
    used: Mutex<Option<(u64, u32)>>,
}

/// Where a registered identity sits: the tree rebuilt from the members' leaves up to a root
/// the committee accepts, and the identity's index.
pub struct Registered {
    pub tree: MerkleTree,
    pub index: u64,
}

impl AnonymousWallet {
    /// The identity from `identity_path`, opened with `pass`; `pk` must be the committee's
    /// circuit.
    pub fn new(
        client: Client,
        identity_path: &Path,
        pass: &Passphrase,
        pk: Arc<ProvingKey>,
    ) -> Result<Self, SdkError> {
        let rln = client.committee().rln.clone().ok_or_else(|| {
            SdkError::Protocol("this committee has no anonymous namespace".into())
        })?;
        if hex::encode(pk.digest()) != rln.circuit_digest {
            return Err(SdkError::Key(
                "the proving key is for another circuit than the committee's".into(),
            ));
        }
        let identity = load_identity(identity_path, pass)?;
        let used_path = identity_path.with_extension("used");
        let used = std::fs::read_to_string(&used_path).ok().and_then(|t| {
            let mut p = t.split_whitespace().map(|x| x.parse::<u64>());
            Some((p.next()?.ok()?, u32::try_from(p.next()?.ok()?).ok()?))
        });
        Ok(Self {
            client,
            identity,
            pk,
            used_path,
            used: Mutex::new(used),
        })
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Submits the registration transaction (public: commitment and quota) to the
    /// committee's registry namespace; returns its ciphertext id.
    pub async fn register<R: CryptoRng + ?Sized>(&self, rng: &mut R) -> Result<[u8; 32], SdkError> {
        let ns = self.rln()?.registry_namespace;
        let tx = RegistryTx::register(&self.identity.commitment(), self.identity.limit());
        let ct = self.client.encrypt(ns, b"rln-registration", &tx, rng)?;
        self.client.submit(&ct, 0).await
    }

    /// Waits until the committee's tree holds this identity under a root the next block
    /// accepts, and returns the tree as of that root.
    pub async fn wait_registered(&self, timeout: Duration) -> Result<Registered, SdkError> {
        let deadline = Instant::now() + timeout;
        let mine = fr_to_be_bytes(&self.identity.commitment());
        let depth = self.pk.params().depth();
        loop {
            if let Some(r) = self.try_registered(&mine, depth).await? {
                return Ok(r);
            }
            if Instant::now() > deadline {
                return Err(SdkError::Protocol(
                    "identity not in an accepted root before the timeout".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn try_registered(
        &self,
        mine: &[u8; 32],
        depth: u8,
    ) -> Result<Option<Registered>, SdkError> {
        let base = &self.client.nodes[0];
        let reg: RlnRegistry = get_json(
            &self.client.http,
            &format!("{base}/v1/rln/registry"),
            MAX_SMALL_ANSWER,
        )
        .await?;
        let leaves: RlnLeaves = get_json(
            &self.client.http,
            &format!("{base}/v1/rln/leaves"),
            max_leaves_answer(depth),
        )
        .await?;
        let Some(index) = leaves.leaves.iter().position(|l| l == &hex::encode(mine)) else {
            return Ok(None);
        };
        // the newest accepted root reached by a prefix of the leaves that holds ours
        let mut tree = MerkleTree::new(depth).map_err(|e| SdkError::Protocol(e.to_string()))?;
        let mut best = None;
        for (i, l) in leaves.leaves.iter().enumerate() {
            let bytes: [u8; 32] = hex::decode(l)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| SdkError::Protocol("bad leaf".into()))?;
            let leaf = curtain_circuits::fr_from_be_bytes(&bytes)
                .map_err(|e| SdkError::Protocol(e.to_string()))?;
            tree.push(leaf)
                .map_err(|e| SdkError::Protocol(e.to_string()))?;
            if i >= index
                && reg
                    .accepted_roots
                    .contains(&hex::encode(fr_to_be_bytes(&tree.root())))
            {
                best = Some(i);
            }
        }
        let Some(upto) = best else {
            return Ok(None);
        };
        let mut tree = MerkleTree::new(depth).map_err(|e| SdkError::Protocol(e.to_string()))?;
        for l in &leaves.leaves[..=upto] {
            let bytes: [u8; 32] = hex::decode(l)
                .expect("checked")
                .try_into()
                .expect("checked");
            tree.push(curtain_circuits::fr_from_be_bytes(&bytes).expect("checked"))
                .expect("checked");
        }
        Ok(Some(Registered {
            tree,
            index: index as u64,
        }))
    }

    /// The current RLN epoch (of the next block at member 0).
    pub async fn epoch(&self) -> Result<u64, SdkError> {
        let base = &self.client.nodes[0];
        let reg: RlnRegistry = get_json(
            &self.client.http,
            &format!("{base}/v1/rln/registry"),
            MAX_SMALL_ANSWER,
        )
        .await?;
        Ok(reg.epoch)
    }

    /// Encrypts `payload` to anonymous `namespace` with a membership proof, using the next
    /// unused message index of the current epoch (recorded before proving). Proving runs on
    /// a blocking thread; `progress(elapsed)` is called every 250 ms while it runs.
    pub async fn seal(
        &self,
        namespace: Namespace,
        payload: &[u8],
        member: &Registered,
        progress: impl Fn(Duration),
    ) -> Result<Envelope, SdkError> {
        let epoch = self.epoch().await?;
        let k = self.next_index(epoch)?;
        let key = Arc::clone(self.client.key());
        let key_epoch = self.client.committee().key_epoch;
        let (pk, payload, tree, index) = (
            Arc::clone(&self.pk),
            payload.to_vec(),
            member.tree.clone(),
            member.index,
        );
        let secret = self.identity.secret_bytes();
        let limit = self.identity.limit();
        let started = Instant::now();
        // a plain thread, not tokio's blocking pool: the wallet library builds tokio with
        // `time` and `sync` only
        let (done_tx, mut done_rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let sealed = Identity::from_secret_bytes(&secret, limit)
                .map_err(SealError::from)
                .and_then(|identity| {
                    let m = Membership {
                        identity: &identity,
                        tree: &tree,
                        index,
                        epoch,
                        message_index: k,
                    };
                    seal_anonymous(
                        &key,
                        key_epoch,
                        namespace,
                        &payload,
                        &m,
                        &pk,
                        &mut rand::rng(),
                    )
                });
            // the receiver is gone only if the caller dropped the future
            let _ = done_tx.send(sealed);
        });
        loop {
            match tokio::time::timeout(Duration::from_millis(250), &mut done_rx).await {
                Ok(done) => {
                    return done
                        .map_err(|_| SdkError::Protocol("the proving thread panicked".into()))?
                        .map_err(SdkError::from);
                }
                Err(_) => progress(started.elapsed()),
            }
        }
    }

    /// Submits an anonymous envelope, as [`Client::submit`] does an open one (members in
    /// turn with backoff on transient failures; a duplicate counts as accepted).
    pub async fn submit(&self, envelope: &Envelope) -> Result<[u8; 32], SdkError> {
        self.client
            .submit_envelope(envelope.to_bytes(), envelope.id(), 0)
            .await
    }

    fn rln(&self) -> Result<&crate::protocol::json::RlnInfo, SdkError> {
        self.client
            .committee()
            .rln
            .as_ref()
            .ok_or_else(|| SdkError::Protocol("this committee has no anonymous namespace".into()))
    }

    /// The next message index of `epoch`, recorded durably before it is used.
    fn next_index(&self, epoch: u64) -> Result<u32, SdkError> {
        let mut used = self.used.lock().expect("used lock");
        let k = match *used {
            Some((e, k)) if e == epoch => k + 1,
            _ => 0,
        };
        if k >= self.identity.limit() {
            return Err(SdkError::Protocol(format!(
                "quota of {} messages in epoch {epoch} used up",
                self.identity.limit()
            )));
        }
        std::fs::write(&self.used_path, format!("{epoch} {k}\n"))
            .map_err(|e| SdkError::Key(e.to_string()))?;
        *used = Some((epoch, k));
        Ok(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng as _;

    #[test]
    fn identity_files_are_sealed_and_typed() {
        let dir = std::env::temp_dir().join(format!("curtain-id-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("me.id");
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let pass = Passphrase::new("pw");
        let id = create_identity(&path, 5, &pass, KdfParams::INSECURE_FAST, &mut rng).unwrap();
        let back = load_identity(&path, &pass).unwrap();
        assert_eq!(back.secret_bytes().as_slice(), id.secret_bytes().as_slice());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(matches!(
            load_identity(&path, &Passphrase::new("nope")),
            Err(SdkError::Keystore(KeystoreError::WrongPassphrase))
        ));
        // another kind of keystore (or a payload of the wrong shape) is not an identity
        let other = sealed::seal(
            b"CURTAINK",
            &[7; 36],
            &pass,
            KdfParams::INSECURE_FAST,
            &mut rng,
        )
        .unwrap();
        sealed::write(&path, &other).unwrap();
        assert!(matches!(
            load_identity(&path, &pass),
            Err(SdkError::Keystore(KeystoreError::NotAKeystore))
        ));
        let short = sealed::seal(
            IDENTITY_MAGIC,
            &[7; 35],
            &pass,
            KdfParams::INSECURE_FAST,
            &mut rng,
        )
        .unwrap();
        sealed::write(&path, &short).unwrap();
        assert!(matches!(
            load_identity(&path, &pass),
            Err(SdkError::Keystore(KeystoreError::Corrupt(_)))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
