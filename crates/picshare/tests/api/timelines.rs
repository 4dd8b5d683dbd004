//! The feed read from precomputed timelines: built after a first read, written by the fan-out
//! job, cut at a floor below which the follow graph answers, and never trusted over the graph
//! for who the reader follows.

use reqwest::StatusCode;

use crate::feed::{feed_page, follow, post, whole_feed};
use crate::helpers::{TestApp, spawn_app};

/// A reader following two authors, with a built timeline; returns the reader's token, the
/// authors' tokens and the feed newest first.
async fn reader_with_timeline(app: &TestApp) -> (String, Vec<String>, Vec<String>) {
    let (_, reader) = app.quick_user("reader").await;
    let (alice, alice_token) = app.quick_user("alice").await;
    let (bob, bob_token) = app.quick_user("bob").await;
    follow(app, &reader, &alice).await;
    follow(app, &reader, &bob).await;
    let mut feed = Vec::new();
    for (n, token) in [&alice_token, &bob_token, &reader, &alice_token, &bob_token]
        .into_iter()
        .enumerate()
    {
        let visibility = if n % 2 == 0 { "public" } else { "followers" };
        feed.insert(0, post(app, token, visibility).await);
    }
    // The first read is cold: it comes from the graph and starts the timeline's build.
    assert_eq!(whole_feed(app, &reader, 2).await, feed);
    app.run_jobs().await;
    (reader, vec![alice_token, bob_token], feed)
}

#[tokio::test]
async fn new_posts_reach_a_built_timeline_through_the_fan_out() {
    let app = spawn_app().await;
    let (reader, authors, mut feed) = reader_with_timeline(&app).await;
    assert_eq!(whole_feed(&app, &reader, 3).await, feed);
    feed.insert(0, post(&app, &authors[1], "followers").await);
    // A followee's new post reaches the timeline through its fan-out job.
    app.run_jobs().await;
    assert_eq!(whole_feed(&app, &reader, 3).await, feed);
    // One's own post is in one's timeline at once.
    feed.insert(0, post(&app, &reader, "public").await);
    assert_eq!(whole_feed(&app, &reader, 3).await, feed);
    assert_eq!(whole_feed(&app, &reader, 100).await, feed);
}

#[tokio::test]
async fn a_post_reaches_every_follower_s_timeline_however_many_statements_its_fan_out_takes() {
    let app = spawn_app().await;
    let (author, author_token) = app.quick_user("author").await;
    let first = post(&app, &author_token, "public").await;
    // More followers than SQLite's fan-out writes in one statement (200), twice over.
    let mut readers = Vec::new();
    for i in 0..450 {
        let (_, token) = app.quick_user(&format!("reader{i}")).await;
        follow(&app, &token, &author).await;
        // The first read starts the reader's timeline.
        assert_eq!(
            feed_page(&app, &token, "limit=5").await.0,
            std::slice::from_ref(&first)
        );
        readers.push(token);
    }
    app.run_jobs().await;
    let second = post(&app, &author_token, "followers").await;
    app.run_jobs().await;
    for (i, token) in readers.iter().enumerate() {
        assert_eq!(
            feed_page(&app, token, "limit=5").await.0,
            [second.clone(), first.clone()],
            "reader{i}"
        );
    }
}

#[tokio::test]
async fn below_its_floor_a_timeline_continues_from_the_graph() {
    let app = spawn_app().await;
    let (reader, _, feed) = reader_with_timeline(&app).await;
    // Cut the timeline as a trim would: it vouches only for the three newest posts.
    let floor = app.sql_uuid(&feed[2]);
    app.execute_sql(&format!(
        "DELETE FROM home_timeline WHERE post_id < {floor}"
    ))
    .await;
    app.execute_sql(&format!("UPDATE timeline_state SET floor = {floor}"))
        .await;
    for limit in [1, 2, 3, 4, 20] {
        assert_eq!(
            whole_feed(&app, &reader, limit).await,
            feed,
            "limit {limit}"
        );
    }
}

#[tokio::test]
async fn a_timeline_entry_never_outranks_the_follow_graph() {
    let app = spawn_app().await;
    let (reader, _, feed) = reader_with_timeline(&app).await;
    let (stranger, stranger_token) = app.quick_user("stranger").await;
    let theirs = post(&app, &stranger_token, "followers").await;
    // An entry left by a fan-out that raced an unfollow: the reader does not follow them.
    app.execute_sql(&format!(
        "INSERT INTO home_timeline (user_id, post_id, author_id)
         SELECT user_id, {}, {} FROM timeline_state",
        app.sql_uuid(&theirs),
        app.sql_uuid(&stranger)
    ))
    .await;
    assert_eq!(whole_feed(&app, &reader, 2).await, feed);
}

