use reqwest::StatusCode;
use serde_json::Value;
use sqlx::Connection;

use crate::helpers::{assert_problem, fresh_postgres_database, spawn_app, spawn_app_with};

#[tokio::test]
async fn health_and_readiness_answer_ok() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status(), StatusCode::OK);
    let body = ready.json::<Value>().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["checks"]["database"], "ok", "{body}");
    assert_eq!(body["checks"]["storage"], "ok", "{body}");
    let redis = std::env::var("PICSHARE_TEST_REDIS_URL").is_ok();
    assert_eq!(body["checks"].get("redis").is_some(), redis, "{body}");
}

#[tokio::test]
async fn readiness_is_503_problem_when_the_database_is_down() {
    // Needs a database we can take away: a PostgreSQL database of its own.
    let server = std::env::var("PICSHARE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let database_url = fresh_postgres_database(&server).await;
    let app = spawn_app_with(|config| config.database_url = Some(database_url.clone())).await;
    assert_eq!(app.get("/readyz", None).await.status(), StatusCode::OK);

    let name = url::Url::parse(&database_url)
        .unwrap()
        .path()
        .trim_start_matches('/')
        .to_owned();
    let mut admin = sqlx::PgConnection::connect(&server).await.unwrap();
    sqlx::query(&format!(
        "ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false"
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
        .bind(&name)
        .execute(&mut admin)
        .await
        .unwrap();

    let response = app.get("/readyz", None).await;
    let problem = assert_problem(response, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("database"),
        "{problem}"
    );
    assert_eq!(problem["checks"]["database"], "unavailable", "{problem}");
    assert_eq!(problem["checks"]["storage"], "ok", "{problem}");

    // A request that needs the database is told to come back, not that the server failed.
    let sign_up = app
        .post_json(
            "/v1/users",
            None,
            &serde_json::json!({"handle": "late", "email": "late@example.com",
                "password": "correct horse battery"}),
        )
        .await;
    let problem = assert_problem(sign_up, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("database"),
        "{problem}"
    );
    assert_eq!(
        app.get("/healthz", None).await.status(),
        StatusCode::OK,
        "still alive"
    );
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_show_the_pool() {
    let app = spawn_app().await;
    app.sign_up("jane").await;
    app.get("/v1/users/@jane", None).await;
    let token = app.login("jane").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..2 {
        assert_eq!(
            app.get("/v1/feed", Some(&token)).await.status(),
            StatusCode::OK
        );
    }
    let text = app.get("/metrics", None).await.text().await.unwrap();
    // The second request's token was verified before: a hit of the token cache.
    assert!(
        text.lines().any(|line| line
            .starts_with("picshare_cache_lookups_total{cache=\"access_tokens\",result=\"hit\"}")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|line| line.starts_with("http_requests_total")
                && line.contains("route=\"/v1/users/{id}\"")
                && line.contains("method=\"GET\"")
                && line.contains("status=\"200\"")),
        "{text}"
    );
    assert!(
        text.contains("http_request_duration_seconds_bucket"),
        "latency histogram"
    );
    assert!(text.contains("picshare_db_pool_connections{state=\"idle\"}"));
    assert!(text.contains("picshare_db_pool_connections{state=\"in_use\"}"));
}

#[tokio::test]
async fn openapi_document_describes_the_routes_and_docs_page_serves() {
    let app = spawn_app().await;
    let doc: Value = app.get("/openapi.json", None).await.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/v1/users",
        "/v1/users/{id}",
        "/v1/auth/token",
        "/v1/auth/revoke",
        "/v1/auth/me",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing");
    }
    assert!(doc["paths"]["/v1/users/{id}"].get("patch").is_some());
    let size = &doc["components"]["schemas"]["StartUploadRequest"]["properties"]["size_bytes"];
    assert_eq!(
        size["maximum"],
        20 * 1024 * 1024,
        "the configured upload limit: {size}"
    );
    let docs = app.get("/docs", None).await;
    assert_eq!(docs.status(), StatusCode::OK);
    let policy = docs.headers()["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    let page = docs.text().await.unwrap();
    assert!(
        page.contains("<html") && page.contains("PicShare API"),
        "{page}"
    );
    // The page's script is served by the binary itself, not by a CDN.
    let script = page
        .split("<script src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a script src");
    assert!(script.starts_with("/docs/"), "{script}");
    let served = app.get(script, None).await;
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.headers()["content-encoding"], "gzip");
    let gzipped = served.bytes().await.unwrap();
    assert_eq!(&gzipped[..2], &[0x1f, 0x8b], "a gzip stream");
    assert!(
        gzipped.len() > 100_000,
        "the whole bundle: {} bytes",
        gzipped.len()
    );
}
