//! A steady load of reads and writes, every reply kept with when it was asked, so a fault
//! scenario can judge what happened before, during and after the fault.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::api::{Account, Api, Reply};

#[derive(Debug)]
pub struct Sample {
    /// When the request was sent, from the start of the load.
    pub sent: Duration,
    pub kind: &'static str,
    pub reply: Reply,
    /// The comment a write tried to add.
    pub comment: Option<String>,
}

/// Each account, in a task of its own until `duration` is over: reads its feed, comments on
/// `post`, reads `post`. Comment texts start with `tag`.
pub async fn steady(
    api: &Api,
    accounts: &[Account],
    post: &str,
    tag: &str,
    duration: Duration,
) -> Vec<Sample> {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (task, account) in accounts.iter().cloned().enumerate() {
        // Clients (connection pools) of each account's own, one per kind of request, as a
        // user's app holds a few connections: 3 per account spread over the API processes, so
        // that each process serves some of them (with one each, all 6 could hash to one).
        let client = || Api::new(&api.base).unwrap_or_else(|_| api.clone());
        let (feed_api, comment_api, post_api) = (client(), client(), client());
        let post = post.to_owned();
        let tag = Arc::<str>::from(tag);
        tasks.spawn(async move {
            let mut samples = Vec::new();
            let mut n = 0;
            while started.elapsed() < duration {
                let sent = started.elapsed();
                let reply = feed_api
                    .get("/v1/feed?limit=10", Some(&account.token))
                    .await;
                samples.push(Sample {
                    sent,
                    kind: "feed",
                    reply,
                    comment: None,
                });
                let text = format!("{tag}-{task}-{n}");
                n += 1;
                let sent = started.elapsed();
                let reply = comment_api
                    .post(
                        &format!("/v1/posts/{post}/comments"),
                        &account.token,
                        json!({ "text": text }),
                    )
                    .await;
                samples.push(Sample {
                    sent,
                    kind: "comment",
                    reply,
                    comment: Some(text),
                });
                let sent = started.elapsed();
                let reply = post_api
                    .get(&format!("/v1/posts/{post}"), Some(&account.token))
                    .await;
                samples.push(Sample {
                    sent,
                    kind: "post",
                    reply,
                    comment: None,
                });
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            samples
        });
    }
    let mut samples = Vec::new();
    while let Some(done) = tasks.join_next().await {
        samples.extend(done.unwrap_or_default());
    }
    samples.sort_by_key(|sample| sample.sent);
    samples
}

/// Requests, successes, 503 problems, other failures and no-response, as a line.
pub fn tally(samples: &[&Sample]) -> String {
    let ok = samples.iter().filter(|s| s.reply.ok()).count();
    let unavailable = samples
        .iter()
        .filter(|s| s.reply.is_unavailable_problem())
        .count();
    let unanswered = samples.iter().filter(|s| s.reply.status.is_none()).count();
    let other = samples.len() - ok - unavailable - unanswered;
    let slowest = samples
        .iter()
        .map(|s| s.reply.elapsed)
        .max()
        .unwrap_or_default();
    format!(
        "{} requests: {ok} ok, {unavailable} × 503 unavailable, {other} other, {unanswered} unanswered; slowest {:.0} ms",
        samples.len(),
        slowest.as_secs_f64() * 1000.0
    )
}
