//! Account deletion: the account vanishes from every read at once (they skip `deleted_at`), then
//! what it owned and did goes in short batches, and its row last.

use std::collections::BTreeMap;

use async_trait::async_trait;
use picshare_domain::{AuditAction, Media, UserId};
use picshare_store::{AccountDeletion, AccountStore, NewJob, StoreResult};
use sqlx::{QueryBuilder, Transaction};
use uuid::Uuid;

use super::id_lists::in_ids;
use super::jobs::insert_job;
use super::media::{MEDIA_COLUMNS, MediaRow};
use super::moderation::{audit, user_target};
use super::social::remove_follow;
use super::timelines::touch_timelines_showing;
use crate::dialect::{Db, FOR_UPDATE, ts};
use crate::{SqlStore, db_err};

/// Whether the account is deleted: every purge step checks, so none ever touches a live one.
async fn is_deleted(tx: &mut Transaction<'_, Db>, user: UserId) -> StoreResult<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NOT NULL)",
    )
    .bind(user.0)
    .fetch_one(&mut **tx)
    .await
    .map_err(db_err)
}

/// Gives a deleted account a handle and an email nobody can take (neither can hold `~`), so
/// its own are free.
async fn release_handle(tx: &mut Transaction<'_, Db>, user: UserId) -> StoreResult<bool> {
    let tombstone = user.0.simple();
    let released = sqlx::query(
        "UPDATE users SET handle = $1, email = $2 WHERE id = $3 AND deleted_at IS NOT NULL",
    )
    .bind(format!("~{tombstone}"))
    .bind(format!("~{tombstone}@deleted.invalid"))
    .bind(user.0)
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(released.rows_affected() == 1)
}

/// Runs `sql` (its `$1` the user, its `$2` the batch size) and returns the rows it changed.
async fn run(
    tx: &mut Transaction<'_, Db>,
    sql: &str,
    user: UserId,
    limit: u32,
) -> StoreResult<u64> {
    Ok(sqlx::query(sql)
        .bind(user.0)
        .bind(i64::from(limit))
        .execute(&mut **tx)
        .await
        .map_err(db_err)?
        .rows_affected())
}

/// `sql` with ` IN (…)` of `ids` appended, run.
async fn run_with_ids(tx: &mut Transaction<'_, Db>, sql: &str, ids: &[Uuid]) -> StoreResult<u64> {
    let mut query = QueryBuilder::<Db>::new(sql);
    in_ids(&mut query, ids.iter().copied());
    Ok(query
        .build()
        .execute(&mut **tx)
        .await
        .map_err(db_err)?
        .rows_affected())
}

/// A batch of the account's posts, with the timeline entries that show them; their comments,
/// likes, hashtags and notifications go with them (foreign keys).
async fn purge_posts(tx: &mut Transaction<'_, Db>, user: UserId, limit: u32) -> StoreResult<u64> {
    let ids: Vec<Uuid> = sqlx::query_scalar(&format!(
        "SELECT id FROM posts WHERE author_id = $1 ORDER BY id LIMIT $2{FOR_UPDATE}"
    ))
    .bind(user.0)
    .bind(i64::from(limit))
    .fetch_all(&mut **tx)
    .await
    .map_err(db_err)?;
    if ids.is_empty() {
        return Ok(0);
    }
    touch_timelines_showing(tx, &ids).await?;
    run_with_ids(tx, "DELETE FROM home_timeline WHERE post_id", &ids).await?;
    run_with_ids(tx, "DELETE FROM posts WHERE id", &ids).await
}

/// A batch of the account's comments on others' posts, with those posts' counters.
async fn purge_comments(
    tx: &mut Transaction<'_, Db>,
    user: UserId,
    limit: u32,
) -> StoreResult<u64> {
    let rows: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT id, post_id FROM comments WHERE author_id = $1 ORDER BY id LIMIT $2",
    )
    .bind(user.0)
    .bind(i64::from(limit))
    .fetch_all(&mut **tx)
    .await
    .map_err(db_err)?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut per_post: BTreeMap<Uuid, i64> = BTreeMap::new();
    for (_, post) in &rows {
        *per_post.entry(*post).or_default() += 1;
    }
    // One update per distinct count: a handful of statements however large the batch.
    let mut by_count: BTreeMap<i64, Vec<Uuid>> = BTreeMap::new();
    for (post, count) in per_post {
        by_count.entry(count).or_default().push(post);
    }
    for (count, posts) in by_count {
        let sql = format!("UPDATE posts SET comment_count = comment_count - {count} WHERE id");
        run_with_ids(tx, &sql, &posts).await?;
    }
    let ids: Vec<Uuid> = rows.into_iter().map(|(id, _)| id).collect();
    run_with_ids(tx, "DELETE FROM comments WHERE id", &ids).await
}

