//! Search as people use it: ranking, typos and accents, what each searcher may see, edits and
//! deletions, places at the radius's edge, the antimeridian and a pole.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, error_fields, spawn_app};
use crate::moderation::staff;

async fn named(app: &TestApp, handle: &str, name: &str) -> (String, String) {
    let (id, token) = app.quick_user(handle).await;
    if !name.is_empty() {
        let renamed = app
            .patch_json(
                &format!("/v1/users/@{handle}"),
                Some(&token),
                &json!({"display_name": name}),
            )
            .await;
        assert!(renamed.status().is_success());
    }
    (id, token)
}

fn encoded(query: &str) -> String {
    query
        .bytes()
        .map(|byte| match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b',' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

async fn page(app: &TestApp, path: &str, token: Option<&str>) -> Value {
    let response = app.get(path, token).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json().await.unwrap()
}

/// Every page of `path` (which has a query already), `limit` at a time.
async fn all_pages(app: &TestApp, path: &str, token: Option<&str>, limit: u32) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..50 {
        let after = cursor.map(|c| format!("&cursor={c}")).unwrap_or_default();
        let body = page(app, &format!("{path}&limit={limit}{after}"), token).await;
        items.extend(body["items"].as_array().unwrap().iter().cloned());
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return items,
        }
    }
    panic!("{path} never ended");
}

async fn people(app: &TestApp, query: &str, token: Option<&str>) -> Vec<String> {
    let path = format!("/v1/search/users?q={}", encoded(query));
    all_pages(app, &path, token, 100)
        .await
        .iter()
        .map(|user| user["handle"].as_str().unwrap().to_owned())
        .collect()
}

async fn set_followers(app: &TestApp, user: &str, count: i64) {
    app.execute_sql(&format!(
        "UPDATE users SET followers_count = {count} WHERE handle = '{user}'"
    ))
    .await;
}

