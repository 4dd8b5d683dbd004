//! The fair writer: how long a user's like takes while an author with 2,000 followers (each
//! with a timeline) posts as fast as one client can, against the same likes with nobody posting.
//! On SQLite every write, the fan-out's included, goes through one writer at a time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use picshare_store::Store;

use crate::accounts::accounts;
use crate::driver::PostMaker;
use crate::fanout::{feed_jobs_drained, feed_jobs_waiting, first_page};
use crate::lifecycle::percentile;

pub struct Settings {
    pub followers: usize,
    /// Likes sent per second, one at a time.
    pub likes_rate: u32,
    /// How long each phase (idle, then during the posting) lasts.
    pub phase: Duration,
}

/// Authors of the posts that are liked.
const LIKED_POSTS: usize = 20;
/// Uploads made ready for the posting author: more than one client can post in a phase.
const AUTHOR_UPLOADS: usize = 20_000;

pub async fn run(
    client: &reqwest::Client,
    store: &Arc<dyn Store>,
    tokens: &picshare_app::TokenService,
    base: &str,
    database_url: &str,
    settings: &Settings,
) -> anyhow::Result<()> {
    let (author, author_token) = accounts(store, tokens, 1).await?.remove(0);
    let followers = accounts(store, tokens, settings.followers).await?;
    let posters = accounts(store, tokens, LIKED_POSTS).await?;
    futures::stream::iter(&followers)
        .map(|(_, token)| async move {
            client
                .post(format!("{base}/v1/users/{}/follow", author.0))
                .bearer_auth(token)
                .send()
                .await?
                .error_for_status()?;
            // A first read, so the follower has a timeline the fan-out must reach.
            first_page(client, base, token).await
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<Vec<_>>>()?;

    let mut media: Vec<(uuid::Uuid, uuid::Uuid)> = (0..AUTHOR_UPLOADS)
        .map(|_| (uuid::Uuid::now_v7(), author.0))
        .collect();
    media.extend(posters.iter().map(|(id, _)| (uuid::Uuid::now_v7(), id.0)));
    crate::load::ready_media(database_url, &media).await?;
    let mut liked_posts = Vec::with_capacity(LIKED_POSTS);
    for ((_, token), (upload, _)) in posters.iter().zip(&media[AUTHOR_UPLOADS..]) {
        let one = PostMaker {
            token: token.clone(),
            media: vec![*upload],
            next: AtomicUsize::new(0),
        };
        liked_posts.push(one.publish(client, base).await?);
    }
    feed_jobs_drained(client, base, Duration::from_secs(600)).await?;

    // Each like is a new (follower, post) pair: the first phase's likers come first.
    let mut pairs = followers
        .iter()
        .flat_map(|(_, token)| liked_posts.iter().map(move |post| (token, post)));
    let mut idle = likes(client, base, &mut pairs, settings).await?;

    let maker = PostMaker {
        token: author_token,
        media: media[..AUTHOR_UPLOADS].iter().map(|(id, _)| *id).collect(),
        next: AtomicUsize::new(0),
    };
    let stop = AtomicBool::new(false);
    let posting = async {
        let mut posted = 0_u64;
        while !stop.load(Ordering::Relaxed) {
            maker.publish(client, base).await?;
            posted += 1;
        }
        anyhow::Ok(posted)
    };
    let liking = async {
        let during = likes(client, base, &mut pairs, settings).await;
        stop.store(true, Ordering::Relaxed);
        during
    };
    let (posted, during) = tokio::join!(posting, liking);
    let (posted, mut during) = (posted?, during?);
    let backlog = feed_jobs_waiting(client, base).await.unwrap_or(0.0);
    let drain = Instant::now();
    feed_jobs_drained(client, base, Duration::from_secs(600)).await?;

    let seconds = settings.phase.as_secs_f64();
    println!(
        "{} posts by an author with {} followers, one at a time ({:.0}/s); fan-out backlog after: {backlog:.0} jobs, empty {:.1} s later",
        posted,
        followers.len(),
        posted as f64 / seconds,
        drain.elapsed().as_secs_f64()
    );
    println!(
        "| likes, {}/s, one at a time | count | p50 | p99 | max |",
        settings.likes_rate
    );
    println!("|---|---|---|---|---|");
    for (name, latencies) in [
        ("nobody posting", &mut idle),
        ("while the author posts", &mut during),
    ] {
        let (p50, p99) = (percentile(latencies, 50), percentile(latencies, 99));
        let max = latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        println!(
            "| {name} | {} | {p50:.2} ms | {p99:.2} ms | {max:.2} ms |",
            latencies.len()
        );
    }
    Ok(())
}

/// Likes one at a time at the settings' rate for one phase; how long each took.
async fn likes<'a>(
    client: &reqwest::Client,
    base: &str,
    pairs: &mut impl Iterator<Item = (&'a String, &'a String)>,
    settings: &Settings,
) -> anyhow::Result<Vec<Duration>> {
    let mut tick = tokio::time::interval(Duration::from_secs_f64(
        1.0 / f64::from(settings.likes_rate.max(1)),
    ));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut latencies = Vec::new();
    let started = Instant::now();
    while started.elapsed() < settings.phase {
        tick.tick().await;
        let Some((token, post)) = pairs.next() else {
            anyhow::bail!("out of (follower, post) pairs to like");
        };
        let sent = Instant::now();
        client
            .post(format!("{base}/v1/posts/{post}/like"))
            .bearer_auth(token)
            .send()
            .await?
            .error_for_status()?;
        latencies.push(sent.elapsed());
    }
    Ok(latencies)
}
