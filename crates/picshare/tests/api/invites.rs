//! Invites: codes within a quota, used once (also when two sign-ups race), revocable, required
//! in invite-only mode, and the invite tree moderators trace a spam wave through.

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, assert_problem, spawn_app, spawn_app_with};
use crate::moderation::staff;

async fn invite(app: &TestApp, token: &str) -> Response {
    app.post_empty("/v1/invites", Some(token)).await
}

async fn code(app: &TestApp, token: &str) -> String {
    let response = invite(app, token).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    body["code"].as_str().unwrap().to_owned()
}

fn sign_up_with(app: &TestApp, handle: &str, code: &str) -> impl Future<Output = Response> + use<> {
    let request = app.client.post(app.url("/v1/users")).json(&json!({
        "handle": handle,
        "email": format!("{handle}@example.com"),
        "password": PASSWORD,
        "invite_code": code,
    }));
    async move { request.send().await.unwrap() }
}

async fn stats(app: &TestApp, token: &str) -> Value {
    app.get("/v1/invites/stats", Some(token))
        .await
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn invites_come_within_the_quota_of_a_trust_level_and_can_be_revoked() {
    let app = spawn_app().await;
    let (_alice, alice_token) = app.quick_user("alice").await;
    let first: Value = invite(&app, &alice_token).await.json().await.unwrap();
    let code = first["code"].as_str().unwrap();
    assert_eq!(code.len(), 12);
    assert!(
        code.chars()
            .all(|c| "23456789ABCDEFGHJKMNPQRSTUVWXYZ".contains(c)),
        "{code}"
    );
    let lifetime = time::OffsetDateTime::parse(
        first["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
        - time::OffsetDateTime::now_utc();
    assert!((lifetime.whole_hours() - 7 * 24).abs() <= 1, "{lifetime}");
    // A new account holds three open invites at most.
    code_twice(&app, &alice_token).await;
    let over = invite(&app, &alice_token).await;
    assert_problem(over, StatusCode::CONFLICT, "conflict").await;

    let revoke = app
        .post_empty(
            &format!("/v1/invites/{}/revoke", code.to_lowercase()),
            Some(&alice_token),
        )
        .await;
    assert_eq!(revoke.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        invite(&app, &alice_token).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(
        stats(&app, &alice_token).await,
        json!({"created": 4, "used": 0, "expired": 0, "revoked": 1})
    );
    let listed: Value = app
        .get("/v1/invites?limit=2", Some(&alice_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);
    assert!(listed["next_cursor"].is_string());

    // Nobody revokes another's invite, or one already revoked.
    let (_bob, bob_token) = app.quick_user("bob").await;
    let mine = code_of(&app, &alice_token).await;
    let theirs = app
        .post_empty(&format!("/v1/invites/{mine}/revoke"), Some(&bob_token))
        .await;
    assert_problem(theirs, StatusCode::NOT_FOUND, "not_found").await;
    let again = app
        .post_empty(&format!("/v1/invites/{code}/revoke"), Some(&alice_token))
        .await;
    assert_problem(again, StatusCode::NOT_FOUND, "not_found").await;
}

async fn code_twice(app: &TestApp, token: &str) {
    for _ in 0..2 {
        code(app, token).await;
    }
}

/// The newest open invite of the caller.
async fn code_of(app: &TestApp, token: &str) -> String {
    let listed: Value = app
        .get("/v1/invites", Some(token))
        .await
        .json()
        .await
        .unwrap();
    listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["revoked_at"].is_null() && i["used_by"].is_null())
        .and_then(|i| i["code"].as_str())
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn invite_only_sign_up_needs_a_valid_code_used_once_even_when_two_race() {
    let app = spawn_app_with(|config| config.invite_only = true).await;
    let (_alice, alice_token) = app.quick_user("alice").await;
    let without = app
        .post_json(
            "/v1/users",
            None,
            &json!({"handle": "nobody", "email": "nobody@example.com", "password": PASSWORD}),
        )
        .await;
    assert_problem(without, StatusCode::FORBIDDEN, "invite_required").await;
    let unknown = sign_up_with(&app, "guesser", "ABCDEFGHJKMN").await;
    assert_problem(unknown, StatusCode::FORBIDDEN, "invite_required").await;

    let shared = code(&app, &alice_token).await;
    let racers: Vec<_> = (0..4)
        .map(|n| sign_up_with(&app, &format!("racer{n}"), &shared))
        .collect();
    let statuses: Vec<StatusCode> = futures::future::join_all(racers)
        .await
        .iter()
        .map(Response::status)
        .collect();
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::FORBIDDEN)
    );
    let listed: Value = app
        .get("/v1/invites", Some(&alice_token))
        .await
        .json()
        .await
        .unwrap();
    assert!(listed["items"][0]["used_by"].is_string());
    assert!(listed["items"][0]["used_at"].is_string());

    // Revoked and expired codes let nobody in.
    let revoked = code(&app, &alice_token).await;
    app.post_empty(&format!("/v1/invites/{revoked}/revoke"), Some(&alice_token))
        .await;
    assert_problem(
        sign_up_with(&app, "late", &revoked).await,
        StatusCode::FORBIDDEN,
        "invite_required",
    )
    .await;
    let expired = code(&app, &alice_token).await;
    app.execute_sql(&format!(
        "UPDATE invites SET expires_at = created_at WHERE code = '{expired}'"
    ))
    .await;
    assert_problem(
        sign_up_with(&app, "later", &expired).await,
        StatusCode::FORBIDDEN,
        "invite_required",
    )
    .await;
    assert_eq!(
        stats(&app, &alice_token).await,
        json!({"created": 3, "used": 1, "expired": 1, "revoked": 1})
    );
    // A refused sign-up created nothing: the handle is still free.
    let fresh = code(&app, &alice_token).await;
    assert_eq!(
        sign_up_with(&app, "late", &fresh).await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn moderators_trace_who_invited_whom_up_to_the_root() {
    let app = spawn_app().await;
    let (_mod_id, mod_token) = staff(&app, "moderator", picshare_domain::Role::Moderator).await;
    let (root, root_token) = app.quick_user("root").await;
    let first = code(&app, &root_token).await;
    let middle: Value = sign_up_with(&app, "middle", &first)
        .await
        .json()
        .await
        .unwrap();
    let middle_token = app.login("middle").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = code(&app, &middle_token).await;
    let leaf: Value = sign_up_with(&app, "leaf", &second)
        .await
        .json()
        .await
        .unwrap();

    let tree: Value = app
        .get(
            &format!(
                "/v1/moderation/users/{}/invite-tree",
                leaf["id"].as_str().unwrap()
            ),
            Some(&mod_token),
        )
        .await
        .json()
        .await
        .unwrap();
    let chain: Vec<&str> = tree["invited_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["handle"].as_str().unwrap())
        .collect();
    assert_eq!(chain, ["middle", "root"]);
    let down: Value = app
        .get(
            &format!("/v1/moderation/users/{root}/invite-tree"),
            Some(&mod_token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(down["invitees"][0]["id"], middle["id"]);
    let refused = app
        .get(
            &format!("/v1/moderation/users/{root}/invite-tree"),
            Some(&root_token),
        )
        .await;
    assert_problem(refused, StatusCode::FORBIDDEN, "forbidden").await;
}
