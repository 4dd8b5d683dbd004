use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_problem, spawn_app};

#[tokio::test]
async fn unknown_routes_are_problem_404() {
    let app = spawn_app().await;
    assert_problem(
        app.get("/v1/nothing-here", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn wrong_methods_are_problem_405_with_allow() {
    let app = spawn_app().await;
    let response = app
        .client
        .delete(app.url("/v1/auth/me"))
        .send()
        .await
        .unwrap();
    assert!(
        response.headers()["allow"]
            .to_str()
            .unwrap()
            .contains("GET")
    );
    assert_problem(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
}

#[tokio::test]
async fn malformed_json_is_problem_400() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/v1/users"))
        .header("content-type", "application/json")
        .body("{\"handle\": ")
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::BAD_REQUEST, "validation_failed").await;
}

#[tokio::test]
async fn a_body_that_is_not_an_object_is_refused_even_when_its_values_would_fit() {
    let app = spawn_app().await;
    // serde would read `["token"]` as `{"refresh_token": "token"}`.
    let response = app
        .client
        .post(app.url("/v1/auth/revoke"))
        .header("content-type", "application/json")
        .body(r#"  [""]"#)
        .send()
        .await
        .unwrap();
    assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}

#[tokio::test]
async fn wrong_content_type_is_problem_415() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/v1/users"))
        .header("content-type", "text/plain")
        .body(json!({"handle": "jane"}).to_string())
        .send()
        .await
        .unwrap();
    assert_problem(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
}

#[tokio::test]
async fn json_bodies_over_64_kib_are_problem_413_and_change_nothing() {
    let app = spawn_app().await;
    let body = json!({
        "handle": "jane", "email": "jane@example.com", "password": "correct horse battery",
        "display_name": "x".repeat(64 * 1024),
    });
    let response = app.post_json("/v1/users", None, &body).await;
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    assert_problem(
        app.get("/v1/users/@jane", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-me-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-me-123");
    let response = app.get("/v1/nothing-here", None).await;
    let generated = response.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(generated).is_ok(), "{generated}");
}

#[tokio::test]
async fn security_headers_are_on_every_response() {
    let app = spawn_app().await;
    for response in [
        app.get("/healthz", None).await,
        app.get("/nowhere", None).await,
    ] {
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["referrer-policy"], "no-referrer");
    }
}

#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let app = crate::helpers::spawn_app_with(|config| {
        config.cors_origins = "https://app.example.com".into()
    })
    .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/v1/auth/me"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .send()
    };
    let allowed = preflight("https://app.example.com").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let refused = preflight("https://evil.example").await.unwrap();
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn large_responses_are_compressed_when_asked() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/openapi.json"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-encoding"], "gzip");
}
