//! The durable job queue. Claiming is each backend's own (`dialect::claim_jobs`): PostgreSQL
//! skips rows other workers hold, SQLite has one writer at a time.

use std::time::Duration;

use async_trait::async_trait;
use picshare_store::{ClaimedJob, JobCount, JobLane, JobStore, NewJob, StoreResult};
use sqlx::Transaction;
use time::OffsetDateTime;
use uuid::Uuid;

use super::id_lists::in_ids;
use crate::dialect::{CLAIM_JOBS, Db, JSON_PARAM, ts};
use crate::{SqlStore, db_err};

/// Adds `job` inside the transaction of the write that causes it.
pub(crate) async fn insert_job(tx: &mut Transaction<'_, Db>, job: &NewJob) -> StoreResult<()> {
    let now = ts(OffsetDateTime::now_utc());
    sqlx::query(&format!(
        "INSERT INTO jobs (id, kind, payload, state, max_attempts, run_at, created_at, updated_at,
                           priority)
         VALUES ($1, $2, $3{JSON_PARAM}, 'queued', $4, $5, $6, $6, $7)"
    ))
    .bind(job.id)
    .bind(&job.kind)
    .bind(&job.payload)
    .bind(job.max_attempts)
    .bind(ts(job.run_at))
    .bind(now)
    .bind(job.priority)
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl JobStore for SqlStore {
    async fn enqueue(&self, job: &NewJob) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        insert_job(&mut tx, job).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn claim_jobs(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
        lane: JobLane,
    ) -> StoreResult<Vec<ClaimedJob>> {
        let (lowest, highest) = lane.priorities();
        let rows: Vec<(Uuid, String, String, i32, i32)> = sqlx::query_as(CLAIM_JOBS)
            .bind(worker)
            .bind(ts(now + lease))
            .bind(ts(now))
            .bind(i64::from(limit))
            .bind(lowest)
            .bind(highest)
            .fetch_all(&self.writer)
            .await
            .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|(id, kind, payload, attempt, max_attempts)| ClaimedJob {
                id,
                kind,
                payload,
                attempt,
                max_attempts,
            })
            .collect())
    }

    async fn extend_job_lease(
        &self,
        id: Uuid,
        worker: &str,
        lease_until: OffsetDateTime,
    ) -> StoreResult<bool> {
        let extended = sqlx::query(
            "UPDATE jobs SET lease_until = $1, updated_at = $2
             WHERE id = $3 AND locked_by = $4 AND state = 'running'",
        )
        .bind(ts(lease_until))
        .bind(ts(OffsetDateTime::now_utc()))
        .bind(id)
        .bind(worker)
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(extended.rows_affected() == 1)
    }

    async fn complete_jobs(&self, ids: &[Uuid], worker: &str) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut query = sqlx::QueryBuilder::new("DELETE FROM jobs WHERE locked_by = ");
        query.push_bind(worker).push(" AND id");
        in_ids(&mut query, ids.iter().copied());
        query.build().execute(&self.writer).await.map_err(db_err)?;
        Ok(())
    }

    async fn fail_job(
        &self,
        id: Uuid,
        worker: &str,
        error: &str,
        retry_at: Option<OffsetDateTime>,
    ) -> StoreResult<()> {
        let state = if retry_at.is_some() { "queued" } else { "dead" };
        sqlx::query(
            "UPDATE jobs SET state = $1, run_at = coalesce($2, run_at), last_error = $3,
                    locked_by = NULL, lease_until = NULL, updated_at = $4
             WHERE id = $5 AND locked_by = $6",
        )
        .bind(state)
        .bind(retry_at.map(ts))
        .bind(error)
        .bind(ts(OffsetDateTime::now_utc()))
        .bind(id)
        .bind(worker)
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn job_counts(&self) -> StoreResult<Vec<JobCount>> {
        let rows: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT kind, state, count(*) FROM jobs GROUP BY kind, state")
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|(kind, state, count)| JobCount { kind, state, count })
            .collect())
    }
}
