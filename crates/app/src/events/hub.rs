//! The sockets of one instance, by user. Sharded so that thousands of sockets never wait on
//! one lock; a shard's lock is a plain mutex held only to look up or change its map, never
//! across an `.await`. Each socket has a bounded queue: a socket that cannot keep up is evicted
//! (told through `Subscription::evicted`), never buffered without bound.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use picshare_domain::UserId;
use tokio::sync::{Notify, mpsc};

use super::Event;

const SHARDS: usize = 64;

struct Socket {
    id: u64,
    events: mpsc::Sender<Arc<Event>>,
    evicted: Arc<Notify>,
}

type Shard = Mutex<HashMap<UserId, Vec<Socket>>>;

pub struct Hub {
    shards: Vec<Shard>,
    queue: usize,
    next_id: AtomicU64,
}

/// One socket's place in the hub; leaving it (drop) unregisters the socket.
pub struct Subscription {
    pub events: mpsc::Receiver<Arc<Event>>,
    /// Notified when the socket fell too far behind and was dropped from the hub.
    pub evicted: Arc<Notify>,
    hub: Arc<Hub>,
    user: UserId,
    id: u64,
}

impl Hub {
    /// A hub whose sockets each queue at most `queue` events.
    pub fn new(queue: usize) -> Arc<Self> {
        Arc::new(Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            queue: queue.max(1),
            next_id: AtomicU64::new(1),
        })
    }

    fn shard(&self, user: UserId) -> &Shard {
        // UUIDv7's low bits are random: an even spread.
        let index = (user.0.as_u128() as usize) % SHARDS;
        &self.shards[index]
    }

    pub fn subscribe(self: &Arc<Self>, user: UserId) -> Subscription {
        let (sender, events) = mpsc::channel(self.queue);
        let evicted = Arc::new(Notify::new());
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let socket = Socket {
            id,
            events: sender,
            evicted: evicted.clone(),
        };
        lock(self.shard(user)).entry(user).or_default().push(socket);
        metrics::gauge!("picshare_ws_connections").increment(1.0);
        Subscription {
            events,
            evicted,
            hub: self.clone(),
            user,
            id,
        }
    }

    /// Queues `event` for every socket of `recipients` here; evicts sockets whose queue is full.
    pub fn deliver(&self, recipients: &[UserId], event: &Arc<Event>) {
        for user in recipients {
            let mut shard = lock(self.shard(*user));
            let Some(sockets) = shard.get_mut(user) else {
                continue;
            };
            sockets.retain(|socket| match socket.events.try_send(event.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    metrics::counter!("picshare_ws_evictions_total").increment(1);
                    socket.evicted.notify_one();
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            });
            if sockets.is_empty() {
                shard.remove(user);
            }
        }
    }

    /// Drops every socket of `user` here (their event streams end): a suspended account's open
    /// sessions are cut at once.
    pub fn disconnect(&self, user: UserId) {
        lock(self.shard(user)).remove(&user);
    }

    /// Sockets connected here.
    pub fn connections(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| lock(shard).values().map(Vec::len).sum::<usize>())
            .sum()
    }

    fn leave(&self, user: UserId, id: u64) {
        let mut shard = lock(self.shard(user));
        if let Some(sockets) = shard.get_mut(&user) {
            sockets.retain(|socket| socket.id != id);
            if sockets.is_empty() {
                shard.remove(&user);
            }
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.leave(self.user, self.id);
        metrics::gauge!("picshare_ws_connections").decrement(1.0);
    }
}

/// A poisoned shard only means a panic elsewhere while it was held; its map is still sound.
fn lock(shard: &Shard) -> std::sync::MutexGuard<'_, HashMap<UserId, Vec<Socket>>> {
    shard
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{EventData, ReadReceipt};

    fn event() -> Arc<Event> {
        Arc::new(Event {
            id: uuid::Uuid::now_v7(),
            data: EventData::ConversationRead(ReadReceipt {
                conversation_id: uuid::Uuid::now_v7(),
                reader_id: UserId(uuid::Uuid::now_v7()),
                read_at: time::OffsetDateTime::now_utc(),
            }),
        })
    }

    #[tokio::test]
    async fn every_socket_of_a_recipient_hears_and_others_do_not() {
        let hub = Hub::new(8);
        let (a, b) = (UserId(uuid::Uuid::now_v7()), UserId(uuid::Uuid::now_v7()));
        let mut first = hub.subscribe(a);
        let mut second = hub.subscribe(a);
        let mut other = hub.subscribe(b);
        hub.deliver(&[a], &event());
        assert!(first.events.try_recv().is_ok());
        assert!(second.events.try_recv().is_ok());
        assert!(other.events.try_recv().is_err());
    }

    #[tokio::test]
    async fn a_socket_that_falls_behind_is_evicted_not_buffered() {
        let hub = Hub::new(2);
        let user = UserId(uuid::Uuid::now_v7());
        let slow = hub.subscribe(user);
        for _ in 0..3 {
            hub.deliver(&[user], &event());
        }
        assert_eq!(hub.connections(), 0, "the slow socket left the hub");
        // The eviction is remembered until the socket's task looks.
        tokio::time::timeout(std::time::Duration::from_secs(1), slow.evicted.notified())
            .await
            .expect("evicted");
    }

    #[tokio::test]
    async fn a_closed_socket_leaves_the_hub() {
        let hub = Hub::new(2);
        let user = UserId(uuid::Uuid::now_v7());
        drop(hub.subscribe(user));
        assert_eq!(hub.connections(), 0);
    }
}
