//! PostgreSQL implementation of the storage ports, for the scaled deployment.

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
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

#[derive(Clone)]
pub struct PgStore {
    pub(crate) media_cache: picshare_store::PostMediaCache,
    pub(crate) pool: PgPool,
}

impl PgStore {
    pub async fn connect(url: &str, max_connections: u32) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url)
            .map_err(StoreError::backend)?
            .application_name("picshare")
            // JIT compilation pays off for long analytic queries; for these short ones it only
            // adds up to a second when the planner's estimate for a first execution is high.
            .options([("jit", "off")]);
        let pool = PgPoolOptions::new()
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

impl PgStore {
    /// Turns the in-process cache of posts' media off (for measuring cold reads).
    pub fn without_caches(mut self) -> Self {
        self.media_cache = picshare_store::PostMediaCache::off();
        self
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
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

pub(crate) fn db_err(err: sqlx::Error) -> StoreError {
    StoreError::backend(err)
}
