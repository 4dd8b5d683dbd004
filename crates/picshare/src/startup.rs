//! Builds the application from settings: store, hashing pool, tokens, throttle, router.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::http::HeaderValue;
use picshare_app::devices::FingerprintKey;
use picshare_app::events::{EventBus, Hub, Listeners, LocalBus, RedisBus};
use picshare_app::feed_pages::FeedPages;
use picshare_app::media::MediaSettings;
use picshare_app::media_urls::MediaUrls;
use picshare_app::name_dictionary::NameDictionary;
use picshare_app::redis_link::RedisLink;
use picshare_app::suspensions::Suspensions;
use picshare_app::throttle::{MemoryLimiter, RedisLimiter};
use picshare_app::tokens::load_or_create_signing_key;
use picshare_app::trust::{STANDING_TTL, Standings};
use picshare_app::users::{AvatarViews, RecentUsers};
use picshare_app::worker::{Worker, WorkerSettings};
use picshare_app::{
    App, AppSettings, Limiter, LoginThrottleLimits, PasswordHasherPool, TokenService,
};
use picshare_store::Store;
use picshare_store_pg::PgStore;
use picshare_store_sqlite::SqliteStore;
use time::OffsetDateTime;
use tokio::net::TcpListener;

use crate::config::{Settings, Storage};

/// How long password-hash requests may queue behind the running ones, per worker.
const HASH_QUEUE_PER_WORKER: usize = 32;
const REDIS_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens the database named by the URL (SQLite or PostgreSQL) and applies migrations.
pub async fn connect_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    let url = &settings.database_url;
    let store: Arc<dyn Store> = if url.starts_with("sqlite:") {
        std::fs::create_dir_all(&settings.data_dir).with_context(|| {
            format!(
                "creating the data directory {}",
                settings.data_dir.display()
            )
        })?;
        let store = SqliteStore::connect(url, settings.database_max_connections)
            .await
            .with_context(|| format!("opening the SQLite database {url}"))?;
        Arc::new(if settings.caches {
            store
        } else {
            store.without_caches()
        })
    } else {
        let store = PgStore::connect(url, settings.database_max_connections)
            .await
            .context("connecting to PostgreSQL (PICSHARE_DATABASE_URL)")?;
        Arc::new(if settings.caches {
            store
        } else {
            store.without_caches()
        })
    };
    store
        .migrate()
        .await
        .context("applying database migrations")?;
    picshare_app::statistics::report_unattended_statistics(
        store.as_ref(),
        settings.statistics_refresh,
    )
    .await;
    Ok(store)
}

/// The limiter and the event bus: in process, or shared by every instance through Redis.
async fn shared_state(
    settings: &Settings,
    jobs_waiting: Arc<tokio::sync::Notify>,
    suspensions: Arc<Suspensions>,
) -> anyhow::Result<(Arc<dyn Limiter>, Arc<dyn EventBus>)> {
    let hub = Hub::new(settings.ws_send_queue);
    let Some(url) = &settings.redis_url else {
        let bus = LocalBus::new(hub, jobs_waiting);
        return Ok((Arc::new(MemoryLimiter::new()), Arc::new(bus)));
    };
    let client = redis::Client::open(url.as_str()).context("PICSHARE_REDIS_URL")?;
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(REDIS_CONNECT_TIMEOUT)
        .set_response_timeout(Duration::from_secs(2))
        .set_number_of_retries(2);
    let manager = RedisLink::connect(client.clone(), config, REDIS_CONNECT_TIMEOUT)
        .await
        .map_err(|err| anyhow::anyhow!("connecting to Redis (PICSHARE_REDIS_URL): {err}"))?;
    let prefix = &settings.redis_prefix;
    let listeners = Listeners {
        hub,
        jobs_waiting,
        suspensions,
    };
    let bus = RedisBus::start(client, manager.clone(), prefix, listeners).await;
    Ok((Arc::new(RedisLimiter::new(manager, prefix)), Arc::new(bus)))
}

pub fn objects(settings: &Settings) -> anyhow::Result<picshare_objects::Objects> {
    Ok(match &settings.storage {
        Storage::Local(dir) => {
            picshare_objects::Objects::local(dir, format!("{}/media", settings.public_url))
                .with_context(|| format!("opening the media directory {}", dir.display()))?
        }
        Storage::S3(s3) => picshare_objects::Objects::s3(s3.clone())
            .context("configuring S3 storage (PICSHARE_STORAGE_URL, PICSHARE_S3_*)")?,
    })
}

