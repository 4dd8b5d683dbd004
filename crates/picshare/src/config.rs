//! Configuration: defaults, then an optional TOML file, then `PICSHARE_*` environment variables.
//! Validated once at start; every error names the setting and what is wrong with it.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use picshare_app::batch::{BatchJob, BatchSettings};
use picshare_domain::{TrustLevel, TrustLimits};
use serde::{Deserialize, Serialize};

/// The shortest lifetime of a link to non-public media: four times the longest a cached feed
/// page is served with the links it was rendered with.
const MIN_MEDIA_URL_TTL_SECS: u64 = 120;

/// Settings as written by the operator. Field names are the TOML keys; the environment variable
/// is `PICSHARE_` followed by the name in capitals.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RawConfig {
    pub listen: String,
    pub listen_reuse_port: bool,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub database_max_connections: u32,
    pub redis_url: Option<String>,
    pub redis_prefix: String,
    pub storage_url: Option<String>,
    pub public_url: Option<String>,
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_secs: u64,
    pub token_key_file: Option<PathBuf>,
    pub invite_only: bool,
    pub rate_limits: String,
    pub login_failures_per_account: u32,
    pub login_failures_per_ip: u32,
    pub login_failure_window_secs: u64,
    pub request_timeout_secs: u64,
    pub cors_origins: String,
    pub trusted_proxies: String,
    pub log_format: String,
    pub log_level: String,
    pub otlp_endpoint: Option<String>,
    pub password_hash_workers: usize,
    pub max_upload_bytes: u64,
    pub upload_url_ttl_secs: u64,
    pub media_public_url: Option<String>,
    pub s3_endpoint: Option<String>,
    pub s3_region: String,
    pub s3_access_key_id: Option<String>,
    pub s3_secret_access_key: Option<String>,
    pub worker_concurrency: usize,
    pub job_max_attempts: i32,
    pub job_lease_secs: u64,
    pub job_retry_base_ms: u64,
    pub job_poll_interval_ms: u64,
    pub max_following: i64,
    pub max_followers: i64,
    pub feed_timelines: bool,
    pub caches: bool,
    pub statistics_refresh: bool,
    pub login_failures_per_account_all_addresses: u32,
    pub signups_per_ip: u32,
    pub signup_window_secs: u64,
    pub feed_refreshes_per_hour: u32,
    pub media_url_ttl_secs: u64,
    pub media_processing_timeout_secs: u64,
    pub job_timeout_secs: u64,
    pub max_pending_uploads: u64,
    pub max_unused_media: u64,
    pub worker_light_slots: usize,
    pub ws_ping_interval_secs: u64,
    pub ws_send_queue: usize,
    /// Days of suspension at the 3rd, 4th and 5th-and-later strike, comma-separated.
    pub strike_suspension_days: String,
    /// Overrides of each trust level's quotas: `posts_per_hour=3,likes_per_day=500`.
    pub limits_new: String,
    pub limits_basic: String,
    pub limits_trusted: String,
    pub limits_verified: String,
    /// Seconds a deleted account's handle and email stay taken (0: free at once).
    pub account_deletion_grace_secs: u64,
    /// Rows a deletion removes per transaction, and its rest between them.
    pub account_deletion_batch: u32,
    pub account_deletion_pause_ms: u64,
    /// Rest after each deletion batch per unit of the batch's time; unset: by backend.
    pub account_deletion_rest_per_work: Option<u32>,
    /// How often `serve` and `worker` run each batch job: `repair=3600,orphans=off`.
    pub batch_intervals: String,
    /// Seconds an object no row names is left alone before the orphans job removes it.
    pub orphan_grace_secs: u64,
}

