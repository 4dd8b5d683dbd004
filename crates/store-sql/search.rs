//! Search (`picshare_store::SearchStore`): people by handle and name, posts by caption and
//! hashtag, and places. What each database indexes differently lives in its dialect.

use std::collections::HashMap;

use async_trait::async_trait;
use picshare_domain::search::{
    MAX_QUERY_TERMS, Near, PostQuery, WORD_PREFIX_MIN_CHARS, distance_km,
};
use picshare_store::{
    AlikeWords, FoundPost, FoundUser, Post, PostOrder, PostStore, RankedKey, SearchStore, Searcher,
    StoreResult, UserMatch, UserQuery,
};
use sqlx::{FromRow, QueryBuilder, Row as _};
use time::OffsetDateTime;
use uuid::Uuid;

use super::rows::{PostRow, prefixed_post_columns, user_columns};
use super::users::UserRow;
use crate::dialect::{
    AUTHOR_JOIN, BYTEWISE, Db, NAME_WORD_COUNTS, NAME_WORDS_MATCH, OFF_INDEX, Row, Timestamp,
    WINDOW_KEY, caption_terms, from_ts, name_phrase_query, name_words_query, push_best_of_newest,
    push_located_within, ts,
};
use crate::{SqlStore, db_err};

/// A search with words orders the newest this many posts that match (docs/api.md, Search).
const MATCH_WINDOW: u32 = 1_000;
/// A place search reads at most this many located posts a round (denser places get narrower
/// rounds).
const PLACE_CANDIDATES: usize = 500;
/// A crowded band of places this thin (10 m) is not narrowed further: a page from it may order
/// its posts within the band only approximately.
const THIN_BAND_KM: f64 = 0.01;
/// Rounds a page of places takes at most (about 15 narrow 100 km to 10 m); the last one's
/// candidates make the page, so posts deleted and added between rounds cannot keep it going.
const PLACE_ROUNDS: usize = 32;

/// Every text that starts with `prefix` sorts from `prefix` to this (nothing sorts after
/// U+10FFFF, byte by byte).
fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

#[derive(FromRow)]
struct LocatedRow {
    id: Uuid,
    lat: Option<f64>,
    lon: Option<f64>,
}

#[derive(FromRow)]
struct FoundUserRow {
    #[sqlx(flatten)]
    user: UserRow,
    search_name: String,
}

/// The accounts in a block with the viewer either way, as a list read once per query (as a
/// check per row, a search of a common name probed the blocks twice for each of thousands).
fn push_blocked_either_way(query: &mut QueryBuilder<'_, Db>, viewer: Uuid) {
    query
        .push("(SELECT blocked_id FROM blocks WHERE blocker_id = ")
        .push_bind(viewer)
        .push(" UNION ALL SELECT blocker_id FROM blocks WHERE blocked_id = ")
        .push_bind(viewer)
        .push(")");
}

fn push_visible_user(query: &mut QueryBuilder<'_, Db>, searcher: Searcher) {
    let viewer = searcher.viewer.map_or(Uuid::nil(), |viewer| viewer.0);
    query
        .push("u.deleted_at IS NULL AND (u.suspended_until IS NULL OR u.suspended_until <= ")
        .push_bind(ts(searcher.now))
        .push(") AND u.id NOT IN ");
    push_blocked_either_way(query, viewer);
}

/// Posts `p` of the `h` rows of `first` (joined) that carry every one of `others` too.
fn push_tag_filter(query: &mut QueryBuilder<'_, Db>, first: &str, others: &[String]) {
    query.push(" AND h.tag = ").push_bind(first.to_owned());
    for tag in others {
        push_carries(query, tag);
    }
}

/// Posts `p` that carry `tag`, each looked up by its (tag, post) key: as `IN (…)`, SQLite read
/// every post with the tag first.
fn push_carries(query: &mut QueryBuilder<'_, Db>, tag: &str) {
    query
        .push(" AND EXISTS (SELECT 1 FROM post_hashtags o WHERE o.tag = ")
        .push_bind(tag.to_owned())
        .push(" AND o.post_id = p.id)");
}

fn push_handle_prefix(query: &mut QueryBuilder<'_, Db>, handle: &str, from: &str) {
    push_handle_range(query, handle, from, "");
}

