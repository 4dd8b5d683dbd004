use reqwest::StatusCode;

use crate::helpers::{PASSWORD, TestApp, assert_problem, spawn_app, spawn_app_with, spawn_sibling};

async fn fail_login(app: &TestApp, login: &str) {
    let response = app.password_grant(login, "definitely wrong password").await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

async fn assert_throttled(response: reqwest::Response) {
    let headers = response.headers().clone();
    assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
    assert_eq!(headers["ratelimit-limit"], "10");
    assert_eq!(headers["ratelimit-remaining"], "0");
    assert!(headers.contains_key("ratelimit-reset"));
}

/// A login attempt that appears to come from `ip` (the test server trusts 127.0.0.1 as a proxy).
async fn attempt_from(app: &TestApp, ip: &str, login: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/v1/auth/token"))
        .header("x-forwarded-for", ip)
        .json(&serde_json::json!({"grant_type": "password", "login": login, "password": password}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn ten_failures_lock_the_account_even_for_the_right_password() {
    let app = spawn_app_with(|config| config.trusted_proxies = "127.0.0.1".into()).await;
    app.sign_up("jane").await;
    app.sign_up("john").await;
    // Every attempt from a different address: only the account counter can trip.
    for n in 0..10 {
        let response =
            attempt_from(&app, &format!("203.0.113.{n}"), "jane", "wrong password!").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_throttled(attempt_from(&app, "198.51.100.1", "jane", PASSWORD).await).await;
    // It counts the account, whichever login names it…
    assert_throttled(attempt_from(&app, "198.51.100.2", "jane@example.com", PASSWORD).await).await;
    // …and only that account.
    let other = attempt_from(&app, "198.51.100.3", "john", PASSWORD).await;
    assert_eq!(other.status(), StatusCode::OK);
}

#[tokio::test]
async fn ten_failures_from_one_address_lock_that_address() {
    let app = spawn_app().await;
    app.sign_up("jane").await;
    for n in 0..10 {
        fail_login(&app, &format!("nobody{n}")).await;
    }
    assert_throttled(app.password_grant("jane", PASSWORD).await).await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_counted() {
    let app = spawn_app_with(|config| config.trusted_proxies = "127.0.0.1".into()).await;
    app.sign_up("jane").await;
    for n in 0..10 {
        let response = attempt_from(
            &app,
            "203.0.113.7",
            &format!("nobody{n}"),
            "wrong password!",
        )
        .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_throttled(attempt_from(&app, "203.0.113.7", "jane", PASSWORD).await).await;
    let other_client = attempt_from(&app, "198.51.100.9", "jane", PASSWORD).await;
    assert_eq!(other_client.status(), StatusCode::OK);
}

#[tokio::test]
async fn untrusted_peers_cannot_dodge_the_limit_with_forwarded_headers() {
    let app = spawn_app().await;
    app.sign_up("jane").await;
    for n in 0..10 {
        let response = attempt_from(
            &app,
            &format!("203.0.113.{n}"),
            &format!("nobody{n}"),
            "wrong password!",
        )
        .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_throttled(attempt_from(&app, "198.51.100.9", "jane", PASSWORD).await).await;
}

#[tokio::test]
async fn limits_are_shared_by_instances_on_one_redis() {
    let redis = std::env::var("PICSHARE_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let first = spawn_app_with(|config| config.redis_url = Some(redis)).await;
    let second = spawn_sibling(&first).await;
    first.sign_up("jane").await;
    for n in 0..10 {
        let instance = if n % 2 == 0 { &first } else { &second };
        fail_login(instance, "jane").await;
    }
    assert_throttled(first.password_grant("jane", PASSWORD).await).await;
    assert_throttled(second.password_grant("jane", PASSWORD).await).await;
}

#[tokio::test]
async fn a_burst_of_parallel_guesses_gets_no_more_than_the_limit() {
    let app = spawn_app_with(|config| config.trusted_proxies = "127.0.0.1".into()).await;
    app.sign_up("jane").await;
    let guesses = (0..20).map(|n| {
        let request = app
            .client
            .post(app.url("/v1/auth/token"))
            .header("x-forwarded-for", format!("203.0.113.{n}"))
            .json(&serde_json::json!({"grant_type": "password", "login": "jane", "password": format!("guess number {n}")}));
        async move { request.send().await.unwrap().status() }
    });
    let statuses = futures::future::join_all(guesses).await;
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((checked, refused), (10, 10), "{statuses:?}");
}
