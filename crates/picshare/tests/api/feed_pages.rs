//! Feed pages cached by one instance: every change a reader would notice, made through another
//! instance on the same database, shows on the reader's very next request.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::feed::{feed_page, follow, post};
use crate::helpers::{TestApp, spawn_app, spawn_sibling};
use crate::moderation::staff;

/// The first page as (id, caption, liked_by_me), read twice so the second read can come from
/// the cache.
async fn first_page(app: &TestApp, token: &str) -> Vec<(String, String, bool)> {
    let mut pages = Vec::new();
    for _ in 0..2 {
        let page: Value = app.get("/v1/feed", Some(token)).await.json().await.unwrap();
        let items: Vec<(String, String, bool)> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["id"].as_str().unwrap().to_owned(),
                    p["caption"].as_str().unwrap().to_owned(),
                    p["liked_by_me"].as_bool().unwrap(),
                )
            })
            .collect();
        pages.push(items);
    }
    assert_eq!(pages[0], pages[1], "two reads in a row differ");
    pages.pop().unwrap()
}

/// A page's ids, read twice so the second read can come from the cache.
async fn read_twice(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let first = feed_page(app, token, query).await.0;
    assert_eq!(feed_page(app, token, query).await.0, first);
    first
}

fn ids(page: &[(String, String, bool)]) -> Vec<&str> {
    page.iter().map(|(id, _, _)| id.as_str()).collect()
}

#[tokio::test]
async fn a_cached_page_shows_changes_made_through_another_instance_on_the_next_read() {
    let app = spawn_app().await;
    let other = spawn_sibling(&app).await;
    let (reader_id, reader) = app.quick_user("reader").await;
    let (author, author_token) = app.quick_user("author").await;
    follow(&app, &reader, &author).await;
    let older = post(&app, &author_token, "public").await;
    let newer = post(&app, &author_token, "followers").await;
    // Start and build the reader's timeline, so pages come from it.
    feed_page(&app, &reader, "").await;
    app.run_jobs().await;
    let page = first_page(&app, &reader).await;
    assert_eq!(ids(&page), [newer.as_str(), older.as_str()]);
    assert!(page.iter().all(|(_, _, liked)| !liked));

    let liked = other
        .post_empty(&format!("/v1/posts/{older}/like"), Some(&reader))
        .await;
    assert_eq!(liked.status(), StatusCode::OK);
    let page = first_page(&app, &reader).await;
    assert_eq!(page[1], (older.clone(), String::new(), true), "a like");

    let edited = other
        .patch_json(
            &format!("/v1/posts/{newer}"),
            Some(&author_token),
            &json!({"caption": "edited"}),
        )
        .await;
    assert_eq!(edited.status(), StatusCode::OK);
    let page = first_page(&app, &reader).await;
    assert_eq!(page[0].1, "edited", "an edit");

    let (_, moderator) = staff(&app, "moderator", picshare_domain::Role::Moderator).await;
    let reason = json!({"reason": "against the rules"});
    let taken_down = other
        .post_json(
            &format!("/v1/moderation/posts/{older}/takedown"),
            Some(&moderator),
            &reason,
        )
        .await;
    assert_eq!(taken_down.status(), StatusCode::OK);
    assert_eq!(
        ids(&first_page(&app, &reader).await),
        [newer.as_str()],
        "a takedown"
    );
    let reinstated = other
        .post_json(
            &format!("/v1/moderation/posts/{older}/reinstate"),
            Some(&moderator),
            &reason,
        )
        .await;
    assert_eq!(reinstated.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        ids(&first_page(&app, &reader).await),
        [newer.as_str(), older.as_str()],
        "a reinstatement"
    );

    let unliked = other
        .delete(&format!("/v1/posts/{older}/like"), Some(&reader))
        .await;
    assert_eq!(unliked.status(), StatusCode::OK);
    assert!(!first_page(&app, &reader).await[1].2, "an unlike");

    let deleted = other
        .delete(&format!("/v1/posts/{newer}"), Some(&author_token))
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(ids(&first_page(&app, &reader).await), [older.as_str()]);

    other
        .post_empty(&format!("/v1/users/{author}/unfollow"), Some(&reader))
        .await;
    assert!(first_page(&app, &reader).await.is_empty(), "an unfollow");

    follow(&other, &reader, &author).await;
    assert_eq!(
        ids(&first_page(&app, &reader).await),
        [older.as_str()],
        "a new follow"
    );

    let blocked = other
        .post_empty(&format!("/v1/users/{reader_id}/block"), Some(&author_token))
        .await;
    assert!(blocked.status().is_success());
    assert!(first_page(&app, &reader).await.is_empty(), "a block");
}