/// `push_handle_prefix`, each term after `steer` (see `dialect::OFF_INDEX`).
fn push_handle_range(query: &mut QueryBuilder<'_, Db>, handle: &str, from: &str, steer: &str) {
    query
        .push(format!("{steer}lower(u.handle){BYTEWISE} {from} "))
        .push_bind(handle.to_owned())
        .push(format!(" AND {steer}lower(u.handle){BYTEWISE} < "))
        .push_bind(prefix_end(handle));
}

/// Users whose name has a word starting with `words` (`search::fold_words`): from the
/// database's index of name words where it has one and the match is not `crowded`, otherwise
/// by `LIKE`, checked on each account as the followers index is walked (collecting thousands of
/// matches from SQLite's FTS5 first took 0.3 ms of such a walk's 0.4) or answered by
/// PostgreSQL's trigram index.
fn push_name_word_prefix(query: &mut QueryBuilder<'_, Db>, words: &str, crowded: bool) {
    match name_phrase_query(words).filter(|_| !crowded) {
        Some(phrase) => {
            query.push(NAME_WORDS_MATCH).push_bind(phrase).push(")");
        }
        None => {
            query
                .push("u.search_name LIKE ")
                .push_bind(format!("%{words}%"));
        }
    }
}

/// Users whose name has a word starting with one of `words` (as `push_name_word_prefix`; the
/// words are letters and digits, so none is a `LIKE` wildcard).
fn push_name_has_word(query: &mut QueryBuilder<'_, Db>, words: &[String], crowded: bool) {
    if let Some(any) = name_words_query(words).filter(|_| !crowded) {
        query.push(NAME_WORDS_MATCH).push_bind(any).push(")");
        return;
    }
    query.push("(");
    for (i, word) in words.iter().enumerate() {
        if i > 0 {
            query.push(" OR ");
        }
        query
            .push("u.search_name LIKE ")
            .push_bind(format!("% {word}%"));
    }
    query.push(")");
}

/// What keeps a crowded match's terms off their indexes (`dialect::OFF_INDEX`), if anything.
fn steer(crowded: bool) -> &'static str {
    match OFF_INDEX {
        Some(steer) if crowded => steer,
        _ => "",
    }
}

/// Mirrors `search::name_has_prefix` (`crowded`: thousands match, `UserQuery::crowded_names`).
fn push_name_prefix(query: &mut QueryBuilder<'_, Db>, words: &str, crowded: bool) {
    if words.trim_start().chars().count() < WORD_PREFIX_MIN_CHARS {
        let steer = steer(crowded);
        query
            .push(format!("{steer}u.search_name{BYTEWISE} >= "))
            .push_bind(words.to_owned())
            .push(format!(" AND {steer}u.search_name{BYTEWISE} < "))
            .push_bind(prefix_end(words));
    } else {
        push_name_word_prefix(query, words, crowded);
    }
}

/// Users with a handle starting with one of `alike.handles`, or a name with a word starting
/// with one of each of `alike.name_words` (`crowded`: thousands match).
fn push_alike(query: &mut QueryBuilder<'_, Db>, alike: &AlikeWords, crowded: bool) {
    query.push("(");
    for (i, handle) in alike.handles.iter().enumerate() {
        query.push(if i == 0 { "(" } else { " OR (" });
        push_handle_range(query, handle, ">=", steer(crowded));
        query.push(")");
    }
    if !alike.name_words.is_empty() {
        query.push(if alike.handles.is_empty() {
            "("
        } else {
            " OR ("
        });
        for (i, words) in alike.name_words.iter().enumerate() {
            if i > 0 {
                query.push(" AND ");
            }
            push_name_has_word(query, words, crowded);
        }
        query.push(")");
    }
    query.push(")");
}

