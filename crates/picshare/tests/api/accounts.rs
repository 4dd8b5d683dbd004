//! Leaving: an account's deletion vanishes it at once for everyone, then removes every row and
//! object it owned (the bucket too), with everyone else's data and counters right; a worker
//! killed halfway leaves the rest to the next.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::feed::{feed_page, follow, post};
use crate::helpers::{PASSWORD, TestApp, assert_problem, spawn_app, spawn_app_with};
use crate::moderation::staff;
use crate::processes::Process;

fn delete_account(
    app: &TestApp,
    token: &str,
    user: &str,
    body: Value,
) -> impl Future<Output = reqwest::Response> + use<> {
    let request = app
        .client
        .delete(app.url(&format!("/v1/users/{user}")))
        .bearer_auth(token)
        .json(&body);
    async move { request.send().await.unwrap() }
}

/// Rows in each table that name `user`, by table and column.
async fn rows_naming(app: &TestApp, user: &str) -> Vec<(&'static str, i64)> {
    let id = app.sql_uuid(user);
    let mut counts = Vec::new();
    for (table, column) in [
        ("users", "id"),
        ("refresh_tokens", "user_id"),
        ("media", "owner_id"),
        ("posts", "author_id"),
        ("likes", "user_id"),
        ("comments", "author_id"),
        ("follows", "follower_id"),
        ("follows", "followee_id"),
        ("blocks", "blocker_id"),
        ("notifications", "actor_id"),
        ("notifications", "recipient_id"),
        ("home_timeline", "user_id"),
        ("home_timeline", "author_id"),
        ("timeline_state", "user_id"),
        ("conversation_members", "user_id"),
        ("messages", "sender_id"),
        ("devices", "user_id"),
        ("invites", "inviter_id"),
    ] {
        let sql = format!("SELECT count(*) FROM {table} WHERE {column} = {id}");
        counts.push((table, app.query_i64(&sql).await));
    }
    counts
}

async fn json_of(app: &TestApp, path: &str, token: Option<&str>) -> Value {
    let response = app.get(path, token).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json().await.unwrap()
}

