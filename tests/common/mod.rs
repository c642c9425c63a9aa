//! What the integration tests share.

use curtain_crypto::{encrypt, CommitteeKey, EncodedCiphertext, Label, Padding};
use rand_core::CryptoRng;

/// The `k`-th test transaction: plaintext `tx {k}` in namespace `k % 3` from sender `wallet`.
pub fn tx<R: CryptoRng + ?Sized>(key: &CommitteeKey, k: u64, rng: &mut R) -> EncodedCiphertext {
    let label = Label::new(key.id(), 0, k % 3, b"wallet").unwrap();
    encrypt(
        key.encryption_key(),
        &label,
        format!("tx {k}").as_bytes(),
        Padding::None,
        rng,
    )
    .unwrap()
    .encoded()
    .clone()
}
