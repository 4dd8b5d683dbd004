//! Notifications. Each has a `cause` key, unique per recipient: the worker records a cause
//! once, the write that undoes it hides its notification in the same transaction (an unlike,
//! an unfollow) and the write that redoes it shows it again.

use async_trait::async_trait;
use picshare_domain::{Notification, NotificationKind, UserId};
use picshare_store::{NewNotification, NotificationStore, Page, PageRequest, StoreResult};
use sqlx::{FromRow, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

use super::rows::corrupt;
use crate::dialect::{Db, FOR_SHARE, Timestamp, from_ts, ts};
use crate::{SqlStore, db_err};

const NOTIFICATION_COLUMNS: &str = "id, recipient_id, kind, actor_id, post_id, comment_id, \
     conversation_id, message_id, created_at, read_at";

/// Unread notifications counted at most (a badge shows "1000+").
const MAX_UNREAD_COUNTED: i64 = 1000;

/// Leaves out notifications whose actor is in a block with their recipient.
const ACTOR_NOT_BLOCKED: &str = "NOT EXISTS (SELECT 1 FROM blocks b
      WHERE (b.blocker_id = n.recipient_id AND b.blocked_id = n.actor_id)
         OR (b.blocker_id = n.actor_id AND b.blocked_id = n.recipient_id))";

pub(crate) fn follow_cause(follower: UserId) -> String {
    format!("follow:{}", follower.0)
}

pub(crate) fn follow_request_cause(requester: UserId) -> String {
    format!("follow_request:{}", requester.0)
}

pub(crate) fn like_cause(post: Uuid, liker: UserId) -> String {
    format!("like:{post}:{}", liker.0)
}

fn cause_of(n: &NewNotification) -> String {
    let subject = |id: Option<Uuid>| id.map(|id| id.to_string()).unwrap_or_default();
    match n.kind {
        NotificationKind::Follow => follow_cause(n.actor_id),
        NotificationKind::FollowRequest => follow_request_cause(n.actor_id),
        NotificationKind::Like => like_cause(n.post_id.unwrap_or_default(), n.actor_id),
        NotificationKind::Comment => format!("comment:{}", subject(n.comment_id)),
        NotificationKind::Mention => {
            format!("mention:{}", subject(n.comment_id.or(n.post_id)))
        }
        NotificationKind::Message => format!("message:{}", subject(n.message_id)),
    }
}

/// The row the notification stands on, by its actor (`$11`, `$12`), locked against deletion
/// until the notification is recorded, so an undo that commits meanwhile sees it and hides it.
fn cause_sql(n: &NewNotification) -> (String, Uuid, Uuid) {
    let actor = n.actor_id.0;
    let (sql, first, second) = match n.kind {
        NotificationKind::Follow => (
            "SELECT 1 FROM follows WHERE follower_id = $11 AND followee_id = $12",
            actor,
            n.recipient_id.0,
        ),
        NotificationKind::FollowRequest => (
            "SELECT 1 FROM follow_requests WHERE requester_id = $11 AND target_id = $12",
            actor,
            n.recipient_id.0,
        ),
        NotificationKind::Like => (
            "SELECT 1 FROM likes WHERE user_id = $11 AND post_id = $12",
            actor,
            n.post_id.unwrap_or_default(),
        ),
        NotificationKind::Comment | NotificationKind::Mention if n.comment_id.is_some() => (
            "SELECT 1 FROM comments WHERE author_id = $11 AND id = $12",
            actor,
            n.comment_id.unwrap_or_default(),
        ),
        NotificationKind::Comment | NotificationKind::Mention => (
            "SELECT 1 FROM posts WHERE author_id = $11 AND id = $12",
            actor,
            n.post_id.unwrap_or_default(),
        ),
        NotificationKind::Message => (
            "SELECT 1 FROM messages WHERE sender_id = $11 AND id = $12",
            actor,
            n.message_id.unwrap_or_default(),
        ),
    };
    (format!("{sql}{FOR_SHARE}"), first, second)
}

