//! Key epochs by block height (SPEC.md §9.8): which committee orders and decrypts a height,
//! which label epochs a block at a height carries, and when an old committee's shares are no
//! longer needed. Pure: a function of the configured activation heights and the drain window,
//! identical at every member (every member loads the same committee files).

use crate::ledger::{Height, KeyEpoch};
use commonware_consensus::types::{Epoch, EpochInfo, Epocher, Height as CwHeight};

/// Heights after the next committee's activation during which labels of the previous key
/// epoch are still ordered (and after which their pending entries are dropped).
pub const DEFAULT_DRAIN: u64 = 256;

/// The key epochs a member knows, each with the first height it orders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpochTable {
    /// `(key epoch, activation height)`, consecutive epochs, strictly increasing heights, the
    /// first at height 0.
    epochs: Vec<(KeyEpoch, Height)>,
    drain: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EpochError {
    #[error("no key epoch configured")]
    Empty,
    #[error("the first key epoch ({epoch}) must start at height 0, not {activation}")]
    FirstNotAtGenesis { epoch: KeyEpoch, activation: Height },
    #[error("key epoch {next} follows {previous}: epochs must be consecutive")]
    NotConsecutive { previous: KeyEpoch, next: KeyEpoch },
    #[error(
        "key epoch {epoch} activates at height {activation}, not above the previous epoch's {previous}"
    )]
    NotIncreasing {
        epoch: KeyEpoch,
        activation: Height,
        previous: Height,
    },
}

impl EpochTable {
    /// One key epoch from genesis on (a committee that never switched).
    pub fn single(epoch: KeyEpoch) -> Self {
        Self {
            epochs: vec![(epoch, Height(0))],
            drain: 0,
        }
    }

    /// `epochs`: `(key epoch, activation height)` in order; the first activates at 0.
    pub fn new(epochs: Vec<(KeyEpoch, Height)>, drain: u64) -> Result<Self, EpochError> {
        let &(first, activation) = epochs.first().ok_or(EpochError::Empty)?;
        if activation != Height(0) {
            return Err(EpochError::FirstNotAtGenesis {
                epoch: first,
                activation,
            });
        }
        for w in epochs.windows(2) {
            let ((pe, ph), (ne, nh)) = (w[0], w[1]);
            if pe.get().checked_add(1) != Some(ne.get()) {
                return Err(EpochError::NotConsecutive {
                    previous: pe,
                    next: ne,
                });
            }
            if nh <= ph {
                return Err(EpochError::NotIncreasing {
                    epoch: ne,
                    activation: nh,
                    previous: ph,
                });
            }
        }
        Ok(Self { epochs, drain })
    }

    pub fn drain(&self) -> u64 {
        self.drain
    }

    /// Every `(key epoch, activation height)`, oldest first.
    pub fn epochs(&self) -> &[(KeyEpoch, Height)] {
        &self.epochs
    }

    /// The first key epoch (the one at genesis).
    pub fn first_epoch(&self) -> KeyEpoch {
        self.epochs[0].0
    }

    /// The newest key epoch known.
    pub fn last_epoch(&self) -> KeyEpoch {
        self.epochs[self.epochs.len() - 1].0
    }

    fn position(&self, epoch: KeyEpoch) -> Option<usize> {
        let i = epoch.get().checked_sub(self.first_epoch().get())?;
        (i < self.epochs.len() as u64).then_some(i as usize)
    }

    /// The committee (key epoch) that orders and decrypts `height`.
    pub fn epoch_at(&self, height: Height) -> KeyEpoch {
        let i = self.epochs.partition_point(|(_, a)| *a <= height);
        self.epochs[i - 1].0
    }

    /// First height of `epoch`.
    pub fn activation(&self, epoch: KeyEpoch) -> Option<Height> {
        self.position(epoch).map(|i| self.epochs[i].1)
    }

    /// Last height of `epoch`: the one below the next epoch's activation (`None`: the epoch
    /// is unknown, or it is the newest and has no end yet).
    pub fn last_height(&self, epoch: KeyEpoch) -> Option<Height> {
        let i = self.position(epoch)?;
        self.epochs.get(i + 1).map(|&(_, a)| a - 1)
    }

    /// The epoch after the one active at `height`, with its activation height, if known.
    pub fn next_after(&self, height: Height) -> Option<(KeyEpoch, Height)> {
        let i = self.epochs.partition_point(|(_, a)| *a <= height);
        self.epochs.get(i).copied()
    }

