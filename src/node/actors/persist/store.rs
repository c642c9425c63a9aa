//! A durable append-only log of byte records on commonware-storage's contiguous variable
//! journal: appended records are synced before `append` returns (they survive kill -9),
//! opening a log replays every record not pruned, in order, and each record has a position
//! (its index since the log was created) below which the log can be pruned.

use bytes::Bytes;
use commonware_codec::RangeCfg;
use commonware_runtime::{buffer::paged::CacheRef, Clock, Metrics, Storage};
use commonware_storage::journal::contiguous::{variable, Contiguous as _};
use commonware_utils::{NZUsize, NZU16, NZU64};
use futures::StreamExt as _;

/// Largest record (a released batch of a full block is the largest thing stored).
pub(crate) const MAX_RECORD: usize = 64 << 20;

pub(crate) struct RecordLog<E: Storage + Clock + Metrics> {
    journal: Option<variable::Journal<E, Bytes>>,
}

#[derive(Debug, thiserror::Error)]
#[error("storage: {0}")]
pub(crate) struct StoreError(#[from] commonware_storage::journal::Error);

impl<E: Storage + Clock + Metrics> RecordLog<E> {
    /// Opens (or creates) the log in `partition` and returns it with every stored record.
    pub(crate) async fn open(
        context: E,
        partition: &str,
    ) -> Result<(Self, Vec<Bytes>), StoreError> {
        let journal: variable::Journal<E, Bytes> = variable::Journal::init(
            context,
            variable::Config {
                partition: partition.to_string(),
                items_per_section: NZU64!(1024),
                compression: None,
                codec_config: RangeCfg::from(0..=MAX_RECORD),
                page_cache: CacheRef::new(NZU16!(4096), NZUsize!(16)),
                write_buffer: NZUsize!(1 << 16),
                replay_buffer: NZUsize!(1 << 16),
            },
        )
        .await?;
        let mut records = Vec::new();
        {
            let bounds = journal.bounds();
            let stream = journal
                .replay(bounds, NZUsize!(1 << 16), Default::default())
                .await?;
            futures::pin_mut!(stream);
            while let Some(batch) = stream.next().await {
                records.extend(batch?.items);
            }
        }
        Ok((
            Self {
                journal: Some(journal),
            },
            records,
        ))
    }

    /// Positions of the records held: replayed ones are `bounds().start..`, in order.
    pub(crate) fn bounds(&self) -> std::ops::Range<u64> {
        self.journal().bounds()
    }

    /// Appends records and syncs once (a group commit); returns the position of the first.
    pub(crate) async fn append(
        &mut self,
        records: impl IntoIterator<Item = Bytes>,
    ) -> Result<u64, StoreError> {
        self.append_maybe_synced(records, true).await
    }

    /// Appends records without syncing: they become durable with the next [`Self::append`]
    /// (or not at all after a crash), for records whose loss costs nothing.
    pub(crate) async fn append_unsynced(
        &mut self,
        records: impl IntoIterator<Item = Bytes>,
    ) -> Result<u64, StoreError> {
        self.append_maybe_synced(records, false).await
    }

    async fn append_maybe_synced(
        &mut self,
        records: impl IntoIterator<Item = Bytes>,
        sync: bool,
    ) -> Result<u64, StoreError> {
        let first = self.bounds().end;
        let mut journal = self.journal.take().expect("journal present between calls");
        for record in records {
            journal = journal.append(&record).await?.0;
        }
        self.journal = Some(if sync { journal.sync().await? } else { journal });
        Ok(first)
    }

    /// Drops records below `position` (rounded down to a storage section).
    pub(crate) async fn prune(&mut self, position: u64) -> Result<(), StoreError> {
        let journal = self.journal.take().expect("journal present between calls");
        let (journal, _) = journal.prune(position).await?;
        self.journal = Some(journal);
        Ok(())
    }

    fn journal(&self) -> &variable::Journal<E, Bytes> {
        self.journal
            .as_ref()
            .expect("journal present between calls")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_runtime::{deterministic, Runner as _, Supervisor as _};

    #[test]
    fn group_commits_replay_in_order_and_pruning_keeps_the_tail() {
        deterministic::Runner::default().start(|context| async move {
            let (mut log, replayed) = RecordLog::open(context.child("a"), "log").await.unwrap();
            assert!(replayed.is_empty());
            let record = |i: u64| Bytes::from(i.to_be_bytes().to_vec());
            assert_eq!(log.append((0..1500).map(record)).await.unwrap(), 0);
            assert_eq!(log.append((1500..3000).map(record)).await.unwrap(), 1500);
            log.prune(2100).await.unwrap();
            drop(log);
            let (log, replayed) = RecordLog::open(context.child("b"), "log").await.unwrap();
            // pruning is by section (1024 records): everything from 2048 on is kept
            let start = log.bounds().start;
            assert_eq!(start, 2048);
            assert_eq!(log.bounds().end, 3000);
            let expected: Vec<Bytes> = (start..3000).map(record).collect();
            assert_eq!(replayed, expected);
        });
    }

    #[test]
    fn unsynced_records_are_made_durable_by_the_next_synced_append() {
        deterministic::Runner::default().start(|context| async move {
            let (mut log, _) = RecordLog::open(context.child("a"), "log").await.unwrap();
            let record = |i: u64| Bytes::from(i.to_be_bytes().to_vec());
            assert_eq!(log.append_unsynced((0..10).map(record)).await.unwrap(), 0);
            assert_eq!(log.append((10..12).map(record)).await.unwrap(), 10);
            assert_eq!(log.append_unsynced((12..13).map(record)).await.unwrap(), 12);
            assert_eq!(log.append((13..14).map(record)).await.unwrap(), 13);
            drop(log);
            let (log, replayed) = RecordLog::open(context.child("b"), "log").await.unwrap();
            assert_eq!(log.bounds(), 0..14);
            assert_eq!(replayed, (0..14).map(record).collect::<Vec<_>>());
        });
    }
}
