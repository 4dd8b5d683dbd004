use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, assert_problem, spawn_app, spawn_app_with};

async fn act(app: &TestApp, token: &str, action: &str, target: &str) -> reqwest::Response {
    app.post_empty(&format!("/v1/users/{target}/{action}"), Some(token))
        .await
}

async fn relationship(app: &TestApp, token: &str, target: &str) -> Value {
    app.get(&format!("/v1/users/{target}/relationship"), Some(token))
        .await
        .json()
        .await
        .unwrap()
}

async fn profile(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/v1/users/{id}"), None)
        .await
        .json()
        .await
        .unwrap()
}

/// Every item of a user list, page by page.
async fn all_pages(app: &TestApp, path: &str, token: Option<&str>, limit: u32) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(cursor) => format!("{path}?limit={limit}&cursor={cursor}"),
            None => format!("{path}?limit={limit}"),
        };
        let page: Value = app.get(&url, token).await.json().await.unwrap();
        ids.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return ids,
        }
    }
}

#[tokio::test]
async fn follow_and_unfollow_are_idempotent_and_counted() {
    let app = spawn_app().await;
    let (jane, jane_token) = app.quick_user("jane").await;
    let (john, _) = app.quick_user("john").await;
    for _ in 0..2 {
        let response = act(&app, &jane_token, "follow", &john).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["following"], true);
        assert_eq!(body["requested"], false);
    }
    assert_eq!(profile(&app, &john).await["followers_count"], 1);
    assert_eq!(profile(&app, &jane).await["following_count"], 1);
    assert_eq!(
        all_pages(&app, &format!("/v1/users/{john}/followers"), None, 10).await,
        vec![jane.clone()]
    );
    assert_eq!(
        all_pages(&app, &format!("/v1/users/{jane}/following"), None, 10).await,
        vec![john.clone()]
    );
    for _ in 0..2 {
        let body: Value = act(&app, &jane_token, "unfollow", &john)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body["following"], false);
    }
    assert_eq!(profile(&app, &john).await["followers_count"], 0);
    assert_eq!(profile(&app, &jane).await["following_count"], 0);
}

