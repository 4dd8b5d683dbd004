//! The store as a whole: the `Store` port (migrations, health, pool figures), caches, and the
//! write transaction every module begins the same way.

use async_trait::async_trait;
use picshare_store::{PoolStats, Store, StoreError, StoreResult};
use sqlx::Transaction;

use crate::SqlStore;
use crate::dialect::{
    BACKEND, Db, WriteTurn, background_writer, begin_user_write, begin_write,
    planner_statistics_unattended, refresh_planner_statistics,
};

impl SqlStore {
    /// A transaction for writes that depend on what it reads (see `dialect::begin_write`).
    pub(crate) async fn write_tx(&self) -> StoreResult<Transaction<'static, Db>> {
        begin_user_write(self).await
    }

    /// A transaction for background work (fan-out, account deletion, batch jobs), which must
    /// not slow user requests (see `dialect::background_writer`); commit it before dropping the
    /// turn.
    pub(crate) async fn background_tx(&self) -> StoreResult<(WriteTurn, Transaction<'static, Db>)> {
        let (turn, writer) = background_writer(self).await?;
        Ok((turn, begin_write(writer).await?))
    }

    /// Turns the in-process cache of posts' media off (for measuring cold reads).
    pub fn without_caches(mut self) -> Self {
        self.media_cache = picshare_store::PostMediaCache::off();
        self
    }
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn migrate(&self) -> StoreResult<()> {
        // Relative to the backend crate that compiles this file: its own migrations.
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

    async fn refresh_planner_statistics(&self) -> StoreResult<Vec<String>> {
        refresh_planner_statistics(&self.pool).await
    }

    async fn planner_statistics_unattended(&self) -> StoreResult<bool> {
        planner_statistics_unattended(&self.pool).await
    }
}