    /// Whether a block at `height` may carry a ciphertext labelled `label_epoch`: from the
    /// epoch's activation on, until `drain` heights after the next epoch's activation.
    pub fn admits(&self, height: Height, label_epoch: KeyEpoch) -> Result<(), LabelWindow> {
        let i = self.position(label_epoch).ok_or(LabelWindow::Unknown)?;
        if height < self.epochs[i].1 {
            return Err(LabelWindow::NotYet);
        }
        match self.epochs.get(i + 1) {
            Some((_, next)) if height >= next.saturating_add(self.drain) => Err(LabelWindow::Ended),
            _ => Ok(()),
        }
    }

    /// Whether a member still needs its shares of `epoch` when the first height not yet
    /// released here is `next_release`: it decrypts heights below the next epoch's activation,
    /// and keeps serving peers that ask for them until `drain` heights later.
    pub fn shares_needed(&self, epoch: KeyEpoch, next_release: Height) -> bool {
        match self.position(epoch) {
            None => false,
            Some(i) => match self.epochs.get(i + 1) {
                None => true,
                Some((_, next)) => next_release < next.saturating_add(self.drain),
            },
        }
    }
}

/// Why a label epoch is not admitted at a height.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelWindow {
    /// Not a key epoch of this chain.
    Unknown,
    /// Its committee is not active yet.
    NotYet,
    /// Its drain window is over.
    Ended,
}

/// commonware's view of the table: simplex epoch = key epoch; the last height of an epoch is
/// finalized in that epoch (marshal re-proposes it) and is the genesis of the next one.
impl Epocher for EpochTable {
    fn containing(&self, height: CwHeight) -> Option<EpochInfo> {
        let h = Height(height.get());
        let epoch = self.epoch_at(h);
        let first = self.activation(epoch)?;
        let last = self.last_height(epoch).unwrap_or(Height(u64::MAX - 1));
        (h <= last).then(|| {
            EpochInfo::new(
                Epoch::new(epoch.get()),
                height,
                CwHeight::new(first.get()),
                CwHeight::new(last.get()),
            )
        })
    }

    fn first(&self, epoch: Epoch) -> Option<CwHeight> {
        self.activation(KeyEpoch(epoch.get()))
            .map(|h| CwHeight::new(h.get()))
    }

