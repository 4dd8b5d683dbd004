use async_trait::async_trait;
use picshare_domain::{FollowCaps, Relationship, User, UserId};

use crate::{NewJob, Page, PageRequest, StoreResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowOutcome {
    /// Now following (or already was).
    Following,
    /// One side's cap is reached; nothing changed.
    LimitReached,
    /// A block stands between the two; nothing changed.
    Blocked,
}

#[async_trait]
pub trait SocialStore {
    async fn relationship(&self, from: UserId, to: UserId) -> StoreResult<Relationship>;

    /// Follows (idempotent). Both counters change in the same transaction as the follow, and
    /// the caps hold however many follows run at once. A new follow enqueues `notify` with it.
    async fn follow(
        &self,
        follower: UserId,
        followee: UserId,
        caps: FollowCaps,
        notify: &NewJob,
    ) -> StoreResult<FollowOutcome>;

    /// Records a follow request to a private account (idempotent); a new one enqueues `notify`.
    async fn request_follow(
        &self,
        requester: UserId,
        target: UserId,
        notify: &NewJob,
    ) -> StoreResult<()>;

    /// Removes a follow and any pending request (idempotent), hiding the follow's notification
    /// and deleting the request's.
    async fn unfollow(&self, follower: UserId, followee: UserId) -> StoreResult<()>;

    /// Blocks, removing follows, requests and notifications both ways (idempotent).
    async fn block(&self, blocker: UserId, blocked: UserId) -> StoreResult<()>;

    async fn unblock(&self, blocker: UserId, blocked: UserId) -> StoreResult<()>;

    /// Followers of `user`, newest first, leaving out users in a block with `viewer`.
    async fn followers(
        &self,
        user: UserId,
        viewer: Option<UserId>,
        page: PageRequest,
    ) -> StoreResult<Page<User>>;

    /// Accounts `user` follows, newest first, leaving out users in a block with `viewer`.
    async fn following(
        &self,
        user: UserId,
        viewer: Option<UserId>,
        page: PageRequest,
    ) -> StoreResult<Page<User>>;

    /// Pending requests to follow `target`, newest first.
    async fn follow_requests(&self, target: UserId, page: PageRequest) -> StoreResult<Page<User>>;

    /// Turns a pending request into a follow (enqueuing `notify`), deleting the request's
    /// notification; `None` when there was no request.
    async fn approve_follow_request(
        &self,
        target: UserId,
        requester: UserId,
        caps: FollowCaps,
        notify: &NewJob,
    ) -> StoreResult<Option<FollowOutcome>>;

    /// Drops a pending request and its notification; false when there was none.
    async fn reject_follow_request(&self, target: UserId, requester: UserId) -> StoreResult<bool>;
}
