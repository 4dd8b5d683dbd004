//! PostgreSQL implementation of the storage ports, for the scaled deployment.

mod dialect;
#[path = "../../store-sql/mod.rs"]
mod shared;
mod stamp_batches;
mod statistics;

use std::str::FromStr;
use std::time::Duration;

use picshare_store::{StoreError, StoreResult};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// The name the shared store code (`crates/store-sql`) gives this backend's store.
pub(crate) use PgStore as SqlStore;

#[derive(Clone)]
pub struct PgStore {
    pub(crate) media_cache: picshare_store::PostMediaCache,
    pub(crate) pool: PgPool,
    /// Write transactions' connections: the same pool (PostgreSQL has concurrent writers).
    pub(crate) writer: PgPool,
    stamp_batches: stamp_batches::StampBatches,
}

impl PgStore {
    pub async fn connect(url: &str, max_connections: u32) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url)
            .map_err(StoreError::backend)?
            .application_name("picshare")
            // JIT compilation pays off for long analytic queries; for these short ones it only
            // adds up to a second when the planner's estimate for a first execution is high.
            .options([
                ("jit", "off"),
                // How alike a handle or name must be to be a typo candidate (search).
                ("pg_trgm.word_similarity_threshold", "0.3"),
            ]);
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            // Also how long a request waits while the server is away before it is told 503:
            // concurrent writers make longer waits for a free connection rare.
            .acquire_timeout(Duration::from_secs(3))
            .connect_with(options)
            .await
            .map_err(StoreError::backend)?;
        Ok(Self {
            stamp_batches: stamp_batches::StampBatches::start(pool.clone()),
            writer: pool.clone(),
            pool,
            media_cache: Default::default(),
        })
    }

    /// `TimelineStore::timeline_stamp`: read with other requests' when they wait for it
    /// (`stamp_batches`).
    pub(crate) async fn read_timeline_stamp(
        &self,
        viewer: picshare_domain::UserId,
        page: picshare_store::PageRequest,
    ) -> StoreResult<Option<String>> {
        self.stamp_batches.stamp(viewer, page).await
    }
}

pub(crate) use shared::db_err;
