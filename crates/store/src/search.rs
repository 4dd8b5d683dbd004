//! Search: people by handle and name, posts by caption and hashtag, and places. The store finds
//! and orders candidates with each database's own indexes; the application ranks people
//! (`picshare_domain::search`) and pages every search by `RankedKey`.

use async_trait::async_trait;
use picshare_domain::User;
use picshare_domain::UserId;
use picshare_domain::search::{Near, PostQuery};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Post, StoreResult};

/// Where a ranked list continues: after the row ranked `(rank, score, id)`. Rows are in
/// ascending `rank`, then descending `score`, then descending `id`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankedKey {
    pub rank: u8,
    pub score: f64,
    pub id: Uuid,
}

impl RankedKey {
    /// Whether a row ranked `(score, id)` within this key's rank comes after `after` (score
    /// descending, then id descending); everything comes after no key.
    pub fn is_after(score: f64, id: Uuid, after: Option<RankedKey>) -> bool {
        after.is_none_or(|after| score < after.score || (score == after.score && id < after.id))
    }
}

/// Where a page of a ranked list starts and how long it is (1–100).
#[derive(Debug, Clone, Copy)]
pub struct RankedRequest {
    pub after: Option<RankedKey>,
    pub limit: u32,
}

/// A page of a ranked list; `next` is the key of its last row when there is more.
#[derive(Debug, Clone)]
pub struct RankedPage<T> {
    pub items: Vec<T>,
    pub next: Option<RankedKey>,
}

/// Who searches, and when (suspensions end by themselves).
#[derive(Debug, Clone, Copy)]
pub struct Searcher {
    pub viewer: Option<UserId>,
    pub now: OffsetDateTime,
}

/// How a person matched a query, best first; the rank of `RankedKey`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum UserMatch {
    ExactHandle = 0,
    HandlePrefix = 1,
    NamePrefix = 2,
    Typo = 3,
}

/// A person search: the handle it may name (`search::handle_query`) and the name words
/// (`search::fold_words`).
#[derive(Debug, Clone)]
pub struct UserQuery {
    pub handle: Option<String>,
    pub name: String,
    /// What `UserMatch::Typo` looks for, judged by the application from `name_words`.
    pub alike: AlikeWords,
    /// Whether so many handles start with `handle` (the application's estimate) that walking
    /// the most followed accounts, checking each handle, beats reading every match and sorting.
    pub crowded_handle_prefix: bool,
    /// The same for the names the name or typo step looks for (`name_word_counts`).
    pub crowded_names: bool,
}

/// What is within a query's typos (`search::beginnings_within_typos`): beginnings of handles,
/// and for each query word beginnings of name words, one of which a name must have a word
/// starting with (a name must answer every query word).
#[derive(Debug, Clone, Default)]
pub struct AlikeWords {
    pub handles: Vec<String>,
    pub name_words: Vec<Vec<String>>,
}

/// Someone a search found, with the folded name their match was judged on.
#[derive(Debug, Clone)]
pub struct FoundUser {
    pub user: User,
    pub search_name: String,
}

/// How a post search is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostOrder {
    /// Best caption match first (the score of `RankedKey`); newest first without words.
    Relevance,
    Recent,
}

/// A post a search found, with its score (relevance, or minus the distance in km).
#[derive(Debug, Clone)]
pub struct FoundPost {
    pub post: Post,
    pub score: f64,
}

#[async_trait]
pub trait SearchStore {
    /// People who match `query` as `how` says (never by an earlier way too), visible to the
    /// searcher (no block either way, not suspended), most followed first, after `after`
    /// (its followers count and id); at most `limit`. `ExactHandle` finds the handle and then,
    /// in the same statement, up to `limit` of the handles it begins (`HandlePrefix`) too. `Typo` finds those with a handle or
    /// name words of `query.alike`, for the application to judge.
    async fn search_users(
        &self,
        searcher: Searcher,
        query: &UserQuery,
        how: UserMatch,
        after: Option<(i64, Uuid)>,
        limit: u32,
    ) -> StoreResult<Vec<FoundUser>>;

    /// Dictionary words (`search::name_words`) added after `since`, oldest first, each with
    /// when; at most `limit`.
    async fn name_words_since(
        &self,
        since: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<(String, OffsetDateTime)>>;

    /// How many names hold each word (at most `limit` words), where the database's plans need
    /// the application's estimate (`UserQuery::crowded_names`); none where it weighs that itself.
    async fn name_word_counts(&self, limit: u32) -> StoreResult<Vec<(String, u32)>>;

    /// Posts the searcher may see that carry every tag and match the words, in `order`,
    /// after `after`; at most `limit + 1`.
    async fn search_posts(
        &self,
        searcher: Searcher,
        query: &PostQuery,
        order: PostOrder,
        after: Option<RankedKey>,
        limit: u32,
    ) -> StoreResult<Vec<FoundPost>>;

    /// Posts the searcher may see located within `near.radius_km`, nearest first (score:
    /// minus the distance), after `after`; at most `limit + 1`.
    async fn posts_near(
        &self,
        searcher: Searcher,
        near: &Near,
        after: Option<RankedKey>,
        limit: u32,
    ) -> StoreResult<Vec<FoundPost>>;

    /// How many posts carry the (folded) tag, taken-down ones left out.
    async fn tag_post_count(&self, tag: &str) -> StoreResult<i64>;
}

impl<T> RankedPage<T> {
    /// A page from up to `limit + 1` keyed items: the extra one only says there is more.
    pub fn from_keyed(items: Vec<(RankedKey, T)>, limit: u32) -> Self {
        let (items, next) = crate::pagination::split_rows(items, limit);
        Self { items, next }
    }
}
