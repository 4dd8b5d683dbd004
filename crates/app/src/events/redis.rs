//! Events across API instances through Redis pub/sub: every instance publishes to one channel
//! and hands what it receives to its own hub. Redis going away loses only live delivery: each
//! instance keeps its sockets, reconnects with backoff, and clients catch up by resuming.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use picshare_domain::UserId;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};

use super::{Event, EventBus, Hub};

const PUBLISH_TIMEOUT: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

#[derive(Serialize, Deserialize)]
struct Envelope {
    recipients: Vec<UserId>,
    event: Event,
}

pub struct RedisBus {
    hub: Arc<Hub>,
    publisher: ConnectionManager,
    channel: String,
    listener: tokio::task::JoinHandle<()>,
}

impl RedisBus {
    /// Starts listening on `<prefix>:events` for this instance's hub; returns once subscribed
    /// (or after `CONNECT_TIMEOUT`, the listener trying on), so that an instance that answers
    /// requests also hears the others' events.
    pub async fn start(
        client: redis::Client,
        publisher: ConnectionManager,
        prefix: &str,
        hub: Arc<Hub>,
    ) -> Self {
        let channel = format!("{prefix}:events");
        let (subscribed, ready) = tokio::sync::oneshot::channel();
        let listener = tokio::spawn(listen(client, channel.clone(), hub.clone(), subscribed));
        if tokio::time::timeout(CONNECT_TIMEOUT, ready).await.is_err() {
            tracing::warn!("not yet subscribed to events; delivery across instances starts later");
        }
        Self {
            hub,
            publisher,
            channel,
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
    channel: String,
    hub: Arc<Hub>,
    subscribed: tokio::sync::oneshot::Sender<()>,
) {
    let mut subscribed = Some(subscribed);
    let mut backoff = Duration::from_millis(100);
    loop {
        match tokio::time::timeout(CONNECT_TIMEOUT, client.get_async_pubsub()).await {
            Ok(Ok(mut pubsub)) => match pubsub.subscribe(&channel).await {
                Ok(()) => {
                    tracing::info!(channel, "listening for events");
                    backoff = Duration::from_millis(100);
                    if let Some(subscribed) = subscribed.take() {
                        let _ = subscribed.send(());
                    }
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        match serde_json::from_slice::<Envelope>(message.get_payload_bytes()) {
                            Ok(envelope) => {
                                hub.deliver(&envelope.recipients, &Arc::new(envelope.event))
                            }
                            Err(err) => tracing::warn!(error = %err, "an unreadable event"),
                        }
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
        let mut connection = self.publisher.clone();
        let sent = tokio::time::timeout(
            PUBLISH_TIMEOUT,
            redis::cmd("PUBLISH")
                .arg(&self.channel)
                .arg(payload)
                .query_async::<i64>(&mut connection),
        )
        .await;
        if !matches!(sent, Ok(Ok(_))) {
            // Redis is away: this instance's own sockets still hear it; the others catch up
            // when their clients resume.
            metrics::counter!("picshare_event_publish_failures_total").increment(1);
            tracing::warn!("publishing an event failed; delivering it here only");
            self.hub
                .deliver(&envelope.recipients, &Arc::new(envelope.event));
        }
    }

    fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }
}
