//! Direct messages: one 1:1 per pair, groups up to 32, idempotent sends, unread counts and
//! receipts, participants only, blocks enforced.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, error_fields, spawn_app};

async fn start(app: &TestApp, token: &str, others: &[&str]) -> reqwest::Response {
    app.post_json(
        "/v1/conversations",
        Some(token),
        &json!({ "participant_ids": others }),
    )
    .await
}

async fn started(app: &TestApp, token: &str, others: &[&str]) -> String {
    let response = start(app, token, others).await;
    assert!(response.status().is_success(), "{}", response.status());
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

async fn send(
    app: &TestApp,
    token: &str,
    conversation: &str,
    text: &str,
    key: &str,
) -> reqwest::Response {
    app.post_json(
        &format!("/v1/conversations/{conversation}/messages"),
        Some(token),
        &json!({ "text": text, "client_message_id": key }),
    )
    .await
}

async fn list(app: &TestApp, token: &str, path: &str) -> Value {
    let response = app.get(path, Some(token)).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_pair_has_one_direct_conversation_even_when_both_start_it_at_once() {
    let app = spawn_app().await;
    let (alice, alice_token) = app.quick_user("alice").await;
    let (bob, bob_token) = app.quick_user("bob").await;
    let attempts = (0..6).map(|i| {
        let (token, other) = if i % 2 == 0 {
            (alice_token.clone(), bob.clone())
        } else {
            (bob_token.clone(), alice.clone())
        };
        let request = app
            .client
            .post(app.url("/v1/conversations"))
            .bearer_auth(token)
            .json(&json!({ "participant_ids": [other] }));
        async move { request.send().await.unwrap() }
    });
    let mut ids = Vec::new();
    let mut created = 0;
    for response in futures::future::join_all(attempts).await {
        if response.status() == StatusCode::CREATED {
            created += 1;
        } else {
            assert_eq!(response.status(), StatusCode::OK);
        }
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["is_direct"], true);
        assert_eq!(body["participants"].as_array().unwrap().len(), 2);
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(created, 1, "one of them made it");
    ids.dedup();
    assert_eq!(ids.len(), 1, "every request got the same conversation");
    let listed = list(&app, &alice_token, "/v1/conversations").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn groups_take_up_to_32_people_and_bad_lists_are_refused() {
    let app = spawn_app().await;
    let (alice, alice_token) = app.quick_user("alice").await;
    let mut others = Vec::new();
    for i in 0..32 {
        others.push(app.quick_user(&format!("member{i}")).await.0);
    }
    let refs: Vec<&str> = others.iter().map(String::as_str).collect();
    let too_many = start(&app, &alice_token, &refs).await;
    let problem = assert_problem(
        too_many,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["participant_ids"]);
    for bad in [
        vec![],
        vec![alice.as_str()],
        vec![refs[0], refs[0]],
        vec!["01940000-0000-7000-8000-000000000000"],
    ] {
        let response = start(&app, &alice_token, &bad).await;
        assert_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
    assert!(
        list(&app, &alice_token, "/v1/conversations").await["items"]
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing was made"
    );
    let group = start(&app, &alice_token, &refs[..31]).await;
    assert_eq!(group.status(), StatusCode::CREATED);
    let body: Value = group.json().await.unwrap();
    assert_eq!(body["is_direct"], false);
    assert_eq!(body["participants"].as_array().unwrap().len(), 32);
    // A second group of the same people is a new conversation.
    assert_eq!(
        start(&app, &alice_token, &refs[..31]).await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn messages_count_unread_until_read_and_the_list_follows_activity() {
    let app = spawn_app().await;
    let (_alice, alice_token) = app.quick_user("alice").await;
    let (bob, bob_token) = app.quick_user("bob").await;
    let (carol, _carol_token) = app.quick_user("carol").await;
    let with_bob = started(&app, &alice_token, &[&bob]).await;
    let with_carol = started(&app, &alice_token, &[&carol]).await;
    for (i, text) in ["one", "two", "three"].iter().enumerate() {
        let response = send(&app, &alice_token, &with_bob, text, &format!("k{i}")).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let message: Value = response.json().await.unwrap();
        assert_eq!(message["text"], *text);
        assert_eq!(message["sender"]["handle"], "alice");
        assert_eq!(message["conversation_id"], with_bob.as_str());
    }
    let messages = list(
        &app,
        &bob_token,
        &format!("/v1/conversations/{with_bob}/messages?limit=2"),
    )
    .await;
    let texts: Vec<&str> = messages["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["three", "two"], "newest first");
    let cursor = messages["next_cursor"].as_str().unwrap();
    let older = list(
        &app,
        &bob_token,
        &format!("/v1/conversations/{with_bob}/messages?limit=2&cursor={cursor}"),
    )
    .await;
    assert_eq!(older["items"][0]["text"], "one");
    assert!(older["next_cursor"].is_null());

    let bobs = list(&app, &bob_token, "/v1/conversations").await;
    assert_eq!(bobs["items"][0]["unread_count"], 3);
    assert_eq!(bobs["items"][0]["last_message"]["text"], "three");
    let alices = list(&app, &alice_token, "/v1/conversations").await;
    assert_eq!(
        alices["items"][0]["id"],
        with_bob.as_str(),
        "latest activity first"
    );
    assert_eq!(
        alices["items"][0]["unread_count"], 0,
        "your own messages are read"
    );
    // Activity moves a conversation to the top.
    send(&app, &alice_token, &with_carol, "hi carol", "k9").await;
    let alices = list(&app, &alice_token, "/v1/conversations").await;
    let order: Vec<&str> = alices["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(order, [with_carol.as_str(), with_bob.as_str()]);

    let read = app
        .post_empty(
            &format!("/v1/conversations/{with_bob}/read"),
            Some(&bob_token),
        )
        .await;
    assert_eq!(read.status(), StatusCode::OK);
    let receipt: Value = read.json().await.unwrap();
    assert_eq!(receipt["reader_id"], bob.as_str());
    assert_eq!(
        list(&app, &bob_token, "/v1/conversations").await["items"][0]["unread_count"],
        0
    );
}

#[tokio::test]
async fn a_repeated_client_message_id_sends_nothing_new_even_at_once() {
    let app = spawn_app().await;
    let (_alice, alice_token) = app.quick_user("alice").await;
    let (bob, bob_token) = app.quick_user("bob").await;
    let (carol, _) = app.quick_user("carol").await;
    let conversation = started(&app, &alice_token, &[&bob]).await;
    let sends = (0..6).map(|_| {
        let request = app
            .client
            .post(app.url(&format!("/v1/conversations/{conversation}/messages")))
            .bearer_auth(&alice_token)
            .json(&json!({"text": "only once", "client_message_id": "same-key"}));
        async move { request.send().await.unwrap() }
    });
    let mut ids = Vec::new();
    let mut created = 0;
    for response in futures::future::join_all(sends).await {
        match response.status() {
            StatusCode::CREATED => created += 1,
            status => assert_eq!(status, StatusCode::OK),
        }
        let body: Value = response.json().await.unwrap();
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(created, 1);
    ids.dedup();
    assert_eq!(ids.len(), 1, "every answer is the first message");
    let messages = list(
        &app,
        &bob_token,
        &format!("/v1/conversations/{conversation}/messages"),
    )
    .await;
    assert_eq!(messages["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        list(&app, &bob_token, "/v1/conversations").await["items"][0]["unread_count"],
        1
    );
    // The same key elsewhere is a conflict, not a message.
    let other = started(&app, &alice_token, &[&carol]).await;
    let reused = send(&app, &alice_token, &other, "elsewhere", "same-key").await;
    assert_problem(reused, StatusCode::CONFLICT, "conflict").await;
    // Another sender has keys of their own.
    assert_eq!(
        send(&app, &bob_token, &conversation, "mine", "same-key")
            .await
            .status(),
        StatusCode::CREATED
    );
    for (text, key) in [
        ("", "k"),
        (&*"x".repeat(2001), "k"),
        ("fine", ""),
        ("fine", "has space"),
    ] {
        let response = send(&app, &alice_token, &conversation, text, key).await;
        assert_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
}

#[tokio::test]
async fn only_participants_see_or_write_in_a_conversation() {
    let app = spawn_app().await;
    let (_alice, alice_token) = app.quick_user("alice").await;
    let (bob, _bob_token) = app.quick_user("bob").await;
    let (_mallory, mallory_token) = app.quick_user("mallory").await;
    let conversation = started(&app, &alice_token, &[&bob]).await;
    send(&app, &alice_token, &conversation, "private", "k1").await;
    for path in [
        format!("/v1/conversations/{conversation}"),
        format!("/v1/conversations/{conversation}/messages"),
    ] {
        assert_problem(
            app.get(&path, Some(&mallory_token)).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    let sent = send(&app, &mallory_token, &conversation, "let me in", "k2").await;
    assert_problem(sent, StatusCode::NOT_FOUND, "not_found").await;
    let read = app
        .post_empty(
            &format!("/v1/conversations/{conversation}/read"),
            Some(&mallory_token),
        )
        .await;
    assert_problem(read, StatusCode::NOT_FOUND, "not_found").await;
    let messages = list(
        &app,
        &alice_token,
        &format!("/v1/conversations/{conversation}/messages"),
    )
    .await;
    assert_eq!(
        messages["items"].as_array().unwrap().len(),
        1,
        "nothing got in"
    );
}

#[tokio::test]
async fn nobody_messages_across_a_block_either_way() {
    let app = spawn_app().await;
    let (alice, alice_token) = app.quick_user("alice").await;
    let (bob, bob_token) = app.quick_user("bob").await;
    let conversation = started(&app, &alice_token, &[&bob]).await;
    app.post_empty(&format!("/v1/users/{bob}/block"), Some(&alice_token))
        .await;
    for (token, other) in [(&alice_token, &bob), (&bob_token, &alice)] {
        let response = start(&app, token, &[other]).await;
        assert_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        let sent = send(&app, token, &conversation, "hello?", &format!("k-{other}")).await;
        assert_problem(sent, StatusCode::FORBIDDEN, "forbidden").await;
    }
    app.post_empty(&format!("/v1/users/{bob}/unblock"), Some(&alice_token))
        .await;
    assert_eq!(
        send(&app, &bob_token, &conversation, "again", "k3")
            .await
            .status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn a_message_notifies_the_others_and_reading_the_conversation_reads_it() {
    let app = spawn_app().await;
    let (_alice, alice_token) = app.quick_user("alice").await;
    let (bob, bob_token) = app.quick_user("bob").await;
    let (carol, carol_token) = app.quick_user("carol").await;
    let group = started(&app, &alice_token, &[&bob, &carol]).await;
    let message: Value = send(&app, &alice_token, &group, "hello both", "k1")
        .await
        .json()
        .await
        .unwrap();
    app.run_jobs().await;
    for token in [&bob_token, &carol_token] {
        let items = list(&app, token, "/v1/notifications").await;
        assert_eq!(items["items"][0]["type"], "message");
        assert_eq!(items["items"][0]["message_id"], message["id"]);
        assert_eq!(items["items"][0]["conversation_id"], group.as_str());
    }
    assert!(
        list(&app, &alice_token, "/v1/notifications").await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    app.post_empty(&format!("/v1/conversations/{group}/read"), Some(&bob_token))
        .await;
    let count: Value = list(&app, &bob_token, "/v1/notifications/unread-count").await;
    assert_eq!(count["count"], 0);
    let count: Value = list(&app, &carol_token, "/v1/notifications/unread-count").await;
    assert_eq!(count["count"], 1, "carol has not read it");
}
