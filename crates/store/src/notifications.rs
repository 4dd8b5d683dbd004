//! Notifications: made by the worker from jobs, read and marked by their recipient.

use async_trait::async_trait;
use picshare_domain::{Notification, NotificationKind, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Page, PageRequest, StoreResult};

#[derive(Debug, Clone)]
pub struct NewNotification {
    pub id: Uuid,
    pub recipient_id: UserId,
    pub kind: NotificationKind,
    pub actor_id: UserId,
    pub post_id: Option<Uuid>,
    pub comment_id: Option<Uuid>,
    pub conversation_id: Option<Uuid>,
    pub message_id: Option<Uuid>,
    pub created_at: OffsetDateTime,
}

#[async_trait]
pub trait NotificationStore {
    /// Records the notification if its cause still stands (the follow, request, like, comment,
    /// post or message exists, by the actor), the actor is not the recipient, neither blocks the
    /// other, and a mention's recipient may see the post. One notification per cause, ever: a
    /// cause undone and redone shows its first notification again. `Some` only when new.
    async fn create_notification(
        &self,
        notification: &NewNotification,
    ) -> StoreResult<Option<Notification>>;

    /// The recipient's notifications, newest first, leaving out actors in a block with them.
    async fn notifications(
        &self,
        recipient: UserId,
        unread_only: bool,
        page: PageRequest,
    ) -> StoreResult<Page<Notification>>;

    /// Notifications made after `since` (an event id), oldest first, at most `limit`.
    async fn notifications_since(
        &self,
        recipient: UserId,
        since: Uuid,
        limit: u32,
    ) -> StoreResult<Vec<Notification>>;

    /// Marks one notification read; false when the recipient has no such notification.
    async fn mark_notification_read(
        &self,
        recipient: UserId,
        id: Uuid,
        at: OffsetDateTime,
    ) -> StoreResult<bool>;

    async fn mark_all_notifications_read(
        &self,
        recipient: UserId,
        at: OffsetDateTime,
    ) -> StoreResult<u64>;

    async fn unread_notification_count(&self, recipient: UserId) -> StoreResult<i64>;
}
