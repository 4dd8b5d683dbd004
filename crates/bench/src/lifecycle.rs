//! Leaving, measured through a running server: exporting the account with the most posts up to
//! 1,000 (time, size, the server's memory meanwhile), then deleting the dataset's heaviest account
//! (time until its rows are gone, the server's memory, and other users' feed latency meanwhile
//! against the same reads idle). scripts/bench-lifecycle starts the server.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use uuid::Uuid;

use crate::driver::{PASSWORD, token};

/// Accounts whose feeds are read while the deletion runs.
const READERS: i64 = 20;
/// The account with the most posts (a deleted one keeps its row for a while).
const HEAVIEST: &str = "SELECT id, handle, posts_count FROM users WHERE deleted_at IS NULL
     ORDER BY posts_count DESC LIMIT 1";

enum Db {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Db {
    async fn connect(url: &str) -> anyhow::Result<Self> {
        Ok(if url.starts_with("sqlite:") {
            Db::Sqlite(sqlx::SqlitePool::connect(url).await?)
        } else {
            Db::Postgres(sqlx::PgPool::connect(url).await?)
        })
    }

    /// Rows of (id, handle, count) the query returns.
    async fn accounts(&self, sql: &str) -> anyhow::Result<Vec<(Uuid, String, i64)>> {
        Ok(match self {
            Db::Sqlite(pool) => sqlx::query_as(sql).fetch_all(pool).await?,
            Db::Postgres(pool) => sqlx::query_as(sql).fetch_all(pool).await?,
        })
    }

    async fn count(&self, sql: &str, id: Uuid) -> anyhow::Result<i64> {
        Ok(match self {
            Db::Sqlite(pool) => sqlx::query_scalar(sql).bind(id).fetch_one(pool).await?,
            Db::Postgres(pool) => sqlx::query_scalar(sql).bind(id).fetch_one(pool).await?,
        })
    }