    fn last(&self, epoch: Epoch) -> Option<CwHeight> {
        let epoch = KeyEpoch(epoch.get());
        self.position(epoch)?;
        Some(CwHeight::new(
            self.last_height(epoch)
                .unwrap_or(Height(u64::MAX - 1))
                .get(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `EpochTable::new` from `(key epoch, activation height)` numbers.
    fn table(epochs: &[(u64, u64)], drain: u64) -> Result<EpochTable, EpochError> {
        EpochTable::new(
            epochs
                .iter()
                .map(|&(e, h)| (KeyEpoch(e), Height(h)))
                .collect(),
            drain,
        )
    }

    /// Building the table: every refusal, and the accepted shapes.
    #[test]
    fn tables_are_validated() {
        assert_eq!(table(&[], 5), Err(EpochError::Empty));
        assert_eq!(
            table(&[(0, 3)], 5),
            Err(EpochError::FirstNotAtGenesis {
                epoch: KeyEpoch(0),
                activation: Height(3)
            })
        );
        assert_eq!(
            table(&[(0, 0), (2, 10)], 5),
            Err(EpochError::NotConsecutive {
                previous: KeyEpoch(0),
                next: KeyEpoch(2)
            })
        );
        assert_eq!(
            table(&[(0, 0), (1, 10), (2, 10)], 5),
            Err(EpochError::NotIncreasing {
                epoch: KeyEpoch(2),
                activation: Height(10),
                previous: Height(10)
            })
        );
        // an activation at 0 after genesis is not increasing either
        assert!(table(&[(3, 0), (4, 0)], 5).is_err());
        assert_eq!(
            table(&[(u64::MAX, 0), (0, 10)], 1),
            Err(EpochError::NotConsecutive {
                previous: KeyEpoch(u64::MAX),
                next: KeyEpoch(0)
            })
        );
        let t = table(&[(3, 0), (4, 10), (5, 20)], 5).unwrap();
        assert_eq!(
            (t.first_epoch(), t.last_epoch(), t.drain()),
            (KeyEpoch(3), KeyEpoch(5), 5)
        );
        assert_eq!(
            EpochTable::single(KeyEpoch(7)).epochs(),
            &[(KeyEpoch(7), Height(0))]
        );
    }

    /// Which committee orders each height, and the epoch boundaries commonware sees.
    #[test]
    fn heights_map_to_committees_and_boundaries() {
        let t = table(&[(0, 0), (1, 10), (2, 20)], 5).unwrap();
        for (h, e) in [(0, 0), (9, 0), (10, 1), (19, 1), (20, 2), (u64::MAX, 2)] {
            assert_eq!(t.epoch_at(Height(h)), KeyEpoch(e), "height {h}");
        }
        assert_eq!(t.activation(KeyEpoch(1)), Some(Height(10)));
        assert_eq!(t.activation(KeyEpoch(3)), None);
        assert_eq!(t.last_height(KeyEpoch(0)), Some(Height(9)));
        assert_eq!(t.last_height(KeyEpoch(2)), None);
        assert_eq!(t.next_after(Height(0)), Some((KeyEpoch(1), Height(10))));
        assert_eq!(t.next_after(Height(10)), Some((KeyEpoch(2), Height(20))));
        assert_eq!(t.next_after(Height(25)), None);
        // commonware's Epocher: contiguous, boundaries where the table says
        let info = t.containing(CwHeight::new(9)).unwrap();
        assert_eq!(
            (info.epoch(), info.first(), info.last()),
            (Epoch::new(0), CwHeight::new(0), CwHeight::new(9))
        );
        let info = t.containing(CwHeight::new(10)).unwrap();
        assert_eq!(
            (info.epoch(), info.first(), info.last()),
            (Epoch::new(1), CwHeight::new(10), CwHeight::new(19))
        );
        assert_eq!(
            t.containing(CwHeight::new(25)).unwrap().last(),
            CwHeight::new(u64::MAX - 1)
        );
        assert!(t.containing(CwHeight::new(u64::MAX)).is_none());
        assert_eq!(t.first(Epoch::new(2)), Some(CwHeight::new(20)));
        assert_eq!(t.last(Epoch::new(1)), Some(CwHeight::new(19)));
        assert_eq!(t.first(Epoch::new(3)), None);
        assert_eq!(t.last(Epoch::new(3)), None);
        // a table that starts later than key epoch 0
        let t = table(&[(4, 0), (5, 7)], 0).unwrap();
        assert_eq!(t.first(Epoch::new(0)), None);
        assert_eq!(
            t.containing(CwHeight::new(7)).unwrap().epoch(),
            Epoch::new(5)
        );
    }

    /// Label acceptance: epoch E+1 from its activation H, epoch E until H + drain.
    #[test]
    fn label_windows_follow_activation_and_drain() {
        let t = table(&[(0, 0), (1, 10)], 5).unwrap();
        for h in 0..10 {
            assert_eq!(t.admits(Height(h), KeyEpoch(0)), Ok(()));
            assert_eq!(t.admits(Height(h), KeyEpoch(1)), Err(LabelWindow::NotYet));
        }
        for h in 10..15 {
            assert_eq!(t.admits(Height(h), KeyEpoch(0)), Ok(()), "drain at {h}");
            assert_eq!(t.admits(Height(h), KeyEpoch(1)), Ok(()));
        }
        for h in [15, 16, 1_000] {
            assert_eq!(t.admits(Height(h), KeyEpoch(0)), Err(LabelWindow::Ended));
            assert_eq!(t.admits(Height(h), KeyEpoch(1)), Ok(()));
        }
        assert_eq!(t.admits(Height(3), KeyEpoch(2)), Err(LabelWindow::Unknown));
        // no drain: the old label ends exactly at the switch
        let t = table(&[(0, 0), (1, 10)], 0).unwrap();
        assert_eq!(t.admits(Height(9), KeyEpoch(0)), Ok(()));
        assert_eq!(t.admits(Height(10), KeyEpoch(0)), Err(LabelWindow::Ended));
    }

    /// Old shares are kept until every height below the switch plus the drain is released.
    #[test]
    fn shares_are_needed_until_the_drain_is_released() {
        let t = table(&[(0, 0), (1, 10)], 5).unwrap();
        assert!(t.shares_needed(KeyEpoch(0), Height(1)));
        assert!(t.shares_needed(KeyEpoch(0), Height(14)));
        assert!(!t.shares_needed(KeyEpoch(0), Height(15)));
        assert!(t.shares_needed(KeyEpoch(1), Height(u64::MAX)));
        assert!(!t.shares_needed(KeyEpoch(2), Height(0)));
    }
}