#[tokio::test]
async fn people_rank_by_exact_handle_then_prefix_then_name_then_typos_most_followed_first() {
    let app = spawn_app().await;
    for (handle, name) in [
        ("jonas", ""),
        ("jonas_b", ""),
        ("jonasx", ""),
        ("pat", "Jonas Brown"),
        ("jomas", ""),
        ("jxxxs", ""),
        ("maria", "José Ramírez"),
        ("kristopher", ""),
    ] {
        named(&app, handle, name).await;
    }
    set_followers(&app, "jonasx", 5).await;
    set_followers(&app, "jonas_b", 2).await;
    let ranked = ["jonas", "jonasx", "jonas_b", "pat", "jomas"];
    assert_eq!(people(&app, "jonas", None).await, ranked);
    assert_eq!(people(&app, "@JONAS", None).await, ranked);
    // Pages of one carry the ranking across every way of matching.
    let paged: Vec<String> = all_pages(&app, "/v1/search/users?q=jonas", None, 1)
        .await
        .iter()
        .map(|user| user["handle"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(paged, ranked);

    // Accents and case fold away; any word of a name matches from its beginning.
    assert_eq!(people(&app, "jose", None).await, ["maria"]);
    assert_eq!(people(&app, "RAMÍREZ", None).await, ["maria"]);
    assert_eq!(people(&app, "jose ram", None).await, ["maria"]);
    assert_eq!(
        people(&app, "ra", None).await,
        Vec::<String>::new(),
        "short: first word only"
    );
    // One typo from 5 characters, two from 9; none below 5.
    assert_eq!(people(&app, "ramirex", None).await, ["maria"]);
    assert_eq!(people(&app, "kristofer", None).await, ["kristopher"]);
    assert_eq!(people(&app, "krisx", None).await, ["kristopher"]);
    assert_eq!(people(&app, "jnas", None).await, Vec::<String>::new());
}

#[tokio::test]
async fn people_in_a_block_either_way_or_suspended_are_not_found_until_it_ends() {
    let app = spawn_app().await;
    let (_, viewer) = named(&app, "viewer", "").await;
    let (blocked, _) = named(&app, "zedone", "").await;
    let (_, blocker) = named(&app, "zedtwo", "").await;
    let (three, _) = named(&app, "zedthree", "").await;
    let viewer_id = page(&app, "/v1/auth/me", Some(&viewer)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post_empty(&format!("/v1/users/{blocked}/block"), Some(&viewer))
        .await;
    app.post_empty(&format!("/v1/users/{viewer_id}/block"), Some(&blocker))
        .await;
    assert_eq!(people(&app, "zed", Some(&viewer)).await, ["zedthree"]);
    let mut anyone = people(&app, "zed", None).await;
    anyone.sort();
    assert_eq!(anyone, ["zedone", "zedthree", "zedtwo"]);

    let (_, moderator) = staff(&app, "mod", picshare_domain::Role::Moderator).await;
    let suspended = app
        .post_json(
            &format!("/v1/moderation/users/{three}/suspend"),
            Some(&moderator),
            &json!({"duration_secs": 1, "reason": "cool off"}),
        )
        .await;
    assert!(suspended.status().is_success());
    assert_eq!(
        people(&app, "zedthree", Some(&viewer)).await,
        Vec::<String>::new()
    );
    assert!(
        !people(&app, "zed", None)
            .await
            .contains(&"zedthree".to_owned())
    );
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_eq!(people(&app, "zedthree", Some(&viewer)).await, ["zedthree"]);
}

#[tokio::test]
async fn bad_searches_are_refused_with_the_field_named() {
    let app = spawn_app().await;
    let long = "a".repeat(201);
    for (path, field) in [
        (format!("/v1/search/users?q={long}"), "q"),
        (format!("/v1/search/posts?q={long}"), "q"),
        ("/v1/search/posts".to_owned(), "q"),
        ("/v1/search/posts?q=x&sort=best".to_owned(), "sort"),
        ("/v1/search/posts?q=x&near=1,1".to_owned(), "near"),
        ("/v1/search/posts?near=91,0".to_owned(), "near"),
        ("/v1/search/posts?near=0,-181".to_owned(), "near"),
        ("/v1/search/posts?near=north".to_owned(), "near"),
        (
            "/v1/search/posts?near=0,0&radius_km=101".to_owned(),
            "radius_km",
        ),
        (
            "/v1/search/posts?near=0,0&radius_km=far".to_owned(),
            "radius_km",
        ),
    ] {
        let problem = assert_problem(
            app.get(&path, None).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), [field], "{path}");
    }
    for path in [
        "/v1/search/users?q=ok&cursor=short",
        "/v1/search/users?q=ok&cursor=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA!",
        "/v1/search/posts?q=ok&limit=0",
    ] {
        let response = app.get(path, None).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
    }
    // Nothing to search for finds nothing; text that cannot be a tag names none.
    for path in ["/v1/search/users?q=%20%21", "/v1/search/posts?q=%23"] {
        assert_eq!(page(&app, path, None).await["items"], json!([]), "{path}");
    }
    let not_a_tag = app.get("/v1/tags/no%20tag", None).await;
    assert_problem(not_a_tag, StatusCode::NOT_FOUND, "not_found").await;
}

async fn post(app: &TestApp, token: &str, caption: &str, visibility: &str) -> String {
    located(app, token, caption, visibility, None).await
}

async fn located(
    app: &TestApp,
    token: &str,
    caption: &str,
    visibility: &str,
    at: Option<(f64, f64)>,
) -> String {
    let media = app.ready_media(token).await;
    let mut body = json!({"media_ids": [media], "caption": caption, "visibility": visibility});
    if let Some((lat, lon)) = at {
        body["location"] = json!({"name": "here", "lat": lat, "lon": lon});
    }
    let created = app.post_json("/v1/posts", Some(token), &body).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    created["id"].as_str().unwrap().to_owned()
}

async fn posts(app: &TestApp, query: &str, token: Option<&str>) -> Vec<String> {
    let path = format!("/v1/search/posts?q={}", encoded(query));
    ids(&all_pages(app, &path, token, 100).await)
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|post| post["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn posts_are_found_by_stemmed_words_and_folded_tags_where_the_searcher_may_see_them() {
    let app = spawn_app().await;
    let (author_id, author) = named(&app, "author", "").await;
    let (_, follower) = named(&app, "follower", "").await;
    let (_, stranger) = named(&app, "stranger", "").await;
    let (_, hidden) = named(&app, "hidden", "").await;
    app.post_empty(&format!("/v1/users/{author_id}/follow"), Some(&follower))
        .await;
    let running = post(
        &app,
        &author,
        "Running along the beach at #Sunset",
        "public",
    )
    .await;
    let city = post(&app, &author, "#sunset over the city", "followers").await;
    let cafe = post(&app, &author, "Café mornings #Café", "public").await;
    let private = app
        .patch_json(
            "/v1/users/@hidden",
            Some(&hidden),
            &json!({"is_private": true}),
        )
        .await;
    assert!(private.status().is_success());
    post(&app, &hidden, "beach day #sunset", "public").await;

    assert_eq!(
        posts(&app, "runs", Some(&stranger)).await,
        vec![running.clone()]
    );
    assert_eq!(
        posts(&app, "#SUNSET", Some(&stranger)).await,
        vec![running.clone()]
    );
    assert_eq!(posts(&app, "#SUNSET", None).await, vec![running.clone()]);
    assert_eq!(
        posts(&app, "#sunset", Some(&follower)).await,
        [city.clone(), running.clone()],
        "followers-only posts for followers, newest first"
    );
    assert_eq!(
        posts(&app, "#sunset beach", Some(&follower)).await,
        vec![running.clone()]
    );
    assert_eq!(posts(&app, "#cafe", None).await, vec![cafe.clone()]);
    assert_eq!(posts(&app, "CAFE", None).await, vec![cafe.clone()]);
    let tag = page(&app, "/v1/tags/%23Sunset", None).await;
    assert_eq!(
        (tag["name"].as_str(), tag["post_count"].as_i64()),
        (Some("sunset"), Some(3))
    );
    let tagged = page(&app, "/v1/tags/sunset/posts", Some(&stranger)).await;
    assert_eq!(
        ids(tagged["items"].as_array().unwrap()),
        vec![running.clone()]
    );

    // Results are feed posts, with liked_by_me.
    app.post_empty(&format!("/v1/posts/{running}/like"), Some(&follower))
        .await;
    let found = page(&app, "/v1/search/posts?q=beach", Some(&follower)).await;
    assert_eq!(found["items"][0]["liked_by_me"], true);
    assert_eq!(found["items"][0]["author"]["handle"], "author");

    // Edits and deletions show in the next search.
    let edited = app
        .patch_json(
            &format!("/v1/posts/{cafe}"),
            Some(&author),
            &json!({"caption": "Tea time #tea"}),
        )
        .await;
    assert!(edited.status().is_success());
    assert_eq!(posts(&app, "#cafe", None).await, Vec::<String>::new());
    assert_eq!(posts(&app, "tea", None).await, vec![cafe.clone()]);
    let deleted = app
        .client
        .delete(app.url(&format!("/v1/posts/{cafe}")))
        .bearer_auth(&author)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(posts(&app, "tea", None).await, Vec::<String>::new());

    // Blocks either way, takedowns and suspensions hide posts.
    let stranger_id = page(&app, "/v1/auth/me", Some(&stranger)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post_empty(&format!("/v1/users/{stranger_id}/block"), Some(&author))
        .await;
    assert_eq!(
        posts(&app, "beach", Some(&stranger)).await,
        Vec::<String>::new()
    );
    let (_, blocker) = named(&app, "blocker", "").await;
    assert_eq!(
        posts(&app, "beach", Some(&blocker)).await,
        vec![running.clone()]
    );
    app.post_empty(&format!("/v1/users/{author_id}/block"), Some(&blocker))
        .await;
    assert_eq!(
        posts(&app, "beach", Some(&blocker)).await,
        Vec::<String>::new(),
        "the searcher blocks the author"
    );
    let (_, moderator) = staff(&app, "mod", picshare_domain::Role::Moderator).await;
    let taken = app
        .post_json(
            &format!("/v1/moderation/posts/{running}/takedown"),
            Some(&moderator),
            &json!({"reason": "against the rules"}),
        )
        .await;
    assert!(taken.status().is_success());
    assert_eq!(posts(&app, "beach", None).await, Vec::<String>::new());
    assert_eq!(
        page(&app, "/v1/tags/sunset", None).await["post_count"],
        2,
        "taken down: not counted"
    );
    assert_eq!(
        posts(&app, "city", Some(&follower)).await,
        vec![city.clone()]
    );
    app.post_json(
        &format!("/v1/moderation/users/{author_id}/suspend"),
        Some(&moderator),
        &json!({"duration_secs": 3600, "reason": "spam wave"}),
    )
    .await;
    assert_eq!(
        posts(&app, "city", Some(&follower)).await,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn the_best_caption_match_comes_first_and_recent_sorts_by_time() {
    let app = spawn_app().await;
    let (_, author) = named(&app, "author", "").await;
    let strong = post(&app, &author, "beach beach beach", "public").await;
    let weak = post(
        &app,
        &author,
        "a long walk by the lake, then the beach at night",
        "public",
    )
    .await;
    assert_eq!(
        posts(&app, "beach", None).await,
        [strong.clone(), weak.clone()]
    );
    let recent = page(&app, "/v1/search/posts?q=beach&sort=recent", None).await;
    assert_eq!(ids(recent["items"].as_array().unwrap()), [weak, strong]);
}

/// A point `km` north of `(lat, lon)` on the globe search measures with.
fn north_of(lat: f64, lon: f64, km: f64) -> (f64, f64) {
    (
        lat + (km / picshare_domain::search::EARTH_RADIUS_KM).to_degrees(),
        lon,
    )
}

async fn nearby(app: &TestApp, near: &str, radius_km: f64) -> Vec<(String, f64)> {
    let path = format!("/v1/search/posts?near={near}&radius_km={radius_km}");
    all_pages(app, &path, None, 1)
        .await
        .iter()
        .map(|post| {
            (
                post["id"].as_str().unwrap().to_owned(),
                post["distance_km"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn places_are_found_nearest_first_within_the_radius_across_the_antimeridian_and_a_pole() {
    let app = spawn_app().await;
    let (_, author) = named(&app, "author", "").await;
    let (lat, lon) = (48.8566, 2.3522);
    let inside = located(
        &app,
        &author,
        "edge",
        "public",
        Some(north_of(lat, lon, 9.99)),
    )
    .await;
    located(
        &app,
        &author,
        "beyond",
        "public",
        Some(north_of(lat, lon, 10.01)),
    )
    .await;
    let close = located(
        &app,
        &author,
        "close",
        "public",
        Some(north_of(lat, lon, 0.5)),
    )
    .await;
    let followers_only = located(&app, &author, "mine", "followers", Some((lat, lon))).await;
    let found = nearby(&app, &format!("{lat},{lon}"), 10.0).await;
    let found_ids: Vec<&str> = found.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(found_ids, [close.as_str(), inside.as_str()]);
    assert!((found[0].1 - 0.5).abs() < 0.002 && (found[1].1 - 9.99).abs() < 0.002);
    assert!(!found_ids.contains(&followers_only.as_str()));

    // 0.1° of longitude apart across the antimeridian: about 11.1 km.
    let east = located(&app, &author, "fiji", "public", Some((0.0, -179.95))).await;
    assert_eq!(nearby(&app, "0,179.95", 12.0).await.len(), 1);
    assert_eq!(nearby(&app, "0,179.95", 12.0).await[0].0, east);
    assert!(nearby(&app, "0,179.95", 11.0).await.is_empty());
    // Across the north pole: 0.1° of latitude each side, about 11.1 km.
    let pole = located(&app, &author, "pole", "public", Some((89.95, 180.0))).await;
    let over = nearby(&app, "89.95,0", 12.0).await;
    assert_eq!(over.len(), 1);
    assert_eq!(over[0].0, pole);
}

#[tokio::test]
async fn a_crowded_ring_around_an_empty_centre_still_fills_the_page() {
    let app = spawn_app().await;
    named(&app, "ringer", "").await;
    let (lat, lon) = (48.8566, 2.3522);
    // More posts than a round reads, 0.9 km away, and none nearer: the first round (reach
    // 1 km for a 64 km radius) is crowded, the shrunken one finds nobody.
    let (ring_lat, ring_lon) = north_of(lat, lon, 0.9);
    let fill = match app.is_sqlite() {
        true => format!(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 599)
             INSERT INTO posts (id, author_id, caption, visibility, lat, lon, created_at)
             SELECT randomblob(16), (SELECT id FROM users WHERE handle = 'ringer'), 'ring',
                    'public', {ring_lat} + i * 1e-7, {ring_lon}, 0 FROM n"
        ),
        false => format!(
            "INSERT INTO posts (id, author_id, caption, visibility, lat, lon, created_at)
             SELECT gen_random_uuid(), (SELECT id FROM users WHERE handle = 'ringer'), 'ring',
                    'public', {ring_lat} + i * 1e-7, {ring_lon}, now()
             FROM generate_series(0, 599) i"
        ),
    };
    app.execute_sql(&fill).await;
    let first = page(
        &app,
        &format!("/v1/search/posts?near={lat},{lon}&radius_km=64"),
        None,
    )
    .await;
    let items = first["items"].as_array().unwrap();
    assert_eq!(items.len(), 20, "{first}");
    let distances: Vec<f64> = items
        .iter()
        .map(|post| post["distance_km"].as_f64().unwrap())
        .collect();
    assert!(
        distances.iter().all(|d| (d - 0.9).abs() < 0.01),
        "{distances:?}"
    );
    assert!(distances.is_sorted(), "{distances:?}");
    assert!(first["next_cursor"].is_string(), "{first}");
}

#[tokio::test]
async fn typo_matches_rank_most_followed_first_across_words_and_follow_renames() {
    let app = spawn_app().await;
    named(&app, "one", "Wilhelmina Okonkwo").await;
    named(&app, "two", "Bartholomew Okonkwo").await;
    let (_, three) = named(&app, "three", "Okonkwo Achebe").await;
    named(&app, "zanzibar_k", "").await;
    set_followers(&app, "two", 9).await;
    set_followers(&app, "three", 4).await;
    // Two letters swapped in a name's word, wherever it is in the name.
    assert_eq!(people(&app, "okonkow", None).await, ["two", "three", "one"]);
    // Several words, a typo in one: judged whole.
    assert_eq!(people(&app, "wilhelmina okonkow", None).await, ["one"]);
    assert_eq!(
        people(&app, "bartholomew achebee", None).await,
        Vec::<String>::new()
    );
    // A handle's beginning, with a typo.
    assert_eq!(people(&app, "zanizbar", None).await, ["zanzibar_k"]);
    // A new name is found by its typos at once, the old one no more.
    let renamed = app
        .patch_json(
            "/v1/users/@three",
            Some(&three),
            &json!({"display_name": "Chinua Adichie"}),
        )
        .await;
    assert!(renamed.status().is_success());
    assert_eq!(people(&app, "okonkow", None).await, ["two", "one"]);
    assert_eq!(people(&app, "adicihe", None).await, ["three"]);
    // And by its prefix: a word newer than the dictionary's held copy rules nothing out.
    assert_eq!(people(&app, "chinua", None).await, ["three"]);
}

/// The words accounts inserted by SQL are found by (their handles, like `handles`, and
/// `name_words`), as an account's creation writes them.
async fn add_name_words(app: &TestApp, handles: &str, name_words: &[&str]) {
    let now = match app.is_sqlite() {
        true => "CAST(strftime('%s', 'now') AS INTEGER) * 1000000",
        false => "now()",
    };
    let mut sql = format!(
        "INSERT INTO name_words (word, added_at)
         SELECT lower(handle), {now} FROM users WHERE handle LIKE '{handles}'"
    );
    for word in name_words {
        sql.push_str(&format!(" UNION SELECT '{word}', {now}"));
    }
    app.execute_sql(&sql).await;
}

#[tokio::test]
async fn a_prefix_a_thousand_handles_share_lists_them_most_followed_first_on_every_page() {
    let app = spawn_app().await;
    // Past the point where the search walks the accounts most followed first instead.
    let fill = match app.is_sqlite() {
        true => "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 1049)
                 INSERT INTO users (id, handle, email, password_hash, created_at, updated_at,
                                    followers_count)
                 SELECT randomblob(16), printf('crowd%04d', i), printf('crowd%04d@example.com', i),
                        'x', 0, 0, i FROM n"
            .to_owned(),
        false => "INSERT INTO users (id, handle, email, password_hash, created_at, updated_at,
                                     followers_count)
                  SELECT gen_random_uuid(), 'crowd' || lpad(i::text, 4, '0'),
                         'crowd' || lpad(i::text, 4, '0') || '@example.com', 'x', now(), now(), i
                  FROM generate_series(0, 1049) i"
            .to_owned(),
    };
    app.execute_sql(&fill).await;
    add_name_words(&app, "crowd%", &[]).await;
    let expected: Vec<String> = (0..1050).rev().map(|i| format!("crowd{i:04}")).collect();
    assert_eq!(people(&app, "crowd", None).await, expected);
    // A rarer prefix among them reads its matches the other way, in the same order.
    // Then, within its one typo (`crowd0…` lacks the `1`), the others.
    let rarer = people(&app, "crowd10", None).await;
    let prefixed: Vec<String> = (1000..1050).rev().map(|i| format!("crowd{i:04}")).collect();
    assert_eq!(rarer[..50], prefixed);
    assert_eq!(rarer, expected);
}

#[tokio::test]
async fn a_name_word_a_thousand_accounts_share_lists_them_most_followed_first_typos_too() {
    let app = spawn_app().await;
    // Past the point where the name and typo steps walk the accounts most followed first.
    let fill = match app.is_sqlite() {
        true => "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 1049)
                 INSERT INTO users (id, handle, email, password_hash, created_at, updated_at,
                                    followers_count, display_name, search_name)
                 SELECT randomblob(16), printf('p%04d', i), printf('p%04d@example.com', i),
                        'x', 0, 0, i, 'Ada Okafor', ' ada okafor' FROM n"
            .to_owned(),
        false => "INSERT INTO users (id, handle, email, password_hash, created_at, updated_at,
                                     followers_count, display_name, search_name)
                  SELECT gen_random_uuid(), 'p' || lpad(i::text, 4, '0'),
                         'p' || lpad(i::text, 4, '0') || '@example.com', 'x', now(), now(), i,
                         'Ada Okafor', ' ada okafor'
                  FROM generate_series(0, 1049) i"
            .to_owned(),
    };
    app.execute_sql(&fill).await;
    add_name_words(&app, "p%", &["ada", "okafor"]).await;
    let expected: Vec<String> = (0..1050).rev().map(|i| format!("p{i:04}")).collect();
    assert_eq!(people(&app, "okafor", None).await, expected);
    assert_eq!(people(&app, "ada oka", None).await, expected);
    assert_eq!(people(&app, "okafro", None).await, expected, "one typo");
}
