//! Trust levels and per-action limits: an account's standing, assessed from its record and
//! reused for a minute; the quotas each limited write spends before it writes; and the admin's
//! verification.

use std::sync::Arc;
use std::time::Duration;

use picshare_domain::trust::{STRIKE_MEMORY, assess};
use picshare_domain::{
    Action, Quota, Standing, TrustLevel, User, UserId, UserLookup, ValidationErrors,
};
use time::OffsetDateTime;

use crate::auth::Principal;
use crate::moderation::act;
use crate::throttle::Rate;
use crate::{App, AppError, AppResult, RateLimit};

/// How long an assessed standing is reused: promotion shows within it; a strike or a
/// verification made here shows at once, elsewhere within it.
pub const STANDING_TTL: Duration = Duration::from_secs(60);

/// Standings assessed recently, by account (shared, so a hit copies nothing).
pub type Standings = crate::users::Recent<UserId, Arc<Standing>>;

/// What moderators see of an account's trust: its standing (with the risk its devices carry),
/// any suspension, and who invited it.
#[derive(Debug, Clone)]
pub struct AccountReview {
    pub user: User,
    pub standing: Arc<Standing>,
    pub suspended_until: Option<OffsetDateTime>,
    pub invited_by: Option<UserId>,
}

/// One quota of the caller's, as it stands.
#[derive(Debug, Clone, Copy)]
pub struct QuotaState {
    pub quota: Quota,
    pub state: RateLimit,
}

/// `GET /v1/account/rate-limits`.
#[derive(Debug, Clone)]
pub struct RateLimitsView {
    pub level: TrustLevel,
    /// False with `PICSHARE_RATE_LIMITS=off`: nothing is spent and every quota stays whole.
    pub enforced: bool,
    pub quotas: Vec<QuotaState>,
}

/// A unit spent from a quota (none when limits are off or the action has none).
#[must_use = "a unit spent for a write that does not happen is given back"]
pub(crate) struct Spent(Option<(String, Vec<Rate>)>);

fn rate(quota: &Quota) -> Rate {
    Rate {
        limit: quota.limit,
        period: quota.period.duration(),
    }
}

fn quota_key(user: UserId, action: Action) -> String {
    format!("act:{}:{}", action.as_str(), user.0.simple())
}

impl App {
    /// The account's standing, assessed now (and remembered for the limits).
    pub async fn standing(&self, user: UserId) -> AppResult<Arc<Standing>> {
        let now = OffsetDateTime::now_utc();
        let record = self
            .store
            .trust_record(user, now - STRIKE_MEMORY)
            .await?
            .ok_or(AppError::Unauthorized)?;
        let standing = Arc::new(assess(&record, now));
        self.standings.insert(user, standing.clone());
        Ok(standing)
    }

    async fn recent_standing(&self, user: UserId) -> AppResult<Arc<Standing>> {
        match self.standings.get(&user) {
            Some(standing) => Ok(standing),
            None => self.standing(user).await,
        }
    }

    /// The account's trust level, as assessed within the last minute.
    pub async fn trust_level(&self, user: UserId) -> AppResult<TrustLevel> {
        Ok(self.recent_standing(user).await?.level)
    }

    /// Forgets the account's standing (a strike, a verification or a device changed it).
    pub(crate) fn standing_changed(&self, user: UserId) {
        self.standings.remove(&user);
    }

    /// Spends one `action` from the caller's quotas for their trust level, before the write it
    /// allows; 429 `rate_limited` when one is spent. Nothing with `PICSHARE_RATE_LIMITS=off`.
    /// A write that then does not happen gives the unit back (`give_back`).
    pub(crate) async fn spend_quota(&self, caller: UserId, action: Action) -> AppResult<Spent> {
        if !self.settings.rate_limits {
            return Ok(Spent(None));
        }
        let standing = self.recent_standing(caller).await?;
        let quotas = self.settings.trust_limits.for_standing(&standing);
        let rates: Vec<Rate> = quotas.for_action(action).iter().map(rate).collect();
        if rates.is_empty() {
            return Ok(Spent(None));
        }
        let key = quota_key(caller, action);
        self.limiter.spend(&key, &rates).await?;
        Ok(Spent(Some((key, rates))))
    }

    /// The write `spent` was for did not happen (refused, failed, or nothing new): the quota
    /// has the unit again. Best effort: the caller's answer does not hinge on it.
    pub(crate) async fn give_back(&self, spent: Spent) {
        let Spent(Some((key, rates))) = spent else {
            return;
        };
        if let Err(error) = self.limiter.give_back(&key, &rates).await {
            tracing::warn!(%error, "quota: a unit could not be given back");
        }
    }

    /// Gives `spent` back unless `outcome` is a write done (`done` says which are).
    pub(crate) async fn keep_if<T>(
        &self,
        spent: Spent,
        outcome: &AppResult<T>,
        done: impl FnOnce(&T) -> bool,
    ) {
        if !outcome.as_ref().is_ok_and(done) {
            self.give_back(spent).await;
        }
    }

    /// Every quota of the caller's, as it stands now.
    pub async fn rate_limits(&self, caller: Principal) -> AppResult<RateLimitsView> {
        let standing = self.standing(caller.user_id).await?;
        let quotas = self.settings.trust_limits.for_standing(&standing);
        let mut states = Vec::with_capacity(quotas.all().len());
        for action in Action::ALL {
            let of_action = quotas.for_action(action);
            let rates: Vec<Rate> = of_action.iter().map(rate).collect();
            let looked = if self.settings.rate_limits {
                self.limiter
                    .quota_state(&quota_key(caller.user_id, action), &rates)
                    .await?
            } else {
                rates
                    .iter()
                    .map(|rate| RateLimit {
                        limit: rate.limit,
                        remaining: rate.limit,
                        reset_after: Duration::ZERO,
                    })
                    .collect()
            };
            states.extend(
                of_action
                    .into_iter()
                    .zip(looked)
                    .map(|(quota, state)| QuotaState { quota, state }),
            );
        }
        Ok(RateLimitsView {
            level: standing.level,
            enforced: self.settings.rate_limits,
            quotas: states,
        })
    }

    /// An account's trust as moderators see it.
    pub async fn review_account(
        &self,
        caller: Principal,
        user: UserId,
    ) -> AppResult<AccountReview> {
        self.require_moderator(caller).await?;
        let account = self.find_user(&UserLookup::Id(user)).await?;
        let standing = self.standing(user).await?;
        Ok(AccountReview {
            user: account,
            standing,
            suspended_until: self.suspensions.until(user, OffsetDateTime::now_utc()),
            invited_by: self.store.inviter_of(user).await?,
        })
    }

    /// Verifies an account (`verified`: the top level, whatever its record) or withdraws the
    /// verification; admins only. The account's standing after.
    pub async fn set_verified(
        &self,
        caller: Principal,
        user: UserId,
        verified: bool,
        reason: Option<&str>,
    ) -> AppResult<Arc<Standing>> {
        let me = self.require_admin(caller).await?;
        if me.id == user {
            return Err(AppError::Forbidden("nobody verifies themselves"));
        }
        let reason = reason
            .map(picshare_domain::moderation::parse_moderation_reason)
            .transpose()
            .map_err(|message| ValidationErrors::single("reason", message))?;
        self.store
            .set_verified(user, verified, &act(caller, reason))
            .await?;
        self.standing(user).await.map_err(|err| match err {
            AppError::Unauthorized => AppError::NotFound,
            other => other,
        })
    }
}