impl Default for RawConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            listen_reuse_port: false,
            data_dir: PathBuf::from("./data"),
            database_url: None,
            database_max_connections: 10,
            redis_url: None,
            redis_prefix: "picshare".into(),
            storage_url: None,
            public_url: None,
            access_token_ttl_secs: 900,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            token_key_file: None,
            invite_only: false,
            rate_limits: "on".into(),
            login_failures_per_account: 10,
            login_failures_per_ip: 10,
            login_failure_window_secs: 3600,
            request_timeout_secs: 30,
            cors_origins: String::new(),
            trusted_proxies: String::new(),
            log_format: "text".into(),
            log_level: "info".into(),
            otlp_endpoint: None,
            password_hash_workers: cores(),
            max_upload_bytes: 20 * 1024 * 1024,
            upload_url_ttl_secs: 3600,
            media_public_url: None,
            s3_endpoint: None,
            s3_region: "us-east-1".into(),
            s3_access_key_id: None,
            s3_secret_access_key: None,
            worker_concurrency: cores(),
            job_max_attempts: 5,
            job_lease_secs: 300,
            job_retry_base_ms: 2000,
            job_poll_interval_ms: 500,
            max_following: 2000,
            max_followers: 2000,
            feed_timelines: true,
            caches: true,
            statistics_refresh: true,
            login_failures_per_account_all_addresses: 100,
            signups_per_ip: 5,
            signup_window_secs: 3600,
            feed_refreshes_per_hour: 10,
            media_url_ttl_secs: 900,
            media_processing_timeout_secs: 30,
            job_timeout_secs: 300,
            max_pending_uploads: 20,
            max_unused_media: 100,
            worker_light_slots: 16,
            ws_ping_interval_secs: 30,
            ws_send_queue: 256,
            strike_suspension_days: "7,30,365".into(),
            limits_new: String::new(),
            limits_basic: String::new(),
            limits_trusted: String::new(),
            limits_verified: String::new(),
            account_deletion_grace_secs: 0,
            account_deletion_batch: 200,
            account_deletion_pause_ms: 5,
            account_deletion_rest_per_work: None,
            batch_intervals: String::new(),
            orphan_grace_secs: 24 * 3600,
        }
    }
}

/// Three whole numbers of days, 1 to 3650 each.
fn suspension_ladder(raw: &str) -> Result<picshare_domain::SuspensionLadder, ConfigError> {
    let problem = "must be three numbers of days (1 to 3650), e.g. 7,30,365";
    let days: Vec<u64> = raw
        .split(',')
        .map(|part| part.trim().parse::<u64>())
        .collect::<Result<_, _>>()
        .map_err(|_| invalid("strike_suspension_days", problem))?;
    let [third, fourth, fifth] = days[..] else {
        return Err(invalid("strike_suspension_days", problem));
    };
    if [third, fourth, fifth]
        .iter()
        .any(|d| !(1..=3650).contains(d))
    {
        return Err(invalid("strike_suspension_days", problem));
    }
    let day = |n: u64| Duration::from_secs(n * 24 * 3600);
    Ok(picshare_domain::SuspensionLadder {
        third: day(third),
        fourth: day(fourth),
        fifth_and_later: day(fifth),
    })
}

/// Each batch job's default interval with the operator's overrides (`name=seconds` or
/// `name=off`, comma-separated).
fn batch_settings(raw: &RawConfig) -> Result<BatchSettings, ConfigError> {
    let mut settings = BatchSettings {
        orphan_grace: Duration::from_secs(raw.orphan_grace_secs),
        ..BatchSettings::default()
    };
    let problem = "must list name=seconds or name=off, e.g. repair=3600,orphans=off";
    for part in raw
        .batch_intervals
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let (name, value) = part
            .split_once('=')
            .ok_or_else(|| invalid("batch_intervals", problem))?;
        let job = BatchJob::parse(name.trim())
            .ok_or_else(|| invalid("batch_intervals", format!("no batch job '{name}'")))?;
        match value.trim() {
            "off" => {
                settings.intervals.remove(&job);
            }
            seconds => {
                let seconds: u64 = seconds
                    .parse()
                    .ok()
                    .filter(|s| (60..=30 * 24 * 3600).contains(s))
                    .ok_or_else(|| invalid("batch_intervals", "intervals are 60 s to 30 days"))?;
                settings.intervals.insert(job, Duration::from_secs(seconds));
            }
        }
    }
    Ok(settings)
}