/// A batch of the account's likes of others' posts, with those posts' counters.
async fn purge_likes(tx: &mut Transaction<'_, Db>, user: UserId, limit: u32) -> StoreResult<u64> {
    let posts: Vec<Uuid> = sqlx::query_scalar(
        "SELECT post_id FROM likes WHERE user_id = $1 ORDER BY post_id LIMIT $2",
    )
    .bind(user.0)
    .bind(i64::from(limit))
    .fetch_all(&mut **tx)
    .await
    .map_err(db_err)?;
    if posts.is_empty() {
        return Ok(0);
    }
    // A user likes a post at most once.
    run_with_ids(
        tx,
        "UPDATE posts SET like_count = like_count - 1 WHERE id",
        &posts,
    )
    .await?;
    let mut delete = QueryBuilder::<Db>::new("DELETE FROM likes WHERE user_id = ");
    delete.push_bind(user.0).push(" AND post_id");
    in_ids(&mut delete, posts.iter().copied());
    Ok(delete
        .build()
        .execute(&mut **tx)
        .await
        .map_err(db_err)?
        .rows_affected())
}

/// A batch of follows either way, each with both sides' counters and timelines.
async fn purge_follows(tx: &mut Transaction<'_, Db>, user: UserId, limit: u32) -> StoreResult<u64> {
    let pairs: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT follower_id, followee_id FROM follows WHERE follower_id = $1 OR followee_id = $1
         LIMIT $2",
    )
    .bind(user.0)
    .bind(i64::from(limit))
    .fetch_all(&mut **tx)
    .await
    .map_err(db_err)?;
    for (follower, followee) in &pairs {
        remove_follow(tx, UserId(*follower), UserId(*followee)).await?;
    }
    Ok(pairs.len() as u64)
}

/// Batches of what needs no counter: follow requests, blocks and notifications either way, and
/// the account's own timeline. Each `$1` the user, `$2` the batch size.
const PURGE_PLAIN: [&str; 6] = [
    "DELETE FROM follow_requests WHERE id IN (SELECT id FROM follow_requests
       WHERE requester_id = $1 OR target_id = $1 LIMIT $2)",
    "DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id IN (SELECT blocked_id FROM blocks
       WHERE blocker_id = $1 LIMIT $2)",
    "DELETE FROM blocks WHERE blocked_id = $1 AND blocker_id IN (SELECT blocker_id FROM blocks
       WHERE blocked_id = $1 LIMIT $2)",
    "DELETE FROM notifications WHERE id IN (SELECT id FROM notifications WHERE actor_id = $1
       LIMIT $2)",
    "DELETE FROM notifications WHERE id IN (SELECT id FROM notifications WHERE recipient_id = $1
       LIMIT $2)",
    "DELETE FROM home_timeline WHERE user_id = $1 AND post_id IN (SELECT post_id
       FROM home_timeline WHERE user_id = $1 LIMIT $2)",
];

/// Timeline entries a batch of posts may take with it: a post is in up to one timeline per
/// follower, so post batches are this much smaller than row batches.
const POSTS_PER_ROWS: u32 = 4;

