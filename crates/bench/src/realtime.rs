//! The real-time scenario: sockets held open across API instances, direct messages between
//! random pairs at a fixed rate, and how long each takes from send to the recipient's socket.
//! Then the notification queue: follows as fast as the API takes them, and how fast their
//! notifications are made end to end.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use picshare_domain::UserId;
use picshare_store::Store;
use rand::Rng;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::accounts::{accounts, ws_request};

pub struct Setup {
    pub urls: Vec<String>,
    pub database_url: String,
    pub sockets: usize,
    pub rate: u32,
    pub duration: Duration,
    pub pids: Vec<u32>,
    pub follows: usize,
    /// The fan-out burst phase, unless skipped.
    pub burst: Option<crate::burst::Burst>,
}

struct Sent {
    at: HashMap<String, Instant>,
    received: HashMap<String, u32>,
}

/// Resident memory of a process, from /proc (KiB).
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

pub async fn run(
    store: Arc<dyn Store>,
    tokens: picshare_app::TokenService,
    setup: Setup,
) -> anyhow::Result<Value> {
    let client = crate::accounts::client()?;
    let users = accounts(&store, &tokens, setup.sockets).await?;
    let url = |i: usize| setup.urls[i % setup.urls.len()].as_str();
    // Pairs (2k, 2k+1), one conversation each.
    let pairs: Vec<(usize, usize, String)> = futures::stream::iter(0..users.len() / 2)
        .map(|k| {
            let client = client.clone();
            let (a, b) = (2 * k, 2 * k + 1);
            let (token, other) = (users[a].1.clone(), users[b].0);
            let base = url(a).to_owned();
            async move {
                let body: Value = client
                    .post(format!("{base}/v1/conversations"))
                    .bearer_auth(token)
                    .json(&json!({"participant_ids": [other.0]}))
                    .send()
                    .await?
                    .error_for_status()?
                    .json()
                    .await?;
                let id = body["id"].as_str().unwrap_or_default().to_owned();
                anyhow::Ok((a, b, id))
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;

    let before: u64 = setup.pids.iter().map(|pid| rss_kib(*pid)).sum();
    let sent = Arc::new(Mutex::new(Sent {
        at: HashMap::new(),
        received: HashMap::new(),
    }));
    let latency = Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(
        1, 60_000_000, 3,
    )?));
    let frames = Arc::new(AtomicU64::new(0));
    let mut readers = Vec::new();
    for (i, (id, token)) in users.iter().enumerate() {
        let (socket, _) = tokio_tungstenite::connect_async(ws_request(url(i), token)?).await?;
        let (mut sink, mut stream) = socket.split();
        let (sent, latency, frames, me) = (sent.clone(), latency.clone(), frames.clone(), *id);
        readers.push(tokio::spawn(async move {
            while let Some(Ok(frame)) = stream.next().await {
                match frame {
                    Message::Text(text) => {
                        frames.fetch_add(1, Ordering::Relaxed);
                        let Ok(event) = serde_json::from_str::<Value>(&text) else {
                            continue;
                        };
                        let from_me = event["data"]["sender"]["id"] == me.0.to_string();
                        if event["type"] != "message.created" || from_me {
                            continue;
                        }
                        let key = event["data"]["client_message_id"].as_str().unwrap_or("");
                        let mut sent = sent.lock().unwrap_or_else(|e| e.into_inner());
                        if let Some(at) = sent.at.get(key).copied() {
                            *sent.received.entry(key.to_owned()).or_default() += 1;
                            let micros = at.elapsed().as_micros() as u64;
                            let _ = latency
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .record(micros.max(1));
                        }
                    }
                    Message::Ping(payload) => {
                        let _ = sink.send(Message::Pong(payload)).await;
                    }
                    _ => {}
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle: u64 = setup.pids.iter().map(|pid| rss_kib(*pid)).sum();
    let per_socket_kib = (idle.saturating_sub(before)) as f64 / users.len().max(1) as f64;

    // Messages at a fixed rate between random pairs, each through the sender's instance.
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(setup.rate)));
    let started = Instant::now();
    let mut sends = Vec::new();
    let errors = Arc::new(AtomicU64::new(0));
    while started.elapsed() < setup.duration {
        tick.tick().await;
        let (a, b, conversation) = &pairs[rand::rng().random_range(0..pairs.len())];
        let sender = if rand::rng().random_bool(0.5) { *a } else { *b };
        let key = uuid::Uuid::now_v7().to_string();
        sent.lock()
            .unwrap_or_else(|e| e.into_inner())
            .at
            .insert(key.clone(), Instant::now());
        let request = client
            .post(format!(
                "{}/v1/conversations/{conversation}/messages",
                url(sender)
            ))
            .bearer_auth(&users[sender].1)
            .json(&json!({"text": "hello there", "client_message_id": key}));
        let errors = errors.clone();
        sends.push(tokio::spawn(async move {
            let ok = matches!(request.send().await, Ok(r) if r.status().is_success());
            if !ok {
                errors.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for send in sends {
        let _ = send.await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (messages, delivered, duplicated) = {
        let sent = sent.lock().unwrap_or_else(|e| e.into_inner());
        let delivered = sent.received.len();
        let duplicated: u32 = sent.received.values().map(|n| n.saturating_sub(1)).sum();
        (sent.at.len(), delivered, duplicated)
    };
    let latency = latency.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let ms = |q: f64| latency.value_at_quantile(q) as f64 / 1000.0;
    let errors = errors.load(Ordering::Relaxed);
    let report = json!({
        "sockets": users.len(),
        "instances": setup.urls.len(),
        "messages_sent": messages,
        "send_errors": errors,
        "delivered": delivered,
        "lost": messages as u64 - errors - delivered as u64,
        "duplicated": duplicated,
        "latency_ms": {"p50": ms(0.5), "p90": ms(0.9), "p99": ms(0.99), "max": latency.max() as f64 / 1000.0},
        "rss_per_idle_socket_kib": per_socket_kib,
        "frames_received": frames.load(Ordering::Relaxed),
    });
    for reader in readers {
        reader.abort();
    }
    let queue = notification_queue(&client, &store, &setup, &users).await?;
    let burst = match &setup.burst {
        Some(burst) => {
            let urls = &setup.urls;
            crate::burst::run(
                &client,
                &store,
                &tokens,
                urls,
                &setup.database_url,
                &users,
                burst,
            )
            .await?
        }
        None => Value::Null,
    };
    Ok(json!({"messages": report, "notification_queue": queue, "fan_out_burst": burst}))
}

/// Runs one statement on the benchmark's database; the first column of its one row.
async fn scalar(database_url: &str, sql: &str) -> anyhow::Result<i64> {
    Ok(if database_url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(database_url).await?;
        sqlx::query_scalar(sql).fetch_one(&pool).await?
    } else {
        let pool = sqlx::PgPool::connect(database_url).await?;
        sqlx::query_scalar(sql).fetch_one(&pool).await?
    })
}

/// Waits until `wanted` follow notifications exist; the seconds since `started`.
async fn follow_notifications(
    database_url: &str,
    wanted: i64,
    started: Instant,
) -> anyhow::Result<(i64, f64)> {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let made = scalar(
            database_url,
            "SELECT count(*) FROM notifications WHERE kind = 'follow'",
        )
        .await?;
        if made >= wanted || Instant::now() > deadline {
            return Ok((made, started.elapsed().as_secs_f64()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The notification queue, twice: follows as fast as the API takes them (each enqueues a
/// notification job in its transaction), until every one's notification exists; then the same
/// causes' jobs enqueued again into the store (their notifications removed first), due a day
/// later, and made due all at once: jobs per second through the queue alone, from the moment
/// they are due until the workers have made every notification.
async fn notification_queue(
    client: &reqwest::Client,
    store: &Arc<dyn Store>,
    setup: &Setup,
    users: &[(UserId, String)],
) -> anyhow::Result<Value> {
    let n = users.len();
    let follows: Vec<(usize, usize)> = (0..setup.follows)
        .map(|i| (i % n, (i % n + 1 + i / n) % n))
        .filter(|(a, b)| a != b)
        .collect();
    let base = |i: usize| setup.urls[i % setup.urls.len()].clone();
    let started = Instant::now();
    let failed = futures::stream::iter(&follows)
        .map(|(a, b)| {
            let request = client
                .post(format!("{}/v1/users/{}/follow", base(*a), users[*b].0.0))
                .bearer_auth(&users[*a].1);
            async move { !matches!(request.send().await, Ok(r) if r.status().is_success()) }
        })
        .buffer_unordered(32)
        .filter(|failed| futures::future::ready(*failed))
        .count()
        .await;
    let enqueued = started.elapsed().as_secs_f64();
    let wanted = (follows.len() - failed) as i64;
    let (made, seconds) = follow_notifications(&setup.database_url, wanted, started).await?;

    drop_follow_notifications(&setup.database_url).await?;
    let started_again = Instant::now();
    futures::stream::iter(&follows)
        .map(|(a, b)| {
            let job = picshare_app::jobs::NotifyJob::Follow {
                follower: users[*a].0.0,
                followee: users[*b].0.0,
            };
            async move {
                store
                    .enqueue(&picshare_store::NewJob {
                        id: uuid::Uuid::now_v7(),
                        kind: picshare_app::jobs::NOTIFY.into(),
                        payload: serde_json::to_string(&job)?,
                        run_at: time::OffsetDateTime::now_utc() + time::Duration::days(1),
                        max_attempts: 8,
                        priority: 0,
                    })
                    .await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(4)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<Vec<_>>>()?;
    let enqueue_seconds = started_again.elapsed().as_secs_f64();
    let due = Instant::now();
    make_notify_jobs_due(&setup.database_url).await?;
    let (remade, drain_seconds) = follow_notifications(&setup.database_url, made, due).await?;
    Ok(json!({
        "through_the_api": {
            "follows": follows.len(),
            "failed": failed,
            "follows_per_second": follows.len() as f64 / enqueued,
            "notifications": made,
            "notifications_per_second_end_to_end": made as f64 / seconds,
            "seconds": seconds,
        },
        "through_the_queue": {
            "jobs": follows.len(),
            "enqueue_seconds": enqueue_seconds,
            "notifications": remade,
            "notification_jobs_per_second_end_to_end": remade as f64 / drain_seconds,
            "seconds": drain_seconds,
        },
    }))
}

async fn make_notify_jobs_due(database_url: &str) -> anyhow::Result<()> {
    let sql = "UPDATE jobs SET run_at = $1 WHERE kind = 'notify' AND state = 'queued'";
    if database_url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(database_url).await?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000;
        sqlx::query(sql).bind(now as i64).execute(&pool).await?;
    } else {
        let pool = sqlx::PgPool::connect(database_url).await?;
        let now = time::OffsetDateTime::now_utc();
        sqlx::query(sql).bind(now).execute(&pool).await?;
    }
    Ok(())
}

async fn drop_follow_notifications(database_url: &str) -> anyhow::Result<()> {
    let sql = "DELETE FROM notifications WHERE kind = 'follow'";
    if database_url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(database_url).await?;
        sqlx::query(sql).execute(&pool).await?;
    } else {
        let pool = sqlx::PgPool::connect(database_url).await?;
        sqlx::query(sql).execute(&pool).await?;
    }
    Ok(())
}