#[tokio::test]
async fn refresh_drops_a_damaged_timeline_and_rebuilds_it() {
    let app = spawn_app().await;
    let (reader, _, feed) = reader_with_timeline(&app).await;
    app.execute_sql("DELETE FROM home_timeline").await;
    assert!(whole_feed(&app, &reader, 2).await.is_empty());
    let refreshed = app.post_empty("/v1/feed/refresh", Some(&reader)).await;
    assert_eq!(refreshed.status(), StatusCode::NO_CONTENT);
    // From the graph while the rebuild waits, then from the rebuilt timeline.
    assert_eq!(whole_feed(&app, &reader, 2).await, feed);
    app.run_jobs().await;
    assert_eq!(whole_feed(&app, &reader, 2).await, feed);
}

#[tokio::test]
async fn a_new_follow_brings_the_followees_older_posts_into_the_timeline() {
    let app = spawn_app().await;
    let (reader, _, feed) = reader_with_timeline(&app).await;
    let (carol, carol_token) = app.quick_user("carol").await;
    let older = post(&app, &carol_token, "public").await;
    assert_eq!(whole_feed(&app, &reader, 2).await, feed);
    follow(&app, &reader, &carol).await;
    let mut expected = vec![older];
    expected.extend(feed);
    assert_eq!(whole_feed(&app, &reader, 2).await, expected);
}

#[tokio::test]
async fn a_timeline_longer_than_its_window_is_cut_and_paging_still_reaches_the_oldest_post() {
    let app = spawn_app().await;
    let (_, reader) = app.quick_user("reader").await;
    let (author, author_token) = app.quick_user("prolific").await;
    follow(&app, &reader, &author).await;
    // 1,300 old posts (more than the 1,200-entry window), with ids 1..=1300: older than any
    // post made through the API.
    let count = 1300u128;
    let (numbers, id) = if app.is_sqlite() {
        (
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1300)",
            "unhex(printf('%032x', i))",
        )
    } else {
        (
            "WITH n(i) AS (SELECT generate_series(1, 1300))",
            "lpad(to_hex(i), 32, '0')::uuid",
        )
    };
    let created = if app.is_sqlite() { "0" } else { "now()" };
    app.execute_sql(&format!(
        "{numbers} INSERT INTO posts (id, author_id, caption, visibility, created_at)
         SELECT {id}, {}, 'old', 'public', {created} FROM n",
        app.sql_uuid(&author)
    ))
    .await;
    let mut feed: Vec<String> = (1..=count)
        .rev()
        .map(|i| uuid::Uuid::from_u128(i).to_string())
        .collect();
    // Cold, then built (a window's worth), then a new post and a trim back to the window.
    assert_eq!(whole_feed(&app, &reader, 100).await, feed);
    app.run_jobs().await;
    assert_eq!(whole_feed(&app, &reader, 100).await, feed);
    feed.insert(0, post(&app, &author_token, "public").await);
    app.run_jobs().await;
    let author_id = picshare_domain::UserId(author.parse().unwrap());
    app.store().trim_timelines(author_id).await.unwrap();
    for limit in [7, 100] {
        assert_eq!(
            whole_feed(&app, &reader, limit).await,
            feed,
            "limit {limit}"
        );
    }
}

#[tokio::test]
async fn stamps_read_at_once_are_each_the_stamp_read_alone() {
    // PostgreSQL's store reads concurrent timeline stamps in one query: each reader must still
    // get its own timeline's stamp for its own page, or a cached page would be checked against
    // another reader's timeline.
    let app = spawn_app().await;
    let mut requests = Vec::new();
    for n in 0..5 {
        let (id, token) = app.quick_user(&format!("reader{n}")).await;
        let viewer = picshare_domain::UserId(id.parse().unwrap());
        // A different number of posts each (three at least), so that no two requests read
        // alike.
        let mut posts = Vec::new();
        for _ in 0..n + 3 {
            posts.push(post(&app, &token, "public").await);
        }
        feed_page(&app, &token, "").await;
        for (after, limit) in [(None, 20), (None, 1), (posts.last(), 2)] {
            let after = after.map(|id| id.parse().unwrap());
            requests.push((viewer, picshare_store::PageRequest { after, limit }));
        }
    }
    let (stranger, _) = app.quick_user("stranger").await;
    let page = picshare_store::PageRequest {
        after: None,
        limit: 20,
    };
    requests.push((picshare_domain::UserId(stranger.parse().unwrap()), page));
    app.run_jobs().await;

    let store = app.store();
    let mut alone = Vec::new();
    for (viewer, page) in &requests {
        alone.push(store.timeline_stamp(*viewer, *page).await.unwrap());
    }
    assert_eq!(alone.iter().filter(|stamp| stamp.is_none()).count(), 1);
    let distinct: std::collections::HashSet<_> = alone.iter().collect();
    assert_eq!(distinct.len(), requests.len(), "two requests share a stamp");
    for _ in 0..3 {
        let together = futures::future::join_all(
            requests
                .iter()
                .chain(requests.iter().skip(1))
                .map(|(viewer, page)| store.timeline_stamp(*viewer, *page)),
        )
        .await;
        let expected: Vec<_> = alone.iter().chain(alone.iter().skip(1)).cloned().collect();
        let together: Vec<_> = together.into_iter().map(Result::unwrap).collect();
        assert_eq!(together, expected);
    }
}
