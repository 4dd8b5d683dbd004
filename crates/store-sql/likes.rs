//! Likes of posts, counted in the same transaction.

use async_trait::async_trait;
use picshare_domain::{User, UserId};
use picshare_store::{LikeStore, NewJob, Page, PageRequest, StoreResult};
use sqlx::Transaction;
use time::OffsetDateTime;
use uuid::Uuid;

use super::id_lists::in_ids;
use super::jobs::insert_job;
use super::notifications::{Undo, like_cause, undo_notification};
use super::rows::{NOT_BLOCKED_WITH_VIEWER, user_columns};
use super::timelines::touch_timeline;
use crate::dialect::{Db, ts};
use crate::{SqlStore, db_err};

impl SqlStore {
    /// Applies a like's change (`+1`, `-1` or none) to the post's counter, and to the liker's
    /// timeline version (their cached feed pages show `liked_by_me`); commits and returns the
    /// count.
    async fn count_like(
        &self,
        mut tx: Transaction<'static, Db>,
        post: Uuid,
        user: UserId,
        change: i64,
    ) -> StoreResult<i64> {
        if change != 0 {
            sqlx::query("UPDATE posts SET like_count = like_count + $1 WHERE id = $2")
                .bind(change)
                .bind(post)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            touch_timeline(&mut tx, user).await?;
        }
        let count: i64 = sqlx::query_scalar("SELECT like_count FROM posts WHERE id = $1")
            .bind(post)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?
            .unwrap_or(0);
        tx.commit().await.map_err(db_err)?;
        Ok(count)
    }
}

#[async_trait]
impl LikeStore for SqlStore {
    async fn like(&self, post: Uuid, user: UserId, notify: &NewJob) -> StoreResult<i64> {
        let mut tx = self.write_tx().await?;
        let added = sqlx::query(
            "INSERT INTO likes (post_id, user_id, id, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(post)
        .bind(user.0)
        .bind(Uuid::now_v7())
        .bind(ts(OffsetDateTime::now_utc()))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if added == 1 {
            insert_job(&mut tx, notify).await?;
        }
        self.count_like(tx, post, user, added as i64).await
    }

    async fn unlike(&self, post: Uuid, user: UserId) -> StoreResult<i64> {
        let mut tx = self.write_tx().await?;
        let removed = sqlx::query("DELETE FROM likes WHERE post_id = $1 AND user_id = $2")
            .bind(post)
            .bind(user.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        if removed == 1 {
            let author: Option<Uuid> =
                sqlx::query_scalar("SELECT author_id FROM posts WHERE id = $1")
                    .bind(post)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?;
            if let Some(author) = author {
                let cause = like_cause(post, user);
                undo_notification(&mut tx, UserId(author), &cause, Undo::Hide).await?;
            }
        }
        self.count_like(tx, post, user, -(removed as i64)).await
    }

    async fn has_liked(&self, post: Uuid, user: UserId) -> StoreResult<bool> {
        let liked: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM likes WHERE post_id = $1 AND user_id = $2")
                .bind(post)
                .bind(user.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
        Ok(liked.is_some())
    }

    async fn liked_among(&self, user: UserId, posts: &[Uuid]) -> StoreResult<Vec<Uuid>> {
        if posts.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = sqlx::QueryBuilder::new("SELECT post_id FROM likes WHERE user_id = ");
        query.push_bind(user.0).push(" AND post_id");
        in_ids(&mut query, posts.iter().copied());
        query
            .build_query_scalar()
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)
    }

    async fn likers(
        &self,
        post: Uuid,
        viewer: Option<UserId>,
        page: PageRequest,
    ) -> StoreResult<Page<User>> {
        let sql = format!(
            "SELECT l.id AS key, {} FROM likes l JOIN users u ON u.id = l.user_id AND u.deleted_at IS NULL
             WHERE l.post_id = $1 AND l.id < $2 AND {}
             ORDER BY l.id DESC LIMIT $4",
            user_columns(),
            NOT_BLOCKED_WITH_VIEWER
        );
        self.user_list(&sql, post, viewer, page).await
    }
}