/// SPEC's quotas with the operator's overrides applied.
fn trust_limits(raw: &RawConfig) -> Result<TrustLimits, ConfigError> {
    let mut limits = TrustLimits::default();
    for (setting, level, overrides) in [
        ("limits_new", TrustLevel::New, &raw.limits_new),
        ("limits_basic", TrustLevel::Basic, &raw.limits_basic),
        ("limits_trusted", TrustLevel::Trusted, &raw.limits_trusted),
        (
            "limits_verified",
            TrustLevel::Verified,
            &raw.limits_verified,
        ),
    ] {
        limits
            .level_mut(level)
            .apply_overrides(overrides)
            .map_err(|problem| invalid(setting, problem))?;
    }
    Ok(limits)
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

/// Where media objects live.
#[derive(Debug, Clone)]
pub enum Storage {
    Local(PathBuf),
    S3(picshare_objects::S3Settings),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Validated settings, ready to use.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    /// Several processes may listen on the same address (`SO_REUSEPORT`); the kernel spreads
    /// connections over them.
    pub listen_reuse_port: bool,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub database_max_connections: u32,
    pub redis_url: Option<String>,
    pub redis_prefix: String,
    pub storage_url: String,
    pub storage: Storage,
    pub public_url: String,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub token_key_file: PathBuf,
    pub invite_only: bool,
    pub rate_limits: bool,
    pub login_failures_per_account: u32,
    pub login_failures_per_ip: u32,
    pub login_failure_window: Duration,
    pub request_timeout: Duration,
    pub cors_origins: Vec<String>,
    pub trusted_proxies: Vec<IpAddr>,
    pub log_format: LogFormat,
    pub log_level: String,
    /// Where spans are exported over OTLP/HTTP (the full URL, `…/v1/traces`); `None`: not at all.
    pub otlp_endpoint: Option<String>,
    pub password_hash_workers: usize,
    pub max_upload_bytes: u64,
    pub upload_url_ttl: Duration,
    pub worker_concurrency: usize,
    pub job_max_attempts: i32,
    pub job_lease: Duration,
    pub job_retry_base: Duration,
    pub job_poll_interval: Duration,
    pub follow_caps: picshare_domain::FollowCaps,
    pub feed_timelines: bool,
    pub caches: bool,
    /// Workers refresh PostgreSQL's planner statistics of tables changed past them.
    pub statistics_refresh: bool,
    pub login_failures_per_account_all_addresses: u32,
    pub signups_per_ip: u32,
    pub signup_window: Duration,
    pub feed_refreshes_per_hour: u32,
    pub media_url_ttl: Duration,
    pub media_processing_timeout: Duration,
    pub job_timeout: Duration,
    pub max_pending_uploads: u64,
    pub max_unused_media: u64,
    /// Jobs of the light lane (notifications, feeds, cleanup) one worker runs at once.
    pub worker_light_slots: usize,
    pub ws_ping_interval: Duration,
    /// Events queued for one socket before it is disconnected as too slow.
    pub ws_send_queue: usize,
    pub suspension_ladder: picshare_domain::SuspensionLadder,
    pub trust_limits: TrustLimits,
    pub account_deletion: picshare_app::accounts::AccountDeletionSettings,
    pub batch: BatchSettings,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {setting} (PICSHARE_{env}): {problem}", env = setting.to_uppercase())]
pub struct ConfigError {
    pub setting: &'static str,
    pub problem: String,
}

fn invalid(setting: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        setting,
        problem: problem.into(),
    }
}

impl Settings {
    /// Loads defaults, the TOML file (if given) and the environment, and validates the result.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(RawConfig::default()));
        if let Some(file) = file {
            if !file.exists() {
                anyhow::bail!("configuration file {} does not exist", file.display());
            }
            figment = figment.merge(Toml::file(file));
        }
        let raw: RawConfig = figment
            .merge(Env::prefixed("PICSHARE_"))
            .extract()
            .map_err(|err| anyhow::anyhow!("configuration: {err}"))?;
        Ok(Self::validate(raw)?)
    }

    pub fn validate(raw: RawConfig) -> Result<Self, ConfigError> {
        let listen: SocketAddr = raw.listen.parse().map_err(|_| {
            invalid(
                "listen",
                format!(
                    "'{}' is not an address:port such as 127.0.0.1:8080",
                    raw.listen
                ),
            )
        })?;
        let data_dir = raw.data_dir.clone();
        let database_url = raw
            .database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("picshare.db").display()));
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(invalid(
                "database_url",
                "must start with sqlite:// or postgres://",
            ));
        }
        if raw.database_max_connections == 0 {
            return Err(invalid("database_max_connections", "must be at least 1"));
        }
        if let Some(redis) = &raw.redis_url
            && !(redis.starts_with("redis://") || redis.starts_with("rediss://"))
        {
            return Err(invalid(
                "redis_url",
                "must start with redis:// or rediss://",
            ));
        }
        let storage_url = raw
            .storage_url
            .clone()
            .unwrap_or_else(|| format!("file://{}", data_dir.join("media").display()));
        if !(storage_url.starts_with("file://") || storage_url.starts_with("s3://")) {
            return Err(invalid("storage_url", "must start with file:// or s3://"));
        }
        let public_url = raw
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{listen}"))
            .trim_end_matches('/')
            .to_owned();
        let parsed_public = url::Url::parse(&public_url)
            .map_err(|err| invalid("public_url", format!("'{public_url}' is not a URL: {err}")))?;
        if !matches!(parsed_public.scheme(), "http" | "https") {
            return Err(invalid("public_url", "must be an http:// or https:// URL"));
        }
        if raw.access_token_ttl_secs == 0 || raw.access_token_ttl_secs > 24 * 3600 {
            return Err(invalid(
                "access_token_ttl_secs",
                "must be between 1 and 86400 seconds",
            ));
        }
        if raw.refresh_token_ttl_secs < raw.access_token_ttl_secs {
            return Err(invalid(
                "refresh_token_ttl_secs",
                "must not be shorter than access_token_ttl_secs",
            ));
        }
        let rate_limits = match raw.rate_limits.as_str() {
            "on" => true,
            "off" => false,
            other => {
                return Err(invalid(
                    "rate_limits",
                    format!("'{other}' is not 'on' or 'off'"),
                ));
            }
        };
        for (setting, value) in [
            ("login_failures_per_account", raw.login_failures_per_account),
            ("login_failures_per_ip", raw.login_failures_per_ip),
            (
                "login_failures_per_account_all_addresses",
                raw.login_failures_per_account_all_addresses,
            ),
            ("signups_per_ip", raw.signups_per_ip),
            ("feed_refreshes_per_hour", raw.feed_refreshes_per_hour),
        ] {
            if value == 0 {
                return Err(invalid(setting, "must be at least 1"));
            }
        }
        for (setting, value) in [
            ("login_failure_window_secs", raw.login_failure_window_secs),
            ("signup_window_secs", raw.signup_window_secs),
        ] {
            if value == 0 || value > picshare_app::throttle::MAX_WINDOW.as_secs() {
                return Err(invalid(setting, "must be between 1 and 86400"));
            }
        }
        if raw.request_timeout_secs == 0 {
            return Err(invalid("request_timeout_secs", "must be at least 1"));
        }
        let cors_origins = split_list(&raw.cors_origins);
        for origin in &cors_origins {
            if url::Url::parse(origin).is_err() || origin.ends_with('/') {
                return Err(invalid(
                    "cors_origins",
                    format!("'{origin}' is not an origin such as https://app.example.com"),
                ));
            }
        }
        let trusted_proxies = split_list(&raw.trusted_proxies)
            .iter()
            .map(|ip| {
                ip.parse::<IpAddr>()
                    .map_err(|_| invalid("trusted_proxies", format!("'{ip}' is not an IP address")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let otlp_endpoint = match raw.otlp_endpoint.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(endpoint)
                if endpoint.starts_with("http://") || endpoint.starts_with("https://") =>
            {
                Some(endpoint.to_owned())
            }
            Some(other) => {
                return Err(invalid(
                    "otlp_endpoint",
                    format!("'{other}' is not an http:// or https:// URL"),
                ));
            }
        };
        let log_format = match raw.log_format.as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(invalid(
                    "log_format",
                    format!("'{other}' is not 'text' or 'json'"),
                ));
            }
        };
        if raw.password_hash_workers == 0 {
            return Err(invalid("password_hash_workers", "must be at least 1"));
        }
        if raw.max_upload_bytes == 0 {
            return Err(invalid("max_upload_bytes", "must be at least 1"));
        }
        for (setting, value) in [
            ("upload_url_ttl_secs", raw.upload_url_ttl_secs),
            ("job_lease_secs", raw.job_lease_secs),
            ("job_retry_base_ms", raw.job_retry_base_ms),
            ("job_poll_interval_ms", raw.job_poll_interval_ms),
            ("worker_concurrency", raw.worker_concurrency as u64),
            ("media_url_ttl_secs", raw.media_url_ttl_secs),
            (
                "media_processing_timeout_secs",
                raw.media_processing_timeout_secs,
            ),
            ("job_timeout_secs", raw.job_timeout_secs),
            ("max_pending_uploads", raw.max_pending_uploads),
            ("max_unused_media", raw.max_unused_media),
            ("worker_light_slots", raw.worker_light_slots as u64),
            ("ws_ping_interval_secs", raw.ws_ping_interval_secs),
            ("ws_send_queue", raw.ws_send_queue as u64),
        ] {
            if value == 0 {
                return Err(invalid(setting, "must be at least 1"));
            }
        }
        for (setting, value) in [
            ("max_following", raw.max_following),
            ("max_followers", raw.max_followers),
        ] {
            if value < 1 {
                return Err(invalid(setting, "must be at least 1"));
            }
        }
        if raw.media_url_ttl_secs < MIN_MEDIA_URL_TTL_SECS {
            // A cached feed page is served for up to 30 s with the links it was rendered with,
            // and a link handed out keeps half its lifetime: shorter ones would reach clients
            // expired (`media_urls::reuse_window`).
            return Err(invalid(
                "media_url_ttl_secs",
                "must be at least 120 (a cached feed page is served for up to 30 s)",
            ));
        }
        if raw.media_url_ttl_secs > 7 * 24 * 3600 {
            // The longest a presigned S3 URL may live.
            return Err(invalid(
                "media_url_ttl_secs",
                "must be at most 604800 (7 days)",
            ));
        }
        if raw.job_timeout_secs <= raw.media_processing_timeout_secs {
            return Err(invalid(
                "job_timeout_secs",
                "must be longer than media_processing_timeout_secs",
            ));
        }
        if !(1..=10_000).contains(&raw.account_deletion_batch) {
            return Err(invalid("account_deletion_batch", "must be 1 to 10000"));
        }
        if raw.account_deletion_pause_ms > 10_000 {
            return Err(invalid(
                "account_deletion_pause_ms",
                "must be at most 10000",
            ));
        }
        if raw
            .account_deletion_rest_per_work
            .is_some_and(|rest| !(1..=20).contains(&rest))
        {
            return Err(invalid("account_deletion_rest_per_work", "must be 1 to 20"));
        }
        if raw.account_deletion_grace_secs > 365 * 24 * 3600 {
            return Err(invalid(
                "account_deletion_grace_secs",
                "must be at most a year (31536000)",
            ));
        }
        if raw.job_max_attempts < 1 {
            return Err(invalid("job_max_attempts", "must be at least 1"));
        }
        let storage = storage(&raw, &storage_url)?;
        let suspension_ladder = suspension_ladder(&raw.strike_suspension_days)?;
        let trust_limits = trust_limits(&raw)?;
        let batch = batch_settings(&raw)?;
        Ok(Self {
            batch,
            suspension_ladder,
            trust_limits,
            account_deletion: picshare_app::accounts::AccountDeletionSettings {
                handle_grace: Duration::from_secs(raw.account_deletion_grace_secs),
                batch: raw.account_deletion_batch,
                pause: Duration::from_millis(raw.account_deletion_pause_ms),
                // SQLite's batches run on this process's own threads, beside its requests
                // (at a lower priority): they rest longer. PostgreSQL's run in the database,
                // mostly waiting on I/O.
                rest_per_work: raw.account_deletion_rest_per_work.unwrap_or(
                    match database_url.starts_with("sqlite:") {
                        true => 2,
                        false => 1,
                    },
                ),
            },
            storage,
            max_upload_bytes: raw.max_upload_bytes,
            upload_url_ttl: Duration::from_secs(raw.upload_url_ttl_secs),
            worker_concurrency: raw.worker_concurrency,
            job_max_attempts: raw.job_max_attempts,
            job_lease: Duration::from_secs(raw.job_lease_secs),
            job_retry_base: Duration::from_millis(raw.job_retry_base_ms),
            job_poll_interval: Duration::from_millis(raw.job_poll_interval_ms),
            follow_caps: picshare_domain::FollowCaps {
                max_following: raw.max_following,
                max_followers: raw.max_followers,
            },
            listen,
            listen_reuse_port: raw.listen_reuse_port,
            token_key_file: raw
                .token_key_file
                .clone()
                .unwrap_or_else(|| data_dir.join("token-signing.key")),
            data_dir,
            database_url,
            database_max_connections: raw.database_max_connections,
            redis_url: raw.redis_url,
            redis_prefix: raw.redis_prefix,
            storage_url,
            public_url,
            access_token_ttl: Duration::from_secs(raw.access_token_ttl_secs),
            refresh_token_ttl: Duration::from_secs(raw.refresh_token_ttl_secs),
            invite_only: raw.invite_only,
            feed_timelines: raw.feed_timelines,
            caches: raw.caches,
            statistics_refresh: raw.statistics_refresh,
            rate_limits,
            login_failures_per_account: raw.login_failures_per_account,
            login_failures_per_ip: raw.login_failures_per_ip,
            login_failure_window: Duration::from_secs(raw.login_failure_window_secs),
            request_timeout: Duration::from_secs(raw.request_timeout_secs),
            cors_origins,
            trusted_proxies,
            log_format,
            log_level: raw.log_level,
            otlp_endpoint,
            login_failures_per_account_all_addresses: raw.login_failures_per_account_all_addresses,
            signups_per_ip: raw.signups_per_ip,
            signup_window: Duration::from_secs(raw.signup_window_secs),
            feed_refreshes_per_hour: raw.feed_refreshes_per_hour,
            media_url_ttl: Duration::from_secs(raw.media_url_ttl_secs),
            media_processing_timeout: Duration::from_secs(raw.media_processing_timeout_secs),
            job_timeout: Duration::from_secs(raw.job_timeout_secs),
            max_pending_uploads: raw.max_pending_uploads,
            max_unused_media: raw.max_unused_media,
            password_hash_workers: raw.password_hash_workers,
            worker_light_slots: raw.worker_light_slots,
            ws_ping_interval: Duration::from_secs(raw.ws_ping_interval_secs),
            ws_send_queue: raw.ws_send_queue,
        })
    }
}

