//! The background writer: one connection whose SQLite thread runs at a lower scheduling
//! priority. On a machine with few cores, a long deletion's writes otherwise hold a core that a
//! reader's thread is waiting for (measured: reads' p99 3–4× idle during a deletion).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use picshare_store::{StoreError, StoreResult};
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Sqlite, SqlitePool};
use tokio::sync::{Mutex, OwnedMutexGuard};

/// The SQLite threads of background connections are named with this prefix (at most 15
/// bytes in all: Linux keeps that much of a thread's name).
const THREAD_NAME: &str = "sqlite-bg-";

/// Their niceness: low enough that a waking reader takes the core at once, high enough that
/// the background work still moves on a machine that is never idle.
#[cfg(target_os = "linux")]
const NICENESS: i32 = 15;

#[derive(Clone)]
pub(crate) struct BackgroundWriter {
    pub(crate) pool: SqlitePool,
    /// Background writes queue here first, so at most one waits among the user writes for the
    /// write turn, however many are due.
    next: Arc<Mutex<()>>,
    /// User writes waiting for the write turn: a background write that gets the turn while any
    /// wait hands it on (up to `PASSES` times), so user writes go first.
    users_waiting: Arc<AtomicUsize>,
}

/// How many times a background write hands its turn on to waiting user writes before it
/// writes anyway (so a steady stream of user writes cannot stall it for good).
const PASSES: u32 = 8;

/// A user write waiting for its turn, counted while it lives.
pub(crate) struct UserWaiting(Arc<AtomicUsize>);

impl Drop for UserWaiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl BackgroundWriter {
    pub(crate) async fn connect(options: SqliteConnectOptions) -> StoreResult<Self> {
        Ok(Self {
            pool: connect(options).await?,
            next: Arc::default(),
            users_waiting: Arc::default(),
        })
    }

    /// Counts a user write as waiting until the guard is dropped.
    pub(crate) fn user_waiting(&self) -> UserWaiting {
        self.users_waiting.fetch_add(1, Ordering::Relaxed);
        UserWaiting(self.users_waiting.clone())
    }

    /// The write turn for a background write: its place as the one background write waiting,
    /// and the user writers' connection (`writer`), taken after the user writes waiting for it.
    pub(crate) async fn turn(
        &self,
        writer: &SqlitePool,
    ) -> StoreResult<(OwnedMutexGuard<()>, PoolConnection<Sqlite>)> {
        let queued = self.next.clone().lock_owned().await;
        let mut passes = 0;
        loop {
            let turn = writer.acquire().await.map_err(StoreError::backend)?;
            if passes == PASSES || self.users_waiting.load(Ordering::Relaxed) == 0 {
                return Ok((queued, turn));
            }
            // Back to the pool, whose queue is first come, first served: the user writes
            // waiting get the connection before this write's next try.
            drop(turn);
            passes += 1;
        }
    }
}

async fn connect(options: SqliteConnectOptions) -> StoreResult<SqlitePool> {
    SqlitePoolOptions::new()
        .max_connections(1)
        // Its work waits for the user writers' turn first; this bounds the wait for itself.
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|_connection, _meta| {
            Box::pin(async {
                lower_priority();
                Ok(())
            })
        })
        .connect_with(options.thread_name(|id| format!("{THREAD_NAME}{id}")))
        .await
        .map_err(StoreError::backend)
}

/// Lowers the priority of every background connection's thread (sqlx gives no hook on the
/// thread itself; the threads are found by name). Threads already lowered are set again, to
/// the same value.
#[cfg(target_os = "linux")]
fn lower_priority() {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return;
    };
    for task in tasks.flatten() {
        let ours = std::fs::read_to_string(task.path().join("comm"))
            .is_ok_and(|name| name.starts_with(THREAD_NAME));
        let tid = task
            .file_name()
            .to_str()
            .and_then(|t| t.parse::<libc::id_t>().ok());
        let (true, Some(tid)) = (ours, tid) else {
            continue;
        };
        // SAFETY: setpriority changes the scheduling priority of thread `tid` of this process
        // (Linux keeps niceness per thread); it reads and writes no memory of ours.
        if unsafe { libc::setpriority(libc::PRIO_PROCESS, tid, NICENESS) } != 0 {
            tracing::warn!("could not lower the background SQLite writer's priority");
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}
