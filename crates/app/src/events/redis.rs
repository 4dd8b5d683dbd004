//! Events across API instances through Redis pub/sub: every instance publishes to one channel
//! and hands what it receives to its own hub. Redis going away loses only live delivery: each
//! instance keeps its sockets, reconnects with backoff, and clients catch up by resuming.
//! A second channel wakes the workers of every process when jobs are enqueued; a third carries
//! suspensions to every process's registry.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use picshare_domain::UserId;
use serde::{Deserialize, Serialize};

use super::{Event, EventBus, Hub};
use crate::redis_link::RedisLink;
use crate::suspensions::Suspensions;

const PUBLISH_TIMEOUT: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

#[derive(Serialize, Deserialize)]
struct SuspensionChange {
    user: UserId,
    until: Option<time::OffsetDateTime>,
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    recipients: Vec<UserId>,
    event: Event,
}

pub struct RedisBus {
    hub: Arc<Hub>,
    publisher: RedisLink,
    channels: Channels,
    jobs_waiting: Arc<tokio::sync::Notify>,
    /// A wake-up is about to be published: later ones until then are covered by it.
    wake_pending: Arc<AtomicBool>,
    listener: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct Channels {
    events: String,
    jobs: String,
    suspensions: String,
}

/// What this process does with what the other processes publish.
#[derive(Clone)]
pub struct Listeners {
    pub hub: Arc<Hub>,
    /// This process's worker waits on it.
    pub jobs_waiting: Arc<tokio::sync::Notify>,
    pub suspensions: Arc<Suspensions>,
}

impl RedisBus {
    /// Starts listening on `<prefix>:events` for this instance's hub, on `<prefix>:jobs` for
    /// this process's worker and on `<prefix>:suspensions` for its registry; returns once
    /// subscribed (or after `CONNECT_TIMEOUT`, the listener trying on), so that an instance that
    /// answers requests also hears the others' events.
    pub async fn start(
        client: redis::Client,
        publisher: RedisLink,
        prefix: &str,
        listeners: Listeners,
    ) -> Self {
        let channels = Channels {
            events: format!("{prefix}:events"),
            jobs: format!("{prefix}:jobs"),
            suspensions: format!("{prefix}:suspensions"),
        };
        let (subscribed, ready) = tokio::sync::oneshot::channel();
        let (hub, jobs_waiting) = (listeners.hub.clone(), listeners.jobs_waiting.clone());
        let listener = tokio::spawn(listen(client, channels.clone(), listeners, subscribed));
        if tokio::time::timeout(CONNECT_TIMEOUT, ready).await.is_err() {
            tracing::warn!("not yet subscribed to events; delivery across instances starts later");
        }
        Self {
            hub,
            publisher,
            channels,
            jobs_waiting,
            wake_pending: Arc::new(AtomicBool::new(false)),
            listener,
        }
    }
}

impl Drop for RedisBus {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// Receives every instance's events until the process ends, reconnecting whenever the
/// subscription drops.
async fn listen(
    client: redis::Client,
    channels: Channels,
    listeners: Listeners,
    subscribed: tokio::sync::oneshot::Sender<()>,
) {
    let mut subscribed = Some(subscribed);
    let mut backoff = Duration::from_millis(100);
    loop {
        match tokio::time::timeout(CONNECT_TIMEOUT, client.get_async_pubsub()).await {
            Ok(Ok(mut pubsub)) => match pubsub
                .subscribe(&[&channels.events, &channels.jobs, &channels.suspensions])
                .await
            {
                Ok(()) => {
                    tracing::info!(channel = channels.events, "listening for events");
                    backoff = Duration::from_millis(100);
                    if let Some(subscribed) = subscribed.take() {
                        let _ = subscribed.send(());
                    }
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        listeners.receive(&channels, &message);
                    }
                    tracing::warn!("the event subscription ended; reconnecting");
                }
                Err(err) => tracing::warn!(error = %err, "subscribing to events failed"),
            },
            Ok(Err(err)) => tracing::warn!(error = %err, "connecting for events failed"),
            Err(_) => tracing::warn!("connecting for events timed out"),
        }
        metrics::counter!("picshare_event_bus_reconnects_total").increment(1);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

impl Listeners {
    fn receive(&self, channels: &Channels, message: &redis::Msg) {
        let channel = message.get_channel_name();
        let payload = message.get_payload_bytes();
        if channel == channels.jobs {
            self.jobs_waiting.notify_one();
        } else if channel == channels.suspensions {
            match serde_json::from_slice::<SuspensionChange>(payload) {
                Ok(change) => {
                    self.suspensions.set(change.user, change.until);
                    if change.until.is_some() {
                        self.hub.disconnect(change.user);
                    }
                }
                Err(err) => tracing::warn!(error = %err, "an unreadable suspension"),
            }
        } else {
            match serde_json::from_slice::<Envelope>(payload) {
                Ok(envelope) => self
                    .hub
                    .deliver(&envelope.recipients, &Arc::new(envelope.event)),
                Err(err) => tracing::warn!(error = %err, "an unreadable event"),
            }
        }
    }
}

#[async_trait]
impl EventBus for RedisBus {
    async fn publish(&self, recipients: &[UserId], event: Event) {
        let envelope = Envelope {
            recipients: recipients.to_vec(),
            event,
        };
        let payload = match serde_json::to_vec(&envelope) {
            Ok(payload) => payload,
            Err(err) => {
                tracing::error!(error = %err, "an event could not be encoded");
                return;
            }
        };
        let mut connection = self.publisher.connection();
        let sent = tokio::time::timeout(
            PUBLISH_TIMEOUT,
            redis::cmd("PUBLISH")
                .arg(&self.channels.events)
                .arg(payload)
                .query_async::<i64>(&mut connection),
        )
        .await;
        if !matches!(sent, Ok(Ok(_))) {
            self.publisher.failed();
            // Redis is away: this instance's own sockets still hear it; the others catch up
            // when their clients resume.
            metrics::counter!("picshare_event_publish_failures_total").increment(1);
            tracing::warn!("publishing an event failed; delivering it here only");
            self.hub
                .deliver(&envelope.recipients, &Arc::new(envelope.event));
        }
    }

    async fn wake_workers(&self) {
        self.jobs_waiting.notify_one();
        if self.wake_pending.swap(true, Ordering::AcqRel) {
            return;
        }
        let (mut connection, channel) = (self.publisher.connection(), self.channels.jobs.clone());
        let pending = self.wake_pending.clone();
        // Off the request's path; cleared before publishing, so a job enqueued after the
        // clear asks for a wake-up of its own.
        tokio::spawn(async move {
            pending.store(false, Ordering::Release);
            let _ = tokio::time::timeout(
                PUBLISH_TIMEOUT,
                redis::cmd("PUBLISH")
                    .arg(channel)
                    .arg("")
                    .query_async::<i64>(&mut connection),
            )
            .await;
        });
    }

    async fn publish_suspension(&self, user: UserId, until: Option<time::OffsetDateTime>) {
        let Ok(payload) = serde_json::to_vec(&SuspensionChange { user, until }) else {
            return;
        };
        let mut connection = self.publisher.connection();
        let sent = tokio::time::timeout(
            PUBLISH_TIMEOUT,
            redis::cmd("PUBLISH")
                .arg(&self.channels.suspensions)
                .arg(payload)
                .query_async::<i64>(&mut connection),
        )
        .await;
        if !matches!(sent, Ok(Ok(_))) {
            // The others reload every `suspensions::RELOAD_EVERY` from the database.
            tracing::warn!("publishing a suspension failed; other instances learn it on reload");
        }
    }

    fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }
}
