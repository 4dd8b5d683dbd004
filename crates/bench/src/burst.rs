//! The fan-out burst: an author whose followers all have timelines posts at a fixed rate while
//! other users like each other's posts. Measures whether the fan-out keeps up (its backlog during
//! the burst and how long it takes to clear after) and whether the likes' notifications, which
//! share the job queue with the fan-outs, still reach their recipients' sockets at once.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
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
use crate::driver::PostMaker;
use crate::fanout::{feed_jobs_drained, feed_jobs_waiting, first_page};

pub struct Burst {
    pub followers: usize,
    /// The author's posts per second.
    pub rate: u32,
    pub duration: Duration,
    /// Likes per second between the other users.
    pub likes_rate: u32,
}

/// Users whose posts are liked during the burst, each holding a socket.
const LIKED_USERS: usize = 50;

/// When a like was sent, and when its notification reached the post author's socket, by
/// (post, liker).
#[derive(Default)]
struct Likes {
    sent: HashMap<(String, String), Instant>,
    latency_micros: Vec<u64>,
}

pub async fn run(
    client: &reqwest::Client,
    store: &Arc<dyn Store>,
    tokens: &picshare_app::TokenService,
    urls: &[String],
    database_url: &str,
    users: &[(UserId, String)],
    burst: &Burst,
) -> anyhow::Result<Value> {
    let url = |i: usize| urls[i % urls.len()].as_str();
    let mut users = users.to_vec();
    if users.len() < burst.followers.max(LIKED_USERS * 2) {
        let more = burst.followers.max(LIKED_USERS * 2) - users.len();
        users.extend(accounts(store, tokens, more).await?);
    }
    let (author, author_token) = accounts(store, tokens, 1).await?.remove(0);
    let followers = &users[..burst.followers];
    futures::stream::iter(followers.iter().enumerate())
        .map(|(i, (_, token))| {
            let request = client
                .post(format!("{}/v1/users/{}/follow", url(i), author.0))
                .bearer_auth(token);
            async move { anyhow::Ok(request.send().await?.error_for_status()?) }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<Vec<_>>>()?;
    // Every follower reads its feed once, so each has a timeline the fan-out must reach.
    futures::stream::iter(followers.iter().enumerate())
        .map(|(i, (_, token))| first_page(client, url(i), token))
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<Vec<_>>>()?;

    let posts = burst.rate as usize * burst.duration.as_secs() as usize;
    let mut media: Vec<(uuid::Uuid, uuid::Uuid)> = (0..posts)
        .map(|_| (uuid::Uuid::now_v7(), author.0))
        .collect();
    media.extend(
        users[..LIKED_USERS]
            .iter()
            .map(|(id, _)| (uuid::Uuid::now_v7(), id.0)),
    );
    crate::load::ready_media(database_url, &media).await?;
    let maker = Arc::new(PostMaker {
        token: author_token,
        media: media[..posts].iter().map(|(id, _)| *id).collect(),
        next: AtomicUsize::new(0),
    });
    let mut liked_posts = Vec::with_capacity(LIKED_USERS);
    for (i, ((_, token), (media, _))) in
        users[..LIKED_USERS].iter().zip(&media[posts..]).enumerate()
    {
        let one = PostMaker {
            token: token.clone(),
            media: vec![*media],
            next: AtomicUsize::new(0),
        };
        liked_posts.push(one.publish(client, url(i)).await?);
    }

    let likes = Arc::new(Mutex::new(Likes::default()));
    let mut readers = Vec::new();
    for (i, (_, token)) in users[..LIKED_USERS].iter().enumerate() {
        let (socket, _) = tokio_tungstenite::connect_async(ws_request(url(i), token)?).await?;
        let (mut sink, mut stream) = socket.split();
        let likes = likes.clone();
        readers.push(tokio::spawn(async move {
            while let Some(Ok(frame)) = stream.next().await {
                match frame {
                    Message::Text(text) => {
                        let Ok(event) = serde_json::from_str::<Value>(&text) else {
                            continue;
                        };
                        let data = &event["data"];
                        if event["type"] != "notification.created" || data["type"] != "like" {
                            continue;
                        }
                        let key = (
                            data["post_id"].as_str().unwrap_or("").to_owned(),
                            data["actor"]["id"].as_str().unwrap_or("").to_owned(),
                        );
                        let mut likes = likes.lock().unwrap_or_else(|e| e.into_inner());
                        if let Some(at) = likes.sent.remove(&key) {
                            likes.latency_micros.push(at.elapsed().as_micros() as u64);
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
    feed_jobs_drained(client, url(0), Duration::from_secs(600)).await?;

    let post_errors = Arc::new(AtomicU64::new(0));
    let like_errors = Arc::new(AtomicU64::new(0));
    let (mut posting, mut liking) = (Vec::new(), Vec::new());
    let mut author_tick =
        tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(burst.rate.max(1))));
    let mut like_tick = tokio::time::interval(Duration::from_secs_f64(
        1.0 / f64::from(burst.likes_rate.max(1)),
    ));
    let mut sample_tick = tokio::time::interval(Duration::from_millis(500));
    let mut max_backlog = 0.0_f64;
    let mut liked: HashSet<(usize, usize)> = HashSet::new();
    let mut made = 0;
    let started = Instant::now();
    while started.elapsed() < burst.duration {
        tokio::select! {
            _ = author_tick.tick() => {
                if made == posts {
                    continue;
                }
                made += 1;
                let (client, maker, errors) = (client.clone(), maker.clone(), post_errors.clone());
                let base = url(made).to_owned();
                posting.push(tokio::spawn(async move {
                    let post = maker.publish(&client, &base).await;
                    if post.is_err() {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                    post.ok()
                }));
            }
            _ = like_tick.tick() => {
                let post = rand::rng().random_range(0..LIKED_USERS);
                let liker = rand::rng().random_range(LIKED_USERS..users.len());
                if !liked.insert((liker, post)) {
                    continue;
                }
                let (liker_id, token) = &users[liker];
                likes.lock().unwrap_or_else(|e| e.into_inner()).sent.insert(
                    (liked_posts[post].clone(), liker_id.0.to_string()),
                    Instant::now(),
                );
                let request = client
                    .post(format!("{}/v1/posts/{}/like", url(liker), liked_posts[post]))
                    .bearer_auth(token);
                let errors = like_errors.clone();
                liking.push(tokio::spawn(async move {
                    if !matches!(request.send().await, Ok(r) if r.status().is_success()) {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }));
            }
            _ = sample_tick.tick() => {
                max_backlog = max_backlog.max(feed_jobs_waiting(client, url(0)).await.unwrap_or(0.0));
            }
        }
    }
    let burst_seconds = started.elapsed().as_secs_f64();
    let mut newest = None;
    for post in posting {
        newest = newest.max(post.await.ok().flatten());
    }
    for like in liking {
        let _ = like.await;
    }
    let cleared = feed_jobs_drained(client, url(0), Duration::from_secs(300)).await?;
    // Sampled followers whose first page does not show the author's last post after the fan-out.
    let mut unseen = 0;
    for (i, (_, token)) in followers
        .iter()
        .enumerate()
        .step_by(followers.len() / 20 + 1)
    {
        let page = first_page(client, url(i), token).await?;
        let shown = page["items"]
            .as_array()
            .is_some_and(|items| items.iter().any(|p| p["id"].as_str() == newest.as_deref()));
        if !shown {
            unseen += 1;
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    for reader in readers {
        reader.abort();
    }
    let likes = likes.lock().unwrap_or_else(|e| e.into_inner());
    let mut latency = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    for micros in &likes.latency_micros {
        latency.record((*micros).max(1))?;
    }
    let ms = |q: f64| latency.value_at_quantile(q) as f64 / 1000.0;
    let like_errors = like_errors.load(Ordering::Relaxed);
    Ok(json!({
        "followers_with_timelines": followers.len(),
        "burst_seconds": burst_seconds,
        "posts": made,
        "post_errors": post_errors.load(Ordering::Relaxed),
        "max_fan_out_backlog_jobs": max_backlog,
        "fan_out_backlog_cleared_seconds_after_burst": cleared.as_secs_f64(),
        "sampled_followers_missing_the_author": unseen,
        "likes": {
            "sent": liked.len(),
            "errors": like_errors,
            "notified": likes.latency_micros.len(),
            "not_notified": likes.sent.len() as u64 - like_errors.min(likes.sent.len() as u64),
            "notification_latency_ms": {"p50": ms(0.5), "p99": ms(0.99), "max": latency.max() as f64 / 1000.0},
            "over_one_second": likes.latency_micros.iter().filter(|m| **m > 1_000_000).count(),
        },
    }))
}
