//! The fan-out check: after the hot author posts, how long until every follower's first feed
//! page shows the post. Followers read their feed first, so each has a built timeline and the
//! post can only reach them through the fan-out job.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};

use crate::dataset::Dataset;
use crate::driver::{PostMaker, token};
use crate::load::handle_of;

pub struct Followers {
    pub tokens: Vec<String>,
}

/// Logs in every follower of the hot author and reads their feed once, so each has a timeline;
/// waits for the timelines to be built.
pub async fn prepare(
    client: &reqwest::Client,
    base: &str,
    data: &Dataset,
) -> anyhow::Result<Followers> {
    let followers: Vec<usize> = data
        .follows
        .iter()
        .filter(|(_, followee)| *followee == data.hot_author)
        .map(|(follower, _)| *follower)
        .collect();
    let tokens: Vec<String> = futures::stream::iter(followers)
        .map(|user| async move { token(client, base, &handle_of(user)).await })
        .buffer_unordered(4)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    futures::stream::iter(&tokens)
        .map(|token| first_page_once_served(client, base, token))
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<Vec<_>>>()?;
    feed_jobs_drained(client, base, Duration::from_secs(600)).await?;
    Ok(Followers { tokens })
}

/// A first page, asked again while the server sheds load (503 unavailable). Setup only: on
/// `large`, 2,000 cold first reads and the timeline builds they start can hold every database
/// connection for seconds, past the pool's wait.
async fn first_page_once_served(
    client: &reqwest::Client,
    base: &str,
    token: &str,
) -> anyhow::Result<Value> {
    for _ in 0..30 {
        match first_page(client, base, token).await {
            Err(error)
                if error
                    .downcast_ref::<reqwest::Error>()
                    .and_then(reqwest::Error::status)
                    == Some(reqwest::StatusCode::SERVICE_UNAVAILABLE) =>
            {
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            answered => return answered,
        }
    }
    first_page(client, base, token).await
}

pub async fn first_page(
    client: &reqwest::Client,
    base: &str,
    token: &str,
) -> anyhow::Result<Value> {
    Ok(client
        .get(format!("{base}/v1/feed?limit=5"))
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

/// Feed jobs (fan-outs and timeline builds) queued or running, from `/metrics`.
pub async fn feed_jobs_waiting(client: &reqwest::Client, base: &str) -> anyhow::Result<f64> {
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    Ok(metrics
        .lines()
        .filter(|line| {
            line.starts_with("picshare_jobs{")
                && (line.contains("fan_out_post") || line.contains("build_timeline"))
                && (line.contains("\"queued\"") || line.contains("\"running\""))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum())
}

/// Waits until no feed job is queued or running; how long that took.
pub async fn feed_jobs_drained(
    client: &reqwest::Client,
    base: &str,
    timeout: Duration,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    loop {
        let waiting = feed_jobs_waiting(client, base).await?;
        if waiting == 0.0 {
            return Ok(started.elapsed());
        }
        if started.elapsed() > timeout {
            anyhow::bail!("{waiting} feed jobs still waiting after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

pub struct Visibility {
    pub followers: usize,
    pub backlog_drained_ms: f64,
    /// From the publish response until no feed job was left (polled every 5 ms).
    pub fanned_out_ms: f64,
    /// Followers whose first page did not show the post once the fan-out was done.
    pub unseen: usize,
}

/// Publishes one post by the hot author (once earlier fan-outs have drained), times its fan-out
/// job, then reads every follower's first page: all must show the post.
pub async fn check(
    client: &reqwest::Client,
    base: &str,
    followers: &Followers,
    maker: &PostMaker,
) -> anyhow::Result<Visibility> {
    let backlog = feed_jobs_drained(client, base, Duration::from_secs(600)).await?;
    let post = maker.publish(client, base).await?;
    let published = Instant::now();
    feed_jobs_drained(client, base, Duration::from_secs(60)).await?;
    let fanned_out = published.elapsed();
    let polls = futures::stream::iter(&followers.tokens)
        .map(|token| {
            let post = post.clone();
            async move {
                let page = first_page(client, base, token).await?;
                anyhow::Ok(
                    page["items"]
                        .as_array()
                        .is_some_and(|items| items.iter().any(|p| p["id"] == json!(post))),
                )
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    let mut unseen = 0;
    for shown in polls {
        if !shown? {
            unseen += 1;
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    Ok(Visibility {
        followers: followers.tokens.len(),
        backlog_drained_ms: ms(backlog),
        fanned_out_ms: ms(fanned_out),
        unseen,
    })
}

pub fn to_json(visibility: &Visibility) -> Value {
    json!({"followers": visibility.followers,
           "backlog_drained_ms": visibility.backlog_drained_ms,
           "fanned_out_ms": visibility.fanned_out_ms, "unseen": visibility.unseen})
}

pub fn print_line(visibility: &Visibility) {
    println!(
        "new post by the hot author: in all {} followers' timelines {:.0} ms after the publish response \
         ({} first pages did not show it afterwards); the earlier posts' fan-out backlog took {:.0} ms to drain",
        visibility.followers,
        visibility.fanned_out_ms,
        visibility.unseen,
        visibility.backlog_drained_ms
    );
}
