//! Search: people ranked by how they match (exact handle, handle prefix, name prefix, then
//! within the typos the query tolerates; ties by followers), posts by caption and hashtag,
//! places, and hashtags. Only what the searcher may see; suspended accounts never.

use std::collections::HashSet;

use picshare_domain::search::{
    self, MAX_QUERY_CHARS, MAX_QUERY_TERMS, Near, WORD_PREFIX_MIN_CHARS, beginnings_within_typos,
    fold_tag, fold_words, handle_query, matches_with_typos, parse_post_query, typo_allowance,
};
use picshare_domain::{User, UserId, ValidationErrors};
use picshare_store::{
    AlikeWords, FoundPost, FoundUser, Page, PageRequest, Post, PostOrder, RankedKey, RankedPage,
    RankedRequest, Searcher, UserMatch, UserQuery,
};
use time::OffsetDateTime;

use crate::auth::Principal;
use crate::name_dictionary::{Dictionary, Words};
use crate::posts::PostView;
use crate::{App, AppResult};

const USER_MATCHES: [UserMatch; 4] = [
    UserMatch::ExactHandle,
    UserMatch::HandlePrefix,
    UserMatch::NamePrefix,
    UserMatch::Typo,
];

/// Beginnings within a query word's typos looked for in handles, and in names, at most.
const ALIKE_WORDS: usize = 32;
/// Matches (handles sharing a prefix, names holding a word, as the dictionary counts them) past
/// which the store walks the accounts most followed first, checking each, instead of reading
/// every match and sorting them: about 1 in 100 accounts.
const CROWDED: u64 = 1000;
/// Fewer letters than this beyond its typos, and a query word narrows too little to look for.
const NARROWING_LETTERS: usize = 3;
/// People found by the words of a query of several words are judged against the whole query;
/// this many rounds at most fill a page.
const TYPO_ROUNDS: usize = 4;

/// A post a place search found, with how far it is.
#[derive(Debug, Clone)]
pub struct NearbyPost {
    pub view: PostView,
    pub distance_km: f64,
}

/// `GET /v1/tags/{tag}`.
#[derive(Debug, Clone)]
pub struct TagView {
    pub name: String,
    pub post_count: i64,
}

fn checked_query(query: &str) -> AppResult<&str> {
    let query = query.trim();
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(ValidationErrors::single(
            "q",
            format!("must be at most {MAX_QUERY_CHARS} characters"),
        )
        .into());
    }
    Ok(query)
}

fn searcher(viewer: Option<Principal>) -> Searcher {
    Searcher {
        viewer: viewer.map(|viewer| viewer.user_id),
        now: OffsetDateTime::now_utc(),
    }
}

fn user_key(how: UserMatch, user: &User) -> RankedKey {
    RankedKey {
        rank: how as u8,
        score: user.followers_count as f64,
        id: user.id.0,
    }
}

/// The way a person matched, from their handle, for people found by handle.
fn handle_match(query_handle: &str, user: &User) -> UserMatch {
    match user.handle.as_str().eq_ignore_ascii_case(query_handle) {
        true => UserMatch::ExactHandle,
        false => UserMatch::HandlePrefix,
    }
}

/// About how many handles start with the query's handle (the dictionary's words that do).
fn handle_sharers(held: &Words, handle: Option<&str>) -> u64 {
    handle.map_or(0, |handle| held.count_starting_with(handle))
}

/// At most about how many names the name step finds (as many as hold its rarest word), where
/// the store may walk them (`WORD_PREFIX_MIN_CHARS` or more); 0 otherwise.
fn name_step_estimate(held: &Words, name: &str) -> u64 {
    if name.trim_start().chars().count() < WORD_PREFIX_MIN_CHARS {
        return 0;
    }
    let mut words = name.split_whitespace().rev();
    let Some(last) = words.next() else {
        return 0;
    };
    words
        .map(|word| held.names_with(word))
        .fold(held.names_starting_with(last), u64::min)
}

