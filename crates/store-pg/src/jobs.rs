use std::time::Duration;

use async_trait::async_trait;
use picshare_store::{ClaimedJob, JobCount, JobStore, NewJob, StoreResult};
use sqlx::{Postgres, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{PgStore, db_err};

pub(crate) async fn insert_job(
    tx: &mut Transaction<'_, Postgres>,
    job: &NewJob,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO jobs (id, kind, payload, state, max_attempts, run_at, created_at, updated_at)
         VALUES ($1, $2, $3::jsonb, 'queued', $4, $5, now(), now())",
    )
    .bind(job.id)
    .bind(&job.kind)
    .bind(&job.payload)
    .bind(job.max_attempts)
    .bind(job.run_at)
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl JobStore for PgStore {
    async fn enqueue(&self, job: &NewJob) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        insert_job(&mut tx, job).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn claim_jobs(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedJob>> {
        let lease_until = now + lease;
        // SKIP LOCKED: concurrent workers pass over rows another is claiming instead of waiting.
        let rows: Vec<(Uuid, String, String, i32, i32)> = sqlx::query_as(
            "WITH due AS (
                 SELECT id FROM jobs
                 WHERE (state = 'queued' AND run_at <= $3) OR (state = 'running' AND lease_until <= $3)
                 ORDER BY run_at LIMIT $4
                 FOR UPDATE SKIP LOCKED)
             UPDATE jobs SET state = 'running', attempts = jobs.attempts + 1, locked_by = $1,
                    lease_until = $2, updated_at = $3
             FROM due WHERE jobs.id = due.id
             RETURNING jobs.id, jobs.kind, jobs.payload::text, jobs.attempts, jobs.max_attempts",
        )
        .bind(worker)
        .bind(lease_until)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
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
        .bind(lease_until)
        .bind(OffsetDateTime::now_utc())
        .bind(id)
        .bind(worker)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(extended.rows_affected() == 1)
    }

    async fn complete_job(&self, id: Uuid, worker: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM jobs WHERE id = $1 AND locked_by = $2")
            .bind(id)
            .bind(worker)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
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
                    locked_by = NULL, lease_until = NULL, updated_at = now()
             WHERE id = $4 AND locked_by = $5",
        )
        .bind(state)
        .bind(retry_at)
        .bind(error)
        .bind(id)
        .bind(worker)
        .execute(&self.pool)
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
