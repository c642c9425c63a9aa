//! The label every ciphertext is bound to: which committee key and epoch it is for, which
//! rollup namespace it belongs to, and who (or which admission tag) submitted it. The label is
//! hashed into the proof of knowledge and is the AEAD's associated data, so moving a
//! ciphertext to another namespace, sender, epoch or committee invalidates it (FIELD attack 2).

use crate::encoding::{serde_via_bytes, Reader};
use crate::error::DecodeError;
use crate::{KeyEpoch, Namespace};

/// Longest sender / admission tag (an address, a public key, or an RLN nullifier fits).
pub const MAX_SENDER_LEN: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Label {
    key_id: [u8; 32],
    key_epoch: KeyEpoch,
    namespace: Namespace,
    sender: Vec<u8>,
}

impl Label {
    /// Builds a label; `None` if the sender tag is longer than [`MAX_SENDER_LEN`].
    pub fn new(
        key_id: [u8; 32],
        key_epoch: KeyEpoch,
        namespace: Namespace,
        sender: &[u8],
    ) -> Option<Self> {
        (sender.len() <= MAX_SENDER_LEN).then(|| Self {
            key_id,
            key_epoch,
            namespace,
            sender: sender.to_vec(),
        })
    }

    pub fn key_id(&self) -> &[u8; 32] {
        &self.key_id
    }
    pub fn key_epoch(&self) -> KeyEpoch {
        self.key_epoch
    }
    pub fn namespace(&self) -> Namespace {
        self.namespace
    }
    pub fn sender(&self) -> &[u8] {
        &self.sender
    }

    /// Canonical encoding: key_id(32) ‖ key_epoch(u64 BE) ‖ namespace(u64 BE) ‖ len(u8) ‖ sender.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(49 + self.sender.len());
        self.write(&mut out);
        out
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.key_id);
        out.extend_from_slice(&self.key_epoch.to_be_bytes());
        out.extend_from_slice(&self.namespace.to_be_bytes());
        out.push(self.sender.len() as u8);
        out.extend_from_slice(&self.sender);
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let key_id = r.array("label.key_id")?;
        let key_epoch = KeyEpoch(r.u64("label.key_epoch")?);
        let namespace = Namespace(r.u64("label.namespace")?);
        let len = r.u8("label.sender_len")? as usize;
        if len > MAX_SENDER_LEN {
            return Err(DecodeError::Length {
                field: "label.sender",
                len,
                min: 0,
                max: MAX_SENDER_LEN,
            });
        }
        let sender = r.take(len, "label.sender")?.to_vec();
        Ok(Self {
            key_id,
            key_epoch,
            namespace,
            sender,
        })
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let l = Self::read(&mut r)?;
        r.finish()?;
        Ok(l)
    }
}

serde_via_bytes!(Label);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_caps() {
        let l = Label::new([7; 32], KeyEpoch(3), Namespace(42), b"alice").unwrap();
        assert_eq!(Label::from_bytes(&l.to_bytes()).unwrap(), l);
        assert!(Label::new(
            [0; 32],
            KeyEpoch(0),
            Namespace(0),
            &[0u8; MAX_SENDER_LEN + 1]
        )
        .is_none());
        let mut b = l.to_bytes();
        b[48] = 200; // sender length over the cap
        assert!(matches!(
            Label::from_bytes(&b),
            Err(DecodeError::Length { .. })
        ));
        let mut b = l.to_bytes();
        b.push(0);
        assert_eq!(Label::from_bytes(&b), Err(DecodeError::TrailingBytes(1)));
        assert!(matches!(
            Label::from_bytes(&l.to_bytes()[..40]),
            Err(DecodeError::Truncated(_))
        ));
    }
}
