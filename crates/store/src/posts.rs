use async_trait::async_trait;
use picshare_domain::{Location, Media, TakenDown, UserId, Visibility};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{NewJob, Page, PageRequest, StoreResult};

#[derive(Debug, Clone)]
pub struct NewPost {
    pub id: Uuid,
    pub author_id: UserId,
    pub caption: String,
    pub visibility: Visibility,
    pub location: Option<Location>,
    /// In display order.
    pub media_ids: Vec<Uuid>,
    pub hashtags: Vec<String>,
    pub mentions: Vec<String>,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    pub id: Uuid,
    pub author_id: UserId,
    pub caption: String,
    pub visibility: Visibility,
    pub location: Option<Location>,
    pub media: Vec<Media>,
    pub like_count: i64,
    pub comment_count: i64,
    pub hashtags: Vec<String>,
    pub created_at: OffsetDateTime,
    pub edited_at: Option<OffsetDateTime>,
    pub taken_down: Option<TakenDown>,
}

/// A new caption with what was extracted from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptionEdit {
    pub text: String,
    pub hashtags: Vec<String>,
    pub mentions: Vec<String>,
}

/// An edit; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct PostUpdate {
    pub caption: Option<CaptionEdit>,
    pub visibility: Option<Visibility>,
    pub location: Option<Option<Location>>,
    /// A reordering of (some of) the post's current media, at least one.
    pub media_ids: Option<Vec<Uuid>>,
}

/// Why a post write was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostRefusal {
    /// A media id is not a ready post upload of the author, or is on another post already
    /// (creating), or is not on this post (editing).
    MediaUnavailable,
    NotFound,
}

#[async_trait]
pub trait PostStore {
    /// Creates the post, attaches its media in order, counts it for the author, puts it in the
    /// author's own timeline and enqueues `jobs` (the fan-out to followers' timelines, the
    /// mentions' notifications), in one transaction.
    async fn create_post(
        &self,
        post: &NewPost,
        jobs: &[NewJob],
    ) -> StoreResult<Result<Post, PostRefusal>>;

    async fn find_post(&self, id: Uuid) -> StoreResult<Option<Post>>;

    /// The posts among `ids` that exist, in no particular order (one query for a whole page).
    async fn find_posts(&self, ids: &[Uuid]) -> StoreResult<Vec<Post>>;

    /// Applies the edit and enqueues `jobs` with it, in one transaction.
    async fn update_post(
        &self,
        id: Uuid,
        update: &PostUpdate,
        jobs: &[NewJob],
    ) -> StoreResult<Result<Post, PostRefusal>>;

    /// Deletes the post with its likes, comments and media records, uncounts it, and enqueues
    /// `cleanup` (removal of the media files), in one transaction.
    async fn delete_post(&self, id: Uuid, cleanup: &NewJob) -> StoreResult<bool>;

    /// The author's posts, newest first; followers-only ones only when `include_followers_only`,
    /// taken-down ones only when `include_taken_down`.
    async fn user_posts(
        &self,
        author: UserId,
        include_followers_only: bool,
        include_taken_down: bool,
        page: PageRequest,
    ) -> StoreResult<Page<Post>>;

    /// The viewer's home feed: their own posts and those of accounts they follow (all
    /// visibilities: following is approval), newest first, never from a user in a block with
    /// the viewer.
    async fn home_feed(&self, viewer: UserId, page: PageRequest) -> StoreResult<Page<Post>>;
}
