//! Batch jobs' leases and outcomes, and their repairs, each a bounded batch in a short
//! transaction (see `picshare_store::BatchStore`).

use async_trait::async_trait;
use picshare_domain::Media;
use picshare_store::{BatchOutcome, BatchRun, BatchStore, StoreResult};
use sqlx::FromRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::id_lists::in_ids;
use super::media::{MEDIA_COLUMNS, MediaRow};
use crate::dialect::{Db, TRIM_TIMELINES, Timestamp, from_ts, ts};
use crate::{SqlStore, db_err};

#[derive(FromRow)]
struct BatchRunRow {
    name: String,
    started_at: Option<Timestamp>,
    finished_at: Option<Timestamp>,
    succeeded: Option<bool>,
    found: i64,
    fixed: i64,
    detail: Option<String>,
}

/// `$1` after, `$2` batch size: the next timelines, in user id order.
const NEXT_TIMELINES: &str =
    "SELECT user_id FROM timeline_state WHERE user_id > $1 ORDER BY user_id LIMIT $2";

/// The cut of each timeline of the batch (see `timelines::TRIM_CUTS`), `$3` the window - 1.
const PRUNE_CUTS: &str = "WITH cuts(user_id, cut) AS MATERIALIZED (
         SELECT s.user_id, (SELECT h.post_id FROM home_timeline h WHERE h.user_id = s.user_id
                            ORDER BY h.post_id DESC LIMIT 1 OFFSET $3)
         FROM timeline_state s
         WHERE s.user_id IN (SELECT user_id FROM timeline_state WHERE user_id > $1
                             ORDER BY user_id LIMIT $2))";

impl SqlStore {
    /// The last of the next `limit` timelines after `after`, if any.
    async fn last_timeline(&self, after: Uuid, limit: u32) -> StoreResult<Option<Uuid>> {
        let users: Vec<Uuid> = sqlx::query_scalar(NEXT_TIMELINES)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(users.last().copied())
    }
}

#[async_trait]
impl BatchStore for SqlStore {
    async fn start_batch(
        &self,
        name: &str,
        holder: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        sqlx::query("INSERT INTO batch_runs (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let taken = sqlx::query(
            "UPDATE batch_runs SET holder = $2, lease_until = $4, started_at = $3
             WHERE name = $1 AND (lease_until IS NULL OR lease_until <= $3)",
        )
        .bind(name)
        .bind(holder)
        .bind(ts(now))
        .bind(ts(until))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        tx.commit().await.map_err(db_err)?;
        Ok(taken == 1)
    }

    async fn extend_batch(
        &self,
        name: &str,
        holder: &str,
        until: OffsetDateTime,
    ) -> StoreResult<bool> {
        let extended =
            sqlx::query("UPDATE batch_runs SET lease_until = $3 WHERE name = $1 AND holder = $2")
                .bind(name)
                .bind(holder)
                .bind(ts(until))
                .execute(&self.pool)
                .await
                .map_err(db_err)?
                .rows_affected();
        Ok(extended == 1)
    }

