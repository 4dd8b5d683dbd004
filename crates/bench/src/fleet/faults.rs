//! Fault scenarios against a running fleet (`scripts/fleet-faults` starts it): each breaks
//! one process or dependency under load, checks what users saw while it was broken, and that
//! the fleet came back and left nothing half done.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use reqwest::Method;
use serde_json::json;

use super::Fleet;
use super::api::{Account, Api, photo};
use super::load::{Sample, steady, tally};

pub struct Settings {
    pub url: String,
    pub fleet: Fleet,
    /// The fleet's job lease (`PICSHARE_JOB_LEASE_SECS`): how long a dead worker's job waits.
    pub job_lease: Duration,
}

/// Who the scenarios act as: an author with a post, and the accounts that load the fleet.
struct Cast {
    author: Account,
    post: String,
    crowd: Vec<Account>,
}

pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let api = Api::new(&settings.url)?;
    let run = &uuid::Uuid::now_v7().simple().to_string()[20..];
    let cast = cast(&api, run).await?;
    println!("fleet faults against {} (run {run})", settings.url);
    api_killed(&api, &settings, &cast)
        .await
        .context("API process killed")?;
    worker_killed(&api, &settings, &cast, run)
        .await
        .context("worker killed mid-job")?;
    database_restarted(&api, &settings, &cast)
        .await
        .context("PostgreSQL restarted")?;
    redis_stopped(&api, &settings, &cast)
        .await
        .context("Redis stopped")?;
    storage_stopped(&api, &settings, &cast)
        .await
        .context("S3 stopped")?;
    let fixed = settings.fleet.batch_fixed("recount")?;
    ensure!(
        fixed == 0,
        "recount fixed {fixed} counters after the faults"
    );
    println!("after every fault: recount found every counter right");
    Ok(())
}

async fn cast(api: &Api, run: &str) -> anyhow::Result<Cast> {
    let author = api.sign_up(&format!("author_{run}")).await?;
    let upload = api.upload(&author.token, photo(1, 640, 480)).await?;
    let status = api
        .processed(&author.token, &upload, Duration::from_secs(30))
        .await;
    ensure!(status == "ready", "the author's photo is {status}");
    let post = api.create_post(&author.token, &upload, "faults").await;
    ensure!(post.ok(), "post: {}", post.describe());
    let mut crowd = Vec::new();
    for i in 0..6 {
        let account = api.sign_up(&format!("crowd{i}_{run}")).await?;
        api.follow(&account, &author).await?;
        crowd.push(account);
    }
    Ok(Cast {
        author,
        post: post.body["id"].as_str().context("post id")?.to_owned(),
        crowd,
    })
}

/// An action on the fleet (blocking: it runs `scripts/fleet`) and how far into the load.
type Fault = (Duration, Box<dyn FnOnce() -> anyhow::Result<()> + Send>);

/// Runs each fault at its time during a load of `duration`; when each had taken effect.
async fn under_load(
    api: &Api,
    cast: &Cast,
    tag: &str,
    duration: Duration,
    faults: Vec<Fault>,
) -> anyhow::Result<(Vec<Sample>, Vec<Duration>)> {
    let started = Instant::now();
    let load = steady(api, &cast.crowd, &cast.post, tag, duration);
    let actions = tokio::task::spawn_blocking(move || {
        let mut at = Vec::new();
        for (after, fault) in faults {
            std::thread::sleep(after.saturating_sub(started.elapsed()));
            fault()?;
            // When it had taken effect: the process dead, the server stopped or back.
            at.push(started.elapsed());
        }
        anyhow::Ok(at)
    });
    let samples = load.await;
    let at = actions.await??;
    Ok((samples, at))
}

