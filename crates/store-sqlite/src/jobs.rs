use std::time::Duration;

use async_trait::async_trait;
use picshare_store::{ClaimedJob, JobCount, JobStore, NewJob, StoreResult};
use sqlx::{Sqlite, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{SqliteStore, db_err, to_micros};

pub(crate) async fn insert_job(tx: &mut Transaction<'_, Sqlite>, job: &NewJob) -> StoreResult<()> {
    let now = to_micros(OffsetDateTime::now_utc());
    sqlx::query(
        "INSERT INTO jobs (id, kind, payload, state, max_attempts, run_at, created_at, updated_at)
         VALUES (?, ?, ?, 'queued', ?, ?, ?, ?)",
    )
    .bind(job.id)
    .bind(&job.kind)
    .bind(&job.payload)
    .bind(job.max_attempts)
    .bind(to_micros(job.run_at))
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl JobStore for SqliteStore {
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
        let now = to_micros(now);
        let lease_until = now + lease.as_micros() as i64;
        // One statement: SQLite runs writers one at a time, so no job is claimed twice.
        let rows: Vec<(Uuid, String, String, i32, i32)> = sqlx::query_as(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_by = ?1,
                    lease_until = ?2, updated_at = ?3
             WHERE id IN (
                 SELECT id FROM jobs
                 WHERE (state = 'queued' AND run_at <= ?3) OR (state = 'running' AND lease_until <= ?3)
                 ORDER BY run_at LIMIT ?4)
             RETURNING id, kind, payload, attempts, max_attempts",
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
            "UPDATE jobs SET lease_until = ?, updated_at = ?
             WHERE id = ? AND locked_by = ? AND state = 'running'",
        )
        .bind(to_micros(lease_until))
        .bind(to_micros(OffsetDateTime::now_utc()))
        .bind(id)
        .bind(worker)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(extended.rows_affected() == 1)
    }

    async fn complete_job(&self, id: Uuid, worker: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM jobs WHERE id = ? AND locked_by = ?")
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
            "UPDATE jobs SET state = ?, run_at = coalesce(?, run_at), last_error = ?,
                    locked_by = NULL, lease_until = NULL, updated_at = ?
             WHERE id = ? AND locked_by = ?",
        )
        .bind(state)
        .bind(retry_at.map(to_micros))
        .bind(error)
        .bind(to_micros(OffsetDateTime::now_utc()))
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
