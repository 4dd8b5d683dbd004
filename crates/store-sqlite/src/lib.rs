//! SQLite implementation of the storage ports (WAL mode, one file, zero setup).

mod jobs;
mod media;
mod posts;
mod social;
mod timelines;
mod tokens;
mod users;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use picshare_store::{PoolStats, Store, StoreError, StoreResult};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use time::OffsetDateTime;

#[derive(Clone)]
pub struct SqliteStore {
    pub(crate) media_cache: picshare_store::PostMediaCache,
    pub(crate) pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://path` or `sqlite::memory:`).
    pub async fn connect(url: &str, max_connections: u32) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(StoreError::backend)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5))
            // Reads map the file instead of copying pages through read(2), and each connection
            // keeps a larger page cache than the 2 MB default.
            .pragma("mmap_size", "2147418112")
            .pragma("cache_size", "-32768");
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(StoreError::backend)?;
        Ok(Self {
            pool,
            media_cache: Default::default(),
        })
    }
}

impl SqliteStore {
    /// Turns the in-process cache of posts' media off (for measuring cold reads).
    pub fn without_caches(mut self) -> Self {
        self.media_cache = picshare_store::PostMediaCache::off();
        self
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("./migrations")
            .run(&self.pool)
            .await
            .map_err(StoreError::backend)
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(StoreError::backend)
    }

    fn pool_stats(&self) -> PoolStats {
        let idle = self.pool.num_idle() as u32;
        PoolStats {
            in_use: self.pool.size().saturating_sub(idle),
            idle,
        }
    }
}

/// SQLite keeps timestamps as unix microseconds.
pub(crate) fn to_micros(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000) as i64
}

pub(crate) fn from_micros(micros: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

pub(crate) fn db_err(err: sqlx::Error) -> StoreError {
    StoreError::backend(err)
}