/// Every comment that succeeded is on the post once; the post's count is what its list holds.
async fn comments_consistent(api: &Api, cast: &Cast, samples: &[Sample]) -> anyhow::Result<String> {
    let listed = api
        .all_items(
            &format!("/v1/posts/{}/comments?limit=100", cast.post),
            &cast.author.token,
        )
        .await?;
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for comment in &listed {
        *seen
            .entry(comment["text"].as_str().unwrap_or_default())
            .or_default() += 1;
    }
    let mut answered_ok = 0;
    let mut unknown_done = 0;
    let mut unknown = 0;
    for sample in samples.iter().filter(|s| s.kind == "comment") {
        let text = sample.comment.as_deref().unwrap_or_default();
        let count = seen.get(text).copied().unwrap_or(0);
        ensure!(count <= 1, "comment {text} is on the post {count} times");
        if sample.reply.ok() {
            answered_ok += 1;
            ensure!(count == 1, "comment {text} was acknowledged but is missing");
        } else if sample.reply.status.is_none() {
            unknown += 1;
            unknown_done += count;
        } else {
            ensure!(
                count == 0,
                "comment {text} was refused ({}) but exists",
                sample.reply.describe()
            );
        }
    }
    let post = api
        .expect(
            Method::GET,
            &format!("/v1/posts/{}", cast.post),
            Some(&cast.author.token),
            None,
        )
        .await?;
    ensure!(
        post["comment_count"].as_u64() == Some(listed.len() as u64),
        "the post counts {} comments and lists {}",
        post["comment_count"],
        listed.len()
    );
    Ok(format!(
        "{answered_ok} acknowledged comments all present once; of {unknown} unanswered, {unknown_done} done and {} not; comment_count matches",
        unknown - unknown_done
    ))
}

async fn api_killed(api: &Api, settings: &Settings, cast: &Cast) -> anyhow::Result<()> {
    let (fleet, restart) = (settings.fleet.clone(), settings.fleet.clone());
    let port = reqwest::Url::parse(&settings.url)?
        .port_or_known_default()
        .context("the fleet's port")?;
    let held = std::sync::Arc::new(std::sync::Mutex::new(0usize));
    let held_at_kill = held.clone();
    let (samples, at) = under_load(
        api,
        cast,
        "kill-api",
        Duration::from_secs(8),
        vec![
            (
                Duration::from_secs(2),
                Box::new(move || {
                    // The clients' connections the process holds as it dies.
                    if let Ok(count) = fleet.connections("api-1", port) {
                        *held_at_kill.lock().unwrap_or_else(|e| e.into_inner()) = count;
                    }
                    fleet.kill("api-1")
                }),
            ),
            (
                Duration::from_secs(5),
                Box::new(move || restart.start("api-1")),
            ),
        ],
    )
    .await?;
    let killed = at[0];
    let held = *held.lock().unwrap_or_else(|e| e.into_inner());
    ensure!(
        held > 0,
        "api-1 served no client connection when it was killed"
    );
    // Requests already on the dead process's connections may go unanswered; none may fail
    // with an error status, and every request sent a moment after the kill succeeds.
    let failed: Vec<_> = samples
        .iter()
        .filter(|s| s.reply.status.is_some() && !s.reply.ok())
        .collect();
    ensure!(
        failed.is_empty(),
        "error replies: {:?}",
        failed.first().map(|s| s.reply.describe())
    );
    let settled = killed + Duration::from_millis(500);
    let late: Vec<_> = samples.iter().filter(|s| s.sent >= settled).collect();
    let late_failed: Vec<_> = late.iter().filter(|s| !s.reply.ok()).collect();
    ensure!(
        late_failed.is_empty(),
        "{} of {} requests sent 0.5 s or more after the kill (at {killed:?}) failed: {:?}",
        late_failed.len(),
        late.len(),
        late_failed
            .iter()
            .take(3)
            .map(|s| format!("{} at {:?}: {}", s.kind, s.sent, s.reply.describe()))
            .collect::<Vec<_>>()
    );
    let all: Vec<_> = samples.iter().collect();
    println!(
        "kill -9 api-1 (holding {held} client connections) under load: {}",
        tally(&all)
    );
    println!(
        "  after the kill: {} requests, all answered by api-2 (and api-1 once restarted)",
        late.len()
    );
    println!("  {}", comments_consistent(api, cast, &samples).await?);
    Ok(())
}

