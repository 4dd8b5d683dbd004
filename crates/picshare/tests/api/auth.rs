use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, assert_problem, spawn_app, spawn_app_with};

#[tokio::test]
async fn password_grant_accepts_handle_or_email_in_any_case() {
    let app = spawn_app().await;
    app.sign_up("jane").await;
    for login in ["jane", "JANE", "jane@example.com", "Jane@Example.com"] {
        let response = app.password_grant(login, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK, "{login}");
        assert_eq!(response.headers()["cache-control"], "no-store");
        let tokens: Value = response.json().await.unwrap();
        assert_eq!(tokens["token_type"], "Bearer");
        assert_eq!(tokens["expires_in"], 900);
        assert!(
            tokens["access_token"]
                .as_str()
                .unwrap()
                .starts_with("v4.public.")
        );
        let refresh_expires_in = tokens["refresh_expires_in"].as_u64().unwrap();
        assert!((30 * 86400 - 5..=30 * 86400).contains(&refresh_expires_in));
        assert!(tokens["refresh_token"].as_str().unwrap().len() >= 40);
    }
}

#[tokio::test]
async fn unknown_login_and_wrong_password_get_the_same_answer() {
    let app = spawn_app().await;
    app.sign_up("jane").await;
    let verifications = app.app.hasher.verifications();
    let wrong_password = app.password_grant("jane", "not the password at all").await;
    let unknown_user = app.password_grant("nobody", PASSWORD).await;
    let a = assert_problem(
        wrong_password,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let b = assert_problem(
        unknown_user,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    assert_eq!(a, b);
    // Both paths ran a full Argon2 verification, so they take about as long.
    assert_eq!(app.app.hasher.verifications(), verifications + 2);
}

#[tokio::test]
async fn me_returns_the_private_user_for_a_valid_token_only() {
    let app = spawn_app().await;
    let (user, token) = app.user_with_token("jane").await;
    let response = app.get("/v1/auth/me", Some(&token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let me: Value = response.json().await.unwrap();
    assert_eq!(me["id"], user["id"]);
    assert_eq!(me["email"], "jane@example.com");
    assert_eq!(me["role"], "user");
    assert_eq!(me["trust_level"], "new");

    let response = app.get("/v1/auth/me", None).await;
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let response = app.get("/v1/auth/me", Some("not-a-token")).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn tampered_and_foreign_tokens_are_rejected() {
    let app = spawn_app().await;
    let (_, token) = app.user_with_token("jane").await;
    // Flip one character of the signed payload.
    let mut bytes = token.clone().into_bytes();
    let at = "v4.public.".len() + 20;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    assert_problem(
        app.get("/v1/auth/me", Some(&tampered)).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;

    // A token signed by another server (its own key) is worthless here.
    let other = spawn_app().await;
    let (_, foreign) = other.user_with_token("jane").await;
    assert_problem(
        app.get("/v1/auth/me", Some(&foreign)).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn expired_access_tokens_are_rejected() {
    let app = spawn_app_with(|config| config.access_token_ttl_secs = 1).await;
    let (_, token) = app.user_with_token("jane").await;
    assert_eq!(
        app.get("/v1/auth/me", Some(&token)).await.status(),
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_problem(
        app.get("/v1/auth/me", Some(&token)).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_whole_family() {
    let app = spawn_app().await;
    app.sign_up("jane").await;
    let first = app.login("jane").await;
    let first_refresh = first["refresh_token"].as_str().unwrap();

    let response = app.refresh_grant(first_refresh).await;
    assert_eq!(response.status(), StatusCode::OK);
    let second: Value = response.json().await.unwrap();
    let second_refresh = second["refresh_token"].as_str().unwrap();
    assert_ne!(second_refresh, first_refresh);
    assert_eq!(
        app.get("/v1/auth/me", second["access_token"].as_str())
            .await
            .status(),
        StatusCode::OK
    );
    // The session's lifetime is absolute: rotation does not extend it.
    assert!(second["refresh_expires_in"].as_u64() <= first["refresh_expires_in"].as_u64());

    // Someone replays the spent token: refused, and the live token of that family dies too.
    let replay = app.refresh_grant(first_refresh).await;
    assert_problem(replay, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let after = app.refresh_grant(second_refresh).await;
    assert_problem(after, StatusCode::UNAUTHORIZED, "invalid_credentials").await;

    // Another session of the same user is untouched.
    let other_session = app.login("jane").await;
    let response = app
        .refresh_grant(other_session["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn revoke_ends_the_session_and_accepts_unknown_tokens() {
    let app = spawn_app().await;
    app.sign_up("jane").await;
    let tokens = app.login("jane").await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let response = app
        .post_json("/v1/auth/revoke", None, &json!({"refresh_token": refresh}))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_problem(
        app.refresh_grant(refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;

    let response = app
        .post_json(
            "/v1/auth/revoke",
            None,
            &json!({"refresh_token": "never-issued"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn unknown_refresh_tokens_and_grant_types_are_refused() {
    let app = spawn_app().await;
    assert_problem(
        app.refresh_grant("made-up").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let response = app
        .post_json(
            "/v1/auth/token",
            None,
            &json!({"grant_type": "client_credentials"}),
        )
        .await;
    assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let response = app
        .post_json(
            "/v1/auth/token",
            None,
            &json!({"grant_type": "password", "login": "jane"}),
        )
        .await;
    assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}
