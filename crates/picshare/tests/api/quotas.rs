//! Which writes spend a quota: only those that happen. A write refused after its unit was
//! spent, or one that turns out to change nothing, gives the unit back.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, spawn_app_with};
use crate::trust::{json_of, limits, quota};

async fn remaining(app: &TestApp, token: &str, action: &str, period: &str) -> u64 {
    let state = json_of(app.get("/v1/account/rate-limits", Some(token)).await).await;
    quota(&state, action, period)["remaining"].as_u64().unwrap()
}

async fn set_caption(app: &TestApp, token: &str, post: &str, caption: &str) -> StatusCode {
    app.patch_json(
        &format!("/v1/posts/{post}"),
        Some(token),
        &json!({"caption": caption}),
    )
    .await
    .status()
}

async fn flag(app: &TestApp, token: &str, user: &str) -> StatusCode {
    app.post_json(
        &format!("/v1/moderation/users/{user}/flag"),
        Some(token),
        &json!({"reason": "spam"}),
    )
    .await
    .status()
}

async fn open_conversation(app: &TestApp, token: &str, with: &str) -> reqwest::Response {
    app.post_json(
        "/v1/conversations",
        Some(token),
        &json!({"participant_ids": [with]}),
    )
    .await
}

#[tokio::test]
async fn writes_refused_after_spending_or_changing_nothing_give_their_unit_back() {
    let app = spawn_app_with(|config| {
        config.limits_new = limits(
            "posts_per_hour=2,posts_per_day=2,follows_per_day=2,reports_per_day=2,\
             messages_per_hour=2",
        );
    })
    .await;
    let (_, alice) = app.quick_user("alice").await;
    let (bob, _) = app.quick_user("bob").await;
    let (carol, _) = app.quick_user("carol").await;
    let (dave, dave_token) = app.quick_user("dave").await;

    // A post the store refuses (its media was never uploaded) costs nothing.
    let ticket: Value = app
        .start_upload(&alice, "image/png", 100, "post")
        .await
        .json()
        .await
        .unwrap();
    let refused = app
        .post_json(
            "/v1/posts",
            Some(&alice),
            &json!({"media_ids": [ticket["upload_id"]], "visibility": "public"}),
        )
        .await;
    assert_problem(
        refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(remaining(&app, &alice, "posts", "hour").await, 2);

    // Editing a caption costs a post only when it mentions someone new.
    let media = app.ready_media(&alice).await;
    let post: Value = app
        .post_json(
            "/v1/posts",
            Some(&alice),
            &json!({"media_ids": [media], "caption": "hi @bob", "visibility": "public"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let post = post["id"].as_str().unwrap();
    assert_eq!(
        set_caption(&app, &alice, post, "hello @bob").await,
        StatusCode::OK
    );
    assert_eq!(remaining(&app, &alice, "posts", "hour").await, 1);
    assert_eq!(
        set_caption(&app, &alice, post, "@bob and @carol").await,
        StatusCode::OK
    );
    let over = app
        .patch_json(
            &format!("/v1/posts/{post}"),
            Some(&alice),
            &json!({"caption": "@bob @carol @dave"}),
        )
        .await;
    assert_problem(over, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;

    // Asking again to follow a private account asks nothing new.
    let private = app
        .patch_json(
            "/v1/users/@dave",
            Some(&dave_token),
            &json!({"is_private": true}),
        )
        .await;
    assert!(private.status().is_success());
    for _ in 0..3 {
        let asked = app
            .post_empty(&format!("/v1/users/{dave}/follow"), Some(&alice))
            .await;
        assert_eq!(asked.status(), StatusCode::OK);
    }
    assert_eq!(remaining(&app, &alice, "follows", "day").await, 1);

    // Reporting the same account again answers the open report and files nothing.
    assert_eq!(flag(&app, &alice, &bob).await, StatusCode::CREATED);
    assert_eq!(flag(&app, &alice, &bob).await, StatusCode::OK);
    assert_eq!(flag(&app, &alice, &carol).await, StatusCode::CREATED);
    assert_eq!(
        flag(&app, &alice, &dave).await,
        StatusCode::TOO_MANY_REQUESTS
    );

    // Reopening a 1:1 conversation starts nothing.
    let opened = open_conversation(&app, &alice, &bob).await;
    assert_eq!(opened.status(), StatusCode::CREATED);
    let reopened = open_conversation(&app, &alice, &bob).await;
    assert_eq!(reopened.status(), StatusCode::OK);
    assert_eq!(remaining(&app, &alice, "messages", "hour").await, 1);
}

#[tokio::test]
async fn retried_messages_and_follows_made_already_spend_nothing_but_uploads_are_counted() {
    let app = spawn_app_with(|config| {
        config.limits_new = limits("messages_per_hour=3,follows_per_day=1,uploads_per_hour=2");
    })
    .await;
    let (_, alice) = app.quick_user("alice").await;
    let (bob, _) = app.quick_user("bob").await;
    // Starting the conversation counts as a message.
    let conversation: Value = app
        .post_json(
            "/v1/conversations",
            Some(&alice),
            &json!({"participant_ids": [bob]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let path = format!(
        "/v1/conversations/{}/messages",
        conversation["id"].as_str().unwrap()
    );
    assert_eq!(
        send(&app, &path, &alice, "first").await.status(),
        StatusCode::CREATED
    );
    for _ in 0..3 {
        assert_eq!(
            send(&app, &path, &alice, "first").await.status(),
            StatusCode::OK,
            "a retry"
        );
    }
    assert_eq!(
        send(&app, &path, &alice, "second").await.status(),
        StatusCode::CREATED
    );
    assert_problem(
        send(&app, &path, &alice, "third").await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;

    for _ in 0..3 {
        let follow = app
            .post_empty(&format!("/v1/users/{bob}/follow"), Some(&alice))
            .await;
        assert_eq!(follow.status(), StatusCode::OK);
    }
    let (carol, _) = app.quick_user("carol").await;
    let follow = app
        .post_empty(&format!("/v1/users/{carol}/follow"), Some(&alice))
        .await;
    assert_problem(follow, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;

    for _ in 0..2 {
        let upload = app.start_upload(&alice, "image/png", 100, "post").await;
        assert_eq!(upload.status(), StatusCode::CREATED);
    }
    let refused = app.start_upload(&alice, "image/png", 100, "post").await;
    assert_problem(refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

async fn send(app: &TestApp, path: &str, token: &str, key: &str) -> reqwest::Response {
    app.post_json(
        path,
        Some(token),
        &json!({"text": "hi", "client_message_id": key}),
    )
    .await
}