async fn worker_killed(
    api: &Api,
    settings: &Settings,
    cast: &Cast,
    run: &str,
) -> anyhow::Result<()> {
    let fleet = &settings.fleet;
    // Ready photos for the posts whose fan-out the dead worker will leave half done.
    let mut ready = Vec::new();
    for i in 0..4 {
        let upload = api
            .upload(&cast.author.token, photo(100 + i, 640, 480))
            .await?;
        ensure!(
            api.processed(&cast.author.token, &upload, Duration::from_secs(30))
                .await
                == "ready",
            "photo {i} not processed"
        );
        ready.push(upload);
    }
    fleet.stop("worker-1")?;
    fleet.stop("worker-2")?;
    // A backlog: large photos to process, posts to fan out, comments to notify.
    let mut uploads = Vec::new();
    for i in 0..4 {
        let bytes = tokio::task::spawn_blocking(move || photo(200 + i, 4000, 3000)).await?;
        uploads.push(api.upload(&cast.author.token, bytes).await?);
    }
    let mut posts = Vec::new();
    for (i, media) in ready.iter().enumerate() {
        let post = api
            .create_post(&cast.author.token, media, &format!("backlog {i} {run}"))
            .await;
        ensure!(post.ok(), "post: {}", post.describe());
        posts.push(post.body["id"].as_str().context("post id")?.to_owned());
    }
    let mut comments = Vec::new();
    for (i, account) in cast.crowd.iter().enumerate() {
        let comment = api
            .post(
                &format!("/v1/posts/{}/comments", posts[0]),
                &account.token,
                json!({"text": format!("notify {i}")}),
            )
            .await;
        ensure!(comment.ok(), "comment: {}", comment.describe());
        comments.push(
            comment.body["id"]
                .as_str()
                .context("comment id")?
                .to_owned(),
        );
    }
    // One worker takes jobs; it is killed as soon as it processes a photo (the longest jobs:
    // quicker ones could all be done in the moment the kill takes).
    fleet.start("worker-1")?;
    let claimed = Instant::now();
    loop {
        let (_, photos) = api.jobs_of(Some(picshare_app::jobs::PROCESS_MEDIA)).await?;
        if photos > 0.0 {
            break;
        }
        ensure!(
            claimed.elapsed() < Duration::from_secs(20),
            "no photo started"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    fleet.kill("worker-1")?;
    let (queued, running_after) = api.jobs_pending().await?;
    ensure!(running_after > 0.0, "the killed worker held no job");
    fleet.start("worker-1")?;
    fleet.start("worker-2")?;
    let drained = api
        .drain(settings.job_lease + Duration::from_secs(90))
        .await?;
    for upload in &uploads {
        let status = api
            .processed(&cast.author.token, upload, Duration::from_secs(5))
            .await;
        ensure!(
            status == "ready",
            "upload {upload} is {status} after the restart"
        );
    }
    for follower in &cast.crowd {
        let feed = api
            .expect(
                Method::GET,
                "/v1/feed?limit=50",
                Some(&follower.token),
                None,
            )
            .await?;
        let ids: Vec<&str> = feed["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|post| post["id"].as_str())
            .collect();
        for post in &posts {
            let times = ids.iter().filter(|id| *id == post).count();
            ensure!(
                times == 1,
                "post {post} is in @{}'s feed {times} times",
                follower.handle
            );
        }
    }
    let notifications = api
        .all_items("/v1/notifications?limit=100", &cast.author.token)
        .await?;
    for comment in &comments {
        let times = notifications
            .iter()
            .filter(|n| n["type"] == "comment" && n["comment_id"].as_str() == Some(comment))
            .count();
        ensure!(times == 1, "comment {comment} notified {times} times");
    }
    println!(
        "kill -9 worker-1 holding {running_after:.0} running jobs ({queued:.0} still queued): the queue drained {:.1} s later (lease {} s)",
        drained.as_secs_f64(),
        settings.job_lease.as_secs()
    );
    println!(
        "  {} photos ready, {} posts once in each of {} feeds, {} comment notifications once each",
        uploads.len(),
        posts.len(),
        cast.crowd.len(),
        comments.len()
    );
    Ok(())
}

/// The replies while a dependency was away must be successes or 503 problems, answered in time.
fn only_ok_or_unavailable(samples: &[&Sample], limit: Duration) -> anyhow::Result<()> {
    for sample in samples {
        let acceptable = sample.reply.ok() || sample.reply.is_unavailable_problem();
        ensure!(
            acceptable,
            "{} answered {}",
            sample.kind,
            sample.reply.describe()
        );
        ensure!(
            sample.reply.elapsed <= limit,
            "{} took {:?} (a hang)",
            sample.kind,
            sample.reply.elapsed
        );
    }
    Ok(())
}

/// How long after `since` the last failed request was sent (the recovery time).
fn recovered_after(samples: &[Sample], since: Duration) -> Duration {
    samples
        .iter()
        .filter(|s| s.sent >= since && !s.reply.ok())
        .map(|s| s.sent - since)
        .max()
        .unwrap_or_default()
}

async fn database_restarted(api: &Api, settings: &Settings, cast: &Cast) -> anyhow::Result<()> {
    let (stop, start) = (settings.fleet.clone(), settings.fleet.clone());
    let probe = api.clone();
    let readiness = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(4)).await;
        probe.get("/readyz", None).await
    });
    let (samples, at) = under_load(
        api,
        cast,
        "restart-db",
        Duration::from_secs(16),
        vec![
            (
                Duration::from_secs(2),
                Box::new(move || stop.stop("postgres")),
            ),
            (
                Duration::from_secs(9),
                Box::new(move || start.start("postgres")),
            ),
        ],
    )
    .await?;
    let (stopped, started) = (at[0], at[1]);
    let all: Vec<_> = samples.iter().collect();
    only_ok_or_unavailable(&all, Duration::from_secs(6))?;
    // Answered while it was away (a request waits up to the pool's 3 s for a connection).
    let during: Vec<_> = samples
        .iter()
        .filter(|s| {
            let answered = s.sent + s.reply.elapsed;
            answered > stopped + Duration::from_millis(500) && answered < started
        })
        .collect();
    let refused = during
        .iter()
        .filter(|s| s.reply.is_unavailable_problem())
        .count();
    ensure!(refused > 0, "no request saw the database away");
    let ready = readiness.await?;
    ensure!(
        ready.is_unavailable_problem() && ready.body["checks"]["database"] == "unavailable",
        "/readyz while the database was away: {}",
        ready.describe()
    );
    let recovery = recovered_after(&samples, started);
    ensure!(
        recovery < Duration::from_secs(5),
        "requests still failed {recovery:?} after the database returned"
    );
    println!(
        "PostgreSQL stopped for {:.1} s under load: {}",
        (started - stopped).as_secs_f64(),
        tally(&all)
    );
    println!(
        "  while away: {} requests, {refused} answered 503 unavailable, /readyz 503 naming the database; every request {:.1} s after its return succeeded",
        during.len(),
        recovery.as_secs_f64()
    );
    println!("  {}", comments_consistent(api, cast, &samples).await?);
    Ok(())
}

