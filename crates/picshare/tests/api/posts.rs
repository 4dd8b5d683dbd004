use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, error_fields, spawn_app};

async fn create_post(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.post_json("/v1/posts", Some(token), &body).await
}

/// A public post with one fresh image; returns its id.
async fn simple_post(app: &TestApp, token: &str, visibility: &str) -> String {
    let media = app.ready_media(token).await;
    let response = create_post(
        app,
        token,
        json!({"media_ids": [media], "visibility": visibility, "caption": "hi"}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn post_of(app: &TestApp, token: Option<&str>, id: &str) -> reqwest::Response {
    app.get(&format!("/v1/posts/{id}"), token).await
}

async fn ids(page: reqwest::Response) -> Vec<String> {
    let body: Value = page.json().await.unwrap();
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_post_keeps_media_order_tags_and_location() {
    let app = spawn_app().await;
    let (jane, token) = app.quick_user("jane").await;
    let first = app.ready_media(&token).await;
    let second = app.ready_media(&token).await;
    let response = create_post(
        &app,
        &token,
        json!({
            "caption": "Sunset at the #Beach with @bob — #café #beach",
            "media_ids": [second, first],
            "visibility": "public",
            "location": {"name": "Biarritz", "lat": 43.48, "lon": -1.56},
        }),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let post: Value = response.json().await.unwrap();
    let got: Value = post_of(&app, None, post["id"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got, post);
    let media: Vec<&str> = got["media"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(media, vec![second.as_str(), first.as_str()]);
    assert_eq!(got["hashtags"], json!(["beach", "café"]));
    assert_eq!(got["location"]["name"], "Biarritz");
    assert_eq!(
        (got["like_count"].as_i64(), got["comment_count"].as_i64()),
        (Some(0), Some(0))
    );
    assert_eq!(got["liked_by_me"], false);
    assert_eq!(got["author"]["id"], jane.as_str());
    assert!(got.get("edited_at").unwrap().is_null());
    let me: Value = app
        .get("/v1/auth/me", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["posts_count"], 1);
}

#[tokio::test]
async fn invalid_posts_are_refused_and_nothing_is_created() {
    let app = spawn_app().await;
    let (_, token) = app.quick_user("jane").await;
    let (_, other) = app.quick_user("other").await;
    let mine = app.ready_media(&token).await;
    let theirs = app.ready_media(&other).await;
    let pending: Value = app
        .start_upload(&token, "image/png", 100, "post")
        .await
        .json()
        .await
        .unwrap();
    let used = app.ready_media(&token).await;
    create_post(
        &app,
        &token,
        json!({"media_ids": [used], "visibility": "public"}),
    )
    .await;
    let cases = [
        (
            json!({"media_ids": [], "visibility": "public"}),
            "media_ids",
        ),
        (
            json!({"media_ids": vec![mine.clone(); 21], "visibility": "public"}),
            "media_ids",
        ),
        (
            json!({"media_ids": [mine, mine], "visibility": "public"}),
            "media_ids",
        ),
        (
            json!({"media_ids": [mine], "visibility": "friends"}),
            "visibility",
        ),
        (
            json!({"media_ids": [mine], "visibility": "public", "caption": "c".repeat(2201)}),
            "caption",
        ),
        (
            json!({"media_ids": [mine], "visibility": "public", "location": {"name": "X", "lat": 91.0, "lon": 0.0}}),
            "location",
        ),
        (
            json!({"media_ids": [theirs], "visibility": "public"}),
            "media_ids",
        ),
        (
            json!({"media_ids": [pending["upload_id"]], "visibility": "public"}),
            "media_ids",
        ),
        (
            json!({"media_ids": [used], "visibility": "public"}),
            "media_ids",
        ),
    ];
    for (body, field) in cases {
        let problem = assert_problem(
            create_post(&app, &token, body.clone()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), vec![field.to_owned()], "{body}");
    }
    let me: Value = app
        .get("/v1/auth/me", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["posts_count"], 1);
}

#[tokio::test]
async fn the_author_edits_caption_visibility_location_and_media() {
    let app = spawn_app().await;
    let (_, token) = app.quick_user("jane").await;
    let (_, other) = app.quick_user("other").await;
    let (a, b, c) = (
        app.ready_media(&token).await,
        app.ready_media(&token).await,
        app.ready_media(&token).await,
    );
    let foreign = app.ready_media(&token).await;
    let post: Value = create_post(&app, &token, json!({"media_ids": [a, b, c], "visibility": "public", "location": {"name": "Here", "lat": 1.0, "lon": 2.0}})).await.json().await.unwrap();
    let path = format!("/v1/posts/{}", post["id"].as_str().unwrap());
    let response = app.patch_json(&path, Some(&token), &json!({"caption": "new #Tag", "visibility": "followers", "location": null, "media_ids": [c, a]})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let edited: Value = response.json().await.unwrap();
    assert_eq!(edited["caption"], "new #Tag");
    assert_eq!(edited["hashtags"], json!(["tag"]));
    assert_eq!(edited["visibility"], "followers");
    assert!(edited["location"].is_null());
    assert!(edited["edited_at"].is_string());
    let media: Vec<&str> = edited["media"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(media, vec![c.as_str(), a.as_str()]);

    for body in [json!({"media_ids": []}), json!({"media_ids": [a, foreign]})] {
        assert_problem(
            app.patch_json(&path, Some(&token), &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
    // Others cannot edit (and, now that it is followers-only, cannot even see it).
    assert_problem(
        app.patch_json(&path, Some(&other), &json!({"caption": "mine"}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let unchanged: Value = post_of(&app, Some(&token), post["id"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(unchanged["caption"], "new #Tag");
}

#[tokio::test]
async fn a_private_accounts_posts_are_for_approved_followers_only() {
    let app = spawn_app().await;
    let (owner, owner_token) = app.quick_user("owner").await;
    let (_, fan) = app.quick_user("fan").await;
    app.patch_json(
        &format!("/v1/users/{owner}"),
        Some(&owner_token),
        &json!({"is_private": true}),
    )
    .await;
    let post = simple_post(&app, &owner_token, "followers").await;
    let posts_path = format!("/v1/users/{owner}/posts");

    assert_problem(
        post_of(&app, None, &post).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_problem(
        post_of(&app, Some(&fan), &post).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    app.post_empty(&format!("/v1/users/{owner}/follow"), Some(&fan))
        .await;
    assert_problem(
        post_of(&app, Some(&fan), &post).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert!(
        ids(app.get(&posts_path, Some(&fan)).await).await.is_empty(),
        "a request is not approval"
    );
    let (fan_id, _) = (
        app.get("/v1/auth/me", Some(&fan))
            .await
            .json::<Value>()
            .await
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned(),
        (),
    );
    app.post_empty(
        &format!("/v1/follow-requests/{fan_id}/approve"),
        Some(&owner_token),
    )
    .await;
    assert_eq!(
        post_of(&app, Some(&fan), &post).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        ids(app.get(&posts_path, Some(&fan)).await).await,
        vec![post.clone()]
    );
    assert!(ids(app.get(&posts_path, None).await).await.is_empty());
}

#[tokio::test]
async fn followers_only_posts_of_a_public_account_need_a_follow() {
    let app = spawn_app().await;
    let (author, token) = app.quick_user("author").await;
    let (_, reader) = app.quick_user("reader").await;
    let public = simple_post(&app, &token, "public").await;
    let private = simple_post(&app, &token, "followers").await;
    let path = format!("/v1/users/{author}/posts");
    assert_eq!(
        ids(app.get(&path, Some(&reader)).await).await,
        vec![public.clone()]
    );
    assert_problem(
        post_of(&app, Some(&reader), &private).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    app.post_empty(&format!("/v1/users/{author}/follow"), Some(&reader))
        .await;
    assert_eq!(
        ids(app.get(&path, Some(&reader)).await).await,
        vec![private, public]
    );
}

#[tokio::test]
async fn a_block_hides_posts_likes_and_comments_at_once() {
    let app = spawn_app().await;
    let (author, author_token) = app.quick_user("author").await;
    let (troll, troll_token) = app.quick_user("troll").await;
    let (_, friend_token) = app.quick_user("friend").await;
    let post = simple_post(&app, &author_token, "public").await;
    let friends_post = simple_post(&app, &friend_token, "public").await;
    app.post_empty(
        &format!("/v1/posts/{friends_post}/like"),
        Some(&troll_token),
    )
    .await;
    app.post_json(
        &format!("/v1/posts/{friends_post}/comment"),
        Some(&troll_token),
        &json!({"text": "first!"}),
    )
    .await;
    assert_eq!(
        post_of(&app, Some(&troll_token), &post).await.status(),
        StatusCode::OK
    );

    app.post_empty(&format!("/v1/users/{troll}/block"), Some(&author_token))
        .await;
    for response in [
        post_of(&app, Some(&troll_token), &post).await,
        app.post_empty(&format!("/v1/posts/{post}/like"), Some(&troll_token))
            .await,
        app.post_json(
            &format!("/v1/posts/{post}/comment"),
            Some(&troll_token),
            &json!({"text": "hey"}),
        )
        .await,
        app.get(&format!("/v1/posts/{post}/comments"), Some(&troll_token))
            .await,
        app.get(&format!("/v1/posts/{post}/likes"), Some(&troll_token))
            .await,
        app.get(&format!("/v1/users/{author}/posts"), Some(&troll_token))
            .await,
    ] {
        assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    // On a third party's post, each no longer sees the other's likes and comments.
    let likes = ids(app
        .get(
            &format!("/v1/posts/{friends_post}/likes"),
            Some(&author_token),
        )
        .await)
    .await;
    assert!(!likes.contains(&troll));
    let comments: Value = app
        .get(
            &format!("/v1/posts/{friends_post}/comments"),
            Some(&author_token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(comments["items"].as_array().unwrap().is_empty());
    let for_friend: Value = app
        .get(
            &format!("/v1/posts/{friends_post}/comments"),
            Some(&friend_token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        for_friend["items"].as_array().unwrap().len(),
        1,
        "others still see it"
    );
}

#[tokio::test]
async fn likes_are_idempotent_and_counted() {
    let app = spawn_app().await;
    let (_, author) = app.quick_user("author").await;
    let (fan_id, fan) = app.quick_user("fan").await;
    let post = simple_post(&app, &author, "public").await;
    for _ in 0..2 {
        let body: Value = app
            .post_empty(&format!("/v1/posts/{post}/like"), Some(&fan))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body, json!({"liked": true, "like_count": 1}));
    }
    let seen: Value = post_of(&app, Some(&fan), &post).await.json().await.unwrap();
    assert_eq!(
        (seen["liked_by_me"].as_bool(), seen["like_count"].as_i64()),
        (Some(true), Some(1))
    );
    assert_eq!(
        ids(app.get(&format!("/v1/posts/{post}/likes"), None).await).await,
        vec![fan_id]
    );
    for _ in 0..2 {
        let body: Value = app
            .delete(&format!("/v1/posts/{post}/like"), Some(&fan))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body, json!({"liked": false, "like_count": 0}));
    }
}

#[tokio::test]
async fn a_hundred_concurrent_likes_count_a_hundred() {
    let app = spawn_app().await;
    let (_, author) = app.quick_user("author").await;
    let post = simple_post(&app, &author, "public").await;
    let mut fans = Vec::new();
    for n in 0..100 {
        fans.push(app.quick_user(&format!("fan{n:03}")).await.1);
    }
    let likes = fans
        .iter()
        .map(|fan| app.post_empty(&format!("/v1/posts/{post}/like"), Some(fan)));
    for response in futures::future::join_all(likes).await {
        assert_eq!(response.status(), StatusCode::OK);
    }
    let seen: Value = post_of(&app, None, &post).await.json().await.unwrap();
    assert_eq!(seen["like_count"], 100);
    assert_eq!(
        app.app.recount().await.unwrap(),
        0,
        "the counter needed no repair"
    );
}

#[tokio::test]
async fn comments_are_validated_ordered_and_deletable_by_the_right_people() {
    let app = spawn_app().await;
    let (_, author) = app.quick_user("author").await;
    let (_, writer) = app.quick_user("writer").await;
    let (_, stranger) = app.quick_user("stranger").await;
    let (moderator_id, moderator) = app.quick_user("moderator").await;
    app.store()
        .set_role(
            picshare_domain::UserId(moderator_id.parse().unwrap()),
            picshare_domain::Role::Moderator,
        )
        .await
        .unwrap();
    let post = simple_post(&app, &author, "public").await;
    let path = format!("/v1/posts/{post}/comment");
    for text in ["", "   ", &"x".repeat(1001)] {
        assert_problem(
            app.post_json(&path, Some(&writer), &json!({"text": text}))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
    let mut created = Vec::new();
    for n in 0..3 {
        let response = app
            .post_json(
                &path,
                Some(&writer),
                &json!({"text": format!("comment {n}")}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let comment: Value = response.json().await.unwrap();
        assert_eq!(comment["post_id"], post.as_str());
        created.push(comment["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        ids(app.get(&format!("/v1/posts/{post}/comments"), None).await).await,
        created,
        "oldest first"
    );
    assert_eq!(
        post_of(&app, None, &post)
            .await
            .json::<Value>()
            .await
            .unwrap()["comment_count"],
        3
    );

    let delete =
        |id: &str, token: &str| app.delete(&format!("/v1/posts/{post}/comments/{id}"), Some(token));
    assert_problem(
        delete(&created[0], &stranger).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_eq!(
        delete(&created[0], &writer).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        delete(&created[1], &author).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        delete(&created[2], &moderator).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_problem(
        delete(&created[2], &moderator).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(
        post_of(&app, None, &post)
            .await
            .json::<Value>()
            .await
            .unwrap()["comment_count"],
        0
    );
}

#[tokio::test]
async fn comment_pages_never_repeat_or_skip_when_comments_arrive_meanwhile() {
    let app = spawn_app().await;
    let (_, author) = app.quick_user("author").await;
    let post = simple_post(&app, &author, "public").await;
    let path = format!("/v1/posts/{post}/comment");
    for n in 0..12 {
        app.post_json(&path, Some(&author), &json!({"text": format!("c{n}")}))
            .await;
    }
    let first: Value = app
        .get(&format!("/v1/posts/{post}/comments?limit=5"), None)
        .await
        .json()
        .await
        .unwrap();
    let mut texts: Vec<String> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["text"].as_str().unwrap().to_owned())
        .collect();
    for n in 12..15 {
        app.post_json(&path, Some(&author), &json!({"text": format!("c{n}")}))
            .await;
    }
    let mut cursor = first["next_cursor"].as_str().map(str::to_owned);
    while let Some(next) = cursor {
        let page: Value = app
            .get(
                &format!("/v1/posts/{post}/comments?limit=5&cursor={next}"),
                None,
            )
            .await
            .json()
            .await
            .unwrap();
        texts.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["text"].as_str().unwrap().to_owned()),
        );
        cursor = page["next_cursor"].as_str().map(str::to_owned);
    }
    let expected: Vec<String> = (0..15).map(|n| format!("c{n}")).collect();
    assert_eq!(
        texts, expected,
        "oldest first, each once, newcomers at the end"
    );
}

#[tokio::test]
async fn deleting_a_post_removes_its_likes_comments_and_media() {
    let app = spawn_app().await;
    let (_, author) = app.quick_user("author").await;
    let (_, fan) = app.quick_user("fan").await;
    let (_, other) = app.quick_user("other").await;
    let media = app.ready_media(&author).await;
    let post: Value = create_post(
        &app,
        &author,
        json!({"media_ids": [media], "visibility": "public"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let id = post["id"].as_str().unwrap();
    app.post_empty(&format!("/v1/posts/{id}/like"), Some(&fan))
        .await;
    app.post_json(
        &format!("/v1/posts/{id}/comment"),
        Some(&fan),
        &json!({"text": "nice"}),
    )
    .await;

    assert_problem(
        app.delete(&format!("/v1/posts/{id}"), Some(&other)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_eq!(
        app.delete(&format!("/v1/posts/{id}"), Some(&author))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    for path in [
        format!("/v1/posts/{id}"),
        format!("/v1/posts/{id}/likes"),
        format!("/v1/posts/{id}/comments"),
        format!("/v1/media/{media}"),
    ] {
        assert_problem(
            app.get(&path, Some(&author)).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    app.run_jobs().await;
    assert!(
        !app.object_exists(&format!("variants/{media}/medium.jpg"))
            .await
    );
    assert!(!app.object_exists(&format!("originals/{media}")).await);
    let me: Value = app
        .get("/v1/auth/me", Some(&author))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["posts_count"], 0);
    assert_eq!(app.app.recount().await.unwrap(), 0);
}

#[tokio::test]
async fn moderators_can_delete_any_post() {
    let app = spawn_app().await;
    let (_, author) = app.quick_user("author").await;
    let (moderator_id, moderator) = app.quick_user("moderator").await;
    app.store()
        .set_role(
            picshare_domain::UserId(moderator_id.parse().unwrap()),
            picshare_domain::Role::Moderator,
        )
        .await
        .unwrap();
    let post = simple_post(&app, &author, "public").await;
    assert_eq!(
        app.delete(&format!("/v1/posts/{post}"), Some(&moderator))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_problem(
        post_of(&app, None, &post).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn recount_repairs_counters_that_drifted() {
    let app = spawn_app().await;
    let (author_id, author) = app.quick_user("author").await;
    let (_, fan) = app.quick_user("fan").await;
    app.post_empty(&format!("/v1/users/{author_id}/follow"), Some(&fan))
        .await;
    let post = simple_post(&app, &author, "public").await;
    app.post_empty(&format!("/v1/posts/{post}/like"), Some(&fan))
        .await;
    app.execute_sql("UPDATE users SET followers_count = 42, posts_count = 7")
        .await;
    app.execute_sql("UPDATE posts SET like_count = 9, comment_count = 3")
        .await;
    assert_eq!(
        app.app.recount().await.unwrap(),
        3,
        "two users and one post were off"
    );
    let profile: Value = app
        .get(&format!("/v1/users/{author_id}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            profile["followers_count"].as_i64(),
            profile["posts_count"].as_i64()
        ),
        (Some(1), Some(1))
    );
    let seen: Value = post_of(&app, None, &post).await.json().await.unwrap();
    assert_eq!(
        (seen["like_count"].as_i64(), seen["comment_count"].as_i64()),
        (Some(1), Some(0))
    );
    assert_eq!(app.app.recount().await.unwrap(), 0);
    let _: HashSet<()> = HashSet::new();
}

#[tokio::test]
async fn post_pages_never_repeat_or_skip_when_posts_arrive_meanwhile() {
    let app = spawn_app().await;
    let (author, token) = app.quick_user("author").await;
    let media = app.ready_media(&token).await;
    let mut earlier = Vec::new();
    for n in 0..7 {
        let post: Value = create_post(&app, &token, json!({"media_ids": [if n == 0 { media.clone() } else { app.ready_media(&token).await }], "visibility": "public"})).await.json().await.unwrap();
        earlier.push(post["id"].as_str().unwrap().to_owned());
    }
    earlier.reverse();
    let path = format!("/v1/users/{author}/posts");
    let first: Value = app
        .get(&format!("{path}?limit=3"), None)
        .await
        .json()
        .await
        .unwrap();
    let mut seen: Vec<String> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    simple_post(&app, &token, "public").await;
    let mut cursor = first["next_cursor"].as_str().map(str::to_owned);
    while let Some(next) = cursor {
        let page: Value = app
            .get(&format!("{path}?limit=3&cursor={next}"), None)
            .await
            .json()
            .await
            .unwrap();
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["id"].as_str().unwrap().to_owned()),
        );
        cursor = page["next_cursor"].as_str().map(str::to_owned);
    }
    assert_eq!(
        seen, earlier,
        "newest first, each once; the newer post belongs to a fresh first page"
    );
}

#[tokio::test]
async fn post_images_are_seen_only_with_their_post_and_stay_while_it_lives() {
    let app = spawn_app().await;
    let (author, token) = app.quick_user("author").await;
    let (_, reader) = app.quick_user("reader").await;
    let loose = app.ready_media(&token).await;
    assert_problem(
        app.get(&format!("/v1/media/{loose}"), Some(&reader)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(
        app.get(&format!("/v1/media/{loose}"), Some(&token))
            .await
            .status(),
        StatusCode::OK
    );

    let media = app.ready_media(&token).await;
    let post: Value = create_post(
        &app,
        &token,
        json!({"media_ids": [media], "visibility": "followers"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_problem(
        app.get(&format!("/v1/media/{media}"), Some(&reader)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    app.post_empty(&format!("/v1/users/{author}/follow"), Some(&reader))
        .await;
    assert_eq!(
        app.get(&format!("/v1/media/{media}"), Some(&reader))
            .await
            .status(),
        StatusCode::OK
    );

    // An image on a post cannot be deleted from under it.
    let refused = app
        .delete(&format!("/v1/media/{media}"), Some(&token))
        .await;
    assert_problem(refused, StatusCode::CONFLICT, "conflict").await;
    let still: Value = post_of(&app, Some(&token), post["id"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(still["media"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn moderators_reach_posts_and_comments_they_could_not_see() {
    let app = spawn_app().await;
    let (owner, token) = app.quick_user("owner").await;
    let (moderator_id, moderator) = app.quick_user("moderator").await;
    app.store()
        .set_role(
            picshare_domain::UserId(moderator_id.parse().unwrap()),
            picshare_domain::Role::Moderator,
        )
        .await
        .unwrap();
    app.patch_json(
        &format!("/v1/users/{owner}"),
        Some(&token),
        &json!({"is_private": true}),
    )
    .await;
    let post = simple_post(&app, &token, "followers").await;
    let comment: Value = app
        .post_json(
            &format!("/v1/posts/{post}/comment"),
            Some(&token),
            &json!({"text": "hidden"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_problem(
        post_of(&app, Some(&moderator), &post).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let removed = app
        .delete(
            &format!(
                "/v1/posts/{post}/comments/{}",
                comment["id"].as_str().unwrap()
            ),
            Some(&moderator),
        )
        .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.delete(&format!("/v1/posts/{post}"), Some(&moderator))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_problem(
        post_of(&app, Some(&token), &post).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn two_posts_racing_for_one_image_give_one_post_and_one_clear_refusal() {
    let app = spawn_app().await;
    let (_, token) = app.quick_user("author").await;
    for _ in 0..5 {
        let media = app.ready_media(&token).await;
        let body = json!({"media_ids": [media], "visibility": "public"});
        let (first, second) = tokio::join!(
            app.post_json("/v1/posts", Some(&token), &body),
            app.post_json("/v1/posts", Some(&token), &body)
        );
        let mut statuses = [first.status(), second.status()];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::CREATED, StatusCode::UNPROCESSABLE_ENTITY]
        );
    }
    let me: Value = app
        .get("/v1/auth/me", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["posts_count"], 5);
}
