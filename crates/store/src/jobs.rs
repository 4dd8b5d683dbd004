use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreResult;

/// A unit of background work, stored in the database so that it survives crashes.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: Uuid,
    pub kind: String,
    /// JSON.
    pub payload: String,
    pub run_at: OffsetDateTime,
    pub max_attempts: i32,
    /// Claimed in this order (lowest first) within its lane; see `JobLane`.
    pub priority: i16,
}

/// Jobs are claimed in two lanes with their own slots, so a backlog in one never delays the
/// other: CPU-heavy work (priority `HEAVY_PRIORITY` and up) and everything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobLane {
    Light,
    Heavy,
}

/// The first priority of the heavy lane.
pub const HEAVY_PRIORITY: i16 = 10;

impl JobLane {
    /// The priorities the lane claims, inclusive.
    pub fn priorities(self) -> (i16, i16) {
        match self {
            JobLane::Light => (i16::MIN, HEAVY_PRIORITY - 1),
            JobLane::Heavy => (HEAVY_PRIORITY, i16::MAX),
        }
    }
}

/// A job a worker holds until `lease` runs out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedJob {
    pub id: Uuid,
    pub kind: String,
    pub payload: String,
    /// 1 for the first run.
    pub attempt: i32,
    pub max_attempts: i32,
}

/// Jobs per kind and state, for metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobCount {
    pub kind: String,
    pub state: String,
    pub count: i64,
}

#[async_trait]
pub trait JobStore {
    async fn enqueue(&self, job: &NewJob) -> StoreResult<()>;

    /// Claims up to `limit` due jobs — queued ones whose time has come and running ones whose
    /// lease has expired (their worker died) — for `worker`, leased for `lease`. No job is held
    /// by two workers at once. Only jobs of `lane`, by priority, then due time.
    async fn claim_jobs(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
        lane: JobLane,
    ) -> StoreResult<Vec<ClaimedJob>>;

    /// Keeps a job `worker` still runs leased until `lease_until`, so no other worker takes it
    /// over; false when the job is no longer held by `worker`.
    async fn extend_job_lease(
        &self,
        id: Uuid,
        worker: &str,
        lease_until: OffsetDateTime,
    ) -> StoreResult<bool>;

    /// Finishes a job held by `worker` (removing it).
    async fn complete_job(&self, id: Uuid, worker: &str) -> StoreResult<()> {
        self.complete_jobs(&[id], worker).await
    }

    /// Finishes the jobs among `ids` that `worker` holds, in one statement.
    async fn complete_jobs(&self, ids: &[Uuid], worker: &str) -> StoreResult<()>;

    /// Records a failure: the job runs again at `retry_at`, or is `dead` when that is `None`.
    async fn fail_job(
        &self,
        id: Uuid,
        worker: &str,
        error: &str,
        retry_at: Option<OffsetDateTime>,
    ) -> StoreResult<()>;

    async fn job_counts(&self) -> StoreResult<Vec<JobCount>>;
}
