//! A client of the public API, as an app would use it: accounts by sign-up and login, photos
//! through the upload ticket, posts, follows, likes, comments, messages.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub const PASSWORD: &str = "correct horse battery staple";

#[derive(Clone)]
pub struct Api {
    pub client: reqwest::Client,
    pub base: String,
}

#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub handle: String,
    pub token: String,
}

/// What one call came back with; `status` is `None` when no response arrived (connection
/// refused or reset, timeout).
#[derive(Debug)]
pub struct Reply {
    pub status: Option<StatusCode>,
    pub body: Value,
    pub content_type: String,
    pub elapsed: Duration,
}

impl Reply {
    pub fn ok(&self) -> bool {
        self.status.is_some_and(|status| status.is_success())
    }

    pub fn is(&self, status: u16) -> bool {
        self.status.is_some_and(|s| s.as_u16() == status)
    }

    /// A 503 `unavailable` problem+json, as the API answers while a dependency is away.
    pub fn is_unavailable_problem(&self) -> bool {
        self.is(503)
            && self.content_type.starts_with("application/problem+json")
            && self.body["code"] == "unavailable"
    }

    pub fn describe(&self) -> String {
        match self.status {
            Some(status) => format!("{status} {}", self.body),
            None => format!("no response ({})", self.body),
        }
    }
}

/// A call that did not succeed, as an error (`status` is `None` when nothing answered).
#[derive(Debug)]
pub struct CallFailed {
    pub call: String,
    pub status: Option<StatusCode>,
    pub body: Value,
}

impl std::fmt::Display for CallFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            Some(status) => write!(f, "{}: {status} {}", self.call, self.body),
            None => write!(f, "{}: no response ({})", self.call, self.body),
        }
    }
}

impl std::error::Error for CallFailed {}

