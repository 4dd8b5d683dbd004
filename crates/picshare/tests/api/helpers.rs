use std::sync::Arc;

use picshare::config::{RawConfig, Settings};
use picshare::startup::{self, ApiServer};
use picshare_app::App;
use picshare_app::worker::Worker;
use picshare_store::Store;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sqlx::Connection;
use tempfile::TempDir;
use uuid::Uuid;

pub const PASSWORD: &str = "correct horse battery staple";

/// A running server and what the test needs to talk to it.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub app: App,
    pub worker: Worker,
    pub config: RawConfig,
    _data: Arc<TempDir>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

const S3_BUCKET: &str = "picshare";
const S3_ACCESS_KEY: &str = "picshare-test";
const S3_SECRET_KEY: &str = "picshare-test-secret";

/// Whether media goes to S3 (an in-process S3 protocol server) instead of a local directory.
fn s3_storage() -> bool {
    std::env::var("PICSHARE_TEST_STORAGE").is_ok_and(|storage| storage == "s3")
}

/// Starts a real S3 protocol server (s3s over a directory) on port 0, with SigV4 auth and one
/// bucket; returns its endpoint.
pub async fn start_s3_server(data: &TempDir) -> String {
    let root = data.path().join("s3");
    std::fs::create_dir_all(root.join(S3_BUCKET)).expect("bucket dir");
    let fs = s3s_fs::FileSystem::new(&root).expect("s3s-fs");
    let mut builder = s3s::service::S3ServiceBuilder::new(fs);
    builder.set_auth(s3s::auth::SimpleAuth::from_single(
        S3_ACCESS_KEY,
        S3_SECRET_KEY,
    ));
    let service = builder.build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind s3");
    let endpoint = format!("http://{}", listener.local_addr().expect("s3 addr"));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = service.clone();
            tokio::spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
            });
        }
    });
    endpoint
}

pub const GENEROUS_LIMITS: &str = "posts_per_hour=100000,posts_per_day=100000,\
     follows_per_day=100000,likes_per_hour=100000,comments_per_hour=100000,\
     messages_per_hour=100000,reports_per_day=100000,uploads_per_hour=100000";

/// The configuration of a fresh test instance: port 0, a temporary data directory, a fresh
/// database, Redis (with a prefix of its own) when configured.
pub async fn test_config(data: &TempDir) -> RawConfig {
    let mut config = RawConfig {
        listen: "127.0.0.1:0".into(),
        data_dir: data.path().to_path_buf(),
        database_url: Some(fresh_database_url(data).await),
        redis_url: std::env::var("PICSHARE_TEST_REDIS_URL").ok(),
        redis_prefix: format!("picshare-test-{}", Uuid::now_v7().simple()),
        password_hash_workers: 2,
        // Tests sign many accounts up from one address; the sign-up limit has tests of its own.
        signups_per_ip: 1_000_000,
        // Limits stay on, so every write goes through the limiter, but no test meets them
        // unless it sets its own.
        limits_new: GENEROUS_LIMITS.into(),
        limits_basic: GENEROUS_LIMITS.into(),
        limits_trusted: GENEROUS_LIMITS.into(),
        limits_verified: GENEROUS_LIMITS.into(),
        job_retry_base_ms: 1,
        log_level: "warn".into(),
        ..RawConfig::default()
    };
    if s3_storage() {
        config.storage_url = Some(format!("s3://{S3_BUCKET}"));
        config.s3_endpoint = Some(start_s3_server(data).await);
        config.s3_access_key_id = Some(S3_ACCESS_KEY.into());
        config.s3_secret_access_key = Some(S3_SECRET_KEY.into());
    }
    config
}

async fn fresh_database_url(data: &TempDir) -> String {
    match std::env::var("PICSHARE_TEST_DATABASE_URL") {
        Ok(server) => fresh_postgres_database(&server).await,
        Err(_) => format!("sqlite://{}", data.path().join("picshare.db").display()),
    }
}