/// What the searcher may see of posts `p` by authors `a`: never taken down or by a suspended
/// author; their own; otherwise with no block either way, public posts of public accounts and
/// every post of accounts they follow (`social::post_access`).
fn push_visible_post(query: &mut QueryBuilder<'_, Db>, searcher: Searcher) {
    let viewer = searcher.viewer.map_or(Uuid::nil(), |viewer| viewer.0);
    query
        .push(
            "p.taken_down_at IS NULL AND a.deleted_at IS NULL
             AND (a.suspended_until IS NULL OR a.suspended_until <= ",
        )
        .push_bind(ts(searcher.now))
        .push(") AND (p.author_id = ")
        .push_bind(viewer)
        .push(" OR (p.author_id NOT IN ");
    push_blocked_either_way(query, viewer);
    query
        .push(" AND ((p.visibility = 'public' AND NOT a.is_private) OR EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = ")
        .push_bind(viewer)
        .push(" AND f.followee_id = p.author_id))))");
}

impl SqlStore {
    /// Rows of posts with a `score` column, as posts with their scores, in the rows' order.
    async fn found_posts(&self, rows: Vec<(PostRow, f64)>) -> StoreResult<Vec<FoundPost>> {
        let scores: HashMap<Uuid, f64> = rows.iter().map(|(row, s)| (row.id, *s)).collect();
        let posts = self
            .load_posts(rows.into_iter().map(|(row, _)| row).collect())
            .await?;
        Ok(posts
            .into_iter()
            .map(|post| FoundPost {
                score: scores.get(&post.id).copied().unwrap_or_default(),
                post,
            })
            .collect())
    }

    /// Posts by id with their scores, in the given order.
    async fn found_posts_by_id(&self, found: Vec<(Uuid, f64)>) -> StoreResult<Vec<FoundPost>> {
        let ids: Vec<Uuid> = found.iter().map(|(id, _)| *id).collect();
        let mut posts: HashMap<Uuid, Post> = self
            .find_posts(&ids)
            .await?
            .into_iter()
            .map(|post| (post.id, post))
            .collect();
        Ok(found
            .into_iter()
            .filter_map(|(id, score)| {
                Some(FoundPost {
                    post: posts.remove(&id)?,
                    score,
                })
            })
            .collect())
    }

    /// Located posts the searcher may see within a box reaching `reach_km` around `near`: only
    /// where they are, as a round reads thousands and keeps a page.
    async fn located_rows(
        &self,
        searcher: Searcher,
        near: &Near,
        reach_km: f64,
        limit: usize,
    ) -> StoreResult<Vec<LocatedRow>> {
        let mut query = QueryBuilder::<Db>::new("SELECT p.id, p.lat, p.lon FROM ");
        push_located_within(&mut query, near, reach_km);
        query.push(format!("{AUTHOR_JOIN} WHERE "));
        push_visible_post(&mut query, searcher);
        query.push(" LIMIT ").push_bind(limit as i64);
        query
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)
    }
}

#[async_trait]
impl SearchStore for SqlStore {
    async fn search_users(
        &self,
        searcher: Searcher,
        query: &UserQuery,
        how: UserMatch,
        after: Option<(i64, Uuid)>,
        limit: u32,
    ) -> StoreResult<Vec<FoundUser>> {
        let select = format!(
            "SELECT {}, u.search_name FROM users u WHERE ",
            user_columns()
        );
        let mut sql = QueryBuilder::<Db>::new("");
        let handle = query.handle.as_deref();
        if let (UserMatch::ExactHandle, Some(handle)) = (how, handle) {
            // The handle's prefixes in the same statement: a first page asks once.
            sql.push(format!("SELECT * FROM ({select}lower(u.handle) = "))
                .push_bind(handle.to_owned())
                .push(" AND ");
            push_visible_user(&mut sql, searcher);
            sql.push(") e UNION ALL SELECT * FROM (");
        }
        // The page's accounts are chosen from `users_search_walk_idx` alone (it holds every
        // column the choice reads), then read by key: a walk past a thousand accounts that do
        // not match reads no table row for them.
        sql.push(format!("{select}u.id IN (SELECT u.id FROM users u WHERE "));
        match (how, handle) {
            (UserMatch::ExactHandle | UserMatch::HandlePrefix, Some(handle)) => {
                push_handle_range(&mut sql, handle, ">", steer(query.crowded_handle_prefix));
            }
            (UserMatch::NamePrefix, _) if !query.name.is_empty() => {
                push_name_prefix(&mut sql, &query.name, query.crowded_names);
                if let Some(handle) = handle {
                    sql.push(" AND NOT (");
                    push_handle_prefix(&mut sql, handle, ">=");
                    sql.push(")");
                }
            }
            (UserMatch::Typo, _)
                if !query.alike.handles.is_empty() || !query.alike.name_words.is_empty() =>
            {
                push_alike(&mut sql, &query.alike, query.crowded_names);
                // Never found by an earlier way too.
                if let Some(handle) = handle {
                    sql.push(" AND NOT (");
                    push_handle_prefix(&mut sql, handle, ">=");
                    sql.push(")");
                }
                if !query.name.is_empty() {
                    sql.push(" AND NOT (");
                    push_name_prefix(&mut sql, &query.name, query.crowded_names);
                    sql.push(")");
                }
            }
            _ => return Ok(Vec::new()),
        }
        sql.push(" AND ");
        push_visible_user(&mut sql, searcher);
        if let Some((followers, id)) = after {
            sql.push(" AND (u.followers_count < ")
                .push_bind(followers)
                .push(" OR (u.followers_count = ")
                .push_bind(followers)
                .push(" AND u.id < ")
                .push_bind(id)
                .push("))");
        }
        sql.push(" ORDER BY u.followers_count DESC, u.id DESC LIMIT ")
            .push_bind(i64::from(limit))
            .push(") ORDER BY u.followers_count DESC, u.id DESC");
        if how == UserMatch::ExactHandle {
            sql.push(") p");
        }
        let rows: Vec<FoundUserRow> = sql
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.into_iter()
            .map(|row| {
                Ok(FoundUser {
                    user: row.user.into_user()?,
                    search_name: row.search_name,
                })
            })
            .collect()
    }

