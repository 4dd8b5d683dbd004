//! What the per-action limiter costs: likes (a limited route) timed against running servers,
//! once with `PICSHARE_RATE_LIMITS=off` and once on (scripts/bench-limits restarts them between
//! runs and alternates the two), and the feed's latency while a login flood from many addresses
//! runs. `report` compares the runs it recorded.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt;
use picshare_store::Store;
use rand::Rng;
use serde_json::{Value, json};

use crate::accounts::accounts;
use crate::driver::{Outcome, PostMaker, timed};

pub struct Setup {
    pub urls: Vec<String>,
    pub database_url: String,
    /// `off` or `on`: how the servers were started, recorded with the figures.
    pub label: String,
    pub users: usize,
    pub posts: usize,
    pub duration: Duration,
    pub concurrency: Vec<usize>,
    /// Failed logins per second from random addresses during the feed's second run (0: none).
    pub flood_rate: u32,
}

fn outcome_json(outcome: &Outcome, concurrency: usize) -> Value {
    json!({"scenario": outcome.name, "concurrency": concurrency, "requests": outcome.requests,
           "errors": outcome.errors, "requests_per_second": outcome.per_second,
           "p50_ms": outcome.p50_ms, "p99_ms": outcome.p99_ms})
}

pub async fn run(
    store: Arc<dyn Store>,
    tokens: picshare_app::TokenService,
    setup: Setup,
) -> anyhow::Result<Value> {
    let client = crate::accounts::client()?;
    let urls = &setup.urls;
    let url = |i: usize| urls[i % urls.len()].as_str();
    let (author, author_token) = accounts(&store, &tokens, 1).await?.remove(0);
    let fans = accounts(&store, &tokens, setup.users.max(1)).await?;
    let media: Vec<(uuid::Uuid, uuid::Uuid)> = (0..setup.posts.max(1))
        .map(|_| (uuid::Uuid::now_v7(), author.0))
        .collect();
    crate::load::ready_media(&setup.database_url, &media).await?;
    let maker = PostMaker {
        token: author_token,
        media: media.iter().map(|(id, _)| *id).collect(),
        next: Default::default(),
    };
    let mut posts = Vec::with_capacity(media.len());
    for i in 0..media.len() {
        posts.push(maker.publish(&client, url(i)).await?);
    }
    // Every fan follows the author (their feeds show its posts) and likes once, untimed.
    futures::stream::iter(fans.iter().enumerate())
        .map(|(i, (_, token))| {
            let follow = client
                .post(format!("{}/v1/users/{}/follow", url(i), author.0))
                .bearer_auth(token);
            let like = client
                .post(format!(
                    "{}/v1/posts/{}/like",
                    url(i + 1),
                    posts[i % posts.len()]
                ))
                .bearer_auth(token);
            async move {
                follow.send().await?.error_for_status()?;
                like.send().await?.error_for_status()?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<Vec<_>>>()?;

    let like = |worker: usize, n: usize| {
        let (_, token) = &fans[(worker * 31 + n) % fans.len()];
        let post = &posts[(worker + n * 7) % posts.len()];
        let request = client
            .post(format!("{}/v1/posts/{post}/like", url(worker + n)))
            .bearer_auth(token);
        async move { matches!(request.send().await, Ok(r) if r.status().is_success()) }
    };
    let mut results = Vec::new();
    for &concurrency in &setup.concurrency {
        let outcome = timed("like", setup.duration, concurrency, like).await?;
        results.push(outcome_json(&outcome, concurrency));
    }

    let mut flood = Value::Null;
    if setup.flood_rate > 0 {
        let feed = |worker: usize, n: usize| {
            let (_, token) = &fans[(worker * 31 + n) % fans.len()];
            let request = client
                .get(format!("{}/v1/feed", url(worker + n)))
                .bearer_auth(token);
            async move {
                match request.send().await {
                    Ok(response) => {
                        response.status().is_success() && response.bytes().await.is_ok()
                    }
                    Err(_) => false,
                }
            }
        };
        const READERS: usize = 4;
        let idle = timed("feed_idle", setup.duration, READERS, feed).await?;
        results.push(outcome_json(&idle, READERS));
        let statuses = Arc::new(StatusCounts::default());
        let flooding = tokio::spawn(login_flood(
            client.clone(),
            urls.clone(),
            setup.flood_rate,
            setup.duration + Duration::from_millis(500),
            statuses.clone(),
        ));
        let during = timed("feed_during_login_flood", setup.duration, READERS, feed).await?;
        results.push(outcome_json(&during, READERS));
        flooding.await?;
        flood = json!({"rate_per_second": setup.flood_rate, "answers": statuses.summary(),
                       "feed_p99_ratio": during.p99_ms / idle.p99_ms.max(0.001)});
    }
    Ok(
        json!({"label": setup.label, "instances": urls.len(), "results": results, "login_flood": flood}),
    )
}

/// Answers to the flood, by status.
#[derive(Default)]
struct StatusCounts {
    counts: std::sync::Mutex<BTreeMap<u16, u64>>,
    failed: AtomicU64,
}

impl StatusCounts {
    fn record(&self, status: Option<u16>) {
        match status {
            Some(status) => {
                if let Ok(mut counts) = self.counts.lock() {
                    *counts.entry(status).or_default() += 1;
                }
            }
            None => {
                self.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn summary(&self) -> Value {
        let counts = self.counts.lock().map(|c| c.clone()).unwrap_or_default();
        let mut summary: serde_json::Map<String, Value> = counts
            .into_iter()
            .map(|(status, count)| (status.to_string(), json!(count)))
            .collect();
        summary.insert(
            "no_answer".into(),
            json!(self.failed.load(Ordering::Relaxed)),
        );
        Value::Object(summary)
    }
}

/// Wrong passwords for made-up logins, each from a random address (the servers trust the
/// loopback proxy's `X-Forwarded-For`), at `rate` per second whatever the answers' pace.
async fn login_flood(
    client: reqwest::Client,
    urls: Vec<String>,
    rate: u32,
    duration: Duration,
    statuses: Arc<StatusCounts>,
) {
    let mut ticks = tokio::time::interval(Duration::from_secs(1) / rate.max(1));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let deadline = tokio::time::Instant::now() + duration;
    let mut sent = Vec::new();
    let mut n = 0usize;
    while tokio::time::Instant::now() < deadline {
        ticks.tick().await;
        let address = {
            let mut rng = rand::rng();
            format!(
                "10.{}.{}.{}",
                rng.random::<u8>(),
                rng.random::<u8>(),
                rng.random::<u8>()
            )
        };
        let request = client
            .post(format!("{}/v1/auth/token", urls[n % urls.len()]))
            .header("x-forwarded-for", address)
            .json(
                &json!({"grant_type": "password", "login": format!("flood{n}"),
                          "password": "not the password"}),
            );
        let statuses = statuses.clone();
        sent.push(tokio::spawn(async move {
            statuses.record(request.send().await.ok().map(|r| r.status().as_u16()));
        }));
        n += 1;
    }
    for request in sent {
        let _ = request.await;
    }
}

/// Compares the runs recorded in `path` (one JSON document per line): per scenario and
/// concurrency, the median p50 and p99 with limits off and on, and what the limiter added.
pub fn report(path: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)?;
    let runs: Vec<Value> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    type Key = (String, u64);
    let mut figures: BTreeMap<Key, BTreeMap<String, Vec<(f64, f64)>>> = BTreeMap::new();
    for run in &runs {
        let label = run["label"].as_str().unwrap_or("?").to_owned();
        for result in run["results"].as_array().into_iter().flatten() {
            if result["scenario"] != "like" {
                continue;
            }
            let key = (
                "like".to_owned(),
                result["concurrency"].as_u64().unwrap_or(0),
            );
            figures
                .entry(key)
                .or_default()
                .entry(label.clone())
                .or_default()
                .push((
                    result["p50_ms"].as_f64().unwrap_or(f64::NAN),
                    result["p99_ms"].as_f64().unwrap_or(f64::NAN),
                ));
        }
    }
    let median = |values: &mut Vec<f64>| {
        values.sort_by(f64::total_cmp);
        match values.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => values[n / 2],
            n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
        }
    };
    let listed = |values: &[f64]| {
        values
            .iter()
            .map(|v| format!("{v:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "| route (concurrency) | p50 off ms: median (runs) | p50 on ms: median (runs) | p50 added ms | p99 off ms | p99 on ms |"
    );
    println!("|---|---|---|---|---|---|");
    for ((scenario, concurrency), by_label) in &figures {
        let stats = |label: &str| {
            let runs = by_label.get(label).cloned().unwrap_or_default();
            let p50: Vec<f64> = runs.iter().map(|r| r.0).collect();
            let mut p99: Vec<f64> = runs.iter().map(|r| r.1).collect();
            (listed(&p50), median(&mut p50.clone()), median(&mut p99))
        };
        let (off_runs, off50, off99) = stats("off");
        let (on_runs, on50, on99) = stats("on");
        println!(
            "| {scenario} ({concurrency}) | {off50:.3} ({off_runs}) | {on50:.3} ({on_runs}) | {:.3} | {off99:.2} | {on99:.2} |",
            on50 - off50
        );
    }
    for run in &runs {
        let flood = &run["login_flood"];
        if flood.is_null() {
            continue;
        }
        let p99 = |name: &str| {
            run["results"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|r| r["scenario"] == name)
                .and_then(|r| r["p99_ms"].as_f64())
                .unwrap_or(f64::NAN)
        };
        println!(
            "\nlogin flood of {}/s: feed p99 {:.2} ms idle, {:.2} ms during ({:.2}×); answers {}",
            flood["rate_per_second"],
            p99("feed_idle"),
            p99("feed_during_login_flood"),
            flood["feed_p99_ratio"].as_f64().unwrap_or(f64::NAN),
            flood["answers"]
        );
    }
    Ok(())
}
