//! A bounded mixed load against a running fleet: sign-ups, posts with real photos, follows,
//! likes, comments, feed reads and messages. Prints what was done, every 5xx, each process's
//! peak resident memory during warm-up and after it, and how long the job queue took to drain;
//! fails when a 5xx was seen, memory grew by more than `max_growth`, or jobs stayed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use tokio::sync::Mutex;

use super::api::{Account, Api, CallFailed, Reply, photo};
use super::{Fleet, resident};

pub struct Settings {
    pub url: String,
    pub fleet: Fleet,
    pub duration: Duration,
    pub concurrency: usize,
    /// Largest allowed growth of any process's resident memory after warm-up (0.10 = 10 %).
    pub max_growth: f64,
}

#[derive(Default)]
struct Tally {
    /// Per action: (requests, failures that were not 5xx, 5xx).
    actions: BTreeMap<&'static str, (u64, u64, u64)>,
    server_errors: Vec<String>,
}

impl Tally {
    fn record(&mut self, action: &'static str, reply: &Reply) {
        let entry = self.actions.entry(action).or_default();
        entry.0 += 1;
        match reply.status {
            Some(status) if status.is_server_error() => {
                entry.2 += 1;
                self.server_errors
                    .push(format!("{action}: {}", reply.describe()));
            }
            Some(status) if status.is_success() => {}
            _ => entry.1 += 1,
        }
    }
}

struct Shared {
    accounts: Vec<Account>,
    posts: Vec<String>,
}

pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let api = Api::new(&settings.url)?;
    let run = uuid::Uuid::now_v7().simple().to_string()[20..].to_owned();
    let mut accounts = Vec::new();
    for i in 0..settings.concurrency.max(2) {
        accounts.push(api.sign_up(&format!("soak{i}_{run}")).await?);
    }
    let shared = Arc::new(Mutex::new(Shared {
        accounts,
        posts: Vec::new(),
    }));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let processes: Vec<(String, u32)> = settings
        .fleet
        .running()?
        .into_iter()
        .filter(|(_, role, _)| role == "api" || role == "worker")
        .map(|(name, _, pid)| (name, pid))
        .collect();
    ensure!(!processes.is_empty(), "no fleet process is running");

    let started = Instant::now();
    let settings_duration = settings.duration;
    // A third of the run, at least 20 s: long enough for the caches to fill.
    let warm_up = (settings.duration / 3).max(Duration::from_secs(20));
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..settings.concurrency {
        let (api, shared, tally, run) = (api.clone(), shared.clone(), tally.clone(), run.clone());
        let duration = settings.duration;
        tasks.spawn(async move {
            let mut rng = StdRng::seed_from_u64(task as u64);
            let mut n = 0u32;
            while started.elapsed() < duration {
                n += 1;
                let (action, reply) = act(&api, &shared, &mut rng, task, n, &run).await;
                tally.lock().await.record(action, &reply);
            }
        });
    }
    // Resident memory twice a second: the peak during warm-up (caches filling, password
    // hashing's buffers) against the peak after it.
    let pids: Vec<u32> = processes.iter().map(|(_, pid)| *pid).collect();
    let sampler = tokio::spawn(async move {
        let (mut warm, mut after) = (vec![0u64; pids.len()], vec![0u64; pids.len()]);
        while started.elapsed() < settings_duration {
            let peaks = if started.elapsed() < warm_up {
                &mut warm
            } else {
                &mut after
            };
            for (peak, pid) in peaks.iter_mut().zip(&pids) {
                *peak = (*peak).max(resident(*pid));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        (warm, after)
    });
    while tasks.join_next().await.is_some() {}
    let elapsed = started.elapsed();
    let (warm, end) = sampler.await?;
    let drained = api.drain(Duration::from_secs(120)).await;

    let tally = tally.lock().await;
    let total: u64 = tally.actions.values().map(|(n, _, _)| n).sum();
    println!(
        "soak: {} s, {} clients, {total} requests ({:.0}/s)",
        elapsed.as_secs(),
        settings.concurrency,
        total as f64 / elapsed.as_secs_f64()
    );
    println!("| action | done | refused (4xx, no reply) | 5xx |\n|---|---:|---:|---:|");
    for (action, (n, refused, errors)) in &tally.actions {
        println!("| {action} | {n} | {refused} | {errors} |");
    }
    let mut worst: f64 = 0.0;
    println!(
        "| process | peak RSS in warm-up ({} s) | peak RSS after | growth |\n|---|---:|---:|---:|",
        warm_up.as_secs()
    );
    for ((name, _), (warm, end)) in processes.iter().zip(warm.iter().zip(&end)) {
        let growth = *end as f64 / (*warm).max(1) as f64 - 1.0;
        worst = worst.max(growth);
        println!(
            "| {name} | {:.1} MiB | {:.1} MiB | {:+.1} % |",
            *warm as f64 / 1048576.0,
            *end as f64 / 1048576.0,
            growth * 100.0
        );
    }
    match &drained {
        Ok(took) => println!(
            "job queue back to zero {:.1} s after the load",
            took.as_secs_f64()
        ),
        Err(err) => println!("job queue: {err}"),
    }
    ensure!(
        tally.server_errors.is_empty(),
        "{} 5xx replies, first: {}",
        tally.server_errors.len(),
        tally.server_errors[0]
    );
    ensure!(
        worst <= settings.max_growth,
        "resident memory grew {:.1} % after warm-up (bound {:.0} %)",
        worst * 100.0,
        settings.max_growth * 100.0
    );
    drained.map(drop)
}

/// One user action, chosen by weight.
async fn act(
    api: &Api,
    shared: &Mutex<Shared>,
    rng: &mut StdRng,
    task: usize,
    n: u32,
    run: &str,
) -> (&'static str, Reply) {
    let (me, other, post) = {
        let shared = shared.lock().await;
        let me = shared.accounts[task % shared.accounts.len()].clone();
        let other = shared.accounts[rng.random_range(0..shared.accounts.len())].clone();
        let post = (!shared.posts.is_empty())
            .then(|| shared.posts[rng.random_range(0..shared.posts.len())].clone());
        (me, other, post)
    };
    let roll = rng.random_range(0..100);
    match (roll, post) {
        (0..40, _) => ("feed", api.get("/v1/feed", Some(&me.token)).await),
        (40..48, Some(post)) => (
            "like",
            api.post(&format!("/v1/posts/{post}/like"), &me.token, json!({}))
                .await,
        ),
        (48..56, Some(post)) => (
            "comment",
            api.post(
                &format!("/v1/posts/{post}/comments"),
                &me.token,
                json!({"text": format!("soak {task} {n}")}),
            )
            .await,
        ),
        (56..62, _) => (
            "follow",
            api.post(
                &format!("/v1/users/{}/follow", other.id),
                &me.token,
                json!({}),
            )
            .await,
        ),
        (62..72, _) => (
            "profile",
            api.get(&format!("/v1/users/{}", other.id), Some(&me.token))
                .await,
        ),
        (72..80, _) if other.id != me.id => ("message", message(api, &me, &other, n).await),
        (80..83, _) => {
            let handle = format!("soaknew{task}x{n}_{run}");
            match api.sign_up(&handle).await {
                Ok(account) => {
                    shared.lock().await.accounts.push(account);
                    ("sign_up", ok_reply())
                }
                Err(err) => ("sign_up", failed_reply(&err)),
            }
        }
        _ => match post_photo(api, &me, task as u32 * 100_000 + n).await {
            Ok(post) => {
                let mut shared = shared.lock().await;
                if shared.posts.len() < 1000 {
                    shared.posts.push(post);
                }
                ("post", ok_reply())
            }
            Err(err) => ("post", failed_reply(&err)),
        },
    }
}

async fn message(api: &Api, me: &Account, other: &Account, n: u32) -> Reply {
    let conversation = api
        .post(
            "/v1/conversations",
            &me.token,
            json!({"participant_ids": [other.id]}),
        )
        .await;
    let Some(id) = conversation.body["id"].as_str().map(str::to_owned) else {
        return conversation;
    };
    api.post(
        &format!("/v1/conversations/{id}/messages"),
        &me.token,
        json!({"text": format!("hello {n}"), "client_message_id": uuid::Uuid::now_v7().to_string()}),
    )
    .await
}

/// Uploads a real photo, waits for it to be processed and posts it; the post's id.
async fn post_photo(api: &Api, me: &Account, seed: u32) -> anyhow::Result<String> {
    let bytes = tokio::task::spawn_blocking(move || photo(seed, 1024, 768)).await?;
    let upload = api.upload(&me.token, bytes).await?;
    let status = api
        .processed(&me.token, &upload, Duration::from_secs(30))
        .await;
    ensure!(status == "ready", "the photo is {status}");
    let post = api.create_post(&me.token, &upload, "soak").await;
    ensure!(post.ok(), "post: {}", post.describe());
    Ok(post.body["id"].as_str().context("post id")?.to_owned())
}

fn ok_reply() -> Reply {
    Reply {
        status: Some(reqwest::StatusCode::OK),
        body: serde_json::Value::Null,
        content_type: String::new(),
        elapsed: Duration::ZERO,
    }
}

/// A multi-step action that failed: the status of the call that failed, or a 500 when the
/// server failed a step it should have done (a valid photo not processed).
fn failed_reply(err: &anyhow::Error) -> Reply {
    let status = match err.downcast_ref::<CallFailed>() {
        Some(failed) => failed.status,
        None => Some(reqwest::StatusCode::INTERNAL_SERVER_ERROR),
    };
    Reply {
        status,
        body: serde_json::Value::String(err.to_string()),
        content_type: String::new(),
        elapsed: Duration::ZERO,
    }
}
