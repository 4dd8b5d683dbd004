//! Timeline stamps read together: every feed request that finds its page cached still reads its
//! timeline's stamp (docs/feed.md, "Page cache"), and on PostgreSQL each such query costs a
//! round trip and a backend's wake-up that dwarf the query itself. A request that finds a slot
//! free and nobody waiting reads its stamp at once, alone, as without batches; the others queue,
//! and the next free slot reads everything queued in one query (`unnest` of the requests'
//! arrays). So under load a few backends answer many readers, and a lone reader pays nothing.
//! Each stamp is still read after its request arrived.

use std::sync::{Arc, LazyLock};

use picshare_domain::UserId;
use picshare_store::{PageRequest, StoreResult};
use sqlx::PgPool;
use tokio::sync::{Semaphore, mpsc, oneshot};
use uuid::Uuid;

use crate::db_err;
use crate::dialect::timeline_stamp_sql;
use crate::shared::timelines::{read_timeline_stamp_alone, stamp_bounds, stamp_entries_sql};

/// Requests waiting for a batch, at most; beyond that a request reads its stamp alone.
const QUEUE: usize = 1024;

/// Stamps read by one query, at most.
const MAX_BATCH: usize = 64;

/// Stamp queries (lone or batched) in flight at once: enough to keep a small server's cores
/// busy while leaving the pool to the other queries.
const IN_FLIGHT: usize = 4;

/// The stamps of the requests `(viewer, after, entries)` listed in `$1`, `$2`, `$3`, in that
/// order (NULL for a viewer with no timeline): `TIMELINE_STAMP_SQL` for each.
static TIMELINE_STAMPS_SQL: LazyLock<String> = LazyLock::new(|| {
    let stamp = timeline_stamp_sql(
        "r.viewer",
        &stamp_entries_sql("r.viewer", "r.after", "r.entries"),
    );
    format!(
        "SELECT ({stamp}) FROM unnest($1::uuid[], $2::uuid[], $3::int8[])
             WITH ORDINALITY AS r(viewer, after, entries, i)
         ORDER BY r.i"
    )
});

type Waiter = (StampRequest, oneshot::Sender<Option<String>>);

#[derive(Clone, Copy)]
struct StampRequest {
    viewer: Uuid,
    after: Uuid,
    entries: i64,
}

/// The queue of stamp reads and the slots that read them; cloned with the store.
#[derive(Clone)]
pub(crate) struct StampBatches {
    pool: PgPool,
    queue: mpsc::Sender<Waiter>,
    slots: Arc<Semaphore>,
}

impl StampBatches {
    /// Starts the task that gathers batches; it ends with the last clone of the store.
    pub(crate) fn start(pool: PgPool) -> Self {
        let (queue, waiting) = mpsc::channel(QUEUE);
        let slots = Arc::new(Semaphore::new(IN_FLIGHT));
        tokio::spawn(gather(waiting, pool.clone(), slots.clone()));
        Self { pool, queue, slots }
    }

    /// The viewer's timeline stamp for the page (`TimelineStore::timeline_stamp`).
    pub(crate) async fn stamp(
        &self,
        viewer: UserId,
        page: PageRequest,
    ) -> StoreResult<Option<String>> {
        let nobody_waits = self.queue.capacity() == self.queue.max_capacity();
        if nobody_waits && let Ok(_slot) = self.slots.clone().try_acquire_owned() {
            return read_timeline_stamp_alone(&self.pool, viewer, page).await;
        }
        let (reply, answer) = oneshot::channel();
        let (after, entries) = stamp_bounds(page);
        let request = StampRequest {
            viewer: viewer.0,
            after,
            entries,
        };
        if self.queue.try_send((request, reply)).is_ok()
            && let Ok(stamp) = answer.await
        {
            return Ok(stamp);
        }
        // A full queue or a failed batch: read it alone (and meet the error, if there is one).
        read_timeline_stamp_alone(&self.pool, viewer, page).await
    }
}

/// Takes the first waiting request, waits for a free slot (lone reads and batches share them),
/// then adds whatever queued meanwhile (up to `MAX_BATCH`) and reads the batch in a task of its
/// own.
async fn gather(mut waiting: mpsc::Receiver<Waiter>, pool: PgPool, slots: Arc<Semaphore>) {
    while let Some(first) = waiting.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match waiting.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let pool = pool.clone();
        tokio::spawn(async move {
            let (requests, replies): (Vec<StampRequest>, Vec<_>) = batch.into_iter().unzip();
            match read_stamps(&pool, &requests).await {
                Ok(stamps) if stamps.len() == replies.len() => {
                    for (stamp, reply) in stamps.into_iter().zip(replies) {
                        let _ = reply.send(stamp);
                    }
                }
                // The replies are dropped: each caller reads its stamp alone.
                Ok(_) => tracing::error!("a batch of timeline stamps came back short"),
                Err(error) => tracing::warn!(%error, "a batch of timeline stamps failed"),
            }
            drop(slot);
        });
    }
}

async fn read_stamps(pool: &PgPool, requests: &[StampRequest]) -> StoreResult<Vec<Option<String>>> {
    let viewers: Vec<Uuid> = requests.iter().map(|r| r.viewer).collect();
    let afters: Vec<Uuid> = requests.iter().map(|r| r.after).collect();
    let entries: Vec<i64> = requests.iter().map(|r| r.entries).collect();
    sqlx::query_scalar(&TIMELINE_STAMPS_SQL)
        .bind(viewers)
        .bind(afters)
        .bind(entries)
        .fetch_all(pool)
        .await
        .map_err(db_err)
}
