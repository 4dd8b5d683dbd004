//! SQLite implementation of the storage ports (WAL mode, one file, zero setup).

mod background;
mod dialect;
#[path = "../../store-sql/mod.rs"]
mod shared;

use std::str::FromStr;
use std::time::Duration;

use picshare_store::{StoreError, StoreResult};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

/// The name the shared store code (`crates/store-sql`) gives this backend's store.
pub(crate) use SqliteStore as SqlStore;

#[derive(Clone)]
pub struct SqliteStore {
    pub(crate) media_cache: picshare_store::PostMediaCache,
    pub(crate) pool: SqlitePool,
    /// The one connection write transactions take turns on. SQLite has one writer at a time
    /// anyway; waiting here, in order, replaces its busy handler's sleeps (1, 2, 5, 10 ms …)
    /// when several writers of this process meet.
    pub(crate) writer: SqlitePool,
    /// The connection background work (fan-out, account deletion, batch jobs) writes on: its
    /// thread runs at a lower priority, so readers get a core first; it writes only while
    /// holding `writer` (see `dialect::background_writer`). None for an in-memory database.
    pub(crate) background: Option<background::BackgroundWriter>,
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
            // Reads map the whole file (up to 1 TiB; the build raises SQLite's 2 GiB limit,
            // .cargo/config.toml) instead of copying pages through read(2); each connection
            // keeps a larger page cache than the 2 MB default for the pages it writes.
            .pragma("mmap_size", "1099511627776")
            .pragma("cache_size", "-32768");
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options.clone())
            .await
            .map_err(StoreError::backend)?;
        // An in-memory database exists once per connection: there, everything shares the pool.
        if url.contains(":memory:") {
            return Ok(Self {
                writer: pool.clone(),
                pool,
                background: None,
                media_cache: Default::default(),
            });
        }
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options.clone())
            .await
            .map_err(StoreError::backend)?;
        let background = background::BackgroundWriter::connect(options).await?;
        Ok(Self {
            pool,
            writer,
            background: Some(background),
            media_cache: Default::default(),
        })
    }

    /// `TimelineStore::timeline_stamp`: one query per stamp. SQLite answers in-process, with no
    /// round trip for a batch to share (PostgreSQL's store batches concurrent ones).
    pub(crate) async fn read_timeline_stamp(
        &self,
        viewer: picshare_domain::UserId,
        page: picshare_store::PageRequest,
    ) -> StoreResult<Option<String>> {
        shared::timelines::read_timeline_stamp_alone(&self.pool, viewer, page).await
    }
}

pub(crate) use shared::db_err;
