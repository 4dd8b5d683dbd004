use async_trait::async_trait;
use picshare_domain::{Media, NewMedia, ProcessedMedia, StoredVariant, UserId};
use picshare_store::{MediaStore, NewJob, StoreError, StoreResult, UnattachedMedia};
use sqlx::FromRow;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::jobs::insert_job;
use crate::{SqliteStore, db_err, from_micros, to_micros};

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
    width: Option<i64>,
    height: Option<i64>,
    blurhash: Option<String>,
    variants: String,
    upload_expires_at: i64,
    created_at: i64,
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
            variants: serde_json::from_str::<Vec<StoredVariant>>(&self.variants)
                .map_err(StoreError::backend)?,
            upload_expires_at: from_micros(self.upload_expires_at),
            created_at: from_micros(self.created_at),
        })
    }
}

fn now() -> i64 {
    to_micros(OffsetDateTime::now_utc())
}

#[async_trait]
impl MediaStore for SqliteStore {
    async fn create_media(&self, media: &NewMedia) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO media (id, owner_id, purpose, status, content_type, size_bytes,
                                upload_expires_at, created_at, updated_at)
             VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?)",
        )
        .bind(media.id)
        .bind(media.owner_id.0)
        .bind(media.purpose.as_str())
        .bind(&media.content_type)
        .bind(media.size_bytes)
        .bind(to_micros(media.upload_expires_at))
        .bind(to_micros(media.created_at))
        .bind(to_micros(media.created_at))
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn find_media(&self, id: Uuid) -> StoreResult<Option<Media>> {
        sqlx::query_as::<_, MediaRow>(&format!("SELECT {MEDIA_COLUMNS} FROM media WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .map(MediaRow::into_media)
            .transpose()
    }

    async fn mark_uploaded(
        &self,
        id: Uuid,
        owner: UserId,
        now_at: OffsetDateTime,
        job: &NewJob,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let updated = sqlx::query(
            "UPDATE media SET status = 'uploaded', updated_at = ?1
             WHERE id = ?2 AND owner_id = ?3 AND status = 'pending' AND upload_expires_at > ?1",
        )
        .bind(to_micros(now_at))
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
            "UPDATE media SET status = 'processing', updated_at = ?
             WHERE id = ? AND status IN ('uploaded', 'processing') RETURNING {MEDIA_COLUMNS}"
        ))
        .bind(now())
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .map(MediaRow::into_media)
        .transpose()
    }

    async fn finish_processing(&self, id: Uuid, result: &ProcessedMedia) -> StoreResult<bool> {
        let variants = serde_json::to_string(&result.variants).map_err(StoreError::backend)?;
        let done = sqlx::query(
            "UPDATE media SET status = 'ready', width = ?, height = ?, blurhash = ?, variants = ?,
                    error = NULL, updated_at = ?
             WHERE id = ? AND status = 'processing'",
        )
        .bind(i64::from(result.width))
        .bind(i64::from(result.height))
        .bind(&result.blurhash)
        .bind(variants)
        .bind(now())
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn fail_media(&self, id: Uuid, reason: &str) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE media SET status = 'failed', error = ?, updated_at = ?
             WHERE id = ? AND status IN ('pending', 'uploaded', 'processing')",
        )
        .bind(reason)
        .bind(now())
        .bind(id)
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
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let deleted = sqlx::query_as::<_, MediaRow>(&format!(
            "DELETE FROM media WHERE id = ? AND owner_id = ?
               AND NOT EXISTS (SELECT 1 FROM post_media pm WHERE pm.media_id = media.id)
             RETURNING {MEDIA_COLUMNS}"
        ))
        .bind(id)
        .bind(owner.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        if deleted.is_some() {
            insert_job(&mut tx, cleanup).await?;
        }
        tx.commit().await.map_err(db_err)?;
        deleted.map(MediaRow::into_media).transpose()
    }

    async fn post_of_media(&self, media: Uuid) -> StoreResult<Option<Uuid>> {
        sqlx::query_scalar("SELECT post_id FROM post_media WHERE media_id = ?")
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
             WHERE owner_id = ?1 AND status <> 'failed'
               AND (status <> 'pending' OR upload_expires_at > ?2)
               AND NOT EXISTS (SELECT 1 FROM post_media pm WHERE pm.media_id = m.id)
               AND m.id IS NOT (SELECT avatar_media_id FROM users WHERE id = ?1)",
        )
        .bind(owner.0)
        .bind(to_micros(now_at))
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
             WHERE status = 'pending' AND upload_expires_at <= ? ORDER BY upload_expires_at LIMIT ?"
        ))
        .bind(to_micros(now_at))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(MediaRow::into_media)
        .collect()
    }
}
