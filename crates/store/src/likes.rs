//! Likes of posts.

use async_trait::async_trait;
use picshare_domain::{User, UserId};
use uuid::Uuid;

use crate::{NewJob, Page, PageRequest, StoreResult};

#[async_trait]
pub trait LikeStore {
    /// Likes (idempotent); the like count afterwards. A new like enqueues `notify` with it.
    async fn like(&self, post: Uuid, user: UserId, notify: &NewJob) -> StoreResult<i64>;

    /// Unlikes (idempotent), hiding the like's notification; the like count afterwards.
    async fn unlike(&self, post: Uuid, user: UserId) -> StoreResult<i64>;

    async fn has_liked(&self, post: Uuid, user: UserId) -> StoreResult<bool>;

    /// Which of `posts` the user has liked (one query for a whole page).
    async fn liked_among(&self, user: UserId, posts: &[Uuid]) -> StoreResult<Vec<Uuid>>;

    /// Users who liked the post, newest first, leaving out users in a block with `viewer`.
    async fn likers(
        &self,
        post: Uuid,
        viewer: Option<UserId>,
        page: PageRequest,
    ) -> StoreResult<Page<User>>;
}