/// Whether the recipient (`$2`) may be told of the actor's (`$4`) doing: no block between them
/// and, for anything on a post (`$5`), the post is one they may see (not taken down, unless
/// theirs).
const MAY_NOTIFY: &str = "NOT EXISTS (SELECT 1 FROM blocks b
          WHERE (b.blocker_id = $4 AND b.blocked_id = $2)
             OR (b.blocker_id = $2 AND b.blocked_id = $4))
     AND ($5 IS NULL OR EXISTS (
          SELECT 1 FROM posts p JOIN users a ON a.id = p.author_id
          WHERE p.id = $5
            AND (p.taken_down_at IS NULL OR p.author_id = $2)
            AND NOT EXISTS (SELECT 1 FROM blocks b
                  WHERE (b.blocker_id = $2 AND b.blocked_id = p.author_id)
                     OR (b.blocker_id = p.author_id AND b.blocked_id = $2))
            AND (p.author_id = $2
                 OR (p.visibility = 'public' AND NOT a.is_private)
                 OR EXISTS (SELECT 1 FROM follows f
                            WHERE f.follower_id = $2 AND f.followee_id = p.author_id))))";

/// What becomes of a notification whose cause is undone.
#[derive(Clone, Copy)]
pub(crate) enum Undo {
    /// Hidden until the cause is redone (an unlike, an unfollow).
    Hide,
    /// Gone for good (a follow request answered or withdrawn).
    Delete,
}

