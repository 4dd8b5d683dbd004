//! Denormalised counters and their repair.

use async_trait::async_trait;

use crate::StoreResult;

#[async_trait]
pub trait CounterStore {
    /// Recomputes every counter in batches of `batch`; returns how many rows were off.
    async fn recount(&self, batch: u32) -> StoreResult<u64>;
}
