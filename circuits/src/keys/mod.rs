//! Groth16 keys: the dev setup, the key file format and the circuit digest.
//!
//! Key file (version 1), integers big-endian:
//!
//! ```text
//! magic "CRTNRLN\0" (8) ‖ version u16 ‖ kind u8 (1 proving, 2 verifying) ‖ depth u8 ‖
//! range_bits u8 ‖ circuit digest (32) ‖ body_len u64 ‖ body
//! ```
//!
//! The body is the arkworks compressed encoding of the key. Loading treats the file as hostile:
//! caps on the body length before anything is allocated, exact length, compressed points with
//! subgroup checks, re-encoding must reproduce the bytes, the key's sizes must be those of the
//! circuit the header names, and the header digest must be the recomputed one.
//!
//! Each key carries its prepared form (`prepared`), built once when it is made or loaded.

use crate::{
    circuit::RlnCircuit,
    encoding::{decode_canonical, encode},
    params::CircuitParams,
    poseidon, KeyError,
};
use ark_bls12_381::Bls12_381;
use ark_ec::AffineRepr;
use ark_groth16::Groth16;
use rand_chacha_03::{rand_core::SeedableRng, ChaCha20Rng};
use sha2::{Digest, Sha256};
use std::{io::Read, path::Path};

pub(crate) mod prepared;

use prepared::{PreparedPk, PreparedVk};

/// Current key file format version.
pub const KEY_FORMAT_VERSION: u16 = 1;
/// Key file magic.
pub const KEY_MAGIC: [u8; 8] = *b"CRTNRLN\0";
/// Domain tag of the circuit digest.
pub const DIGEST_DST: &[u8] = b"curtain/v1/rln-circuit-digest";
/// Cap on a verifying key body (7 G1 + 3 G2 points and a length prefix: 632 bytes).
pub const MAX_VERIFYING_KEY_BODY: u64 = 4 << 10;
/// Cap on a proving key body (about 2 MiB at depth 20, 3 MiB at depth 32).
pub const MAX_PROVING_KEY_BODY: u64 = 64 << 20;

const KIND_PROVING: u8 = 1;
const KIND_VERIFYING: u8 = 2;
const HEADER_BYTES: usize = 8 + 2 + 1 + 1 + 1 + 32 + 8;
/// Public inputs plus the constant one.
const IC_LEN: usize = 6;

type ArkVerifyingKey = ark_groth16::VerifyingKey<Bls12_381>;
type ArkProvingKey = ark_groth16::ProvingKey<Bls12_381>;

/// A circuit digest: SHA-256 over the circuit's canonical description (see [`circuit_digest`]).
pub type CircuitDigest = [u8; 32];

/// The verifying key, prepared for pairing checks, with its circuit parameters and digest.
#[derive(Clone)]
pub struct VerifyingKey {
    params: CircuitParams,
    vk: ArkVerifyingKey,
    pub(crate) prepared: PreparedVk,
    digest: CircuitDigest,
}

/// The proving key, with its circuit parameters and the digest of its verifying key.
pub struct ProvingKey {
    params: CircuitParams,
    pub(crate) pk: ArkProvingKey,
    pub(crate) prepared: PreparedPk,
    digest: CircuitDigest,
}

/// **Insecure: for tests and devnets only.** A deterministic Groth16 setup from `seed`.
///
/// Anyone who knows the seed can recompute the toxic waste (τ, α, β, γ, δ) and forge proofs
/// for any statement: membership, quotas and nullifiers mean nothing under these keys. A
/// production deployment runs a phase-2 MPC ceremony for this circuit (see the spec).
pub fn setup_dev(params: CircuitParams, seed: [u8; 32]) -> (ProvingKey, VerifyingKey) {
    let mut rng = ChaCha20Rng::from_seed(seed);
    let pk = Groth16::<Bls12_381>::generate_random_parameters_with_reduction(
        RlnCircuit::blank(params),
        &mut rng,
    )
    .expect("the RLN circuit synthesises in setup mode");
    let vk = VerifyingKey::new(params, &pk.vk);
    (
        ProvingKey {
            params,
            prepared: PreparedPk::new(&pk, params),
            pk,
            digest: vk.digest,
        },
        vk,
    )
}

/// `SHA-256(len(dst) ‖ dst ‖ version u16 ‖ depth ‖ range_bits ‖ poseidon ‖ len(vk) ‖ vk)`
/// where `dst` = [`DIGEST_DST`], lengths are u64 big-endian, `poseidon` is
/// [`poseidon::digest`] and `vk` the compressed verifying key.
pub fn circuit_digest(params: CircuitParams, vk_bytes: &[u8]) -> CircuitDigest {
    let mut h = Sha256::new();
    h.update((DIGEST_DST.len() as u64).to_be_bytes());
    h.update(DIGEST_DST);
    h.update(KEY_FORMAT_VERSION.to_be_bytes());
    h.update([params.depth(), params.range_bits()]);
    h.update(poseidon::digest());
    h.update((vk_bytes.len() as u64).to_be_bytes());
    h.update(vk_bytes);
    h.finalize().into()
}

impl VerifyingKey {
    fn new(params: CircuitParams, vk: &ArkVerifyingKey) -> Self {
        Self {
            params,
            vk: vk.clone(),
            prepared: PreparedVk::new(vk),
            digest: circuit_digest(params, &encode(vk)),
        }
    }

    /// Circuit parameters.
    pub fn params(&self) -> CircuitParams {
        self.params
    }

    /// Circuit digest (pin this in node configuration).
    pub fn digest(&self) -> CircuitDigest {
        self.digest
    }

