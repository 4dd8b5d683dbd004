//! The follow graph: follows, follow requests for private accounts, blocks, and lists.

use picshare_domain::{Action, Relationship, User, UserLookup, ValidationErrors};
use picshare_store::{FollowOutcome, Page, PageRequest};

use crate::auth::Principal;
use crate::jobs::{NotifyJob, notify_job};
use crate::{App, AppError, AppResult};

impl App {
    /// A user the viewer may see: missing, or in a block with the viewer, is not found.
    pub async fn visible_user(
        &self,
        viewer: Option<Principal>,
        lookup: &UserLookup,
    ) -> AppResult<User> {
        let user = self.find_user(lookup).await?;
        if let Some(viewer) = viewer
            && viewer.user_id != user.id
            && self
                .store
                .relationship(viewer.user_id, user.id)
                .await?
                .is_blocked_either_way()
        {
            return Err(AppError::NotFound);
        }
        Ok(user)
    }

    /// How the caller and another user stand; answers even across a block, so a client can
    /// explain what happened.
    pub async fn relationship(
        &self,
        caller: Principal,
        target: &UserLookup,
    ) -> AppResult<Relationship> {
        let target = self.find_user(target).await?;
        Ok(self.store.relationship(caller.user_id, target.id).await?)
    }

    /// Follows, or asks to follow a private account. Idempotent.
    pub async fn follow(&self, caller: Principal, target: &UserLookup) -> AppResult<Relationship> {
        let target = self
            .other_user(caller, target, "you cannot follow yourself")
            .await?;
        let relationship = self.store.relationship(caller.user_id, target.id).await?;
        if relationship.blocked_by {
            return Err(AppError::NotFound);
        }
        if relationship.blocking {
            return Err(AppError::Precondition(
                "you block this user; unblock them first",
            ));
        }
        if relationship.following || relationship.requested {
            return Ok(relationship);
        }
        if target.is_private {
            let notify = notify_job(NotifyJob::FollowRequest {
                requester: caller.user_id.0,
                target: target.id.0,
            })?;
            let spent = self.spend_quota(caller.user_id, Action::Follow).await?;
            let requested = self
                .store
                .request_follow(caller.user_id, target.id, &notify)
                .await
                .map_err(From::from);
            self.keep_if(spent, &requested, |_| true).await;
            requested?;
            self.wake_workers().await;
        } else {
            let caps = self.settings.follow_caps;
            let notify = notify_job(NotifyJob::Follow {
                follower: caller.user_id.0,
                followee: target.id.0,
            })?;
            let spent = self.spend_quota(caller.user_id, Action::Follow).await?;
            let followed = self
                .store
                .follow(caller.user_id, target.id, caps, &notify)
                .await
                .map_err(From::from);
            let done = |outcome: &FollowOutcome| *outcome == FollowOutcome::Following;
            self.keep_if(spent, &followed, done).await;
            match followed? {
                FollowOutcome::Following => self.wake_workers().await,
                FollowOutcome::LimitReached => return Err(AppError::FollowLimitReached),
                // Blocked in the meantime: as if they did not exist.
                FollowOutcome::Blocked => return Err(AppError::NotFound),
            }
        }
        Ok(self.store.relationship(caller.user_id, target.id).await?)
    }

    pub async fn unfollow(
        &self,
        caller: Principal,
        target: &UserLookup,
    ) -> AppResult<Relationship> {
        let target = self
            .other_user(caller, target, "you cannot unfollow yourself")
            .await?;
        self.store.unfollow(caller.user_id, target.id).await?;
        Ok(self.store.relationship(caller.user_id, target.id).await?)
    }

    pub async fn block(&self, caller: Principal, target: &UserLookup) -> AppResult<Relationship> {
        let target = self
            .other_user(caller, target, "you cannot block yourself")
            .await?;
        self.store.block(caller.user_id, target.id).await?;
        Ok(self.store.relationship(caller.user_id, target.id).await?)
    }

    pub async fn unblock(&self, caller: Principal, target: &UserLookup) -> AppResult<Relationship> {
        let target = self
            .other_user(caller, target, "you cannot unblock yourself")
            .await?;
        self.store.unblock(caller.user_id, target.id).await?;
        Ok(self.store.relationship(caller.user_id, target.id).await?)
    }

    /// Followers of a user the viewer may see (a private account's only to itself and its
    /// followers), leaving out anyone in a block with the viewer.
    pub async fn followers(
        &self,
        viewer: Option<Principal>,
        target: &UserLookup,
        page: PageRequest,
    ) -> AppResult<Page<User>> {
        let target = self.listable_user(viewer, target).await?;
        Ok(self
            .store
            .followers(target.id, viewer.map(|v| v.user_id), page)
            .await?)
    }

    pub async fn following(
        &self,
        viewer: Option<Principal>,
        target: &UserLookup,
        page: PageRequest,
    ) -> AppResult<Page<User>> {
        let target = self.listable_user(viewer, target).await?;
        Ok(self
            .store
            .following(target.id, viewer.map(|v| v.user_id), page)
            .await?)
    }

    pub async fn follow_requests(
        &self,
        caller: Principal,
        page: PageRequest,
    ) -> AppResult<Page<User>> {
        Ok(self.store.follow_requests(caller.user_id, page).await?)
    }

    pub async fn approve_follow_request(
        &self,
        caller: Principal,
        requester: &UserLookup,
    ) -> AppResult<()> {
        let requester = self.find_user(requester).await?;
        let notify = notify_job(NotifyJob::Follow {
            follower: requester.id.0,
            followee: caller.user_id.0,
        })?;
        let caps = self.settings.follow_caps;
        match self
            .store
            .approve_follow_request(caller.user_id, requester.id, caps, &notify)
            .await?
        {
            None => Err(AppError::NotFound),
            Some(FollowOutcome::LimitReached) => Err(AppError::FollowLimitReached),
            Some(FollowOutcome::Blocked) => Err(AppError::NotFound),
            Some(FollowOutcome::Following) => {
                self.wake_workers().await;
                Ok(())
            }
        }
    }

    pub async fn reject_follow_request(
        &self,
        caller: Principal,
        requester: &UserLookup,
    ) -> AppResult<()> {
        let requester = self.find_user(requester).await?;
        if self
            .store
            .reject_follow_request(caller.user_id, requester.id)
            .await?
        {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }

    async fn other_user(
        &self,
        caller: Principal,
        target: &UserLookup,
        message: &str,
    ) -> AppResult<User> {
        let target = self.find_user(target).await?;
        if target.id == caller.user_id {
            return Err(ValidationErrors::single("id", message).into());
        }
        Ok(target)
    }

    async fn listable_user(
        &self,
        viewer: Option<Principal>,
        target: &UserLookup,
    ) -> AppResult<User> {
        let target = self.visible_user(viewer, target).await?;
        if !target.is_private || viewer.is_some_and(|v| v.user_id == target.id) {
            return Ok(target);
        }
        let follows = match viewer {
            Some(viewer) => {
                self.store
                    .relationship(viewer.user_id, target.id)
                    .await?
                    .following
            }
            None => false,
        };
        if follows {
            Ok(target)
        } else {
            Err(AppError::NotFound)
        }
    }
}
