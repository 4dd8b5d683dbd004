//! The pages an account's data export reads (see `picshare_store::ExportStore`).

use async_trait::async_trait;
use picshare_domain::{Comment, Media, UserId};
use picshare_store::{ExportStore, Session, StoreResult};
use time::OffsetDateTime;
use uuid::Uuid;

use super::comments::{COMMENT_COLUMNS, CommentRow};
use super::media::{MEDIA_COLUMNS, MediaRow};
use crate::dialect::{Timestamp, from_ts};
use crate::{SqlStore, db_err};

type SessionRow = (Uuid, Timestamp, Timestamp, Option<Timestamp>);

#[async_trait]
impl ExportStore for SqlStore {
    async fn comments_by_author(
        &self,
        author: UserId,
        after: Uuid,
        limit: u32,
    ) -> StoreResult<Vec<Comment>> {
        let rows: Vec<CommentRow> = sqlx::query_as(&format!(
            "SELECT {COMMENT_COLUMNS} FROM comments WHERE author_id = $1 AND id > $2
             ORDER BY id LIMIT $3"
        ))
        .bind(author.0)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(rows.into_iter().map(CommentRow::into_comment).collect())
    }

    async fn likes_given(
        &self,
        user: UserId,
        after: Uuid,
        limit: u32,
    ) -> StoreResult<Vec<(Uuid, OffsetDateTime)>> {
        let rows: Vec<(Uuid, Timestamp)> = sqlx::query_as(
            "SELECT post_id, created_at FROM likes WHERE user_id = $1 AND post_id > $2
             ORDER BY post_id LIMIT $3",
        )
        .bind(user.0)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(rows.into_iter().map(|(id, at)| (id, from_ts(at))).collect())
    }

    async fn blocks_made(
        &self,
        blocker: UserId,
        after: Uuid,
        limit: u32,
    ) -> StoreResult<Vec<(UserId, OffsetDateTime)>> {
        let rows: Vec<(Uuid, Timestamp)> = sqlx::query_as(
            "SELECT blocked_id, created_at FROM blocks WHERE blocker_id = $1 AND blocked_id > $2
             ORDER BY blocked_id LIMIT $3",
        )
        .bind(blocker.0)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|(id, at)| (UserId(id), from_ts(at)))
            .collect())
    }

    async fn sessions(&self, user: UserId, after: Uuid, limit: u32) -> StoreResult<Vec<Session>> {
        let rows: Vec<SessionRow> = sqlx::query_as(
            "SELECT family_id, min(issued_at), max(expires_at), max(revoked_at)
             FROM refresh_tokens WHERE user_id = $1 AND family_id > $2
             GROUP BY family_id ORDER BY family_id LIMIT $3",
        )
        .bind(user.0)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|(family_id, started, expires, revoked)| Session {
                family_id,
                started_at: from_ts(started),
                expires_at: from_ts(expires),
                revoked_at: revoked.map(from_ts),
            })
            .collect())
    }

    async fn owned_media(&self, owner: UserId, after: Uuid, limit: u32) -> StoreResult<Vec<Media>> {
        sqlx::query_as::<_, MediaRow>(&format!(
            "SELECT {MEDIA_COLUMNS} FROM media WHERE owner_id = $1 AND id > $2
             ORDER BY id LIMIT $3"
        ))
        .bind(owner.0)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(MediaRow::into_media)
        .collect()
    }
}
