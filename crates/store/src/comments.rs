//! Comments on posts.

use async_trait::async_trait;
use picshare_domain::{Comment, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{NewJob, Page, PageRequest, StoreResult};

#[derive(Debug, Clone)]
pub struct NewComment {
    pub id: Uuid,
    pub post_id: Uuid,
    pub author_id: UserId,
    pub text: String,
    pub created_at: OffsetDateTime,
}

#[async_trait]
pub trait CommentStore {
    /// Adds a comment, counts it and enqueues `notify`, in one transaction.
    async fn add_comment(&self, comment: &NewComment, notify: &NewJob) -> StoreResult<Comment>;

    /// Comments on the post, oldest first, leaving out authors in a block with `viewer` and
    /// comments taken down (but the viewer's own, and all for a `moderator` viewer).
    async fn comments(
        &self,
        post: Uuid,
        viewer: Option<UserId>,
        moderator: bool,
        page: PageRequest,
    ) -> StoreResult<Page<Comment>>;

    async fn find_comment(&self, id: Uuid) -> StoreResult<Option<Comment>>;

    /// Deletes a comment of the post (with the notifications it caused) and uncounts it; false
    /// when there was none.
    async fn delete_comment(&self, post: Uuid, comment: Uuid) -> StoreResult<bool>;
}
