//! SQLite implementation of the storage ports (WAL mode, one file, zero setup).

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
        let writer = if url.contains(":memory:") {
            pool.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(options)
                .await
                .map_err(StoreError::backend)?
        };
        Ok(Self {
            pool,
            writer,
            media_cache: Default::default(),
        })
    }
}

pub(crate) use shared::db_err;
