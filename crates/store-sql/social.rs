//! The follow graph: follows within caps, follow requests, blocks, and lists of users.

use async_trait::async_trait;
use picshare_domain::{FollowCaps, Relationship, User, UserId};
use picshare_store::{FollowOutcome, NewJob, Page, PageRequest, SocialStore, StoreResult};
use sqlx::Transaction;
use time::OffsetDateTime;
use uuid::Uuid;

use super::jobs::insert_job;
use super::notifications::{
    Undo, delete_notifications_between, follow_cause, follow_request_cause, undo_notification,
};
use super::rows::{NOT_BLOCKED_WITH_VIEWER, user_columns};
use super::timelines::{backfill, forget_author};
use super::users::UserRow;
use crate::dialect::{Db, FOR_UPDATE, NIL_UUID, lock_users, ts};
use crate::{SqlStore, db_err};

/// The users in the `listed` column of the follows whose `subject` column is `$1`, newest first.
fn follow_list_sql(listed: &str, subject: &str) -> String {
    format!(
        "SELECT f.id AS key, {} FROM follows f JOIN users u ON u.id = f.{listed} AND u.deleted_at IS NULL
         WHERE f.{subject} = $1 AND f.id < $2 AND {NOT_BLOCKED_WITH_VIEWER}
         ORDER BY f.id DESC LIMIT $4",
        user_columns()
    )
}

#[derive(sqlx::FromRow)]
pub(crate) struct KeyedUser {
    key: Uuid,
    #[sqlx(flatten)]
    user: UserRow,
}

fn page_of(rows: Vec<KeyedUser>, limit: u32) -> StoreResult<Page<User>> {
    let rows = rows
        .into_iter()
        .map(|row| Ok((row.key, row.user.into_user()?)))
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::from_rows(rows, limit))
}

/// Deletes a follow and, if there was one, decrements both counters. Both users are locked
/// first, as a post locks its author before marking the author's follow rows
/// (`timelines::mark_last_posted`): deleting the row first would wait in the opposite order.
pub(crate) async fn remove_follow(
    tx: &mut Transaction<'_, Db>,
    follower: UserId,
    followee: UserId,
) -> StoreResult<()> {
    lock_users(tx, follower, followee).await?;
    let removed = sqlx::query("DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2")
        .bind(follower.0)
        .bind(followee.0)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?
        .rows_affected();
    if removed == 1 {
        forget_author(tx, follower, followee).await?;
        undo_notification(tx, followee, &follow_cause(follower), Undo::Hide).await?;
        sqlx::query("UPDATE users SET following_count = following_count - 1 WHERE id = $1")
            .bind(follower.0)
            .execute(&mut **tx)
            .await
            .map_err(db_err)?;
        sqlx::query("UPDATE users SET followers_count = followers_count - 1 WHERE id = $1")
            .bind(followee.0)
            .execute(&mut **tx)
            .await
            .map_err(db_err)?;
    }
    Ok(())
}

/// Locks both users (so a follow and a block of the same pair run one after the other) and says
/// whether a block stands between them.
async fn lock_pair_and_check_block(
    tx: &mut Transaction<'_, Db>,
    a: UserId,
    b: UserId,
) -> StoreResult<bool> {
    lock_users(tx, a, b).await?;
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM blocks WHERE (blocker_id = $1 AND blocked_id = $2)
                                             OR (blocker_id = $2 AND blocked_id = $1))",
    )
    .bind(a.0)
    .bind(b.0)
    .fetch_one(&mut **tx)
    .await
    .map_err(db_err)
}

/// Removes a pending follow request and its notification.
async fn remove_follow_request(
    tx: &mut Transaction<'_, Db>,
    requester: UserId,
    target: UserId,
) -> StoreResult<bool> {
    let removed =
        sqlx::query("DELETE FROM follow_requests WHERE requester_id = $1 AND target_id = $2")
            .bind(requester.0)
            .bind(target.0)
            .execute(&mut **tx)
            .await
            .map_err(db_err)?
            .rows_affected();
    undo_notification(tx, target, &follow_request_cause(requester), Undo::Delete).await?;
    Ok(removed == 1)
}

