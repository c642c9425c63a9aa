//! A durable append-only log of byte records on commonware-storage's contiguous variable
//! journal: appended records are synced before `append` returns (they survive kill -9), and
//! opening a log replays every record in order.

use bytes::Bytes;
use commonware_codec::RangeCfg;
use commonware_runtime::{buffer::paged::CacheRef, Clock, Metrics, Storage};
use commonware_storage::journal::contiguous::{variable, Contiguous as _};
use commonware_utils::{NZUsize, NZU16, NZU64};
use futures::StreamExt as _;

/// Largest record (a released batch of a full block is the largest thing stored).
pub const MAX_RECORD: usize = 64 << 20;

pub struct RecordLog<E: Storage + Clock + Metrics> {
    journal: Option<variable::Journal<E, Bytes>>,
}

#[derive(Debug, thiserror::Error)]
#[error("storage: {0}")]
pub struct StoreError(#[from] commonware_storage::journal::Error);

impl<E: Storage + Clock + Metrics> RecordLog<E> {
    /// Opens (or creates) the log in `partition` and returns it with every stored record.
    pub async fn open(context: E, partition: &str) -> Result<(Self, Vec<Bytes>), StoreError> {
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

    /// Appends one record and syncs it to disk.
    pub async fn append(&mut self, record: Bytes) -> Result<(), StoreError> {
        let journal = self.journal.take().expect("journal present between calls");
        let (journal, _) = journal.append(&record).await?;
        self.journal = Some(journal.sync().await?);
        Ok(())
    }
}