fn storage(raw: &RawConfig, storage_url: &str) -> Result<Storage, ConfigError> {
    if let Some(path) = storage_url.strip_prefix("file://") {
        return Ok(Storage::Local(PathBuf::from(path)));
    }
    let bucket = storage_url
        .trim_start_matches("s3://")
        .trim_end_matches('/');
    if bucket.is_empty() || bucket.contains('/') {
        return Err(invalid("storage_url", "must be s3://<bucket>"));
    }
    let (Some(access_key_id), Some(secret_access_key)) = (
        raw.s3_access_key_id.clone(),
        raw.s3_secret_access_key.clone(),
    ) else {
        return Err(invalid(
            "s3_access_key_id",
            "S3 storage needs PICSHARE_S3_ACCESS_KEY_ID and PICSHARE_S3_SECRET_ACCESS_KEY",
        ));
    };
    // Without a CDN base every variant link is presigned, so the bucket can stay private.
    let public_base_url = raw.media_public_url.clone();
    Ok(Storage::S3(picshare_objects::S3Settings {
        bucket: bucket.to_owned(),
        endpoint: raw.s3_endpoint.clone(),
        region: raw.s3_region.clone(),
        access_key_id,
        secret_access_key,
        public_base_url,
    }))
}

fn split_list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_embedded_shape() {
        let settings = Settings::validate(RawConfig::default()).unwrap();
        assert_eq!(settings.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(settings.database_url, "sqlite://./data/picshare.db");
        assert_eq!(settings.storage_url, "file://./data/media");
        assert_eq!(settings.public_url, "http://127.0.0.1:8080");
        assert_eq!(settings.access_token_ttl, Duration::from_secs(900));
        assert!(settings.redis_url.is_none());
        assert!(!settings.invite_only);
        assert!(settings.rate_limits);
    }

    #[test]
    fn errors_name_the_setting_and_its_variable() {
        let raw = RawConfig {
            listen: "localhost".into(),
            ..RawConfig::default()
        };
        let message = Settings::validate(raw).unwrap_err().to_string();
        assert!(message.contains("listen (PICSHARE_LISTEN)"), "{message}");
        let raw = RawConfig {
            database_url: Some("mysql://x".into()),
            ..RawConfig::default()
        };
        let message = Settings::validate(raw).unwrap_err().to_string();
        assert!(message.contains("PICSHARE_DATABASE_URL"), "{message}");
        let raw = RawConfig {
            rate_limits: "maybe".into(),
            ..RawConfig::default()
        };
        assert!(
            Settings::validate(raw)
                .unwrap_err()
                .to_string()
                .contains("PICSHARE_RATE_LIMITS")
        );
    }

    #[test]
    fn media_links_must_outlive_a_cached_feed_page_four_times() {
        let ttl = |secs: u64| {
            let raw = RawConfig {
                media_url_ttl_secs: secs,
                ..RawConfig::default()
            };
            Settings::validate(raw).map(|s| s.media_url_ttl)
        };
        assert_eq!(ttl(120).unwrap(), Duration::from_secs(120));
        let message = ttl(60).unwrap_err().to_string();
        assert!(message.contains("PICSHARE_MEDIA_URL_TTL_SECS"), "{message}");
        assert!(message.contains("at least 120"), "{message}");
    }

    #[test]
    fn deletions_rest_longer_where_they_share_the_server_s_threads() {
        let rest = |database_url: &str, rest: Option<u32>| {
            let raw = RawConfig {
                database_url: Some(database_url.into()),
                account_deletion_rest_per_work: rest,
                ..RawConfig::default()
            };
            Settings::validate(raw).map(|s| s.account_deletion.rest_per_work)
        };
        assert_eq!(rest("sqlite://x.db", None).unwrap(), 2);
        assert_eq!(rest("postgres://db/x", None).unwrap(), 1);
        assert_eq!(rest("postgres://db/x", Some(5)).unwrap(), 5);
        let message = rest("sqlite://x.db", Some(0)).unwrap_err().to_string();
        assert!(
            message.contains("PICSHARE_ACCOUNT_DELETION_REST_PER_WORK"),
            "{message}"
        );
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's own error type, in its test harness
    fn file_then_environment_override_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "picshare.toml",
                "listen = \"0.0.0.0:9000\"\ninvite_only = true\n",
            )?;
            jail.set_env("PICSHARE_LISTEN", "127.0.0.1:9100");
            jail.set_env("PICSHARE_ACCESS_TOKEN_TTL_SECS", "60");
            let settings = Settings::load(Some(Path::new("picshare.toml"))).unwrap();
            assert_eq!(settings.listen.to_string(), "127.0.0.1:9100");
            assert!(settings.invite_only);
            assert_eq!(settings.access_token_ttl, Duration::from_secs(60));
            Ok(())
        });
    }
}
