//! Leaving: an account's deletion, at once for everyone, then of everything it owned by jobs
//! (docs/api.md, "Deleting an account").

use std::time::{Duration, Instant};

use picshare_domain::moderation::parse_moderation_reason;
use picshare_domain::{Role, UserId, UserLookup, ValidationErrors};
use picshare_store::{AccountDeletion, ModerationAct};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::Principal;
use crate::jobs::{DELETE_ACCOUNT, DELETE_OBJECTS, DeleteObjectsJob, job};
use crate::media::object_keys;
use crate::suspensions::DELETED;
use crate::throttle::ThrottleKey;
use crate::{App, AppError, AppResult};

/// How deletions run (configurable: `account_deletion_*`).
#[derive(Debug, Clone, Copy)]
pub struct AccountDeletionSettings {
    /// How long a deleted account's handle and email stay taken (0: free at once).
    pub handle_grace: Duration,
    /// Rows removed per transaction.
    pub batch: u32,
    /// The least rest between batches.
    pub pause: Duration,
    /// Each rest is at least this many times as long as the batch took: with 3, a large
    /// account's removal takes at most a quarter of the time of whatever runs its batches.
    pub rest_per_work: u32,
}

impl Default for AccountDeletionSettings {
    fn default() -> Self {
        Self {
            handle_grace: Duration::ZERO,
            batch: 200,
            pause: Duration::from_millis(5),
            rest_per_work: 1,
        }
    }
}

impl AccountDeletionSettings {
    /// The rest after a batch that took `work`.
    fn rest_after(&self, work: Duration) -> Duration {
        self.pause.max(work * self.rest_per_work)
    }
}

/// Job: one step of a deleted account's removal.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeleteAccountJob {
    pub user_id: Uuid,
    pub step: DeletionStep,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeletionStep {
    /// Everything the account owned and did, at once.
    Purge,
    /// The handle and email, free again at the end of a grace.
    Release,
    /// The row (what is left goes with it), once the account's last access token has expired:
    /// until then the registry of deleted accounts, read from the rows, refuses them.
    Remove,
}

/// Who asks for a deletion, as the request says.
#[derive(Debug, Clone, Default)]
pub struct DeletionRequest {
    /// The account's own password (required of its owner).
    pub password: Option<String>,
    /// Why a moderator deletes someone else's account (required of them; audited).
    pub reason: Option<String>,
}

impl App {
    /// Deletes an account: its owner, with their password, or a moderator (an admin for a
    /// moderator's or admin's account). Every session ends and the account and its content
    /// vanish from every view at once; jobs then remove it all.
    pub async fn delete_account(
        &self,
        caller: Principal,
        target: &UserLookup,
        request: DeletionRequest,
    ) -> AppResult<()> {
        let user = self.find_user(target).await?;
        let moderator = if user.id == caller.user_id {
            let password = request
                .password
                .ok_or_else(|| ValidationErrors::single("password", "your password is required"))?;
            self.check_own_password(caller.user_id, &password, &user.password_hash)
                .await?;
            None
        } else {
            let me = self.require_moderator(caller).await?;
            if user.role.is_moderator() && me.role != Role::Admin {
                return Err(AppError::Forbidden(
                    "only an admin deletes a moderator's or an admin's account",
                ));
            }
            let reason = parse_moderation_reason(request.reason.as_deref().unwrap_or_default())
                .map_err(|m| ValidationErrors::single("reason", m))?;
            Some(ModerationAct {
                moderator: caller.user_id,
                reason: Some(reason),
                at: OffsetDateTime::now_utc(),
            })
        };
        let now = OffsetDateTime::now_utc();
        let grace = self.settings.account_deletion.handle_grace;
        let step = |step: DeletionStep, after: Duration| {
            let mut step = job(
                DELETE_ACCOUNT,
                &DeleteAccountJob {
                    user_id: user.id.0,
                    step,
                },
                20,
            )?;
            step.run_at = now + after;
            AppResult::Ok(step)
        };
        let mut jobs = vec![
            step(DeletionStep::Purge, Duration::ZERO)?,
            step(DeletionStep::Remove, grace.max(self.tokens.access_ttl))?,
        ];
        if !grace.is_zero() {
            jobs.push(step(DeletionStep::Release, grace)?);
        }
        let deletion = AccountDeletion {
            user: user.id,
            at: now,
            release_now: grace.is_zero(),
            jobs,
            moderator,
        };
        if !self.store.delete_account(&deletion).await? {
            return Err(AppError::NotFound);
        }
        self.suspensions_changed(user.id, Some(DELETED)).await;
        self.recent_users.remove(&user.id);
        metrics::counter!("picshare_account_deletions_total").increment(1);
        self.wake_workers().await;
        Ok(())
    }

    /// The owner's password, checked like a login's: wrong guesses are counted per account,
    /// so a stolen access token cannot be used to find the password.
    async fn check_own_password(&self, user: UserId, password: &str, hash: &str) -> AppResult<()> {
        let limits = self.settings.login_limits;
        let keys = [ThrottleKey {
            key: format!("reauth:{}", user.0),
            limit: limits.per_account,
            window: limits.window,
        }];
        self.limiter.begin_attempt(&keys).await?;
        if !self.hasher.verify(password, Some(hash)).await? {
            return Err(AppError::InvalidCredentials);
        }
        self.limiter.forgive(&keys).await?;
        Ok(())
    }

    /// The `delete_account` job: media first (their objects by `delete_objects` jobs enqueued
    /// with each batch), then everything else, in batches, then the step's own part; each step
    /// purges (a later one finds nothing left), and each is idempotent and resumable.
    pub async fn purge_account(&self, purge: &DeleteAccountJob) -> AppResult<()> {
        let user = UserId(purge.user_id);
        let settings = self.settings.account_deletion;
        loop {
            let media = self
                .store
                .deleted_account_media(user, settings.batch)
                .await?;
            if media.is_empty() {
                break;
            }
            let cleanup = job(
                DELETE_OBJECTS,
                &DeleteObjectsJob {
                    keys: media.iter().flat_map(object_keys).collect(),
                },
                self.media.job_max_attempts,
            )?;
            let ids: Vec<Uuid> = media.iter().map(|media| media.id).collect();
            let started = Instant::now();
            if self.store.purge_account_media(user, &ids, &cleanup).await? == 0 {
                break;
            }
            tokio::time::sleep(settings.rest_after(started.elapsed())).await;
        }
        loop {
            let started = Instant::now();
            if self.store.purge_account_rows(user, settings.batch).await? == 0 {
                break;
            }
            tokio::time::sleep(settings.rest_after(started.elapsed())).await;
        }
        match purge.step {
            DeletionStep::Purge => {}
            DeletionStep::Release => {
                self.store.release_deleted_handle(user).await?;
            }
            DeletionStep::Remove => {
                self.store.remove_deleted_account(user).await?;
            }
        }
        self.wake_workers().await;
        Ok(())
    }
}
