//! Comments on posts, counted in the same transaction.

use async_trait::async_trait;
use picshare_domain::{Comment, UserId};
use picshare_store::{CommentStore, NewComment, NewJob, Page, PageRequest, StoreResult};
use sqlx::FromRow;
use uuid::Uuid;

use super::jobs::insert_job;
use super::rows::{qualified, taken_down};
use crate::dialect::{Timestamp, from_ts, ts};
use crate::{SqlStore, db_err};

pub(crate) const COMMENT_COLUMNS: &str =
    "id, post_id, author_id, text, created_at, taken_down_at, takedown_reason";

#[derive(FromRow)]
pub(crate) struct CommentRow {
    id: Uuid,
    post_id: Uuid,
    author_id: Uuid,
    text: String,
    created_at: Timestamp,
    taken_down_at: Option<Timestamp>,
    takedown_reason: Option<String>,
}

impl CommentRow {
    pub(crate) fn into_comment(self) -> Comment {
        Comment {
            id: self.id,
            post_id: self.post_id,
            author_id: UserId(self.author_id),
            text: self.text,
            created_at: from_ts(self.created_at),
            taken_down: taken_down(self.taken_down_at, self.takedown_reason),
        }
    }
}

#[async_trait]
impl CommentStore for SqlStore {
    async fn add_comment(&self, comment: &NewComment, notify: &NewJob) -> StoreResult<Comment> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query_as::<_, CommentRow>(&format!(
            "INSERT INTO comments (id, post_id, author_id, text, created_at) VALUES ($1, $2, $3, $4, $5)
             RETURNING {COMMENT_COLUMNS}"
        ))
        .bind(comment.id)
        .bind(comment.post_id)
        .bind(comment.author_id.0)
        .bind(&comment.text)
        .bind(ts(comment.created_at))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        sqlx::query("UPDATE posts SET comment_count = comment_count + 1 WHERE id = $1")
            .bind(comment.post_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        insert_job(&mut tx, notify).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(row.into_comment())
    }

    async fn comments(
        &self,
        post: Uuid,
        viewer: Option<UserId>,
        moderator: bool,
        page: PageRequest,
    ) -> StoreResult<Page<Comment>> {
        let rows = sqlx::query_as::<_, CommentRow>(&format!(
            "SELECT {} FROM comments c
             WHERE c.post_id = $1 AND c.id > $2 AND NOT EXISTS (SELECT 1 FROM blocks b
                   WHERE (b.blocker_id = $3 AND b.blocked_id = c.author_id)
                      OR (b.blocker_id = c.author_id AND b.blocked_id = $3))
               AND (c.taken_down_at IS NULL OR c.author_id = $3 OR $5)
             ORDER BY c.id ASC LIMIT $4",
            qualified(COMMENT_COLUMNS, "c")
        ))
        .bind(post)
        .bind(page.after.unwrap_or(Uuid::nil()))
        .bind(viewer.map(|v| v.0).unwrap_or(Uuid::nil()))
        .bind(i64::from(page.limit) + 1)
        .bind(moderator)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let rows = rows
            .into_iter()
            .map(|row| (row.id, row.into_comment()))
            .collect();
        Ok(Page::from_rows(rows, page.limit))
    }

    async fn find_comment(&self, id: Uuid) -> StoreResult<Option<Comment>> {
        Ok(sqlx::query_as::<_, CommentRow>(&format!(
            "SELECT {COMMENT_COLUMNS} FROM comments WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .map(CommentRow::into_comment))
    }

    async fn delete_comment(&self, post: Uuid, comment: Uuid) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let removed = sqlx::query("DELETE FROM comments WHERE id = $1 AND post_id = $2")
            .bind(comment)
            .bind(post)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        if removed == 1 {
            sqlx::query("UPDATE posts SET comment_count = comment_count - 1 WHERE id = $1")
                .bind(post)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(removed == 1)
    }
}