#[tokio::test]
async fn a_refresh_through_another_instance_shows_the_rebuilt_timeline() {
    let app = spawn_app().await;
    let other = spawn_sibling(&app).await;
    let (_, reader) = app.quick_user("reader").await;
    let (author, author_token) = app.quick_user("author").await;
    follow(&app, &reader, &author).await;
    let only = post(&app, &author_token, "public").await;
    feed_page(&app, &reader, "").await;
    app.run_jobs().await;
    assert_eq!(ids(&first_page(&app, &reader).await), [only.as_str()]);
    // A timeline damaged behind the server's back, as a lost write would leave it.
    app.execute_sql("DELETE FROM home_timeline").await;
    assert!(first_page(&app, &reader).await.is_empty());
    let refreshed = other.post_empty("/v1/feed/refresh", Some(&reader)).await;
    assert_eq!(refreshed.status(), StatusCode::NO_CONTENT);
    other.run_jobs().await;
    assert_eq!(ids(&first_page(&app, &reader).await), [only.as_str()]);
}

#[tokio::test]
async fn entries_a_page_skips_do_not_hide_a_deletion_below_them() {
    let app = spawn_app().await;
    let other = spawn_sibling(&app).await;
    let (_, reader) = app.quick_user("reader").await;
    let (author, author_token) = app.quick_user("author").await;
    let (stranger, stranger_token) = app.quick_user("stranger").await;
    follow(&app, &reader, &author).await;
    let mut posts = Vec::new();
    for _ in 0..3 {
        posts.insert(0, post(&app, &author_token, "public").await);
    }
    feed_page(&app, &reader, "").await;
    app.run_jobs().await;
    // Newer entries the page never shows, as fan-outs that raced an unfollow leave them.
    for _ in 0..2 {
        let theirs = post(&app, &stranger_token, "public").await;
        app.execute_sql(&format!(
            "INSERT INTO home_timeline (user_id, post_id, author_id)
             SELECT user_id, {}, {} FROM timeline_state",
            app.sql_uuid(&theirs),
            app.sql_uuid(&stranger)
        ))
        .await;
    }
    assert_eq!(read_twice(&app, &reader, "limit=2").await, posts[..2]);
    let deleted = other
        .delete(&format!("/v1/posts/{}", posts[1]), Some(&author_token))
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        read_twice(&app, &reader, "limit=2").await,
        [posts[0].clone(), posts[2].clone()]
    );
}

#[tokio::test]
async fn counts_and_profiles_on_a_page_read_again_and_again_are_never_older_than_its_lifetime() {
    let app = spawn_app().await;
    let other = spawn_sibling(&app).await;
    let (_, reader) = app.quick_user("reader").await;
    let (author, author_token) = app.quick_user("author").await;
    let (_, fan) = app.quick_user("fan").await;
    follow(&app, &reader, &author).await;
    let only = post(&app, &author_token, "public").await;
    feed_page(&app, &reader, "").await;
    app.run_jobs().await;
    // The newest post of the reader's first page, as served.
    let newest = async || -> Value {
        let page: Value = app
            .get("/v1/feed", Some(&reader))
            .await
            .json()
            .await
            .unwrap();
        page["items"][0].clone()
    };
    // Reads until `shown` holds of the newest post: within twice the page's lifetime.
    let shows_soon = async |shown: &dyn Fn(&Value) -> bool, what: &str| {
        let since = std::time::Instant::now();
        while !shown(&newest().await) {
            assert!(
                since.elapsed() < picshare_app::feed_pages::FEED_PAGE_TTL * 2,
                "{what} never showed"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    assert_eq!(newest().await["like_count"], 0);
    // A like by someone else changes nothing the reader's stamp covers: only the page's
    // lifetime bounds how long the cached count lags, however often the reader reads.
    let liked = other
        .post_empty(&format!("/v1/posts/{only}/like"), Some(&fan))
        .await;
    assert_eq!(liked.status(), StatusCode::OK);
    shows_soon(&|post| post["like_count"] == 1, "the like").await;
    // Past its lifetime with nothing changed, the page is served again once its counts are
    // checked; a change of the author's profile shows within the lifetime all the same.
    tokio::time::sleep(picshare_app::feed_pages::FEED_PAGE_TTL).await;
    assert_eq!(newest().await["like_count"], 1);
    let renamed = other
        .patch_json(
            &format!("/v1/users/{author}"),
            Some(&author_token),
            &json!({"display_name": "Renamed"}),
        )
        .await;
    assert_eq!(renamed.status(), StatusCode::OK);
    shows_soon(
        &|post| post["author"]["display_name"] == "Renamed",
        "the new name",
    )
    .await;
}