/// Creates an empty database on the PostgreSQL server at `server_url` and returns its URL.
pub async fn fresh_postgres_database(server_url: &str) -> String {
    let name = format!("picshare_test_{}", Uuid::now_v7().simple());
    let mut admin = sqlx::PgConnection::connect(server_url)
        .await
        .expect("PICSHARE_TEST_DATABASE_URL must name a reachable PostgreSQL server");
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut admin)
        .await
        .expect("create test database");
    let mut url = url::Url::parse(server_url).expect("database URL");
    url.set_path(&name);
    url.to_string()
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(customize: impl FnOnce(&mut RawConfig)) -> TestApp {
    let data = Arc::new(TempDir::new().expect("temp dir"));
    let mut config = test_config(&data).await;
    customize(&mut config);
    spawn_from(config, data).await
}

/// Starts another instance on the same database, Redis prefix, keys and public URL as `other`,
/// as a fleet behind one address is: tokens issued by one are accepted by the other.
pub async fn spawn_sibling(other: &TestApp) -> TestApp {
    spawn_from(other.config.clone(), other._data.clone()).await
}

async fn spawn_from(mut config: RawConfig, data: Arc<TempDir>) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("local addr"));
    if config.public_url.is_none() {
        config.public_url = Some(address.clone());
    }
    let settings = Settings::validate(config.clone()).expect("valid test configuration");
    let app = startup::build_app(&settings).await.expect("build app");
    let worker = startup::worker(&settings, app.clone());
    let server = ApiServer::with_listener(listener, &settings, app.clone());
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    TestApp {
        address,
        worker,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        app,
        config,
        _data: data,
        _shutdown: shutdown,
    }
}

impl TestApp {
    /// Runs the worker until no job is due.
    pub async fn run_jobs(&self) {
        for _ in 0..100 {
            if self.worker.run_once().await.expect("worker") == 0 {
                return;
            }
        }
        panic!("jobs kept coming");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.app.store
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request")
    }

    pub async fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        let mut request = self.client.post(self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request")
    }

