use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, spawn_app, spawn_app_with};

pub(crate) async fn post(app: &TestApp, token: &str, visibility: &str) -> String {
    app.post_with_image(token, visibility).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub(crate) async fn feed_page(
    app: &TestApp,
    token: &str,
    query: &str,
) -> (Vec<String>, Option<String>) {
    let page: Value = app
        .get(&format!("/v1/feed?{query}"), Some(token))
        .await
        .json()
        .await
        .unwrap();
    let ids = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    (ids, page["next_cursor"].as_str().map(str::to_owned))
}

pub(crate) async fn whole_feed(app: &TestApp, token: &str, limit: u32) -> Vec<String> {
    let (mut ids, mut cursor) = feed_page(app, token, &format!("limit={limit}")).await;
    while let Some(next) = cursor {
        let (more, after) = feed_page(app, token, &format!("limit={limit}&cursor={next}")).await;
        ids.extend(more);
        cursor = after;
    }
    ids
}

pub(crate) async fn follow(app: &TestApp, token: &str, user: &str) {
    assert_eq!(
        app.post_empty(&format!("/v1/users/{user}/follow"), Some(token))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_feed_has_my_posts_and_my_followees_posts_newest_first() {
    let app = spawn_app().await;
    let (_, me) = app.quick_user("reader").await;
    let (friend, friend_token) = app.quick_user("friend").await;
    let (_, stranger) = app.quick_user("stranger").await;
    follow(&app, &me, &friend).await;
    let public = post(&app, &friend_token, "public").await;
    let followers_only = post(&app, &friend_token, "followers").await;
    post(&app, &stranger, "public").await;
    let mine = post(&app, &me, "followers").await;
    assert_eq!(
        whole_feed(&app, &me, 20).await,
        vec![mine, followers_only, public]
    );
    let first: Value = app.get("/v1/feed", Some(&me)).await.json().await.unwrap();
    assert_eq!(first["items"][0]["author"]["handle"], "reader");
    assert_eq!(first["items"][0]["liked_by_me"], false);
}

#[tokio::test]
async fn follows_unfollows_blocks_and_deletions_show_on_the_next_request() {
    let app = spawn_app().await;
    let (_, me) = app.quick_user("reader").await;
    let (friend, friend_token) = app.quick_user("friend").await;
    let old = post(&app, &friend_token, "public").await;
    let older_private = post(&app, &friend_token, "followers").await;
    assert!(whole_feed(&app, &me, 20).await.is_empty());

    follow(&app, &me, &friend).await;
    assert_eq!(
        whole_feed(&app, &me, 20).await,
        vec![older_private.clone(), old.clone()],
        "existing posts at once"
    );

    app.delete(&format!("/v1/posts/{older_private}"), Some(&friend_token))
        .await;
    assert_eq!(whole_feed(&app, &me, 20).await, vec![old.clone()]);

    app.post_empty(&format!("/v1/users/{friend}/unfollow"), Some(&me))
        .await;
    assert!(whole_feed(&app, &me, 20).await.is_empty());

    follow(&app, &me, &friend).await;
    let (me_id, _) = (
        app.get("/v1/auth/me", Some(&me))
            .await
            .json::<Value>()
            .await
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned(),
        (),
    );
    app.post_empty(&format!("/v1/users/{me_id}/block"), Some(&friend_token))
        .await;
    assert!(whole_feed(&app, &me, 20).await.is_empty());
}

#[tokio::test]
async fn a_private_account_appears_once_it_approves() {
    let app = spawn_app().await;
    let (me_id, me) = app.quick_user("reader").await;
    let (owner, owner_token) = app.quick_user("owner").await;
    app.patch_json(
        &format!("/v1/users/{owner}"),
        Some(&owner_token),
        &json!({"is_private": true}),
    )
    .await;
    let secret = post(&app, &owner_token, "followers").await;
    follow(&app, &me, &owner).await;
    assert!(
        whole_feed(&app, &me, 20).await.is_empty(),
        "a request is not a follow"
    );
    app.post_empty(
        &format!("/v1/follow-requests/{me_id}/approve"),
        Some(&owner_token),
    )
    .await;
    assert_eq!(whole_feed(&app, &me, 20).await, vec![secret]);
}

#[tokio::test]
async fn paging_reaches_the_oldest_post_with_no_depth_cap() {
    let app = spawn_app().await;
    let (_, me) = app.quick_user("reader").await;
    let (friend, friend_token) = app.quick_user("friend").await;
    let mut posted = Vec::new();
    for _ in 0..30 {
        posted.push(post(&app, &friend_token, "public").await);
    }
    follow(&app, &me, &friend).await;
    posted.reverse();
    assert_eq!(whole_feed(&app, &me, 7).await, posted);
}

#[tokio::test]
async fn a_block_between_two_pages_hides_the_rest_at_once() {
    let app = spawn_app().await;
    let (me_id, me) = app.quick_user("reader").await;
    let (nice, nice_token) = app.quick_user("nice").await;
    let (rude, rude_token) = app.quick_user("rude").await;
    follow(&app, &me, &nice).await;
    follow(&app, &me, &rude).await;
    let mut rude_posts = HashSet::new();
    for _ in 0..6 {
        post(&app, &nice_token, "public").await;
        rude_posts.insert(post(&app, &rude_token, "public").await);
    }
    let (first, cursor) = feed_page(&app, &me, "limit=4").await;
    assert!(first.iter().any(|id| rude_posts.contains(id)));
    app.post_empty(&format!("/v1/users/{me_id}/block"), Some(&rude_token))
        .await;
    let mut rest = Vec::new();
    let mut cursor = cursor;
    while let Some(next) = cursor {
        let (more, after) = feed_page(&app, &me, &format!("limit=4&cursor={next}")).await;
        rest.extend(more);
        cursor = after;
    }
    assert!(!rest.is_empty());
    assert!(
        rest.iter().all(|id| !rude_posts.contains(id)),
        "the blocker's posts vanish from the next page"
    );
}

#[tokio::test]
async fn paging_stays_consistent_while_follows_change() {
    let app = spawn_app().await;
    let (_, me) = app.quick_user("reader").await;
    let mut authors = Vec::new();
    for n in 0..3 {
        let (id, token) = app.quick_user(&format!("author{n}")).await;
        for _ in 0..5 {
            post(&app, &token, "public").await;
        }
        follow(&app, &me, &id).await;
        authors.push(id);
    }
    let flapping = authors[2].clone();
    let toggler = {
        let client = app.client.clone();
        let (follow_url, unfollow_url) = (
            app.url(&format!("/v1/users/{flapping}/follow")),
            app.url(&format!("/v1/users/{flapping}/unfollow")),
        );
        let token = me.clone();
        tokio::spawn(async move {
            for n in 0..20 {
                let url = if n % 2 == 0 {
                    &unfollow_url
                } else {
                    &follow_url
                };
                client.post(url).bearer_auth(&token).send().await.unwrap();
            }
        })
    };
    let mut seen = Vec::new();
    let (first, mut cursor) = feed_page(&app, &me, "limit=2").await;
    seen.extend(first);
    while let Some(next) = cursor {
        let (more, after) = feed_page(&app, &me, &format!("limit=2&cursor={next}")).await;
        seen.extend(more);
        cursor = after;
    }
    toggler.await.unwrap();
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no post twice");
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(sorted, seen, "newest first throughout");
    assert!(
        seen.len() >= 10,
        "the steady followees' posts are all there: {}",
        seen.len()
    );
}

#[tokio::test]
async fn the_feed_is_for_signed_in_users_and_can_be_refreshed() {
    let app = spawn_app().await;
    let (_, me) = app.quick_user("reader").await;
    assert_problem(
        app.get("/v1/feed", None).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(
        app.post_empty("/v1/feed/refresh", Some(&me)).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_problem(
        app.post_empty("/v1/feed/refresh", None).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn the_feed_says_which_posts_i_liked() {
    let app = spawn_app().await;
    let (_, me) = app.quick_user("reader").await;
    let (friend, friend_token) = app.quick_user("friend").await;
    follow(&app, &me, &friend).await;
    let liked = post(&app, &friend_token, "public").await;
    let other = post(&app, &friend_token, "public").await;
    app.post_empty(&format!("/v1/posts/{liked}/like"), Some(&me))
        .await;
    let page: Value = app.get("/v1/feed", Some(&me)).await.json().await.unwrap();
    let flags: Vec<(String, bool)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_owned(),
                p["liked_by_me"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(flags, vec![(other, false), (liked, true)]);
}

/// A post of `author` made `hours` ago, written straight into the database (the API makes posts
/// now). Made before anyone follows the author, as a post of that age would be.
async fn old_post(app: &TestApp, author: &str, hours: u64, seed: u8) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let millis = now.as_millis() as u64 - hours * 3_600_000;
    let id = uuid::Builder::from_unix_timestamp_millis(millis, &[seed; 10])
        .into_uuid()
        .to_string();
    let created = if app.is_sqlite() { "0" } else { "now()" };
    app.execute_sql(&format!(
        "INSERT INTO posts (id, author_id, caption, visibility, created_at)
         VALUES ({}, {}, 'old', 'public', {created})",
        app.sql_uuid(&id),
        app.sql_uuid(author)
    ))
    .await;
    id
}

fn newest_first(ids: &[String]) -> Vec<String> {
    let mut sorted = ids.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted
}

/// A first page read from the follow graph asks only the followees that posted lately
/// (docs/feed.md): a quiet followee's new post, a new follow and deleted posts must still give
/// the same pages as the whole graph.
#[tokio::test]
async fn a_first_page_from_the_graph_misses_no_followee_however_long_they_were_quiet() {
    // Every page from the graph: a timeline would answer the first page once built.
    let app = spawn_app_with(|config| config.feed_timelines = false).await;
    let (_, reader) = app.quick_user("reader").await;
    let mut posts = Vec::new();
    let mut quiet = Vec::new();
    for (seed, hours) in [50, 30, 20, 10, 2].into_iter().enumerate() {
        let (id, token) = app.quick_user(&format!("quiet{seed}")).await;
        posts.push(old_post(&app, &id, hours, seed as u8).await);
        quiet.push((id, token));
    }
    let mut active = Vec::new();
    for n in 0..3 {
        let (id, token) = app.quick_user(&format!("active{n}")).await;
        let made = post(&app, &token, "public").await;
        posts.push(made.clone());
        active.push((id, token, made));
    }
    for followee in quiet
        .iter()
        .map(|(id, _)| id)
        .chain(active.iter().map(|a| &a.0))
    {
        follow(&app, &reader, followee).await;
    }
    assert_eq!(whole_feed(&app, &reader, 2).await, newest_first(&posts));

    // The quietest followee posts again: it heads the first page.
    let back = post(&app, &quiet[0].1, "public").await;
    posts.push(back.clone());
    let (first, _) = feed_page(&app, &reader, "limit=2").await;
    assert_eq!(first, newest_first(&posts)[..2]);

    // A new follow of someone who just posted.
    let (late, late_token) = app.quick_user("late").await;
    let late_post = post(&app, &late_token, "public").await;
    posts.push(late_post.clone());
    follow(&app, &reader, &late).await;
    assert_eq!(whole_feed(&app, &reader, 2).await, newest_first(&posts));

    // Recent posts deleted: the followees that posted lately no longer fill a first page, and
    // the rest of the graph does.
    for (gone, token) in [
        (&back, &quiet[0].1),
        (&late_post, &late_token),
        (&active[0].2, &active[0].1),
    ] {
        let deleted = app.delete(&format!("/v1/posts/{gone}"), Some(token)).await;
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        posts.retain(|id| id != gone);
    }
    assert_eq!(whole_feed(&app, &reader, 2).await, newest_first(&posts));
}