/// Whether some name may start with the query's words (`search::name_has_prefix`): every
/// word but the last is a whole word of it, and the last begins one.
fn name_may_match(dictionary: &Dictionary, name: &str) -> bool {
    let mut words = name.split_whitespace().rev();
    words
        .next()
        .is_some_and(|last| dictionary.may_start_with(last))
        && words.all(|word| dictionary.may_contain(word))
}

impl App {
    pub async fn search_users(
        &self,
        viewer: Option<Principal>,
        query: &str,
        page: RankedRequest,
    ) -> AppResult<RankedPage<User>> {
        let query = checked_query(query)?;
        let handle = handle_query(query);
        let name = fold_words(query);
        // No letter or digit: nothing can match.
        if handle.is_none() && name.is_empty() {
            return Ok(RankedPage::from_keyed(Vec::new(), page.limit));
        }
        // A query long enough for typos reads every word anyway, and the words then tell which
        // ways cannot match: their statements are skipped.
        let allowed = typo_allowance(name.trim_start().chars().count());
        let dictionary = match allowed {
            0 => None,
            _ => Some(self.name_dictionary.words(&self.store).await?),
        };
        let held = match &dictionary {
            Some(dictionary) => dictionary.held.clone(),
            None => self.name_dictionary.held_words(&self.store).await?,
        };
        let sharing_handle = handle_sharers(&held, handle.as_deref());
        let crowded_names = name_step_estimate(&held, &name).saturating_sub(sharing_handle);
        let query = UserQuery {
            handle,
            name,
            alike: AlikeWords::default(),
            crowded_handle_prefix: sharing_handle >= CROWDED,
            crowded_names: crowded_names >= CROWDED,
        };
        let may_match = |how: UserMatch| match (how, &dictionary, query.handle.as_deref()) {
            (UserMatch::ExactHandle | UserMatch::HandlePrefix, _, None) => false,
            (UserMatch::ExactHandle | UserMatch::HandlePrefix, Some(words), Some(handle)) => {
                words.may_start_with(handle)
            }
            (UserMatch::NamePrefix, Some(words), _) => name_may_match(words, &query.name),
            _ => true,
        };
        let searcher = searcher(viewer);
        let wanted = page.limit as usize + 1;
        let mut found: Vec<(RankedKey, User)> = Vec::with_capacity(wanted);
        for how in USER_MATCHES {
            let rank = how as u8;
            if page.after.is_some_and(|after| after.rank > rank) || !may_match(how) {
                continue;
            }
            // A first page finds the handle's prefixes with the handle; a later one resumes them.
            match how {
                UserMatch::ExactHandle if page.after.is_some() => continue,
                UserMatch::HandlePrefix if page.after.is_none() => continue,
                _ => {}
            }
            let after = page.after.filter(|after| after.rank == rank);
            let room = wanted - found.len();
            let mut users: Vec<(RankedKey, User)> = match how {
                UserMatch::Typo => {
                    let Some(dictionary) = &dictionary else {
                        break;
                    };
                    let users = self
                        .typo_matches(searcher, &query, dictionary, allowed, after, room)
                        .await?;
                    users
                        .into_iter()
                        .map(|user| (user_key(how, &user), user))
                        .collect()
                }
                _ => {
                    let after = after.map(|after| (after.score as i64, after.id));
                    let users = self
                        .store
                        .search_users(searcher, &query, how, after, room as u32)
                        .await?;
                    let handle = query.handle.as_deref().unwrap_or_default();
                    users
                        .into_iter()
                        .map(|found| {
                            let how = match how {
                                UserMatch::ExactHandle => handle_match(handle, &found.user),
                                how => how,
                            };
                            (user_key(how, &found.user), found.user)
                        })
                        .collect()
                }
            };
            users.sort_by(|(a, _), (b, _)| {
                (a.rank, b.score as i64, b.id).cmp(&(b.rank, a.score as i64, a.id))
            });
            found.extend(users);
            if found.len() >= wanted {
                break;
            }
        }
        found.truncate(wanted);
        Ok(RankedPage::from_keyed(found, page.limit))
    }