    async fn finish_batch(
        &self,
        name: &str,
        holder: &str,
        now: OffsetDateTime,
        outcome: &BatchOutcome,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE batch_runs SET holder = NULL, lease_until = NULL, finished_at = $3,
                 succeeded = $4, found = $5, fixed = $6, detail = $7
             WHERE name = $1 AND holder = $2",
        )
        .bind(name)
        .bind(holder)
        .bind(ts(now))
        .bind(outcome.succeeded)
        .bind(outcome.found as i64)
        .bind(outcome.fixed as i64)
        .bind(&outcome.detail)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn batch_runs(&self) -> StoreResult<Vec<BatchRun>> {
        let rows: Vec<BatchRunRow> = sqlx::query_as(
            "SELECT name, started_at, finished_at, succeeded, found, fixed, detail
             FROM batch_runs ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|row| BatchRun {
                name: row.name,
                started_at: row.started_at.map(from_ts),
                finished_at: row.finished_at.map(from_ts),
                succeeded: row.succeeded,
                found: row.found,
                fixed: row.fixed,
                detail: row.detail,
            })
            .collect())
    }

    async fn repair_timelines(&self, after: Uuid, limit: u32) -> StoreResult<(Option<Uuid>, u64)> {
        let Some(last) = self.last_timeline(after, limit).await? else {
            return Ok((None, 0));
        };
        let (_turn, mut tx) = self.background_tx().await?;
        let deleted = sqlx::query(
            "DELETE FROM home_timeline WHERE user_id > $1 AND user_id <= $2
               AND NOT EXISTS (SELECT 1 FROM posts p WHERE p.id = home_timeline.post_id)",
        )
        .bind(after)
        .bind(last)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        tx.commit().await.map_err(db_err)?;
        Ok((Some(last), deleted))
    }

    async fn repair_avatars(&self, after: Uuid, limit: u32) -> StoreResult<(Option<Uuid>, u64)> {
        let users: Vec<Uuid> =
            sqlx::query_scalar("SELECT id FROM users WHERE id > $1 ORDER BY id LIMIT $2")
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
        let Some(last) = users.last().copied() else {
            return Ok((None, 0));
        };
        let (_turn, mut tx) = self.background_tx().await?;
        let cleared = sqlx::query(
            "UPDATE users SET avatar_media_id = NULL
             WHERE id > $1 AND id <= $2 AND avatar_media_id IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM media m WHERE m.id = users.avatar_media_id
                               AND m.owner_id = users.id AND m.purpose = 'avatar'
                               AND m.status = 'ready')",
        )
        .bind(after)
        .bind(last)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        tx.commit().await.map_err(db_err)?;
        Ok((Some(last), cleared))
    }

    async fn fail_stale_media(
        &self,
        stale_before: OffsetDateTime,
        reason: &str,
        limit: u32,
    ) -> StoreResult<Vec<Media>> {
        let rows: Vec<MediaRow> = sqlx::query_as(&format!(
            "UPDATE media SET status = 'failed', error = $2, updated_at = $3
             WHERE id IN (SELECT id FROM media WHERE status IN ('uploaded', 'processing')
                            AND updated_at < $1 ORDER BY id LIMIT $4)
             RETURNING {MEDIA_COLUMNS}"
        ))
        .bind(ts(stale_before))
        .bind(reason)
        .bind(ts(OffsetDateTime::now_utc()))
        .bind(i64::from(limit))
        .fetch_all(&self.writer)
        .await
        .map_err(db_err)?;
        rows.into_iter().map(MediaRow::into_media).collect()
    }

    async fn delete_stale_invites(&self, before: OffsetDateTime, limit: u32) -> StoreResult<u64> {
        let mut deleted = 0;
        // Apart, so each is one index range (`invites_unused_*_idx`).
        for stale in [
            "expires_at < $1",
            "revoked_at IS NOT NULL AND revoked_at < $1",
        ] {
            deleted += sqlx::query(&format!(
                "DELETE FROM invites WHERE id IN (SELECT id FROM invites
                   WHERE used_by IS NULL AND {stale} LIMIT $2)"
            ))
            .bind(ts(before))
            .bind(i64::from(limit))
            .execute(&self.writer)
            .await
            .map_err(db_err)?
            .rows_affected();
        }
        Ok(deleted)
    }

    async fn prune_timelines(
        &self,
        after: Uuid,
        limit: u32,
        window: u32,
    ) -> StoreResult<(Option<Uuid>, u64)> {
        let Some(last) = self.last_timeline(after, limit).await? else {
            return Ok((None, 0));
        };
        let (_turn, mut tx) = self.background_tx().await?;
        let mut deleted = 0;
        // Floors first, from the same cuts the delete then applies.
        for tail in TRIM_TIMELINES {
            deleted = sqlx::query(&format!("{PRUNE_CUTS} {tail}"))
                .bind(after)
                .bind(i64::from(limit))
                .bind(i64::from(window) - 1)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?
                .rows_affected();
        }
        tx.commit().await.map_err(db_err)?;
        Ok((Some(last), deleted))
    }

    async fn ready_media_after(&self, after: Uuid, limit: u32) -> StoreResult<Vec<Media>> {
        sqlx::query_as::<_, MediaRow>(&format!(
            "SELECT {MEDIA_COLUMNS} FROM media WHERE id > $1 AND status = 'ready'
             ORDER BY id LIMIT $2"
        ))
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(MediaRow::into_media)
        .collect()
    }

    async fn existing_media(&self, ids: &[Uuid]) -> StoreResult<Vec<Uuid>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = sqlx::QueryBuilder::<Db>::new("SELECT id FROM media WHERE id");
        in_ids(&mut query, ids.iter().copied());
        query
            .build_query_scalar()
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)
    }
}
