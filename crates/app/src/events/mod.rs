//! Real-time events and their delivery to the sockets of their recipients. An event is
//! published once, after the write it tells of has committed; the bus carries it to every API
//! instance (`LocalBus` in one process, `RedisBus` across processes), and each instance's `Hub`
//! hands it to the sockets its recipients hold there. A socket that missed events (it was
//! away, or Redis was) catches up from the stored notifications and messages (`App::missed_events`).

mod hub;
mod redis;

use std::sync::Arc;

use async_trait::async_trait;
use picshare_domain::{Message, Notification, UserId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

pub use self::redis::{Listeners, RedisBus};
pub use hub::{Hub, Subscription};

/// One thing a user hears about as it happens. `id` orders events and is what a client resumes
/// after: the notification's or message's own id, so replayed and live copies are the same.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    pub id: Uuid,
    pub data: EventData,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum EventData {
    NotificationCreated(Notification),
    MessageCreated(Message),
    ConversationRead(ReadReceipt),
}

impl EventData {
    /// The event's name on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            EventData::NotificationCreated(_) => "notification.created",
            EventData::MessageCreated(_) => "message.created",
            EventData::ConversationRead(_) => "conversation.read",
        }
    }
}

/// A participant read a conversation up to `read_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadReceipt {
    pub conversation_id: Uuid,
    pub reader_id: UserId,
    pub read_at: OffsetDateTime,
}

/// Carries events to every instance's hub.
#[async_trait]
pub trait EventBus: Send + Sync {
    /// Delivers `event` to every socket of `recipients`, on whichever instance. Never fails:
    /// an event that cannot be carried is logged and left to replay.
    async fn publish(&self, recipients: &[UserId], event: Event);

    /// Tells the workers of every process that jobs were just enqueued, so they need not wait
    /// for their next poll. A hint: lost wake-ups cost at most one poll interval.
    async fn wake_workers(&self);

    /// Tells every other process that an account was suspended until `until`, or that its
    /// suspension was lifted (`None`); this process has recorded it already.
    async fn publish_suspension(&self, user: UserId, until: Option<OffsetDateTime>);

    /// This instance's sockets.
    fn hub(&self) -> &Arc<Hub>;
}

/// Delivery within one process (the embedded shape).
pub struct LocalBus {
    hub: Arc<Hub>,
    jobs_waiting: Arc<tokio::sync::Notify>,
}

impl LocalBus {
    /// `jobs_waiting` is what this process's worker waits on between polls.
    pub fn new(hub: Arc<Hub>, jobs_waiting: Arc<tokio::sync::Notify>) -> Self {
        Self { hub, jobs_waiting }
    }
}

#[async_trait]
impl EventBus for LocalBus {
    async fn publish(&self, recipients: &[UserId], event: Event) {
        self.hub.deliver(recipients, &Arc::new(event));
    }

    async fn wake_workers(&self) {
        self.jobs_waiting.notify_one();
    }

    /// One process: nobody else to tell.
    async fn publish_suspension(&self, _user: UserId, _until: Option<OffsetDateTime>) {}

    fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }
}