    async fn media_of(&self, owner: Uuid) -> anyhow::Result<Vec<Uuid>> {
        let sql = "SELECT id FROM media WHERE owner_id = $1";
        Ok(match self {
            Db::Sqlite(pool) => sqlx::query_scalar(sql).bind(owner).fetch_all(pool).await?,
            Db::Postgres(pool) => sqlx::query_scalar(sql).bind(owner).fetch_all(pool).await?,
        })
    }
}

/// The server's own resident memory now (heap and stacks), in bytes: anonymous pages only, as
/// SQLite's memory-mapped database file counts in the resident size as it is read.
fn resident(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("RssAnon:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Samples the server's memory every 10 ms until `stop`; returns the highest seen.
fn watch_memory(pid: u32, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let mut peak = resident(pid);
        while !stop.load(Ordering::Relaxed) {
            peak = peak.max(resident(pid));
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        peak.max(resident(pid))
    })
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// The `p`th percentile of `samples` in milliseconds (sorts them).
pub(crate) fn percentile(samples: &mut [Duration], p: usize) -> f64 {
    samples.sort();
    let at = (samples.len() * p / 100).min(samples.len().saturating_sub(1));
    samples.get(at).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// Feed reads by `tokens` until `stop` (or `for_at_least`, whichever is later); their latencies.
async fn read_feeds(
    client: &reqwest::Client,
    base: &str,
    tokens: &[String],
    at_once: usize,
    for_at_least: Duration,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<Vec<Duration>> {
    let started = Instant::now();
    let next = AtomicU64::new(0);
    let readers = (0..at_once).map(|_| async {
        let mut latencies = Vec::new();
        while started.elapsed() < for_at_least || !stop.load(Ordering::Relaxed) {
            let n = next.fetch_add(1, Ordering::Relaxed) as usize;
            let sent = Instant::now();
            client
                .get(format!("{base}/v1/feed"))
                .bearer_auth(&tokens[n % tokens.len()])
                .send()
                .await?
                .error_for_status()?
                .bytes()
                .await?;
            latencies.push(sent.elapsed());
        }
        anyhow::Ok(latencies)
    });
    let mut all = Vec::new();
    for latencies in futures::future::join_all(readers).await {
        all.extend(latencies?);
    }
    Ok(all)
}

/// Exports `account` (with a stand-in original of `photo_bytes` for each of its media when the
/// server keeps media on local disk) and prints the time, the size and the server's memory.
async fn export(
    client: &reqwest::Client,
    base: &str,
    db: &Db,
    server_pid: u32,
    media_dir: Option<&std::path::Path>,
    account: &(Uuid, String, i64),
    photo_bytes: usize,
) -> anyhow::Result<()> {
    let media = db.media_of(account.0).await?;
    if let Some(dir) = media_dir {
        std::fs::create_dir_all(dir.join("originals"))?;
        let photo: Vec<u8> = (0..photo_bytes).map(|i| (i * 7 % 251) as u8).collect();
        for id in &media {
            std::fs::write(dir.join("originals").join(id.to_string()), &photo)?;
        }
    }
    let account_token = token(client, base, &account.1).await?;
    let before = resident(server_pid);
    let stop = Arc::new(AtomicBool::new(false));
    let memory = watch_memory(server_pid, stop.clone());
    let started = Instant::now();
    let mut body = client
        .get(format!("{base}/v1/users/{}/export", account.0))
        .bearer_auth(&account_token)
        // A large account's archive takes longer than the client's usual 30 s.
        .timeout(Duration::from_secs(600))
        .send()
        .await?
        .error_for_status()?;
    let mut size = 0u64;
    while let Some(chunk) = body.chunk().await? {
        size += chunk.len() as u64;
    }
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let peak = memory.await?;
    println!(
        "| {} | {} | export: {:.1} MiB, {} photos of {} KiB | {:.2} s | {:.0} → {:.0} MiB (+{:.1} MiB) |",
        account.1,
        account.2,
        mib(size),
        if media_dir.is_some() { media.len() } else { 0 },
        photo_bytes / 1024,
        took.as_secs_f64(),
        mib(before),
        mib(peak),
        mib(peak.saturating_sub(before))
    );
    Ok(())
}

pub async fn run(
    base: &str,
    database_url: &str,
    server_pid: u32,
    media_dir: Option<PathBuf>,
    reads_at_once: usize,
) -> anyhow::Result<()> {
    let client = crate::accounts::client()?;
    let db = Db::connect(database_url).await?;
    let [exporter] = &db
        .accounts(
            "SELECT id, handle, posts_count FROM users
             WHERE posts_count <= 1000 AND deleted_at IS NULL ORDER BY posts_count DESC LIMIT 1",
        )
        .await?[..]
    else {
        anyhow::bail!("no account to export");
    };
    let [heaviest] = &db.accounts(HEAVIEST).await?[..] else {
        anyhow::bail!("no account to delete");
    };

    println!("| account | posts | what | time | server memory: before → peak (added) |");
    println!("|---|---|---|---|---|");
    // Two exports, sixteen times apart in posts: memory that does not grow with the account.
    export(
        &client,
        base,
        &db,
        server_pid,
        media_dir.as_deref(),
        exporter,
        256 * 1024,
    )
    .await?;
    export(
        &client,
        base,
        &db,
        server_pid,
        media_dir.as_deref(),
        heaviest,
        16 * 1024,
    )
    .await?;

    // The deletion, with the heaviest account's followers reading their feeds.
    let readers = db
        .accounts(&format!(
            "SELECT u.id, u.handle, u.posts_count FROM follows f JOIN users u ON u.id = f.follower_id
             WHERE f.followee_id = (SELECT id FROM ({HEAVIEST}) h) ORDER BY u.id LIMIT {READERS}"
        ))
        .await?;
    let mut tokens = Vec::new();
    for (_, handle, _) in &readers {
        tokens.push(token(&client, base, handle).await?);
    }
    let victim = token(&client, base, &heaviest.1).await?;
    let idle_stop = Arc::new(AtomicBool::new(true));
    let mut idle = read_feeds(
        &client,
        base,
        &tokens,
        reads_at_once,
        Duration::from_secs(10),
        idle_stop,
    )
    .await?;
    let before = resident(server_pid);
    let stop = Arc::new(AtomicBool::new(false));
    let memory = watch_memory(server_pid, stop.clone());
    let started = Instant::now();
    client
        .delete(format!("{base}/v1/users/{}", heaviest.0))
        .bearer_auth(&victim)
        .json(&json!({"password": PASSWORD}))
        .send()
        .await?
        .error_for_status()?;
    let answered = started.elapsed();
    let reads = read_feeds(
        &client,
        base,
        &tokens,
        reads_at_once,
        Duration::ZERO,
        stop.clone(),
    );
    // Index probes, not counts: counting what is left of a large account every 100 ms took
    // ~10 ms of a core each time, a load of the bench's own on the reads it measures.
    let left = "SELECT CASE WHEN EXISTS (SELECT 1 FROM posts WHERE author_id = $1)
                     OR EXISTS (SELECT 1 FROM follows WHERE follower_id = $1)
                     OR EXISTS (SELECT 1 FROM follows WHERE followee_id = $1)
                     OR EXISTS (SELECT 1 FROM likes WHERE user_id = $1)
                     OR EXISTS (SELECT 1 FROM media WHERE owner_id = $1)
                     THEN CAST(1 AS BIGINT) ELSE CAST(0 AS BIGINT) END";
    let watch = async {
        while db.count(left, heaviest.0).await? > 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let took = started.elapsed();
        stop.store(true, Ordering::Relaxed);
        anyhow::Ok(took)
    };
    let (during, took) = tokio::join!(reads, watch);
    let (mut during, took) = (during?, took?);
    let peak = memory.await?;
    println!(
        "| {} | {} | deletion: answered in {:.0} ms, rows gone after | {:.1} s | {:.0} → {:.0} MiB (+{:.1} MiB) |",
        heaviest.1,
        heaviest.2,
        answered.as_secs_f64() * 1000.0,
        took.as_secs_f64(),
        mib(before),
        mib(peak),
        mib(peak.saturating_sub(before))
    );
    let (idle_p50, idle_p99) = (percentile(&mut idle, 50), percentile(&mut idle, 99));
    let (busy_p50, busy_p99) = (percentile(&mut during, 50), percentile(&mut during, 99));
    println!();
    println!(
        "Feed reads by {} of its followers, {reads_at_once} at a time: idle p50 {idle_p50:.2} ms, p99 {idle_p99:.2} ms ({} reads); during the deletion p50 {busy_p50:.2} ms, p99 {busy_p99:.2} ms ({} reads): p99 {:.2}× idle",
        tokens.len(),
        idle.len(),
        during.len(),
        busy_p99 / idle_p99.max(0.001)
    );
    Ok(())
}