impl Api {
    pub fn new(base: &str) -> anyhow::Result<Self> {
        Ok(Self {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .connect_timeout(Duration::from_secs(2))
                .build()?,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let started = Instant::now();
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                let content_type = response
                    .headers()
                    .get("content-type")
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let body = response.json().await.unwrap_or(Value::Null);
                Reply {
                    status: Some(status),
                    body,
                    content_type,
                    elapsed: started.elapsed(),
                }
            }
            Err(err) => Reply {
                status: None,
                body: Value::String(err.to_string()),
                content_type: String::new(),
                elapsed: started.elapsed(),
            },
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    /// `path`'s reply, which must be a success.
    pub async fn expect(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let reply = self.call(method.clone(), path, token, body).await;
        if !reply.ok() {
            return Err(CallFailed {
                call: format!("{method} {path}"),
                status: reply.status,
                body: reply.body,
            }
            .into());
        }
        Ok(reply.body)
    }

    pub async fn sign_up(&self, handle: &str) -> anyhow::Result<Account> {
        let user = self
            .expect(
                Method::POST,
                "/v1/users",
                None,
                Some(
                    json!({"handle": handle, "email": format!("{handle}@example.com"),
                    "password": PASSWORD}),
                ),
            )
            .await?;
        let token = self.log_in(handle).await?;
        Ok(Account {
            id: user["id"].as_str().context("user id")?.to_owned(),
            handle: handle.to_owned(),
            token,
        })
    }

    pub async fn log_in(&self, handle: &str) -> anyhow::Result<String> {
        let tokens = self
            .expect(
                Method::POST,
                "/v1/auth/token",
                None,
                Some(json!({"grant_type": "password", "login": handle, "password": PASSWORD})),
            )
            .await?;
        Ok(tokens["access_token"]
            .as_str()
            .context("access token")?
            .to_owned())
    }

    /// Asks for a ticket, sends the bytes where it says and completes the upload; returns the
    /// upload id (also the media id once ready).
    pub async fn upload(&self, token: &str, jpeg: Vec<u8>) -> anyhow::Result<String> {
        let ticket = self
            .expect(
                Method::POST,
                "/v1/media/upload",
                Some(token),
                Some(
                    json!({"content_type": "image/jpeg", "size_bytes": jpeg.len(),
                    "purpose": "post"}),
                ),
            )
            .await?;
        let mut put = self
            .client
            .put(ticket["upload_url"].as_str().context("upload_url")?);
        for (name, value) in ticket["upload_headers"].as_object().into_iter().flatten() {
            put = put.header(name.as_str(), value.as_str().unwrap_or_default());
        }
        let sent = put.body(jpeg).send().await;
        let status = sent.as_ref().ok().map(|response| response.status());
        if !status.is_some_and(|status| status.is_success()) {
            let body = sent
                .err()
                .map_or(Value::Null, |err| Value::String(err.to_string()));
            return Err(CallFailed {
                call: "upload PUT".into(),
                status,
                body,
            }
            .into());
        }
        let id = ticket["upload_id"]
            .as_str()
            .context("upload_id")?
            .to_owned();
        self.expect(
            Method::POST,
            &format!("/v1/media/upload/{id}/complete"),
            Some(token),
            Some(json!({})),
        )
        .await?;
        Ok(id)
    }

    /// The upload's status once it is `ready` or `failed`, or after `limit`.
    pub async fn processed(&self, token: &str, upload: &str, limit: Duration) -> String {
        let started = Instant::now();
        loop {
            let reply = self
                .get(&format!("/v1/media/upload/{upload}/status"), Some(token))
                .await;
            let status = reply.body["status"]
                .as_str()
                .unwrap_or("unknown")
                .to_owned();
            if status == "ready" || status == "failed" || started.elapsed() > limit {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn create_post(&self, token: &str, media: &str, caption: &str) -> Reply {
        self.post(
            "/v1/posts",
            token,
            json!({"media_ids": [media], "caption": caption, "visibility": "public"}),
        )
        .await
    }

    pub async fn follow(&self, follower: &Account, followee: &Account) -> anyhow::Result<()> {
        self.expect(
            Method::POST,
            &format!("/v1/users/{}/follow", followee.id),
            Some(&follower.token),
            Some(json!({})),
        )
        .await
        .map(drop)
    }

    /// Every item of a cursor-paginated list (`items` and `next_cursor`), up to `limit` pages.
    pub async fn all_items(&self, path: &str, token: &str) -> anyhow::Result<Vec<Value>> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..100 {
            let separator = if path.contains('?') { '&' } else { '?' };
            let page_path = match &cursor {
                Some(cursor) => format!("{path}{separator}cursor={cursor}"),
                None => path.to_owned(),
            };
            let page = self
                .expect(Method::GET, &page_path, Some(token), None)
                .await?;
            items.extend(page["items"].as_array().cloned().unwrap_or_default());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return Ok(items),
            }
        }
        bail!("{path}: more than 100 pages")
    }

    /// Queued and running jobs, from `/metrics` (any instance answers for the whole fleet).
    pub async fn jobs_pending(&self) -> anyhow::Result<(f64, f64)> {
        self.jobs_of(None).await
    }

    /// Queued and running jobs of one kind (or of all), from `/metrics`.
    pub async fn jobs_of(&self, kind: Option<&str>) -> anyhow::Result<(f64, f64)> {
        let label = kind.map(|kind| format!("kind=\"{kind}\""));
        let text = self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .await?
            .text()
            .await?;
        let (mut queued, mut running) = (0.0, 0.0);
        for line in text
            .lines()
            .filter(|line| line.starts_with("picshare_jobs{"))
            .filter(|line| {
                label
                    .as_ref()
                    .is_none_or(|label| line.contains(label.as_str()))
            })
        {
            let value: f64 = line
                .rsplit(' ')
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0);
            if line.contains("state=\"queued\"") {
                queued += value;
            } else if line.contains("state=\"running\"") {
                running += value;
            }
        }
        Ok((queued, running))
    }

    /// Waits until no job is queued or running; how long that took.
    pub async fn drain(&self, limit: Duration) -> anyhow::Result<Duration> {
        let started = Instant::now();
        loop {
            if let Ok((0.0, 0.0)) = self.jobs_pending().await {
                return Ok(started.elapsed());
            }
            if started.elapsed() > limit {
                let pending = self.jobs_pending().await?;
                bail!("jobs still pending after {limit:?}: {pending:?} (queued, running)");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// A photo-sized JPEG (real codec), different for each `seed`.
pub fn photo(seed: u32, width: u32, height: u32) -> Vec<u8> {
    let mut image = picshare_media::samples::photo_like(width, height);
    // A corner stamp so no two uploads are the same bytes.
    for (i, pixel) in image.pixels_mut().take(64).enumerate() {
        pixel.0 = [(seed >> (i % 4 * 8)) as u8, i as u8, 7];
    }
    picshare_media::samples::jpeg_with_exif(&image, 85, 1, false)
}