    /// What a query's typos allow (`AlikeWords`), from the dictionary's words.
    fn alike(dictionary: &Dictionary, query: &UserQuery, allowed: usize) -> AlikeWords {
        let beginnings = |text: &str| {
            let held = &dictionary.held.sorted;
            let mut found = beginnings_within_typos(held, text, allowed, ALIKE_WORDS);
            for beginning in beginnings_within_typos(&dictionary.recent, text, allowed, ALIKE_WORDS)
            {
                if !found.contains(&beginning) {
                    found.push(beginning);
                }
            }
            found.truncate(ALIKE_WORDS);
            found
        };
        let mut alike = AlikeWords::default();
        if let Some(handle) = query.handle.as_deref() {
            alike.handles = beginnings(handle);
        }
        let narrowing = query
            .name
            .split(' ')
            .filter(|word| word.chars().count() >= allowed + NARROWING_LETTERS)
            .take(MAX_QUERY_TERMS);
        for word in narrowing {
            let found = match query.handle.as_deref() == Some(word) {
                true => alike.handles.clone(),
                false => beginnings(word),
            };
            // Name words are letters and digits; handles may hold `_` and `.` too.
            let found: Vec<String> = found
                .into_iter()
                .filter(|beginning| beginning.chars().all(char::is_alphanumeric))
                .collect();
            if found.is_empty() {
                // No name has every word.
                alike.name_words.clear();
                break;
            }
            alike.name_words.push(found);
        }
        alike
    }

    /// People within the query's typos who matched no better way, most followed first.
    async fn typo_matches(
        &self,
        searcher: Searcher,
        query: &UserQuery,
        dictionary: &Dictionary,
        allowed: usize,
        after: Option<RankedKey>,
        room: usize,
    ) -> AppResult<Vec<User>> {
        let words = query.name.trim_start();
        let alike = Self::alike(dictionary, query, allowed);
        // The names of every query word's beginnings, less those an earlier step found.
        let held = &dictionary.held;
        let alike_names = alike
            .name_words
            .iter()
            .map(|beginnings| {
                let names = beginnings.iter().map(|b| held.names_starting_with(b));
                names.sum::<u64>()
            })
            .min()
            .unwrap_or(0);
        let found_before =
            name_step_estimate(held, &query.name) + handle_sharers(held, query.handle.as_deref());
        let handle = query.handle.as_deref();
        // What an earlier step may have found is left out; what none can have, not looked at.
        let store_query = UserQuery {
            alike,
            crowded_names: alike_names.saturating_sub(found_before) >= CROWDED,
            handle: query
                .handle
                .clone()
                .filter(|handle| dictionary.may_start_with(handle)),
            name: match name_may_match(dictionary, &query.name) {
                true => query.name.clone(),
                false => String::new(),
            },
            crowded_handle_prefix: query.crowded_handle_prefix,
        };
        // Each word within the typos does not make the whole query so: judged whole here.
        let within_typos = |found: &FoundUser| {
            let own = found.user.handle.to_ascii_lowercase();
            matches_with_typos(handle.unwrap_or(words), &own, "")
                || matches_with_typos(words, "", &found.search_name)
        };
        let mut users: Vec<User> = Vec::with_capacity(room);
        let mut after = after.map(|after| (after.score as i64, after.id));
        for _ in 0..TYPO_ROUNDS {
            let found = self
                .store
                .search_users(searcher, &store_query, UserMatch::Typo, after, room as u32)
                .await?;
            let more = found.len() == room;
            for found in found {
                after = Some((found.user.followers_count, found.user.id.0));
                if within_typos(&found) {
                    users.push(found.user);
                }
            }
            if users.len() >= room || !more {
                break;
            }
        }
        users.truncate(room);
        Ok(users)
    }

