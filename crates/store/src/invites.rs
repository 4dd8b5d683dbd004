//! Invites: codes handed out by accounts, each used once, and the tree of who invited whom.

use async_trait::async_trait;
use picshare_domain::{NewUser, User, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Page, PageRequest, StoreResult};

#[derive(Debug, Clone)]
pub struct NewInvite {
    pub id: Uuid,
    pub code: String,
    pub inviter_id: UserId,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    pub id: Uuid,
    pub code: String,
    pub inviter_id: UserId,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub used_by: Option<UserId>,
    pub used_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

/// An account's invites by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InviteStats {
    pub created: u64,
    pub used: u64,
    pub expired: u64,
    pub revoked: u64,
}

#[async_trait]
pub trait InviteStore {
    /// Creates the invite unless the inviter already holds `quota` open ones (unused, unrevoked,
    /// unexpired at `invite.created_at`); counted under a lock on the inviter, so racing
    /// requests cannot pass the quota together. `None` when the quota is reached.
    async fn create_invite(&self, invite: &NewInvite, quota: u32) -> StoreResult<Option<Invite>>;

    /// The inviter's invites, newest first.
    async fn invites(&self, inviter: UserId, page: PageRequest) -> StoreResult<Page<Invite>>;

    async fn invite_stats(&self, inviter: UserId, now: OffsetDateTime) -> StoreResult<InviteStats>;

    /// Revokes the inviter's unused invite; false when there is none such.
    async fn revoke_invite(
        &self,
        inviter: UserId,
        code: &str,
        now: OffsetDateTime,
    ) -> StoreResult<bool>;

    /// Creates the account and spends the invite `code` on it, in one transaction; `Ok(None)`
    /// when the code is unknown, used (also by a racing sign-up), revoked or expired at
    /// `user.created_at`.
    async fn create_invited_user(&self, user: &NewUser, code: &str) -> StoreResult<Option<User>>;

    /// Who invited the user (`None` for no one).
    async fn inviter_of(&self, user: UserId) -> StoreResult<Option<UserId>>;

    /// The accounts the user invited, oldest first.
    async fn invitees(&self, user: UserId, page: PageRequest) -> StoreResult<Page<UserId>>;
}