/// Adds a follow within the caps. The follow row is inserted first (a concurrent duplicate waits
/// on it), then each counter is bumped only while under its cap, in user id order; the users'
/// locks (`dialect::lock_users`) make concurrent follows see each other's counts. A refusal
/// returns before commit, so the transaction's writes are dropped. A new follow enqueues
/// `notify`.
async fn add_follow(
    tx: &mut Transaction<'_, Db>,
    follower: UserId,
    followee: UserId,
    caps: FollowCaps,
    notify: &NewJob,
) -> StoreResult<FollowOutcome> {
    if lock_pair_and_check_block(tx, follower, followee).await? {
        return Ok(FollowOutcome::Blocked);
    }
    // The followee's newest post, read under the followee's lock (`timelines::mark_last_posted`).
    let inserted = sqlx::query(&format!(
        "INSERT INTO follows (follower_id, followee_id, id, created_at, followee_last_posted)
             VALUES ($1, $2, $3, $4,
                     coalesce((SELECT id FROM posts WHERE author_id = $2 ORDER BY id DESC LIMIT 1),
                              {NIL_UUID}))
             ON CONFLICT DO NOTHING"
    ))
    .bind(follower.0)
    .bind(followee.0)
    .bind(Uuid::now_v7())
    .bind(ts(OffsetDateTime::now_utc()))
    .execute(&mut **tx)
    .await
    .map_err(db_err)?
    .rows_affected();
    if inserted == 0 {
        return Ok(FollowOutcome::Following);
    }
    let following = (
        "UPDATE users SET following_count = following_count + 1 WHERE id = $1 AND following_count < $2",
        follower,
        caps.max_following,
    );
    let followers = (
        "UPDATE users SET followers_count = followers_count + 1 WHERE id = $1 AND followers_count < $2",
        followee,
        caps.max_followers,
    );
    let ordered = if follower.0 < followee.0 {
        [following, followers]
    } else {
        [followers, following]
    };
    for (sql, user, cap) in ordered {
        let counted = sqlx::query(sql)
            .bind(user.0)
            .bind(cap)
            .execute(&mut **tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        if counted != 1 {
            return Ok(FollowOutcome::LimitReached);
        }
    }
    remove_follow_request(tx, follower, followee).await?;
    backfill(tx, follower, followee).await?;
    insert_job(tx, notify).await?;
    Ok(FollowOutcome::Following)
}

impl SqlStore {
    /// Runs a user-list query whose binds are: the list's subject (a user or a post), the
    /// cursor, the viewer (for block filtering), the limit.
    pub(crate) async fn user_list(
        &self,
        sql: &str,
        subject: Uuid,
        viewer: Option<UserId>,
        page: PageRequest,
    ) -> StoreResult<Page<User>> {
        let sql = sql.replace(":viewer", "$3");
        let rows: Vec<KeyedUser> = sqlx::query_as(&sql)
            .bind(subject)
            .bind(page.after.unwrap_or(Uuid::max()))
            .bind(viewer.map(|v| v.0).unwrap_or(Uuid::nil()))
            .bind(i64::from(page.limit) + 1)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        page_of(rows, page.limit)
    }
}

#[async_trait]
impl SocialStore for SqlStore {
    async fn relationship(&self, from: UserId, to: UserId) -> StoreResult<Relationship> {
        let (following, followed_by, requested, blocking, blocked_by): (bool, bool, bool, bool, bool) =
            sqlx::query_as(
                "SELECT
                   EXISTS (SELECT 1 FROM follows WHERE follower_id = $1 AND followee_id = $2),
                   EXISTS (SELECT 1 FROM follows WHERE follower_id = $2 AND followee_id = $1),
                   EXISTS (SELECT 1 FROM follow_requests WHERE requester_id = $1 AND target_id = $2),
                   EXISTS (SELECT 1 FROM blocks WHERE blocker_id = $1 AND blocked_id = $2),
                   EXISTS (SELECT 1 FROM blocks WHERE blocker_id = $2 AND blocked_id = $1)",
            )
            .bind(from.0)
            .bind(to.0)
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(Relationship {
            following,
            followed_by,
            requested,
            blocking,
            blocked_by,
        })
    }

    async fn follow(
        &self,
        follower: UserId,
        followee: UserId,
        caps: FollowCaps,
        notify: &NewJob,
    ) -> StoreResult<FollowOutcome> {
        let mut tx = self.write_tx().await?;
        let outcome = add_follow(&mut tx, follower, followee, caps, notify).await?;
        if outcome == FollowOutcome::Following {
            tx.commit().await.map_err(db_err)?;
        }
        Ok(outcome)
    }

    async fn request_follow(
        &self,
        requester: UserId,
        target: UserId,
        notify: &NewJob,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let inserted = sqlx::query(
            "INSERT INTO follow_requests (requester_id, target_id, id, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
        )
        .bind(requester.0)
        .bind(target.0)
        .bind(Uuid::now_v7())
        .bind(ts(OffsetDateTime::now_utc()))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if inserted == 1 {
            insert_job(&mut tx, notify).await?;
        }
        tx.commit().await.map_err(db_err)
    }

    async fn unfollow(&self, follower: UserId, followee: UserId) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        remove_follow(&mut tx, follower, followee).await?;
        remove_follow_request(&mut tx, follower, followee).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn block(&self, blocker: UserId, blocked: UserId) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        lock_pair_and_check_block(&mut tx, blocker, blocked).await?;
        sqlx::query("INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(blocker.0)
            .bind(blocked.0)
            .bind(ts(OffsetDateTime::now_utc()))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        remove_follow(&mut tx, blocker, blocked).await?;
        remove_follow(&mut tx, blocked, blocker).await?;
        sqlx::query(
            "DELETE FROM follow_requests WHERE (requester_id = $1 AND target_id = $2)
                                            OR (requester_id = $2 AND target_id = $1)",
        )
        .bind(blocker.0)
        .bind(blocked.0)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        delete_notifications_between(&mut tx, blocker, blocked).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn unblock(&self, blocker: UserId, blocked: UserId) -> StoreResult<()> {
        sqlx::query("DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2")
            .bind(blocker.0)
            .bind(blocked.0)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn followers(
        &self,
        user: UserId,
        viewer: Option<UserId>,
        page: PageRequest,
    ) -> StoreResult<Page<User>> {
        let sql = follow_list_sql("follower_id", "followee_id");
        self.user_list(&sql, user.0, viewer, page).await
    }

    async fn following(
        &self,
        user: UserId,
        viewer: Option<UserId>,
        page: PageRequest,
    ) -> StoreResult<Page<User>> {
        let sql = follow_list_sql("followee_id", "follower_id");
        self.user_list(&sql, user.0, viewer, page).await
    }

    async fn follow_requests(&self, target: UserId, page: PageRequest) -> StoreResult<Page<User>> {
        let sql = format!(
            "SELECT r.id AS key, {} FROM follow_requests r JOIN users u ON u.id = r.requester_id AND u.deleted_at IS NULL
             WHERE r.target_id = $1 AND r.id < $2 AND {NOT_BLOCKED_WITH_VIEWER}
             ORDER BY r.id DESC LIMIT $4",
            user_columns()
        );
        self.user_list(&sql, target.0, Some(target), page).await
    }

    async fn approve_follow_request(
        &self,
        target: UserId,
        requester: UserId,
        caps: FollowCaps,
        notify: &NewJob,
    ) -> StoreResult<Option<FollowOutcome>> {
        let mut tx = self.write_tx().await?;
        let pending: Option<i32> = sqlx::query_scalar(&format!(
            "SELECT 1 FROM follow_requests WHERE requester_id = $1 AND target_id = $2{FOR_UPDATE}"
        ))
        .bind(requester.0)
        .bind(target.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        if pending.is_none() {
            return Ok(None);
        }
        let outcome = add_follow(&mut tx, requester, target, caps, notify).await?;
        if outcome == FollowOutcome::Following {
            tx.commit().await.map_err(db_err)?;
        }
        Ok(Some(outcome))
    }

    async fn reject_follow_request(&self, target: UserId, requester: UserId) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let removed = remove_follow_request(&mut tx, requester, target).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(removed)
    }
}