    async fn name_words_since(
        &self,
        since: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<(String, OffsetDateTime)>> {
        let rows: Vec<(String, Timestamp)> = sqlx::query_as(
            "SELECT word, added_at FROM name_words WHERE added_at > $1
             ORDER BY added_at LIMIT $2",
        )
        .bind(ts(since))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|(word, at)| (word, from_ts(at)))
            .collect())
    }

    async fn name_word_counts(&self, limit: u32) -> StoreResult<Vec<(String, u32)>> {
        let Some(sql) = NAME_WORD_COUNTS else {
            return Ok(Vec::new());
        };
        let rows: Vec<(String, i64)> = sqlx::query_as(sql)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|(word, names)| (word, u32::try_from(names).unwrap_or(u32::MAX)))
            .collect())
    }

    async fn search_posts(
        &self,
        searcher: Searcher,
        query: &PostQuery,
        order: PostOrder,
        after: Option<RankedKey>,
        limit: u32,
    ) -> StoreResult<Vec<FoundPost>> {
        let mut terms = match query.words.is_empty() {
            true => Vec::new(),
            false => caption_terms(&self.pool, &query.words).await?,
        };
        terms.truncate(MAX_QUERY_TERMS);
        if terms.is_empty() && query.tags.is_empty() {
            // Only words no caption is searched by (stop words).
            return Ok(Vec::new());
        }
        let mut sql = QueryBuilder::<Db>::new("SELECT ");
        sql.push(prefixed_post_columns());
        if !terms.is_empty() {
            // The newest matches, best first or newest first: ordering every match of a common
            // word would read them all (on SQLite, seconds for a word in a quarter of 5 M).
            let score = match order {
                PostOrder::Relevance => "w.score",
                PostOrder::Recent => "CAST(0 AS DOUBLE PRECISION)",
            };
            sql.push(format!(", {score} AS score FROM ("));
            push_best_of_newest(&mut sql, &terms, &query.words, MATCH_WINDOW);
            sql.push(format!(
                ") w JOIN posts p ON {WINDOW_KEY} = w.k{AUTHOR_JOIN} WHERE "
            ));
            push_visible_post(&mut sql, searcher);
            for tag in &query.tags {
                push_carries(&mut sql, tag);
            }
            match (order, after) {
                (PostOrder::Relevance, Some(after)) => {
                    sql.push(" AND (w.score < ")
                        .push_bind(after.score)
                        .push(" OR (w.score = ")
                        .push_bind(after.score)
                        .push(" AND p.id < ")
                        .push_bind(after.id)
                        .push("))");
                }
                (PostOrder::Recent, Some(after)) => {
                    sql.push(" AND p.id < ").push_bind(after.id);
                }
                (_, None) => {}
            }
            sql.push(match order {
                PostOrder::Relevance => " ORDER BY w.score DESC, p.id DESC LIMIT ",
                PostOrder::Recent => " ORDER BY p.id DESC LIMIT ",
            });
        } else {
            sql.push(", CAST(0 AS DOUBLE PRECISION) AS score FROM ");
            // Newest first: by a tag's own (tag, post) keys when there is a tag.
            let key = match query.tags.split_first() {
                Some(_) => {
                    sql.push("post_hashtags h JOIN posts p ON p.id = h.post_id");
                    "h.post_id"
                }
                None => {
                    sql.push("posts p");
                    "p.id"
                }
            };
            sql.push(format!("{AUTHOR_JOIN} WHERE "));
            push_visible_post(&mut sql, searcher);
            if let Some((first, others)) = query.tags.split_first() {
                push_tag_filter(&mut sql, first, others);
            }
            if let Some(after) = after {
                sql.push(format!(" AND {key} < ")).push_bind(after.id);
            }
            sql.push(format!(" ORDER BY {key} DESC LIMIT "));
        }
        sql.push_bind(i64::from(limit) + 1);
        let rows: Vec<Row> = sql.build().fetch_all(&self.pool).await.map_err(db_err)?;
        let rows = rows
            .iter()
            .map(|row| Ok((PostRow::from_row(row)?, row.try_get::<f64, _>("score")?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(db_err)?;
        self.found_posts(rows).await
    }

    async fn posts_near(
        &self,
        searcher: Searcher,
        near: &Near,
        after: Option<RankedKey>,
        limit: u32,
    ) -> StoreResult<Vec<FoundPost>> {
        // Rounds of growing reach from where the last page ended: a round's box holds every
        // post nearer than its reach, so the nearest `limit + 1` beyond the cursor are known
        // once a round finds that many within its reach (or reaches the radius).
        let start = after.map_or(0.0, |after| -after.score);
        let mut reach = (start + near.radius_km / 64.0).min(near.radius_km);
        // The nearest reach known to hold more than a round reads, and the farthest known not
        // to: the next reach stays between them, so each round at least halves the gap (or
        // grows fourfold toward the radius) and the rounds end.
        let mut too_dense = f64::INFINITY;
        let mut not_crowded = start;
        let mut rounds = 0;
        loop {
            rounds += 1;
            let last = rounds == PLACE_ROUNDS;
            let rows = self
                .located_rows(searcher, near, reach, PLACE_CANDIDATES + 1)
                .await?;
            let crowded = rows.len() > PLACE_CANDIDATES;
            // A crowded round narrows the reach, unless the band left to narrow is thinner than
            // `THIN_BAND_KM`: its candidates then make the page.
            if crowded && reach - not_crowded > THIN_BAND_KM && !last {
                too_dense = reach;
                // At least this dense: a reach holding about four pages at that density.
                let share = (4.0 * (f64::from(limit) + 1.0) / rows.len() as f64).sqrt();
                let narrowed = start + (reach - start) * share.min(0.5);
                reach = match narrowed > not_crowded {
                    true => narrowed,
                    false => (not_crowded + too_dense) / 2.0,
                };
                continue;
            }
            // A round read whole knows every post within its reach; a crowded one (a thin
            // band) only those it read, which may all lie past its reach in the box's margin.
            let known_within = match crowded {
                true => near.radius_km,
                false => reach.min(near.radius_km),
            };
            let mut found: Vec<(Uuid, f64)> = rows
                .into_iter()
                .filter_map(|row| {
                    let distance = distance_km(near.lat, near.lon, row.lat?, row.lon?);
                    let within = distance <= known_within;
                    (within && RankedKey::is_after(-distance, row.id, after))
                        .then_some((row.id, -distance))
                })
                .collect();
            if found.len() > limit as usize || reach >= near.radius_km || crowded || last {
                found.sort_by(|(a, da), (b, db)| db.total_cmp(da).then(b.cmp(a)));
                found.truncate(limit as usize + 1);
                return self.found_posts_by_id(found).await;
            }
            not_crowded = reach;
            if reach >= too_dense {
                // Posts went away since that round (deletions): what it saw no longer holds.
                too_dense = f64::INFINITY;
            }
            let farther = (start + (reach - start) * 4.0).min(near.radius_km);
            reach = match farther < too_dense {
                true => farther,
                // Short of a crowded reach: halfway to it, or the crowded reach itself once the
                // band between is thin (its round then makes the page).
                false if too_dense - reach > THIN_BAND_KM => (reach + too_dense) / 2.0,
                false => too_dense,
            };
        }
    }

    async fn tag_post_count(&self, tag: &str) -> StoreResult<i64> {
        sqlx::query_scalar(
            "SELECT count(*) FROM post_hashtags h JOIN posts p ON p.id = h.post_id
             WHERE h.tag = $1 AND p.taken_down_at IS NULL",
        )
        .bind(tag)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)
    }
}