fn ids(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Makes the deletion's later steps (release, removal) due now.
async fn end_grace(app: &TestApp) {
    app.execute_sql("UPDATE jobs SET run_at = created_at WHERE kind = 'delete_account'")
        .await;
}

#[tokio::test]
async fn a_deleted_account_vanishes_at_once_then_everything_it_owned_goes() {
    let app = spawn_app().await;
    let (alice, alice_token) = app.user_with_token("alice").await;
    let alice = alice["id"].as_str().unwrap().to_owned();
    let alice_refresh = app.login("alice").await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (bob, bob_token) = app.quick_user("bob").await;
    let (carol, carol_token) = app.quick_user("carol").await;
    let (dave, _) = app.quick_user("dave").await;

    // Alice's own: two posts (one for followers), an avatar, a follow each way, a block.
    let public_post = post(&app, &alice_token, "public").await;
    let followers_post = post(&app, &alice_token, "followers").await;
    let avatar_bytes =
        picshare_media::samples::png(&picshare_media::samples::split_colours(64, 64));
    let avatar = app
        .upload(&alice_token, avatar_bytes, "image/png", "avatar")
        .await;
    app.run_jobs().await;
    let set_avatar = app
        .patch_json(
            &format!("/v1/users/{alice}"),
            Some(&alice_token),
            &json!({ "avatar_media_id": avatar }),
        )
        .await;
    assert_eq!(set_avatar.status(), StatusCode::OK);
    follow(&app, &bob_token, &alice).await;
    follow(&app, &alice_token, &bob).await;
    app.post_empty(&format!("/v1/users/{dave}/block"), Some(&alice_token))
        .await;
    // What Alice did to others: likes and comments on Bob's post, a message to Bob.
    let bobs_post = post(&app, &bob_token, "public").await;
    app.post_empty(&format!("/v1/posts/{bobs_post}/like"), Some(&alice_token))
        .await;
    for (token, text) in [
        (&alice_token, "one"),
        (&alice_token, "two"),
        (&carol_token, "hi"),
    ] {
        let response = app
            .post_json(
                &format!("/v1/posts/{bobs_post}/comments"),
                Some(token),
                &json!({ "text": text }),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    app.post_empty(&format!("/v1/posts/{public_post}/like"), Some(&carol_token))
        .await;
    let conversation: Value = app
        .post_json(
            "/v1/conversations",
            Some(&alice_token),
            &json!({ "participant_ids": [bob] }),
        )
        .await
        .json()
        .await
        .unwrap();
    let conversation = conversation["id"].as_str().unwrap().to_owned();
    let sent = app
        .post_json(
            &format!("/v1/conversations/{conversation}/messages"),
            Some(&alice_token),
            &json!({ "text": "see you", "client_message_id": "m1" }),
        )
        .await;
    assert_eq!(sent.status(), StatusCode::CREATED);
    app.run_jobs().await;
    let alice_post: Value = json_of(&app, &format!("/v1/posts/{public_post}"), None).await;
    let alice_media = alice_post["media"][0]["id"].as_str().unwrap().to_owned();
    let alice_keys = [
        picshare_objects::original_key(&avatar),
        picshare_objects::variant_key(&avatar, "avatar"),
        picshare_objects::original_key(&alice_media),
        picshare_objects::variant_key(&alice_media, "medium"),
    ];
    let bob_post: Value = json_of(&app, &format!("/v1/posts/{bobs_post}"), None).await;
    let bob_media = bob_post["media"][0]["id"].as_str().unwrap().to_owned();
    for key in &alice_keys {
        assert!(app.object_exists(key).await, "{key} stored");
    }
    let before = rows_naming(&app, &alice).await;
    for table in [
        "posts",
        "media",
        "likes",
        "comments",
        "follows",
        "notifications",
    ] {
        assert!(
            before.iter().any(|(t, n)| *t == table && *n > 0),
            "{table}: {before:?}"
        );
    }

    // A wrong password, someone else, no password: refused, and nothing changes.
    let wrong = delete_account(
        &app,
        &alice_token,
        &alice,
        json!({"password": "not it at all"}),
    );
    assert_problem(wrong.await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let not_theirs = delete_account(&app, &bob_token, &alice, json!({"password": PASSWORD}));
    assert_problem(not_theirs.await, StatusCode::FORBIDDEN, "forbidden").await;
    let no_password = delete_account(&app, &alice_token, &alice, json!({}));
    assert_problem(
        no_password.await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(rows_naming(&app, &alice).await, before);
    json_of(&app, &format!("/v1/users/{alice}"), None).await;

    let deleted = delete_account(&app, &alice_token, &alice, json!({"password": PASSWORD}));
    assert_eq!(deleted.await.status(), StatusCode::NO_CONTENT);

    // At once: no profile, no session, no posts, comments, likes or follows in anyone's view.
    assert_eq!(
        app.get(&format!("/v1/users/{alice}"), None).await.status(),
        StatusCode::NOT_FOUND
    );
    let me = app.get("/v1/auth/me", Some(&alice_token)).await;
    assert_problem(me, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let refreshed = app.refresh_grant(&alice_refresh).await;
    assert_eq!(refreshed.status(), StatusCode::UNAUTHORIZED);
    let login = app.password_grant("alice", PASSWORD).await;
    assert_eq!(login.status(), StatusCode::UNAUTHORIZED);
    for post in [&public_post, &followers_post] {
        let seen = app
            .get(&format!("/v1/posts/{post}"), Some(&bob_token))
            .await;
        assert_eq!(seen.status(), StatusCode::NOT_FOUND);
    }
    let (feed, _) = feed_page(&app, &bob_token, "").await;
    assert_eq!(
        feed,
        vec![bobs_post.clone()],
        "Bob's feed keeps only his own post"
    );
    let comments = json_of(&app, &format!("/v1/posts/{bobs_post}/comments"), None).await;
    assert_eq!(comments["items"].as_array().unwrap().len(), 1, "{comments}");
    let likers = json_of(&app, &format!("/v1/posts/{bobs_post}/likes"), None).await;
    assert!(ids(&likers).is_empty(), "{likers}");
    let followers = json_of(&app, &format!("/v1/users/{bob}/followers"), None).await;
    assert!(ids(&followers).is_empty(), "{followers}");
    let found = json_of(&app, "/v1/search/users?q=alice", None).await;
    assert!(ids(&found).is_empty(), "{found}");
    let notifications = json_of(&app, "/v1/notifications", Some(&bob_token)).await;
    let actors: Vec<&Value> = notifications["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| &n["actor"]["id"])
        .collect();
    assert!(!actors.contains(&&json!(alice)), "{notifications}");
    // The handle and email are free at once (no grace by default).
    let again = app.sign_up("alice").await;
    assert_ne!(again["id"], json!(alice));
    // A second request changes nothing.
    let twice = delete_account(&app, &bob_token, &alice, json!({"reason": "again"}));
    assert_eq!(twice.await.status(), StatusCode::NOT_FOUND);

    // The jobs remove every row and object, and put everyone's counters right.
    app.run_jobs().await;
    let purged = rows_naming(&app, &alice).await;
    for (table, count) in &purged {
        let kept = matches!(
            *table,
            "users" | "timeline_state" | "conversation_members" | "messages"
        );
        assert!(kept || *count == 0, "{table} still names Alice: {purged:?}");
    }
    for key in &alice_keys {
        assert!(!app.object_exists(key).await, "{key} removed");
    }
    assert!(
        app.object_exists(&picshare_objects::original_key(&bob_media))
            .await
    );
    let bob_now = json_of(&app, &format!("/v1/users/{bob}"), None).await;
    assert_eq!(
        (
            bob_now["followers_count"].clone(),
            bob_now["following_count"].clone()
        ),
        (json!(0), json!(0))
    );
    let bobs_post_now = json_of(&app, &format!("/v1/posts/{bobs_post}"), None).await;
    assert_eq!(bobs_post_now["like_count"], 0);
    assert_eq!(bobs_post_now["comment_count"], 1);
    let carol_now = json_of(&app, &format!("/v1/users/{carol}"), None).await;
    assert_eq!(carol_now["following_count"], 0);

    // Once its tokens have expired the row goes; the messages stay, from a deleted account.
    end_grace(&app).await;
    app.run_jobs().await;
    let removed = rows_naming(&app, &alice).await;
    assert!(removed.iter().all(|(_, n)| *n == 0), "{removed:?}");
    let messages = json_of(
        &app,
        &format!("/v1/conversations/{conversation}/messages"),
        Some(&bob_token),
    )
    .await;
    let items = messages["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{messages}");
    assert_eq!(items[0]["text"], "see you");
    assert!(items[0]["sender"].is_null(), "{messages}");
    // The recount finds nothing to correct: every counter was kept right along the way.
    assert_eq!(app.app.recount().await.unwrap(), 0);
}

#[tokio::test]
async fn moderators_delete_accounts_with_a_reason_on_the_audit_log() {
    let app = spawn_app_with(|config| config.account_deletion_grace_secs = 3600).await;
    let (_, moderator) = staff(&app, "mod", picshare_domain::Role::Moderator).await;
    let (other_moderator, _) = staff(&app, "mod2", picshare_domain::Role::Moderator).await;
    let (spammer, spammer_token) = app.quick_user("spammer").await;

    let unexplained = delete_account(&app, &moderator, &spammer, json!({}));
    assert_problem(
        unexplained.await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let peer = delete_account(&app, &moderator, &other_moderator, json!({"reason": "no"}));
    assert_problem(peer.await, StatusCode::FORBIDDEN, "forbidden").await;

    let deleted = delete_account(&app, &moderator, &spammer, json!({"reason": "spam wave"}));
    assert_eq!(deleted.await.status(), StatusCode::NO_CONTENT);
    let me = app.get("/v1/auth/me", Some(&spammer_token)).await;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    let audit = json_of(
        &app,
        "/v1/moderation/audit?action=delete_user",
        Some(&moderator),
    )
    .await;
    let entry = &audit["items"][0];
    assert_eq!(entry["target_id"], json!(spammer), "{audit}");
    assert_eq!(entry["reason"], "spam wave");

    // Within the grace the handle stays taken; after it, it is free.
    let taken = app
        .post_json(
            "/v1/users",
            None,
            &json!({"handle": "spammer", "email": "new@example.com", "password": PASSWORD}),
        )
        .await;
    assert_problem(taken, StatusCode::CONFLICT, "conflict").await;
    app.run_jobs().await;
    end_grace(&app).await;
    app.run_jobs().await;
    app.sign_up("spammer").await;
}

#[tokio::test]
async fn a_worker_killed_mid_deletion_leaves_the_rest_to_the_next_and_counts_stay_right() {
    let app = spawn_app().await;
    let (alice, alice_token) = app.user_with_token("alice").await;
    let alice = alice["id"].as_str().unwrap().to_owned();
    let mut others = Vec::new();
    for n in 0..6 {
        let (id, token) = app.quick_user(&format!("friend{n}")).await;
        follow(&app, &token, &alice).await;
        follow(&app, &alice_token, &id).await;
        others.push(id);
    }
    app.run_jobs().await;
    let follows = format!(
        "SELECT count(*) FROM follows WHERE follower_id = {id} OR followee_id = {id}",
        id = app.sql_uuid(&alice)
    );
    assert_eq!(app.query_i64(&follows).await, 12);
    let deleted = delete_account(&app, &alice_token, &alice, json!({"password": PASSWORD}));
    assert_eq!(deleted.await.status(), StatusCode::NO_CONTENT);

    // One follow a batch, a rest between batches: the worker is killed partway.
    let mut worker = Process::start(
        &app.config,
        "worker",
        &[
            ("PICSHARE_ACCOUNT_DELETION_BATCH", "1"),
            ("PICSHARE_ACCOUNT_DELETION_PAUSE_MS", "250"),
            ("PICSHARE_JOB_LEASE_SECS", "1"),
            ("PICSHARE_LOG_LEVEL", "error"),
        ],
    );
    let started = std::time::Instant::now();
    while app.query_i64(&follows).await > 9 {
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    worker.kill();
    let left = app.query_i64(&follows).await;
    assert!(
        (1..=9).contains(&left),
        "killed partway: {left} follows left"
    );

    // The job's lease runs out; the next worker finishes it, and no counter is off by one.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    app.run_jobs().await;
    assert_eq!(app.query_i64(&follows).await, 0);
    for id in &others {
        let user = json_of(&app, &format!("/v1/users/{id}"), None).await;
        assert_eq!(
            (
                user["followers_count"].clone(),
                user["following_count"].clone()
            ),
            (json!(0), json!(0)),
            "{user}"
        );
    }
    assert_eq!(app.app.recount().await.unwrap(), 0);
}

#[tokio::test]
async fn deleting_the_media_used_as_an_avatar_clears_the_avatar() {
    let app = spawn_app().await;
    let (user, token) = app.quick_user("pic").await;
    let bytes = picshare_media::samples::png(&picshare_media::samples::split_colours(64, 64));
    let avatar = app.upload(&token, bytes, "image/png", "avatar").await;
    app.run_jobs().await;
    let set = app
        .patch_json(
            &format!("/v1/users/{user}"),
            Some(&token),
            &json!({ "avatar_media_id": avatar }),
        )
        .await;
    assert_eq!(set.status(), StatusCode::OK);
    let shown = json_of(&app, &format!("/v1/users/{user}"), None).await;
    assert!(shown["avatar"].is_object(), "{shown}");
    let gone = app
        .delete(&format!("/v1/media/{avatar}"), Some(&token))
        .await;
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    let me = json_of(&app, "/v1/auth/me", Some(&token)).await;
    assert!(me["avatar"].is_null(), "{me}");
    app.run_jobs().await;
    assert!(
        !app.object_exists(&picshare_objects::original_key(&avatar))
            .await
    );
}

#[tokio::test]
async fn an_export_holds_everything_the_account_owns_and_did_and_only_its_owner_gets_it() {
    let app = spawn_app().await;
    let (alice, alice_token) = app.user_with_token("alice").await;
    let alice = alice["id"].as_str().unwrap().to_owned();
    let (bob, bob_token) = app.quick_user("bob").await;
    let (carol, carol_token) = app.quick_user("carol").await;
    let (dave, _) = app.quick_user("dave").await;
    let media = app.ready_media(&alice_token).await;
    let created = app
        .post_json(
            "/v1/posts",
            Some(&alice_token),
            &json!({
                "media_ids": [media], "visibility": "followers", "caption": "Dusk #sunset",
                "location": {"name": "Suva", "lat": -18.14, "lon": 178.44},
            }),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let alice_post = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let bobs_post = post(&app, &bob_token, "public").await;
    app.post_empty(&format!("/v1/posts/{bobs_post}/like"), Some(&alice_token))
        .await;
    let comment = app
        .post_json(
            &format!("/v1/posts/{bobs_post}/comments"),
            Some(&alice_token),
            &json!({"text": "lovely"}),
        )
        .await;
    assert_eq!(comment.status(), StatusCode::CREATED);
    follow(&app, &alice_token, &bob).await;
    follow(&app, &carol_token, &alice).await;
    app.post_empty(&format!("/v1/users/{dave}/block"), Some(&alice_token))
        .await;
    app.post_empty(&format!("/v1/posts/{alice_post}/like"), Some(&carol_token))
        .await;
    let conversation: Value = app
        .post_json(
            "/v1/conversations",
            Some(&bob_token),
            &json!({ "participant_ids": [alice] }),
        )
        .await
        .json()
        .await
        .unwrap();
    let conversation = conversation["id"].as_str().unwrap().to_owned();
    let sent = app
        .post_json(
            &format!("/v1/conversations/{conversation}/messages"),
            Some(&bob_token),
            &json!({ "text": "hello alice", "client_message_id": "m1" }),
        )
        .await;
    assert_eq!(sent.status(), StatusCode::CREATED);
    app.run_jobs().await;

    let path = format!("/v1/users/{alice}/export");
    assert_problem(
        app.get(&path, Some(&bob_token)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_eq!(
        app.get(&path, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Asked for gzip, as browsers ask: the archive comes as it is (compressed already).
    let response = app
        .client
        .get(app.url(&path))
        .bearer_auth(&alice_token)
        .header("accept-encoding", "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/zip");
    assert!(response.headers().get("content-encoding").is_none());
    let bytes = response.bytes().await.unwrap().to_vec();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let account: Value = {
        let entry = archive.by_name("account.json").unwrap();
        serde_json::from_reader(entry).unwrap()
    };
    assert_eq!(account["format"], "picshare-export/1");
    assert_eq!(account["account"]["id"], json!(alice));
    assert_eq!(account["account"]["email"], "alice@example.com");
    let posts = account["posts"].as_array().unwrap();
    assert_eq!(posts.len(), 1, "{account}");
    assert_eq!(posts[0]["caption"], "Dusk #sunset");
    assert_eq!(posts[0]["hashtags"], json!(["sunset"]));
    assert_eq!(posts[0]["location"]["name"], "Suva");
    assert_eq!(posts[0]["like_count"], 1);
    let listed = |section: &str, field: &str| -> Vec<Value> {
        account[section]
            .as_array()
            .unwrap_or_else(|| panic!("{section}: {account}"))
            .iter()
            .map(|item| item[field].clone())
            .collect()
    };
    assert_eq!(listed("comments", "text"), [json!("lovely")]);
    assert_eq!(listed("likes", "post_id"), [json!(bobs_post)]);
    assert_eq!(listed("following", "id"), [json!(bob)]);
    assert_eq!(listed("followers", "id"), [json!(carol)]);
    assert_eq!(listed("blocks", "user_id"), [json!(dave)]);
    assert_eq!(listed("conversations", "id"), [json!(conversation)]);
    assert_eq!(listed("messages", "text"), [json!("hello alice")]);
    assert!(
        listed("notifications", "kind").contains(&json!("like")),
        "{account}"
    );
    assert!(!listed("sessions", "id").is_empty(), "the login's session");
    // Every ready photo's original is in the archive, as stored.
    let files = listed("media", "file");
    assert_eq!(files.len(), 1, "{account}");
    let name = files[0].as_str().unwrap();
    assert_eq!(name, format!("media/{media}.png"));
    let mut photo = Vec::new();
    std::io::Read::read_to_end(&mut archive.by_name(name).unwrap(), &mut photo).unwrap();
    let stored = app
        .app
        .objects
        .get(&picshare_objects::original_key(&media), 1 << 26)
        .await
        .unwrap();
    assert_eq!(photo, stored);
    // No secrets: no password hash, no token, no device fingerprint.
    let text = account.to_string();
    assert!(
        !text.contains("argon2") && !text.contains("token_hash"),
        "{text}"
    );
}