    pub async fn patch_json(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        let mut request = self.client.patch(self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request")
    }

    /// Signs up `handle` (email `<handle>@example.com`, password [`PASSWORD`]); returns the user.
    pub async fn sign_up(&self, handle: &str) -> Value {
        let response = self
            .post_json(
                "/v1/users",
                None,
                &json!({"handle": handle, "email": format!("{handle}@example.com"), "password": PASSWORD}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "sign up {handle}");
        response.json().await.expect("user json")
    }

    pub async fn password_grant(&self, login: &str, password: &str) -> Response {
        self.post_json(
            "/v1/auth/token",
            None,
            &json!({"grant_type": "password", "login": login, "password": password}),
        )
        .await
    }

    /// Logs in and returns the token response.
    pub async fn login(&self, login: &str) -> Value {
        let response = self.password_grant(login, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK, "login {login}");
        response.json().await.expect("token json")
    }

    /// Creates an account straight in the store (no password hashing) and returns
    /// (id, access token): for tests that need many users.
    pub async fn quick_user(&self, handle: &str) -> (String, String) {
        let user = self
            .store()
            .create_user(&picshare_domain::NewUser {
                id: picshare_domain::UserId::generate(),
                handle: picshare_domain::Handle::parse(handle).expect("handle"),
                email: picshare_domain::Email::parse(&format!("{handle}@example.com"))
                    .expect("email"),
                password_hash: "$argon2id$unused".into(),
                display_name: picshare_domain::DisplayName::default(),
                role: picshare_domain::Role::User,
                created_at: time::OffsetDateTime::now_utc(),
            })
            .await
            .expect("create user");
        let token = self.app.tokens.issue_access_token(user.id).expect("token");
        (user.id.to_string(), token)
    }

    /// POSTs with a bearer token and no body. (The request is built before the future, so the
    /// future borrows neither argument.)
    pub fn post_empty(
        &self,
        path: &str,
        token: Option<&str>,
    ) -> impl Future<Output = Response> + use<> {
        let mut request = self.client.post(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move { request.send().await.expect("request") }
    }

    /// Signs up `handle` and returns (user, access token).
    pub async fn user_with_token(&self, handle: &str) -> (Value, String) {
        let user = self.sign_up(handle).await;
        let tokens = self.login(handle).await;
        (
            user,
            tokens["access_token"].as_str().expect("token").to_owned(),
        )
    }

    pub async fn refresh_grant(&self, refresh_token: &str) -> Response {
        self.post_json(
            "/v1/auth/token",
            None,
            &json!({"grant_type": "refresh_token", "refresh_token": refresh_token}),
        )
        .await
    }
}

impl TestApp {
    /// Asks for an upload ticket.
    pub async fn start_upload(
        &self,
        token: &str,
        content_type: &str,
        size: usize,
        purpose: &str,
    ) -> Response {
        self.post_json(
            "/v1/media/upload",
            Some(token),
            &json!({"content_type": content_type, "size_bytes": size, "purpose": purpose}),
        )
        .await
    }

    /// Sends `bytes` as the ticket says (to this server or straight to the bucket).
    pub async fn put_upload(&self, ticket: &Value, bytes: Vec<u8>) -> Response {
        let mut request = self
            .client
            .put(ticket["upload_url"].as_str().expect("upload_url"));
        for (name, value) in ticket["upload_headers"].as_object().expect("headers") {
            request = request.header(name.as_str(), value.as_str().expect("header value"));
        }
        request.body(bytes).send().await.expect("upload")
    }

    pub async fn complete_upload(&self, token: &str, upload_id: &str) -> Response {
        self.post_json(
            &format!("/v1/media/upload/{upload_id}/complete"),
            Some(token),
            &json!({}),
        )
        .await
    }

    /// Uploads `bytes` declared as `content_type` and completes it; returns the upload id.
    pub async fn upload(
        &self,
        token: &str,
        bytes: Vec<u8>,
        content_type: &str,
        purpose: &str,
    ) -> String {
        let response = self
            .start_upload(token, content_type, bytes.len(), purpose)
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let ticket: Value = response.json().await.expect("ticket");
        let put = self.put_upload(&ticket, bytes).await;
        assert!(put.status().is_success(), "upload PUT: {}", put.status());
        let id = ticket["upload_id"].as_str().expect("upload id").to_owned();
        let completed = self.complete_upload(token, &id).await;
        assert_eq!(completed.status(), StatusCode::ACCEPTED);
        id
    }

    pub async fn upload_status(&self, token: &str, upload_id: &str) -> Value {
        let response = self
            .get(&format!("/v1/media/upload/{upload_id}/status"), Some(token))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("status")
    }

    /// The bytes behind a variant URL: fetched over HTTP from this server (local storage, whose
    /// serving headers are checked too), or from the bucket through its presigned link.
    pub async fn variant_bytes(&self, url: &str) -> Vec<u8> {
        let served = self.client.get(url).send().await.expect("variant");
        assert_eq!(served.status(), StatusCode::OK, "{url}");
        let headers = served.headers();
        if url.starts_with(&self.address) {
            assert_eq!(headers["content-type"], "image/jpeg");
            assert_eq!(headers["x-content-type-options"], "nosniff");
            assert_eq!(headers["content-disposition"], "inline");
            let cache = headers["cache-control"].to_str().unwrap();
            assert!(
                cache == "public, no-cache" || cache.starts_with("private, max-age="),
                "{cache}"
            );
        }
        let bytes = served.bytes().await.expect("variant bytes").to_vec();
        if !url.starts_with(&self.address) {
            // A presigned link to the bucket: the same bytes as the stored object.
            let key = format!(
                "variants/{}",
                url.split("/variants/")
                    .nth(1)
                    .expect("variant key")
                    .split('?')
                    .next()
                    .unwrap()
            );
            let stored = self
                .app
                .objects
                .get(&key, 64 * 1024 * 1024)
                .await
                .expect("object");
            assert_eq!(stored, bytes);
        }
        bytes
    }

    /// A post of the caller's with one fresh image; returns the post as the API shows it.
    pub async fn post_with_image(&self, token: &str, visibility: &str) -> Value {
        let media = self.ready_media(token).await;
        let response = self
            .post_json(
                "/v1/posts",
                Some(token),
                &json!({"media_ids": [media], "visibility": visibility}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.expect("post")
    }

    /// A ready post image of the caller's; returns the media id.
    pub async fn ready_media(&self, token: &str) -> String {
        let bytes = picshare_media::samples::png(&picshare_media::samples::split_colours(64, 48));
        let id = self.upload(token, bytes, "image/png", "post").await;
        self.run_jobs().await;
        id
    }

    pub fn is_sqlite(&self) -> bool {
        self.config
            .database_url
            .as_deref()
            .is_some_and(|url| url.starts_with("sqlite:"))
    }

    /// A UUID as a SQL literal of the test database (BLOB in SQLite, `uuid` in PostgreSQL).
    pub fn sql_uuid(&self, id: &str) -> String {
        let id: uuid::Uuid = id.parse().expect("uuid");
        if self.is_sqlite() {
            format!("X'{}'", id.simple())
        } else {
            format!("'{id}'::uuid")
        }
    }

    /// Runs raw SQL, one or more statements without parameters, against the test database (to
    /// corrupt counters on purpose, to stall writers).
    pub async fn execute_sql(&self, sql: &str) {
        let url = self.config.database_url.clone().expect("database url");
        if url.starts_with("sqlite:") {
            let pool = sqlx::SqlitePool::connect(&url).await.expect("sqlite");
            sqlx::raw_sql(sql).execute(&pool).await.expect("sql");
        } else {
            let pool = sqlx::PgPool::connect(&url).await.expect("postgres");
            sqlx::raw_sql(sql).execute(&pool).await.expect("sql");
        }
    }

    /// Makes every insert into `table` stall inside its transaction until
    /// [`TestApp::unstall_inserts`]: a writer is caught in the middle of its work.
    pub async fn stall_inserts(&self, table: &str) {
        let sql = if self.is_sqlite() {
            // A cross join too large to finish: the insert holds the write lock until killed.
            format!(
                "CREATE TABLE stall (x INTEGER);
                 WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000)
                     INSERT INTO stall SELECT x FROM c;
                 CREATE TRIGGER stall_{table} BEFORE INSERT ON {table}
                     BEGIN SELECT count(*) FROM stall a, stall b, stall c; END;"
            )
        } else {
            format!(
                "CREATE FUNCTION stall() RETURNS trigger LANGUAGE plpgsql
                     AS $$ BEGIN PERFORM pg_sleep(600); RETURN NEW; END $$;
                 CREATE TRIGGER stall_{table} BEFORE INSERT ON {table}
                     FOR EACH ROW EXECUTE FUNCTION stall();"
            )
        };
        self.execute_sql(&sql).await;
    }

    /// Ends [`TestApp::stall_inserts`]. On PostgreSQL it first ends the server sessions still
    /// sleeping in the trigger: a killed client's session runs on until its statement ends.
    pub async fn unstall_inserts(&self, table: &str) {
        let sql = if self.is_sqlite() {
            format!("DROP TRIGGER stall_{table}; DROP TABLE stall;")
        } else {
            format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                     WHERE datname = current_database() AND wait_event = 'PgSleep';
                 DROP TRIGGER stall_{table} ON {table}; DROP FUNCTION stall();"
            )
        };
        self.execute_sql(&sql).await;
    }

    /// One integer from raw SQL against the test database (to observe what the API does not show).
    pub async fn query_i64(&self, sql: &str) -> i64 {
        let url = self.config.database_url.clone().expect("database url");
        if url.starts_with("sqlite:") {
            let pool = sqlx::SqlitePool::connect(&url).await.expect("sqlite");
            sqlx::query_scalar(sql).fetch_one(&pool).await.expect("sql")
        } else {
            let pool = sqlx::PgPool::connect(&url).await.expect("postgres");
            sqlx::query_scalar(sql).fetch_one(&pool).await.expect("sql")
        }
    }

    pub fn delete(
        &self,
        path: &str,
        token: Option<&str>,
    ) -> impl Future<Output = Response> + use<> {
        let mut request = self.client.delete(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move { request.send().await.expect("request") }
    }

    /// Whether the store still holds an object at `key`.
    pub async fn object_exists(&self, key: &str) -> bool {
        self.app
            .objects
            .size(key)
            .await
            .expect("object store")
            .is_some()
    }
}

/// Asserts a problem+json response with `status` and `code`; returns its body.
pub async fn assert_problem(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.expect("problem json");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert!(body["type"].is_string() && body["title"].is_string() && body["detail"].is_string());
    body
}

/// The fields named in a validation problem's `errors`.
pub fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
