//! The process's Redis connection for commands, shared by the limiter and the event bus, that
//! renews itself when calls fail. redis-rs's `ConnectionManager` reconnects by itself, but was
//! seen to stay on a failed reconnection for good in one process of a fleet after Redis was
//! stopped and started (scripts/fleet-faults); a manager built afresh connects at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// At most one renewal per this long, however many calls fail.
const RENEW_EVERY: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct RedisLink {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    config: ConnectionManagerConfig,
    connect_timeout: Duration,
    current: RwLock<ConnectionManager>,
    renewing: AtomicBool,
    last_renewal: Mutex<Option<Instant>>,
}

impl RedisLink {
    pub async fn connect(
        client: redis::Client,
        config: ConnectionManagerConfig,
        connect_timeout: Duration,
    ) -> Result<Self, String> {
        let manager = tokio::time::timeout(
            connect_timeout,
            client.get_connection_manager_with_config(config.clone()),
        )
        .await
        .map_err(|_| "connecting to Redis timed out".to_owned())?
        .map_err(|err| err.to_string())?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                config,
                connect_timeout,
                current: RwLock::new(manager),
                renewing: AtomicBool::new(false),
                last_renewal: Mutex::new(None),
            }),
        })
    }

    /// The connection to send the next command on.
    pub fn connection(&self) -> ConnectionManager {
        self.inner
            .current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// A call failed: builds a new connection in the background (one at a time, at most once
    /// per `RENEW_EVERY`) and uses it from then on if it connects.
    pub fn failed(&self) {
        {
            let mut last = self
                .inner
                .last_renewal
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if last.is_some_and(|at| at.elapsed() < RENEW_EVERY) {
                return;
            }
            if self.inner.renewing.swap(true, Ordering::AcqRel) {
                return;
            }
            *last = Some(Instant::now());
        }
        let inner = self.inner.clone();
        tokio::spawn(async move {
            let fresh = tokio::time::timeout(
                inner.connect_timeout,
                inner
                    .client
                    .get_connection_manager_with_config(inner.config.clone()),
            )
            .await;
            if let Ok(Ok(manager)) = fresh {
                *inner
                    .current
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = manager;
                tracing::info!("Redis connection renewed");
            }
            inner.renewing.store(false, Ordering::Release);
        });
    }
}