    /// Key file bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        write_file(KIND_VERIFYING, self.params, &self.digest, &encode(&self.vk))
    }

    /// Parses and validates a verifying key file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let (params, digest, body) = read_file(bytes, KIND_VERIFYING, MAX_VERIFYING_KEY_BODY)?;
        let vk: ArkVerifyingKey = decode_body(body)?;
        check_vk(&vk)?;
        let key = Self::new(params, &vk);
        if key.digest != digest {
            return Err(KeyError::Digest);
        }
        Ok(key)
    }

    /// Parses a verifying key file and requires it to be the pinned one.
    pub fn from_bytes_pinned(bytes: &[u8], pinned: &CircuitDigest) -> Result<Self, KeyError> {
        let key = Self::from_bytes(bytes)?;
        if &key.digest != pinned {
            return Err(KeyError::Unexpected);
        }
        Ok(key)
    }

    /// Reads a verifying key file (at most the cap plus header bytes are read).
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        Self::from_bytes(&read_capped(path, MAX_VERIFYING_KEY_BODY)?)
    }
}

impl ProvingKey {
    /// Circuit parameters.
    pub fn params(&self) -> CircuitParams {
        self.params
    }

    /// Digest of the circuit and of the embedded verifying key.
    pub fn digest(&self) -> CircuitDigest {
        self.digest
    }

    /// The verifying key embedded in this proving key.
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey::new(self.params, &self.pk.vk)
    }

    /// Key file bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        write_file(KIND_PROVING, self.params, &self.digest, &encode(&self.pk))
    }

    /// Parses and validates a proving key file (subgroup checks on every point: slow, about a
    /// second at depth 20).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let (params, digest, body) = read_file(bytes, KIND_PROVING, MAX_PROVING_KEY_BODY)?;
        let pk: ArkProvingKey = decode_body(body)?;
        check_vk(&pk.vk)?;
        let shape = params.shape();
        let vars = shape.instance + shape.witness;
        let domain = (shape.constraints + shape.instance).next_power_of_two();
        if pk.a_query.len() != vars || pk.b_g1_query.len() != vars || pk.b_g2_query.len() != vars {
            return Err(KeyError::Shape("query lengths"));
        }
        if pk.l_query.len() != shape.witness || pk.h_query.len() != domain - 1 {
            return Err(KeyError::Shape("query lengths"));
        }
        if circuit_digest(params, &encode(&pk.vk)) != digest {
            return Err(KeyError::Digest);
        }
        Ok(Self {
            params,
            prepared: PreparedPk::new(&pk, params),
            pk,
            digest,
        })
    }

    /// Reads a proving key file (at most the cap plus header bytes are read).
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        Self::from_bytes(&read_capped(path, MAX_PROVING_KEY_BODY)?)
    }
}

fn check_vk(vk: &ArkVerifyingKey) -> Result<(), KeyError> {
    if vk.gamma_abc_g1.len() != IC_LEN {
        return Err(KeyError::Shape("number of public inputs"));
    }
    // An honest setup yields no identity point; refusing them keeps the pairing and MSM code
    // free of identity special cases.
    if vk.alpha_g1.is_zero()
        || vk.beta_g2.is_zero()
        || vk.gamma_g2.is_zero()
        || vk.delta_g2.is_zero()
        || vk.gamma_abc_g1.iter().any(|p| p.is_zero())
    {
        return Err(KeyError::Shape("identity point in the verifying key"));
    }
    Ok(())
}

fn decode_body<T: ark_serialize::CanonicalDeserialize + ark_serialize::CanonicalSerialize>(
    body: &[u8],
) -> Result<T, KeyError> {
    decode_canonical(body)
        .map_err(|e| KeyError::Body(e.unwrap_or_else(|| "non-canonical encoding".into())))
}

fn write_file(kind: u8, params: CircuitParams, digest: &CircuitDigest, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_BYTES + body.len());
    out.extend_from_slice(&KEY_MAGIC);
    out.extend_from_slice(&KEY_FORMAT_VERSION.to_be_bytes());
    out.extend_from_slice(&[kind, params.depth(), params.range_bits()]);
    out.extend_from_slice(digest);
    out.extend_from_slice(&(body.len() as u64).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// Checks the header and returns (parameters, header digest, body).
fn read_file(
    bytes: &[u8],
    kind: u8,
    cap: u64,
) -> Result<(CircuitParams, CircuitDigest, &[u8]), KeyError> {
    let (header, body) = bytes
        .split_at_checked(HEADER_BYTES)
        .ok_or(KeyError::Truncated("header"))?;
    if header[..8] != KEY_MAGIC {
        return Err(KeyError::Magic);
    }
    let version = u16::from_be_bytes([header[8], header[9]]);
    if version != KEY_FORMAT_VERSION {
        return Err(KeyError::Version(version));
    }
    if header[10] != kind {
        return Err(KeyError::Kind {
            found: header[10],
            expected: kind,
        });
    }
    let params = CircuitParams::new(header[11], header[12])?;
    let digest: CircuitDigest = header[13..45].try_into().expect("32 bytes");
    let len = u64::from_be_bytes(header[45..53].try_into().expect("8 bytes"));
    if len > cap {
        return Err(KeyError::TooLarge { len, cap });
    }
    match (body.len() as u64).cmp(&len) {
        std::cmp::Ordering::Less => Err(KeyError::Truncated("body")),
        std::cmp::Ordering::Greater => Err(KeyError::TrailingBytes),
        std::cmp::Ordering::Equal => Ok((params, digest, body)),
    }
}

fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>, KeyError> {
    let file = std::fs::File::open(path).map_err(|e| KeyError::Io(e.to_string()))?;
    let mut bytes = Vec::new();
    // One byte past the largest valid file, so an oversized file fails as trailing bytes.
    file.take(HEADER_BYTES as u64 + cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| KeyError::Io(e.to_string()))?;
    Ok(bytes)
}