/// Hides or deletes the notification `cause` made for `recipient`.
pub(crate) async fn undo_notification(
    tx: &mut Transaction<'_, Db>,
    recipient: UserId,
    cause: &str,
    undo: Undo,
) -> StoreResult<()> {
    let sql = match undo {
        Undo::Hide => {
            "UPDATE notifications SET hidden = true WHERE recipient_id = $1 AND cause = $2"
        }
        Undo::Delete => "DELETE FROM notifications WHERE recipient_id = $1 AND cause = $2",
    };
    sqlx::query(sql)
        .bind(recipient.0)
        .bind(cause)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Deletes every notification between two users, either way (one blocked the other).
pub(crate) async fn delete_notifications_between(
    tx: &mut Transaction<'_, Db>,
    a: UserId,
    b: UserId,
) -> StoreResult<()> {
    sqlx::query(
        "DELETE FROM notifications WHERE (recipient_id = $1 AND actor_id = $2)
                                      OR (recipient_id = $2 AND actor_id = $1)",
    )
    .bind(a.0)
    .bind(b.0)
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

#[derive(FromRow)]
struct NotificationRow {
    id: Uuid,
    recipient_id: Uuid,
    kind: String,
    actor_id: Uuid,
    post_id: Option<Uuid>,
    comment_id: Option<Uuid>,
    conversation_id: Option<Uuid>,
    message_id: Option<Uuid>,
    created_at: Timestamp,
    read_at: Option<Timestamp>,
}

impl NotificationRow {
    fn into_notification(self) -> StoreResult<Notification> {
        Ok(Notification {
            id: self.id,
            recipient_id: UserId(self.recipient_id),
            kind: self.kind.parse().map_err(corrupt)?,
            actor_id: UserId(self.actor_id),
            post_id: self.post_id,
            comment_id: self.comment_id,
            conversation_id: self.conversation_id,
            message_id: self.message_id,
            created_at: from_ts(self.created_at),
            read_at: self.read_at.map(from_ts),
        })
    }
}

fn into_notifications(rows: Vec<NotificationRow>) -> StoreResult<Vec<Notification>> {
    rows.into_iter()
        .map(NotificationRow::into_notification)
        .collect()
}

#[async_trait]
impl NotificationStore for SqlStore {
    /// One statement: the cause still stands and the recipient may be told, then a new row, or
    /// the hidden row of a redone cause shown again (its old id comes back: nothing new).
    async fn create_notification(&self, n: &NewNotification) -> StoreResult<Option<Notification>> {
        if n.actor_id == n.recipient_id {
            return Ok(None);
        }
        let (cause_sql, first, second) = cause_sql(n);
        let row: Option<NotificationRow> = sqlx::query_as(&format!(
            "INSERT INTO notifications (id, recipient_id, kind, actor_id, post_id, comment_id,
                    conversation_id, message_id, cause, created_at)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10
             WHERE EXISTS ({cause_sql}) AND {MAY_NOTIFY}
             ON CONFLICT (recipient_id, cause) DO UPDATE SET hidden = false
                 WHERE notifications.hidden
             RETURNING {NOTIFICATION_COLUMNS}"
        ))
        .bind(n.id)
        .bind(n.recipient_id.0)
        .bind(n.kind.as_str())
        .bind(n.actor_id.0)
        .bind(n.post_id)
        .bind(n.comment_id)
        .bind(n.conversation_id)
        .bind(n.message_id)
        .bind(cause_of(n))
        .bind(ts(n.created_at))
        .bind(first)
        .bind(second)
        .fetch_optional(&self.writer)
        .await
        .map_err(db_err)?;
        row.filter(|row| row.id == n.id)
            .map(NotificationRow::into_notification)
            .transpose()
    }

    async fn notifications(
        &self,
        recipient: UserId,
        unread_only: bool,
        page: PageRequest,
    ) -> StoreResult<Page<Notification>> {
        let unread = if unread_only {
            " AND n.read_at IS NULL"
        } else {
            ""
        };
        let rows: Vec<NotificationRow> = sqlx::query_as(&format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications n
             WHERE n.recipient_id = $1 AND n.id < $2 AND NOT n.hidden{unread}
               AND {ACTOR_NOT_BLOCKED}
             ORDER BY n.id DESC LIMIT $3"
        ))
        .bind(recipient.0)
        .bind(page.after.unwrap_or(Uuid::max()))
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let items = into_notifications(rows)?;
        Ok(Page::from_rows(
            items.into_iter().map(|n| (n.id, n)).collect(),
            page.limit,
        ))
    }

    async fn notifications_since(
        &self,
        recipient: UserId,
        since: Uuid,
        limit: u32,
    ) -> StoreResult<Vec<Notification>> {
        let rows: Vec<NotificationRow> = sqlx::query_as(&format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications n
             WHERE n.recipient_id = $1 AND n.id > $2 AND NOT n.hidden AND {ACTOR_NOT_BLOCKED}
             ORDER BY n.id LIMIT $3"
        ))
        .bind(recipient.0)
        .bind(since)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        into_notifications(rows)
    }

    async fn mark_notification_read(
        &self,
        recipient: UserId,
        id: Uuid,
        at: OffsetDateTime,
    ) -> StoreResult<bool> {
        let marked = sqlx::query(
            "UPDATE notifications SET read_at = coalesce(read_at, $3)
             WHERE recipient_id = $1 AND id = $2 AND NOT hidden",
        )
        .bind(recipient.0)
        .bind(id)
        .bind(ts(at))
        .execute(&self.pool)
        .await
        .map_err(db_err)?
        .rows_affected();
        Ok(marked == 1)
    }

    async fn mark_all_notifications_read(
        &self,
        recipient: UserId,
        at: OffsetDateTime,
    ) -> StoreResult<u64> {
        let marked = sqlx::query(
            "UPDATE notifications SET read_at = $2 WHERE recipient_id = $1 AND read_at IS NULL",
        )
        .bind(recipient.0)
        .bind(ts(at))
        .execute(&self.pool)
        .await
        .map_err(db_err)?
        .rows_affected();
        Ok(marked)
    }

    async fn unread_notification_count(&self, recipient: UserId) -> StoreResult<i64> {
        sqlx::query_scalar(&format!(
            "SELECT count(*) FROM (SELECT 1 FROM notifications n
                 WHERE n.recipient_id = $1 AND n.read_at IS NULL AND NOT n.hidden
                   AND {ACTOR_NOT_BLOCKED}
                 LIMIT $2) unread"
        ))
        .bind(recipient.0)
        .bind(MAX_UNREAD_COUNTED)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)
    }
}
