//! The HTTP load driver: runs each scenario against a running server for a fixed time at a fixed
//! concurrency and reports latency percentiles (hdrhistogram) and throughput.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use crate::dataset::Dataset;
use crate::load::handle_of;

pub const PASSWORD: &str = "benchmark password";

pub struct Scenario {
    pub name: &'static str,
    /// (path, bearer token) pairs, used round-robin.
    pub requests: Vec<(String, Option<String>)>,
    /// Instead of GETs: new posts by this author, each with the next unused upload.
    pub posts_by: Option<Arc<PostMaker>>,
}

pub struct PostMaker {
    pub token: String,
    pub media: Vec<uuid::Uuid>,
    pub next: AtomicUsize,
}

impl PostMaker {
    /// Publishes a post with the next unused upload; its id.
    pub async fn publish(&self, client: &reqwest::Client, base: &str) -> anyhow::Result<String> {
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        let media = self
            .media
            .get(index)
            .ok_or_else(|| anyhow::anyhow!("the hot author's spare uploads ran out"))?;
        let body: Value = client
            .post(format!("{base}/v1/posts"))
            .bearer_auth(&self.token)
            .json(&json!({"media_ids": [media], "visibility": "public", "caption": "new #bench"}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        body["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow::anyhow!("a created post without an id"))
    }
}

#[derive(Debug)]
pub struct Outcome {
    pub name: &'static str,
    pub requests: u64,
    pub errors: u64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

pub async fn token(client: &reqwest::Client, base: &str, handle: &str) -> anyhow::Result<String> {
    let response: Value = client
        .post(format!("{base}/v1/auth/token"))
        .json(&json!({"grant_type": "password", "login": handle, "password": PASSWORD}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    response["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("no access token for {handle}"))
}

/// The cursor that opens page `page` of `token`'s feed.
async fn cursor_of_page(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    page: usize,
) -> anyhow::Result<Option<String>> {
    let mut cursor: Option<String> = None;
    for _ in 1..page {
        let url = match &cursor {
            Some(cursor) => format!("{base}/v1/feed?cursor={cursor}"),
            None => format!("{base}/v1/feed"),
        };
        let body: Value = client
            .get(url)
            .bearer_auth(token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        cursor = body["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    Ok(cursor)
}

pub async fn scenarios(
    client: &reqwest::Client,
    base: &str,
    data: &Dataset,
    mixed: &[usize],
    posts_by: Arc<PostMaker>,
) -> anyhow::Result<Vec<Scenario>> {
    let heavy = token(client, base, &handle_of(data.heavy[0])).await?;
    let inactive = token(client, base, &handle_of(data.inactive_follower)).await?;
    let mut mixed_tokens = Vec::with_capacity(mixed.len());
    for &user in mixed {
        mixed_tokens.push(token(client, base, &handle_of(user)).await?);
    }
    let page_50_path = match cursor_of_page(client, base, &heavy, 50).await? {
        Some(cursor) => format!("/v1/feed?cursor={cursor}"),
        None => anyhow::bail!("the heaviest user's feed has fewer than 50 pages"),
    };
    let inactive_page_50_path = match cursor_of_page(client, base, &inactive, 50).await? {
        Some(cursor) => format!("/v1/feed?cursor={cursor}"),
        None => anyhow::bail!("the inactive-followees user's feed has fewer than 50 pages"),
    };
    Ok(vec![
        Scenario {
            name: "healthz",
            requests: vec![("/healthz".into(), None)],
            posts_by: None,
        },
        Scenario {
            name: "feed_first_page_heavy",
            requests: vec![("/v1/feed".into(), Some(heavy.clone()))],
            posts_by: None,
        },
        Scenario {
            name: "feed_first_page_inactive_followees",
            requests: vec![("/v1/feed".into(), Some(inactive.clone()))],
            posts_by: None,
        },
        Scenario {
            name: "feed_page_50",
            requests: vec![(page_50_path, Some(heavy))],
            posts_by: None,
        },
        Scenario {
            name: "feed_page_50_inactive_followees",
            requests: vec![(inactive_page_50_path, Some(inactive))],
            posts_by: None,
        },
        Scenario {
            name: "feed_mixed_users",
            requests: mixed_tokens
                .into_iter()
                .map(|t| ("/v1/feed".to_owned(), Some(t)))
                .collect(),
            posts_by: None,
        },
        Scenario {
            name: "create_post_hot_author",
            requests: Vec::new(),
            posts_by: Some(posts_by),
        },
    ])
}

/// A GET of `path`, signed in when there is a token.
fn read(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    token: Option<&str>,
) -> reqwest::RequestBuilder {
    let request = client.get(format!("{base}{path}"));
    match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
}

/// Sends each of the scenario's reads once, untimed (a user's first feed read starts their
/// timeline's build).
pub async fn warm(client: &reqwest::Client, base: &str, scenario: &Scenario) -> anyhow::Result<()> {
    for (path, token) in &scenario.requests {
        read(client, base, path, token.as_deref())
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
    }
    Ok(())
}

pub async fn run(
    client: &reqwest::Client,
    base: &str,
    scenario: &Scenario,
    duration: Duration,
    concurrency: usize,
) -> anyhow::Result<Outcome> {
    timed(
        scenario.name,
        duration,
        concurrency,
        |worker, n| async move {
            if let Some(maker) = &scenario.posts_by {
                return maker.publish(client, base).await.is_ok();
            }
            let (path, token) = &scenario.requests[(worker + n) % scenario.requests.len()];
            match read(client, base, path, token.as_deref()).send().await {
                Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
                Err(_) => false,
            }
        },
    )
    .await
}

/// Calls `request(worker, n)` from `concurrency` workers in a closed loop for `duration` (`n`
/// counts each worker's requests; `false` is an error) and reports latency and throughput.
pub async fn timed<F, R>(
    name: &'static str,
    duration: Duration,
    concurrency: usize,
    request: F,
) -> anyhow::Result<Outcome>
where
    F: Fn(usize, usize) -> R,
    R: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let request = &request;
    let workers = (0..concurrency.max(1)).map(|worker| async move {
        let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
        let (mut count, mut errors) = (0u64, 0u64);
        while Instant::now() < deadline {
            let sent = Instant::now();
            let ok = request(worker, count as usize).await;
            histogram.record(sent.elapsed().as_micros().max(1) as u64)?;
            count += 1;
            if !ok {
                errors += 1;
            }
        }
        anyhow::Ok((histogram, count, errors))
    });
    let mut total = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let (mut requests, mut errors) = (0, 0);
    for result in futures::future::join_all(workers).await {
        let (histogram, count, failed) = result?;
        total.add(histogram)?;
        requests += count;
        errors += failed;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let ms = |micros: u64| micros as f64 / 1000.0;
    Ok(Outcome {
        name,
        requests,
        errors,
        per_second: requests as f64 / elapsed,
        p50_ms: ms(total.value_at_quantile(0.50)),
        p90_ms: ms(total.value_at_quantile(0.90)),
        p99_ms: ms(total.value_at_quantile(0.99)),
        max_ms: ms(total.max()),
    })
}

pub fn to_json(outcomes: &[Outcome], concurrency: usize) -> Value {
    outcomes
        .iter()
        .map(|o| {
            json!({"scenario": o.name, "concurrency": concurrency, "requests": o.requests, "errors": o.errors,
                   "requests_per_second": o.per_second, "p50_ms": o.p50_ms, "p90_ms": o.p90_ms,
                   "p99_ms": o.p99_ms, "max_ms": o.max_ms})
        })
        .collect()
}

pub fn print_table(outcomes: &[Outcome], concurrency: usize) {
    println!(
        "| scenario (concurrency {concurrency}) | requests/s | p50 ms | p90 ms | p99 ms | max ms | errors |"
    );
    println!("|---|---|---|---|---|---|---|");
    for o in outcomes {
        println!(
            "| {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
            o.name, o.per_second, o.p50_ms, o.p90_ms, o.p99_ms, o.max_ms, o.errors
        );
    }
}