#[async_trait]
impl AccountStore for SqlStore {
    async fn delete_account(&self, deletion: &AccountDeletion) -> StoreResult<bool> {
        let user = deletion.user;
        let mut tx = self.write_tx().await?;
        let marked = sqlx::query(
            "UPDATE users SET deleted_at = $1, updated_at = $1 WHERE id = $2 AND deleted_at IS NULL",
        )
        .bind(ts(deletion.at))
        .bind(user.0)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if marked == 0 {
            return Ok(false);
        }
        if deletion.release_now {
            release_handle(&mut tx, user).await?;
        }
        sqlx::query("DELETE FROM refresh_tokens WHERE user_id = $1")
            .bind(user.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        // Pages cached for the followers showed the account's posts.
        sqlx::query(
            "UPDATE timeline_state SET version = version + 1
             WHERE user_id IN (SELECT follower_id FROM follows WHERE followee_id = $1)",
        )
        .bind(user.0)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        for job in &deletion.jobs {
            insert_job(&mut tx, job).await?;
        }
        if let Some(act) = &deletion.moderator {
            audit(
                &mut tx,
                AuditAction::DeleteUser,
                user_target(user),
                act,
                None,
            )
            .await?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }

    async fn deleted_accounts(&self) -> StoreResult<Vec<UserId>> {
        let ids: Vec<Uuid> =
            sqlx::query_scalar("SELECT id FROM users WHERE deleted_at IS NOT NULL")
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
        Ok(ids.into_iter().map(UserId).collect())
    }

    async fn deleted_account_media(&self, user: UserId, limit: u32) -> StoreResult<Vec<Media>> {
        sqlx::query_as::<_, MediaRow>(&format!(
            "SELECT {MEDIA_COLUMNS} FROM media
             WHERE owner_id = $1
               AND EXISTS (SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NOT NULL)
             ORDER BY id LIMIT $2"
        ))
        .bind(user.0)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(MediaRow::into_media)
        .collect()
    }

    async fn purge_account_media(
        &self,
        user: UserId,
        media: &[Uuid],
        cleanup: &NewJob,
    ) -> StoreResult<u64> {
        if media.is_empty() {
            return Ok(0);
        }
        let (_turn, mut tx) = self.background_tx().await?;
        if !is_deleted(&mut tx, user).await? {
            return Ok(0);
        }
        let mut delete = QueryBuilder::<Db>::new("DELETE FROM media WHERE owner_id = ");
        delete.push_bind(user.0).push(" AND id");
        in_ids(&mut delete, media.iter().copied());
        let deleted = delete
            .build()
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        insert_job(&mut tx, cleanup).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(deleted)
    }

    async fn purge_account_rows(&self, user: UserId, limit: u32) -> StoreResult<u64> {
        let (_turn, mut tx) = self.background_tx().await?;
        if !is_deleted(&mut tx, user).await? {
            return Ok(0);
        }
        let mut removed = purge_posts(&mut tx, user, (limit / POSTS_PER_ROWS).max(1)).await?;
        if removed == 0 {
            removed = purge_comments(&mut tx, user, limit).await?;
        }
        if removed == 0 {
            removed = purge_likes(&mut tx, user, limit).await?;
        }
        if removed == 0 {
            removed = purge_follows(&mut tx, user, limit).await?;
        }
        for sql in PURGE_PLAIN {
            if removed > 0 {
                break;
            }
            removed = run(&mut tx, sql, user, limit).await?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(removed)
    }

    async fn release_deleted_handle(&self, user: UserId) -> StoreResult<bool> {
        let (_turn, mut tx) = self.background_tx().await?;
        let released = release_handle(&mut tx, user).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(released)
    }

    async fn remove_deleted_account(&self, user: UserId) -> StoreResult<bool> {
        let (_turn, mut tx) = self.background_tx().await?;
        let conversations: Vec<Uuid> = sqlx::query_scalar(
            "SELECT conversation_id FROM conversation_members WHERE user_id = $1",
        )
        .bind(user.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        // Sessions, devices, invites, reports, strikes and memberships go with the row; its
        // messages stay for the others, their sender gone.
        let removed = sqlx::query("DELETE FROM users WHERE id = $1 AND deleted_at IS NOT NULL")
            .bind(user.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        if removed == 1 && !conversations.is_empty() {
            let mut empty = QueryBuilder::<Db>::new(
                "DELETE FROM conversations WHERE NOT EXISTS (SELECT 1 FROM conversation_members m
                   WHERE m.conversation_id = conversations.id) AND id",
            );
            in_ids(&mut empty, conversations);
            empty.build().execute(&mut *tx).await.map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(removed == 1)
    }
}