    /// Posts whose caption matches the query's words and that carry its `#tags`.
    pub async fn search_posts(
        &self,
        viewer: Option<Principal>,
        query: &str,
        order: PostOrder,
        page: RankedRequest,
    ) -> AppResult<RankedPage<PostView>> {
        let query = parse_post_query(checked_query(query)?);
        if query.tags.is_empty() && query.words.is_empty() {
            return Ok(RankedPage::from_keyed(Vec::new(), page.limit));
        }
        let found = self
            .store
            .search_posts(searcher(viewer), &query, order, page.after, page.limit)
            .await?;
        let keyed = self.keyed_views(viewer, found).await?;
        Ok(RankedPage::from_keyed(keyed, page.limit))
    }

    /// Located posts within the radius, nearest first.
    pub async fn posts_near(
        &self,
        viewer: Option<Principal>,
        near: Near,
        page: RankedRequest,
    ) -> AppResult<RankedPage<NearbyPost>> {
        let found = self
            .store
            .posts_near(searcher(viewer), &near, page.after, page.limit)
            .await?;
        let keyed = self.keyed_views(viewer, found).await?;
        let nearby = keyed
            .into_iter()
            .map(|(key, view)| {
                let distance_km = -key.score;
                (key, NearbyPost { view, distance_km })
            })
            .collect();
        Ok(RankedPage::from_keyed(nearby, page.limit))
    }

    /// A tag and its post count (0 for a tag no post carries); not found for text that cannot
    /// be a tag.
    pub async fn tag(&self, tag: &str) -> AppResult<TagView> {
        let name = checked_tag(tag)?;
        let post_count = self.store.tag_post_count(&name).await?;
        Ok(TagView { name, post_count })
    }

    /// The tag's posts the viewer may see, newest first.
    pub async fn tag_posts(
        &self,
        viewer: Option<Principal>,
        tag: &str,
        page: PageRequest,
    ) -> AppResult<Page<PostView>> {
        let query = search::PostQuery {
            tags: vec![checked_tag(tag)?],
            words: String::new(),
        };
        let after = page.after.map(|id| RankedKey {
            rank: 0,
            score: 0.0,
            id,
        });
        let found = self
            .store
            .search_posts(
                searcher(viewer),
                &query,
                PostOrder::Recent,
                after,
                page.limit,
            )
            .await?;
        let views = self.keyed_views(viewer, found).await?;
        Ok(Page::from_rows(
            views
                .into_iter()
                .map(|(key, view)| (key.id, view))
                .collect(),
            page.limit,
        ))
    }

    /// Found posts as the feed shows them (author, `liked_by_me`), keyed for paging.
    async fn keyed_views(
        &self,
        viewer: Option<Principal>,
        found: Vec<FoundPost>,
    ) -> AppResult<Vec<(RankedKey, PostView)>> {
        let (posts, scores): (Vec<Post>, Vec<f64>) = found
            .into_iter()
            .map(|found| (found.post, found.score))
            .unzip();
        let liked: HashSet<uuid::Uuid> = self.liked_among(viewer, &posts).await?;
        let author_ids: Vec<UserId> = posts.iter().map(|post| post.author_id).collect();
        let authors = self.users_by_id(&author_ids).await?;
        Ok(posts
            .into_iter()
            .zip(scores)
            .filter_map(|(post, score)| {
                let author = authors.get(&post.author_id)?.clone();
                let key = RankedKey {
                    rank: 0,
                    score,
                    id: post.id,
                };
                let view = PostView {
                    liked_by_me: liked.contains(&post.id),
                    post,
                    author,
                };
                Some((key, view))
            })
            .collect())
    }
}

/// A tag as looked up: `#` optional, folded; 1 to 100 letters, digits or `_` (anything else
/// names no tag: not found).
fn checked_tag(tag: &str) -> AppResult<String> {
    let tag = fold_tag(tag.trim().trim_start_matches('#'));
    let valid = (1..=100).contains(&tag.chars().count())
        && tag.chars().all(|c| c.is_alphanumeric() || c == '_');
    if valid {
        Ok(tag)
    } else {
        Err(crate::AppError::NotFound)
    }
}