/// The use-case layer with every port connected.
pub async fn build_app(settings: &Settings) -> anyhow::Result<App> {
    let store = connect_store(settings).await?;
    let key = load_or_create_signing_key(&settings.token_key_file).with_context(|| {
        format!(
            "reading or creating the token signing key {}",
            settings.token_key_file.display()
        )
    })?;
    let tokens = TokenService::new(
        &key,
        settings.public_url.clone(),
        format!("{}/v1", settings.public_url),
        settings.access_token_ttl,
        settings.refresh_token_ttl,
    )?;
    let tokens = if settings.caches {
        tokens
    } else {
        tokens.without_caches()
    };
    let media_urls = MediaUrls::new(tokens.derived_key("media links"), settings.media_url_ttl)?;
    let device_key = tokens.derived_key("device fingerprints");
    let workers = settings.password_hash_workers;
    let hasher = PasswordHasherPool::new(workers, workers * HASH_QUEUE_PER_WORKER)?;
    let jobs_waiting = Arc::new(tokio::sync::Notify::new());
    // Loaded before the first request, then kept fresh (app/src/suspensions.rs).
    let suspensions = Suspensions::new();
    let read_at = std::time::Instant::now();
    let current = store
        .suspensions(time::OffsetDateTime::now_utc())
        .await
        .context("reading suspensions")?;
    suspensions.replace_all(current, read_at);
    tokio::spawn(Suspensions::keep_loaded(
        Arc::downgrade(&suspensions),
        Arc::downgrade(&store),
    ));
    let (limiter, events) =
        shared_state(settings, jobs_waiting.clone(), suspensions.clone()).await?;
    Ok(App {
        store,
        hasher: Arc::new(hasher),
        tokens: Arc::new(tokens),
        limiter,
        events,
        objects: objects(settings)?,
        media: Arc::new(MediaSettings {
            max_upload_bytes: settings.max_upload_bytes,
            upload_ttl: settings.upload_url_ttl,
            job_max_attempts: settings.job_max_attempts,
            public_url: settings.public_url.clone(),
            processing_timeout: settings.media_processing_timeout,
            max_pending_uploads: settings.max_pending_uploads,
            max_unused_media: settings.max_unused_media,
        }),
        media_urls: Arc::new(media_urls),
        settings: Arc::new(AppSettings {
            invite_only: settings.invite_only,
            login_limits: LoginThrottleLimits {
                per_account: settings.login_failures_per_account,
                per_ip: settings.login_failures_per_ip,
                per_account_all_addresses: settings.login_failures_per_account_all_addresses,
                window: settings.login_failure_window,
            },
            rate_limits: settings.rate_limits,
            signups_per_ip: settings.signups_per_ip,
            signup_window: settings.signup_window,
            feed_refreshes_per_hour: settings.feed_refreshes_per_hour,
            follow_caps: settings.follow_caps,
            feed_timelines: settings.feed_timelines,
            suspension_ladder: settings.suspension_ladder,
            trust_limits: settings.trust_limits.clone(),
            account_deletion: settings.account_deletion,
            batch: settings.batch.clone(),
        }),
        jobs_waiting,
        feed_pages: if settings.caches {
            FeedPages::new()
        } else {
            FeedPages::off()
        },
        avatars: if settings.caches {
            AvatarViews::new("avatars")
        } else {
            AvatarViews::off()
        },
        recent_users: if settings.caches {
            RecentUsers::new("users")
        } else {
            RecentUsers::off()
        },
        suspensions,
        standings: if settings.caches {
            Standings::with_ttl("standings", STANDING_TTL)
        } else {
            Standings::off()
        },
        devices: Arc::new(FingerprintKey::new(device_key)?),
        name_dictionary: NameDictionary::new(),
    })
}

pub fn http_settings(settings: &Settings) -> picshare_http::HttpSettings {
    picshare_http::HttpSettings {
        cors_origins: settings
            .cors_origins
            .iter()
            .filter_map(|origin| HeaderValue::from_str(origin).ok())
            .collect(),
        request_timeout: settings.request_timeout,
        trusted_proxies: settings.trusted_proxies.clone(),
        ws_ping_interval: settings.ws_ping_interval,
    }
}

/// A bound, not yet serving, API server.
pub struct ApiServer {
    listener: TcpListener,
    router: axum::Router,
}

impl ApiServer {
    pub async fn bind(settings: &Settings, app: App) -> anyhow::Result<Self> {
        let listener = listen(settings)
            .with_context(|| format!("listening on {} (PICSHARE_LISTEN)", settings.listen))?;
        Ok(Self::with_listener(listener, settings, app))
    }

    /// Serves on a listener bound by the caller (tests bind port 0 first to learn their URL).
    pub fn with_listener(listener: TcpListener, settings: &Settings, app: App) -> Self {
        Self {
            listener,
            router: picshare_http::router(app, http_settings(settings)),
        }
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
    }
}

/// The listening socket; with `listen_reuse_port`, other processes may bind the same address
/// (a fleet's API processes on one port, each taking new connections while it lives).
fn listen(settings: &Settings) -> std::io::Result<TcpListener> {
    let socket = match settings.listen {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    #[cfg(unix)]
    if settings.listen_reuse_port {
        socket.set_reuseport(true)?;
    }
    socket.bind(settings.listen)?;
    socket.listen(1024)
}

/// The background worker, with the job settings.
pub fn worker(settings: &Settings, app: App) -> Worker {
    Worker::new(
        app,
        WorkerSettings {
            lease: settings.job_lease,
            poll_interval: settings.job_poll_interval,
            concurrency: settings.worker_concurrency,
            light_slots: settings.worker_light_slots,
            retry_base: settings.job_retry_base,
            job_timeout: settings.job_timeout,
            refresh_statistics: settings.statistics_refresh,
        },
    )
}

/// Runs the batch jobs on their intervals (`batch_intervals`); in `serve` and in every
/// `worker`, as each job runs in one process at a time whichever tries.
pub async fn run_scheduler(app: App) {
    let holder = batch_holder();
    let started = OffsetDateTime::now_utc();
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        app.run_due_batches(&holder, started).await;
    }
}

/// Who holds a batch job's lease: this process.
pub fn batch_holder() -> String {
    let started = OffsetDateTime::now_utc().unix_timestamp_nanos();
    format!("pid-{}-{started}", std::process::id())
}