#[tokio::test]
async fn following_yourself_is_refused() {
    let app = spawn_app().await;
    let (jane, token) = app.quick_user("jane").await;
    assert_problem(
        act(&app, &token, "follow", &jane).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_problem(
        act(&app, &token, "block", "@jane").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(profile(&app, &jane).await["following_count"], 0);
}

#[tokio::test]
async fn a_private_account_gets_requests_it_can_approve_or_reject() {
    let app = spawn_app().await;
    let (owner, owner_token) = app.quick_user("owner").await;
    let (fan, fan_token) = app.quick_user("fan").await;
    let (other, other_token) = app.quick_user("other").await;
    app.patch_json(
        &format!("/v1/users/{owner}"),
        Some(&owner_token),
        &serde_json::json!({"is_private": true}),
    )
    .await;

    let body: Value = act(&app, &fan_token, "follow", &owner)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (body["following"].as_bool(), body["requested"].as_bool()),
        (Some(false), Some(true))
    );
    act(&app, &other_token, "follow", &owner).await;
    assert_eq!(profile(&app, &owner).await["followers_count"], 0);
    let mut requests = all_pages(&app, "/v1/follow-requests", Some(&owner_token), 10).await;
    requests.sort();
    let mut expected = vec![fan.clone(), other.clone()];
    expected.sort();
    assert_eq!(requests, expected);
    // Lists of a private account are for its followers only.
    let hidden = app
        .get(&format!("/v1/users/{owner}/followers"), Some(&fan_token))
        .await;
    assert_problem(hidden, StatusCode::NOT_FOUND, "not_found").await;

    let approve = app
        .post_empty(
            &format!("/v1/follow-requests/{fan}/approve"),
            Some(&owner_token),
        )
        .await;
    assert_eq!(approve.status(), StatusCode::NO_CONTENT);
    let reject = app
        .post_empty(
            &format!("/v1/follow-requests/{other}/reject"),
            Some(&owner_token),
        )
        .await;
    assert_eq!(reject.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        relationship(&app, &fan_token, &owner).await["following"],
        true
    );
    let rejected = relationship(&app, &other_token, &owner).await;
    assert_eq!(
        (
            rejected["following"].as_bool(),
            rejected["requested"].as_bool()
        ),
        (Some(false), Some(false))
    );
    assert_eq!(profile(&app, &owner).await["followers_count"], 1);
    assert!(
        all_pages(&app, "/v1/follow-requests", Some(&owner_token), 10)
            .await
            .is_empty()
    );
    assert_eq!(
        all_pages(
            &app,
            &format!("/v1/users/{owner}/followers"),
            Some(&fan_token),
            10
        )
        .await,
        vec![fan]
    );
    let again = app
        .post_empty(
            &format!("/v1/follow-requests/{other}/approve"),
            Some(&owner_token),
        )
        .await;
    assert_problem(again, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn the_follower_cap_holds_under_50_concurrent_follows() {
    let app = spawn_app_with(|config| config.max_followers = 20).await;
    let (star, _) = app.quick_user("star").await;
    let mut fans = Vec::new();
    for n in 0..50 {
        fans.push(app.quick_user(&format!("fan{n:02}")).await.1);
    }
    let attempts = fans.iter().map(|token| act(&app, token, "follow", &star));
    let responses = futures::future::join_all(attempts).await;
    let mut accepted = 0;
    for response in responses {
        match response.status() {
            StatusCode::OK => accepted += 1,
            StatusCode::CONFLICT => {
                assert_problem(response, StatusCode::CONFLICT, "follow_limit_reached").await;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(accepted, 20);
    assert_eq!(profile(&app, &star).await["followers_count"], 20);
    assert_eq!(
        all_pages(&app, &format!("/v1/users/{star}/followers"), None, 7)
            .await
            .len(),
        20
    );
}

#[tokio::test]
async fn the_following_cap_refuses_one_more() {
    let app = spawn_app_with(|config| config.max_following = 3).await;
    let (_, fan) = app.quick_user("fan").await;
    for n in 0..3 {
        let (star, _) = app.quick_user(&format!("star{n}")).await;
        assert_eq!(
            act(&app, &fan, "follow", &star).await.status(),
            StatusCode::OK
        );
    }
    let (extra, _) = app.quick_user("extra").await;
    assert_problem(
        act(&app, &fan, "follow", &extra).await,
        StatusCode::CONFLICT,
        "follow_limit_reached",
    )
    .await;
    assert_eq!(profile(&app, &extra).await["followers_count"], 0);
}

#[tokio::test]
async fn a_block_ends_follows_and_hides_each_from_the_other() {
    let app = spawn_app().await;
    let (jane, jane_token) = app.quick_user("jane").await;
    let (troll, troll_token) = app.quick_user("troll").await;
    let (friend, _) = app.quick_user("friend").await;
    act(&app, &jane_token, "follow", &troll).await;
    act(&app, &troll_token, "follow", &jane).await;
    act(&app, &jane_token, "follow", &friend).await;
    act(&app, &troll_token, "follow", &friend).await;

    let body: Value = act(&app, &jane_token, "block", &troll)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            body["blocking"].as_bool(),
            body["following"].as_bool(),
            body["followed_by"].as_bool()
        ),
        (Some(true), Some(false), Some(false))
    );
    let theirs = relationship(&app, &troll_token, &jane).await;
    assert_eq!(
        (
            theirs["blocked_by"].as_bool(),
            theirs["following"].as_bool()
        ),
        (Some(true), Some(false))
    );
    assert_eq!(profile(&app, &jane).await["followers_count"], 0);
    assert_eq!(profile(&app, &jane).await["following_count"], 1);
    assert_eq!(profile(&app, &troll).await["following_count"], 1);

    // Hidden both ways: profiles, and each other in third parties' lists.
    assert_problem(
        app.get(&format!("/v1/users/{jane}"), Some(&troll_token))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_problem(
        app.get(&format!("/v1/users/{troll}"), Some(&jane_token))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(
        all_pages(
            &app,
            &format!("/v1/users/{friend}/followers"),
            Some(&troll_token),
            10
        )
        .await,
        vec![troll.clone()]
    );
    assert_eq!(
        all_pages(
            &app,
            &format!("/v1/users/{friend}/followers"),
            Some(&jane_token),
            10
        )
        .await,
        vec![jane.clone()]
    );
    assert_problem(
        app.get(&format!("/v1/users/{jane}/followers"), Some(&troll_token))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // Neither can follow the other while the block stands.
    assert_problem(
        act(&app, &troll_token, "follow", &jane).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_problem(
        act(&app, &jane_token, "follow", &troll).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;

    let body: Value = act(&app, &jane_token, "unblock", &troll)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["blocking"], false);
    assert_eq!(
        app.get(&format!("/v1/users/{jane}"), Some(&troll_token))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_block_drops_pending_requests_both_ways() {
    let app = spawn_app().await;
    let (owner, owner_token) = app.quick_user("owner").await;
    let (_, asker_token) = app.quick_user("asker").await;
    app.patch_json(
        &format!("/v1/users/{owner}"),
        Some(&owner_token),
        &serde_json::json!({"is_private": true}),
    )
    .await;
    act(&app, &asker_token, "follow", &owner).await;
    act(&app, &owner_token, "block", "@asker").await;
    assert!(
        all_pages(&app, "/v1/follow-requests", Some(&owner_token), 10)
            .await
            .is_empty()
    );
    assert_eq!(
        relationship(&app, &asker_token, &owner).await["requested"],
        false
    );
}

#[tokio::test]
async fn pages_never_repeat_or_skip_when_followers_arrive_meanwhile() {
    let app = spawn_app().await;
    let (star, _) = app.quick_user("star").await;
    let mut before = HashSet::new();
    for n in 0..25 {
        let (fan, token) = app.quick_user(&format!("fan{n:02}")).await;
        act(&app, &token, "follow", &star).await;
        before.insert(fan);
    }
    let first: Value = app
        .get(&format!("/v1/users/{star}/followers?limit=10"), None)
        .await
        .json()
        .await
        .unwrap();
    let mut seen: Vec<String> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    for n in 0..5 {
        let (_, token) = app.quick_user(&format!("late{n}")).await;
        act(&app, &token, "follow", &star).await;
    }
    let mut cursor = first["next_cursor"].as_str().unwrap().to_owned();
    loop {
        let page: Value = app
            .get(
                &format!("/v1/users/{star}/followers?limit=10&cursor={cursor}"),
                None,
            )
            .await
            .json()
            .await
            .unwrap();
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(
        seen.len(),
        25,
        "no repeats, and the late followers belong to a newer first page"
    );
    assert_eq!(seen.into_iter().collect::<HashSet<_>>(), before);
}

#[tokio::test]
async fn bad_paging_parameters_are_400() {
    let app = spawn_app().await;
    let (star, _) = app.quick_user("star").await;
    for query in [
        "limit=0",
        "limit=101",
        "limit=abc",
        "cursor=not-a-cursor",
        "cursor=AAAA",
    ] {
        let response = app
            .get(&format!("/v1/users/{star}/followers?{query}"), None)
            .await;
        assert_problem(response, StatusCode::BAD_REQUEST, "validation_failed").await;
    }
}

/// An author's first post of the hour rewrites every follow row of theirs (the marks a first
/// page reads); unfollows at that moment must neither fail nor deadlock with it.
#[tokio::test]
async fn unfollows_racing_an_authors_first_post_of_the_hour_all_succeed() {
    let app = spawn_app().await;
    let mut followers = Vec::new();
    for n in 0..24 {
        followers.push(app.quick_user(&format!("fan{n}")).await.1);
    }
    for round in 0..3 {
        // A new author each round: only an author's first post of the hour writes the marks.
        let (author, author_token) = app.quick_user(&format!("author{round}")).await;
        for token in &followers {
            assert_eq!(
                act(&app, token, "follow", &author).await.status(),
                StatusCode::OK
            );
        }
        let media = app.ready_media(&author_token).await;
        let body = serde_json::json!({"media_ids": [media], "visibility": "public"});
        let publish = app.post_json("/v1/posts", Some(&author_token), &body);
        let unfollows = futures::future::join_all(
            followers
                .iter()
                .map(|token| act(&app, token, "unfollow", &author)),
        );
        let (published, unfollowed) = tokio::join!(publish, unfollows);
        assert_eq!(published.status(), StatusCode::CREATED, "round {round}");
        for response in unfollowed {
            assert_eq!(response.status(), StatusCode::OK, "round {round}");
        }
        assert_eq!(profile(&app, &author).await["followers_count"], 0);
    }
}
