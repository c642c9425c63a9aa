//! The shape of a circuit instance: Merkle tree depth and range width. A leaf: every module
//! that needs the parameters imports them from here; the sizes of the constraint system they
//! give (`num_constraints`, the key shapes) are computed in `circuit`, which synthesises it.

use crate::ParamsError;

/// Default tree depth: about a million members.
pub const DEFAULT_DEPTH: u8 = 20;
/// Default range width: limits up to 2^16 messages per epoch.
pub const DEFAULT_RANGE_BITS: u8 = 16;

/// The shape of a circuit instance; a key is valid for exactly one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CircuitParams {
    depth: u8,
    range_bits: u8,
}

impl Default for CircuitParams {
    fn default() -> Self {
        Self {
            depth: DEFAULT_DEPTH,
            range_bits: DEFAULT_RANGE_BITS,
        }
    }
}

impl CircuitParams {
    /// Depth in `1..=32`, range bits in `1..=32`.
    pub fn new(depth: u8, range_bits: u8) -> Result<Self, ParamsError> {
        Self::check_depth(depth)?;
        if !(1..=32).contains(&range_bits) {
            return Err(ParamsError::RangeBits(range_bits));
        }
        Ok(Self { depth, range_bits })
    }

    pub(crate) fn check_depth(depth: u8) -> Result<(), ParamsError> {
        if (1..=32).contains(&depth) {
            Ok(())
        } else {
            Err(ParamsError::Depth(depth))
        }
    }

    /// Merkle tree depth.
    pub fn depth(&self) -> u8 {
        self.depth
    }

    /// Bits of the message index range check.
    pub fn range_bits(&self) -> u8 {
        self.range_bits
    }

    /// Largest per-epoch limit an identity may register: `2^range_bits` (capped at `u32::MAX`).
    pub fn max_limit(&self) -> u64 {
        (1u64 << self.range_bits).min(u64::from(u32::MAX))
    }
}
