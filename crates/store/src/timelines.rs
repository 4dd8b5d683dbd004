use async_trait::async_trait;
use picshare_domain::{User, UserId};
use uuid::Uuid;

use crate::{NewJob, PageRequest, Post, StoreResult};

/// Entries a home timeline keeps (a page-50 read at 20 per page stays inside it); older pages
/// come from the follow graph.
pub const TIMELINE_WINDOW: u32 = 1200;

/// One post in this many (by its random bits) also trims its author's followers' timelines back
/// to the window when it is fanned out, so a timeline outgrows the window by about this many
/// entries on average: trimming 2000 timelines costs far more than writing one entry to each.
pub const TRIM_ONE_IN: u128 = 64;

/// Floor of a timeline that holds every feed post of its user.
pub const FLOOR_COMPLETE: Uuid = Uuid::nil();

/// Floor of a timeline being built: it vouches for no post yet.
pub const FLOOR_BUILDING: Uuid = Uuid::max();

/// How far down a timeline holds its user's whole feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimelineFloor {
    /// Every feed post of its user.
    Complete,
    /// Being built: no post yet.
    Building,
    /// Every feed post with an id at or above this one.
    At(Uuid),
}

impl TimelineFloor {
    /// The floor as stored (`FLOOR_COMPLETE`, `FLOOR_BUILDING`, or an id).
    pub fn from_stored(floor: Uuid) -> Self {
        match floor {
            FLOOR_COMPLETE => Self::Complete,
            FLOOR_BUILDING => Self::Building,
            id => Self::At(id),
        }
    }

    /// Below which id the follow graph must answer; `None` when the timeline holds it all.
    pub fn graph_below(self) -> Option<Uuid> {
        match self {
            Self::Complete => None,
            Self::Building => Some(Uuid::max()),
            Self::At(id) => Some(id),
        }
    }
}

/// A post of a feed with what its reader needs to show it.
#[derive(Debug, Clone)]
pub struct FeedEntry {
    pub post: Post,
    pub author: User,
    pub liked_by_me: bool,
}

/// What a cached feed page shows that its timeline's stamp does not cover: a post's counts and
/// its author's profile and counts (docs/feed.md, "Page cache").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageCounts {
    pub post_id: Uuid,
    pub like_count: i64,
    pub comment_count: i64,
    pub author: AuthorShown,
}

/// An author as a page shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorShown {
    pub handle: String,
    pub display_name: String,
    pub bio: String,
    pub avatar_media_id: Option<Uuid>,
    pub is_private: bool,
    pub followers_count: i64,
    pub following_count: i64,
    pub posts_count: i64,
}

impl PageCounts {
    pub fn new(post: &Post, author: &User) -> Self {
        Self {
            post_id: post.id,
            like_count: post.like_count,
            comment_count: post.comment_count,
            author: AuthorShown::from(author),
        }
    }
}

impl From<&User> for AuthorShown {
    fn from(author: &User) -> Self {
        Self {
            handle: author.handle.clone(),
            display_name: author.display_name.clone(),
            bio: author.bio.clone(),
            avatar_media_id: author.avatar_media_id,
            is_private: author.is_private,
            followers_count: author.followers_count,
            following_count: author.following_count,
            posts_count: author.posts_count,
        }
    }
}

/// A stretch of a stored timeline.
#[derive(Debug, Clone)]
pub struct TimelineSlice {
    /// Up to `limit + 1` entries, newest first.
    pub entries: Vec<FeedEntry>,
    /// When the slice holds no more than `limit` entries: the timeline's floor (below it, read
    /// the graph). `None` for a full slice.
    pub floor: Option<TimelineFloor>,
}

/// Precomputed home timelines (docs/feed.md): the post ids of a user's feed, written when posts
/// are created and follows change, read instead of the follow graph.
#[async_trait]
pub trait TimelineStore {
    /// Up to `page.limit + 1` posts of the viewer's timeline below `page.after` and at or above
    /// its floor, newest first, with their authors and whether the viewer liked them, leaving
    /// out authors the viewer no longer follows. `None` when the viewer has no timeline.
    async fn timeline_slice(
        &self,
        viewer: UserId,
        page: PageRequest,
    ) -> StoreResult<Option<TimelineSlice>>;

    /// What a cached page of the viewer's timeline (below `page.after`, `page.limit` posts) is
    /// valid for: equal stamps mean the page shows the same posts, in the same order, with the
    /// same content and the same `liked_by_me`. It is made of the rows the page is read from
    /// (after the same checks: post and author exist, author still followed) with their posts'
    /// edit times, the floor, and a version bumped by the viewer's likes and follow changes and
    /// by a rebuild. Counters and authors' profiles are not in it. `None` when the viewer has no
    /// timeline.
    async fn timeline_stamp(
        &self,
        viewer: UserId,
        page: PageRequest,
    ) -> StoreResult<Option<String>>;

    /// The counts of these posts and their authors as stored now, newest post first; posts a
    /// page would not show (gone, taken down, or their author deleted) are left out. A cached
    /// page showing the same is still right.
    async fn page_counts(&self, posts: &[Uuid]) -> StoreResult<Vec<PageCounts>>;

    /// Gives the viewer an empty timeline that vouches for nothing yet, and enqueues `build`, in
    /// one transaction. With `restart`, an existing timeline is dropped first; otherwise an
    /// existing one is kept and nothing is enqueued (false).
    async fn start_timeline(
        &self,
        viewer: UserId,
        build: &NewJob,
        restart: bool,
    ) -> StoreResult<bool>;

    /// Fills a started timeline with the newest `TIMELINE_WINDOW` feed posts from the graph and
    /// sets its floor. False when the viewer has no timeline any more.
    async fn build_timeline(&self, viewer: UserId) -> StoreResult<bool>;

    /// Writes the post into the timelines of its author's followers that have one (now and
    /// then trimming them, see `TRIM_ONE_IN`); returns how many received it.
    async fn fan_out(&self, post: Uuid) -> StoreResult<u64>;

    /// Cuts the timelines of the author and their followers back to the newest
    /// `TIMELINE_WINDOW` entries; their floors rise to the oldest kept entry.
    async fn trim_timelines(&self, author: UserId) -> StoreResult<()>;
}
