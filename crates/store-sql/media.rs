//! Media items: uploads, their processing states and results, deletion with cleanup jobs.

use async_trait::async_trait;
use picshare_domain::{Media, NewMedia, ProcessedMedia, StoredVariant, UserId};
use picshare_store::{MediaStore, NewJob, StoreError, StoreResult, UnattachedMedia};
use sqlx::FromRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::id_lists::in_ids;
use super::jobs::insert_job;
use crate::dialect::{Timestamp, from_ts, ts};
use crate::{SqlStore, db_err};

pub(crate) const MEDIA_COLUMNS: &str = "id, owner_id, purpose, status, content_type, size_bytes, error, \
     width, height, blurhash, variants, upload_expires_at, created_at";

#[derive(FromRow)]
pub(crate) struct MediaRow {
    id: Uuid,
    owner_id: Uuid,
    purpose: String,
    status: String,
    content_type: String,
    size_bytes: i64,
    error: Option<String>,
    width: Option<i32>,
    height: Option<i32>,
    blurhash: Option<String>,
    variants: sqlx::types::Json<Vec<StoredVariant>>,
    upload_expires_at: Timestamp,
    created_at: Timestamp,
}

impl MediaRow {
    pub(crate) fn into_media(self) -> StoreResult<Media> {
        let corrupt = |message: String| StoreError::Backend(message.into());
        Ok(Media {
            id: self.id,
            owner_id: UserId(self.owner_id),
            purpose: self.purpose.parse().map_err(corrupt)?,
            status: self.status.parse().map_err(corrupt)?,
            content_type: self.content_type,
            size_bytes: self.size_bytes,
            error: self.error,
            width: self.width.map(|w| w as u32),
            height: self.height.map(|h| h as u32),
            blurhash: self.blurhash,
            variants: self.variants.0,
            upload_expires_at: from_ts(self.upload_expires_at),
            created_at: from_ts(self.created_at),
        })
    }
}

fn now() -> Timestamp {
    ts(OffsetDateTime::now_utc())
}

#[async_trait]
impl MediaStore for SqlStore {
    async fn create_media(&self, media: &NewMedia) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO media (id, owner_id, purpose, status, content_type, size_bytes,
                                upload_expires_at, created_at, updated_at)
             VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $7)",
        )
        .bind(media.id)
        .bind(media.owner_id.0)
        .bind(media.purpose.as_str())
        .bind(&media.content_type)
        .bind(media.size_bytes)
        .bind(ts(media.upload_expires_at))
        .bind(ts(media.created_at))
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn find_media(&self, id: Uuid) -> StoreResult<Option<Media>> {
        sqlx::query_as::<_, MediaRow>(&format!("SELECT {MEDIA_COLUMNS} FROM media WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .map(MediaRow::into_media)
            .transpose()
    }

    async fn find_media_by_ids(&self, ids: &[Uuid]) -> StoreResult<Vec<Media>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query =
            sqlx::QueryBuilder::new(format!("SELECT {MEDIA_COLUMNS} FROM media WHERE id"));
        in_ids(&mut query, ids.iter().copied());
        query
            .build_query_as::<MediaRow>()
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(MediaRow::into_media)
            .collect()
    }

    async fn mark_uploaded(
        &self,
        id: Uuid,
        owner: UserId,
        now_at: OffsetDateTime,
        job: &NewJob,
    ) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let updated = sqlx::query(
            "UPDATE media SET status = 'uploaded', updated_at = $1
             WHERE id = $2 AND owner_id = $3 AND status = 'pending' AND upload_expires_at > $1",
        )
        .bind(ts(now_at))
        .bind(id)
        .bind(owner.0)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected()
            == 1;
        if updated {
            insert_job(&mut tx, job).await?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(updated)
    }

    async fn start_processing(&self, id: Uuid) -> StoreResult<Option<Media>> {
        sqlx::query_as::<_, MediaRow>(&format!(
            "UPDATE media SET status = 'processing', updated_at = $2
             WHERE id = $1 AND status IN ('uploaded', 'processing') RETURNING {MEDIA_COLUMNS}"
        ))
        .bind(id)
        .bind(now())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .map(MediaRow::into_media)
        .transpose()
    }

    async fn finish_processing(&self, id: Uuid, result: &ProcessedMedia) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE media SET status = 'ready', width = $1, height = $2, blurhash = $3,
                    variants = $4, error = NULL, updated_at = $6
             WHERE id = $5 AND status = 'processing'",
        )
        .bind(result.width as i32)
        .bind(result.height as i32)
        .bind(&result.blurhash)
        .bind(sqlx::types::Json(&result.variants))
        .bind(id)
        .bind(now())
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn fail_media(&self, id: Uuid, reason: &str) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE media SET status = 'failed', error = $1, updated_at = $3
             WHERE id = $2 AND status IN ('pending', 'uploaded', 'processing')",
        )
        .bind(reason)
        .bind(id)
        .bind(now())
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_media(
        &self,
        id: Uuid,
        owner: UserId,
        cleanup: &NewJob,
    ) -> StoreResult<Option<Media>> {
        let mut tx = self.write_tx().await?;
        let deleted = sqlx::query_as::<_, MediaRow>(&format!(
            "DELETE FROM media WHERE id = $1 AND owner_id = $2
               AND NOT EXISTS (SELECT 1 FROM post_media pm WHERE pm.media_id = media.id)
             RETURNING {MEDIA_COLUMNS}"
        ))
        .bind(id)
        .bind(owner.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        if deleted.is_some() {
            // An avatar deleted is an avatar no more: no profile points at a deleted item.
            sqlx::query(
                "UPDATE users SET avatar_media_id = NULL WHERE id = $1 AND avatar_media_id = $2",
            )
            .bind(owner.0)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            insert_job(&mut tx, cleanup).await?;
        }
        tx.commit().await.map_err(db_err)?;
        deleted.map(MediaRow::into_media).transpose()
    }

    async fn post_of_media(&self, media: Uuid) -> StoreResult<Option<Uuid>> {
        sqlx::query_scalar("SELECT post_id FROM post_media WHERE media_id = $1")
            .bind(media)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)
    }

    async fn unattached_media_counts(
        &self,
        owner: UserId,
        now_at: OffsetDateTime,
    ) -> StoreResult<UnattachedMedia> {
        let (pending, unused): (i64, i64) = sqlx::query_as(
            "SELECT coalesce(sum(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0),
                    coalesce(sum(CASE WHEN status = 'pending' THEN 0 ELSE 1 END), 0)
             FROM media m
             WHERE owner_id = $1 AND status <> 'failed'
               AND (status <> 'pending' OR upload_expires_at > $2)
               AND NOT EXISTS (SELECT 1 FROM post_media pm WHERE pm.media_id = m.id)
               AND m.id IS DISTINCT FROM (SELECT avatar_media_id FROM users WHERE id = $1)",
        )
        .bind(owner.0)
        .bind(ts(now_at))
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(UnattachedMedia {
            pending: pending.max(0) as u64,
            unused: unused.max(0) as u64,
        })
    }

    async fn expired_uploads(&self, now_at: OffsetDateTime, limit: u32) -> StoreResult<Vec<Media>> {
        sqlx::query_as::<_, MediaRow>(&format!(
            "SELECT {MEDIA_COLUMNS} FROM media
             WHERE status = 'pending' AND upload_expires_at <= $1 ORDER BY upload_expires_at LIMIT $2"
        ))
        .bind(ts(now_at))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(MediaRow::into_media)
        .collect()
    }
}