async fn redis_stopped(api: &Api, settings: &Settings, cast: &Cast) -> anyhow::Result<()> {
    let fleet = &settings.fleet;
    let reader = &cast.crowd[0];
    fleet.stop("redis")?;
    let stopped = Instant::now();
    let ready = api.get("/readyz", None).await;
    ensure!(
        ready.is_unavailable_problem() && ready.body["checks"]["redis"] == "unavailable",
        "/readyz without Redis: {}",
        ready.describe()
    );
    let mut reads = 0;
    let mut likes = 0;
    while stopped.elapsed() < Duration::from_secs(4) {
        let feed = api.get("/v1/feed", Some(&reader.token)).await;
        ensure!(feed.ok(), "feed without Redis: {}", feed.describe());
        let post = api
            .get(&format!("/v1/posts/{}", cast.post), Some(&reader.token))
            .await;
        ensure!(post.ok(), "post without Redis: {}", post.describe());
        reads += 2;
        // A limited write: quotas are counted in each process meanwhile (docs/api.md).
        let like = api
            .post(
                &format!("/v1/posts/{}/like", cast.post),
                &reader.token,
                json!({}),
            )
            .await;
        ensure!(like.ok(), "like without Redis: {}", like.describe());
        likes += 1;
    }
    // Logins are not let through unthrottled.
    let login = api
        .call(
            Method::POST,
            "/v1/auth/token",
            None,
            Some(json!({"grant_type": "password", "login": reader.handle,
                "password": super::api::PASSWORD})),
        )
        .await;
    ensure!(
        login.is_unavailable_problem(),
        "login without Redis: {}",
        login.describe()
    );
    fleet.start("redis")?;
    let returned = Instant::now();
    loop {
        let ready = api.get("/readyz", None).await;
        let login = api.log_in(&reader.handle).await;
        if ready.ok() && login.is_ok() {
            break;
        }
        ensure!(
            returned.elapsed() < Duration::from_secs(10),
            "not recovered 10 s after Redis returned: {}",
            ready.describe()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "Redis stopped: {reads} reads and {likes} likes succeeded, login 503 unavailable, /readyz 503 naming redis; all back {:.1} s after its return",
        returned.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn storage_stopped(api: &Api, settings: &Settings, cast: &Cast) -> anyhow::Result<()> {
    let fleet = &settings.fleet;
    let token = &cast.author.token;
    // An upload whose processing will be due while the bucket is away.
    fleet.stop("worker-1")?;
    fleet.stop("worker-2")?;
    let queued = api.upload(token, photo(300, 800, 600)).await?;
    // An upload whose bytes cannot be sent or confirmed while the bucket is away.
    let ticket = api
        .expect(
            Method::POST,
            "/v1/media/upload",
            Some(token),
            Some(
                json!({"content_type": "image/jpeg", "size_bytes": photo(301, 800, 600).len(),
                "purpose": "post"}),
            ),
        )
        .await?;
    let pending = ticket["upload_id"]
        .as_str()
        .context("upload id")?
        .to_owned();
    fleet.stop("s3")?;
    fleet.start("worker-1")?;
    fleet.start("worker-2")?;
    let complete = api
        .post(
            &format!("/v1/media/upload/{pending}/complete"),
            token,
            json!({}),
        )
        .await;
    ensure!(
        complete.is_unavailable_problem(),
        "completing an upload without the bucket: {}",
        complete.describe()
    );
    let status = api
        .get(&format!("/v1/media/upload/{pending}/status"), Some(token))
        .await;
    ensure!(
        status.body["status"] == "pending",
        "the refused upload is {}",
        status.describe()
    );
    let ready = api.get("/readyz", None).await;
    ensure!(
        ready.is_unavailable_problem() && ready.body["checks"]["storage"] == "unavailable",
        "/readyz without the bucket: {}",
        ready.describe()
    );
    let feed = api.get("/v1/feed", Some(&cast.crowd[0].token)).await;
    ensure!(feed.ok(), "feed without the bucket: {}", feed.describe());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let waiting = api
        .processed(token, &queued, Duration::from_millis(10))
        .await;
    ensure!(waiting != "ready", "processed without the bucket");
    fleet.start("s3")?;
    let returned = Instant::now();
    // The refused upload goes through once the bucket is back, as a client retrying would.
    let bytes = photo(301, 800, 600);
    let mut put = api
        .client
        .put(ticket["upload_url"].as_str().context("upload_url")?);
    for (name, value) in ticket["upload_headers"].as_object().into_iter().flatten() {
        put = put.header(name.as_str(), value.as_str().unwrap_or_default());
    }
    let sent = put.body(bytes).send().await?;
    ensure!(
        sent.status().is_success(),
        "upload PUT after the return: {}",
        sent.status()
    );
    let complete = api
        .post(
            &format!("/v1/media/upload/{pending}/complete"),
            token,
            json!({}),
        )
        .await;
    ensure!(
        complete.ok(),
        "complete after the return: {}",
        complete.describe()
    );
    for upload in [&queued, &pending] {
        let status = api.processed(token, upload, Duration::from_secs(60)).await;
        ensure!(
            status == "ready",
            "upload {upload} is {status} after the bucket returned"
        );
    }
    println!(
        "S3 stopped: completing an upload answered 503 and left it pending, /readyz 503 naming storage, feeds served; both uploads ready {:.1} s after its return",
        returned.elapsed().as_secs_f64()
    );
    Ok(())
}
