//! Login, refresh-token rotation and revocation, and access-token authentication.

use std::net::IpAddr;
use std::time::Duration;

use picshare_domain::{Password, User, UserId, UserLookup, ValidationErrors};
use picshare_store::{NewRefreshToken, RefreshRotation};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::throttle::{ThrottleKey, digest, network_of};
use crate::tokens::{hash_refresh_token, new_refresh_token};
use crate::{App, AppError, AppResult};

/// What a successful grant returns.
#[derive(Debug, Clone)]
pub struct TokenPair {
    pub access_token: String,
    pub expires_in: u64,
    pub refresh_token: String,
    pub refresh_expires_in: u64,
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
}

impl App {
    /// Password grant. Unknown logins and wrong passwords fail alike, and cost alike. Failures
    /// are counted per address, per login name at an address, and per login name from all
    /// addresses; the last applies only to addresses the account never logged in from, so nobody
    /// can lock an owner out by guessing from elsewhere. Counters follow the name as typed, not
    /// the account, so a limit hit for a handle says nothing about its email.
    pub async fn login(
        &self,
        login: &str,
        password: &str,
        client_ip: IpAddr,
    ) -> AppResult<TokenPair> {
        check_login_input(login, password)?;
        let network = network_of(client_ip);
        let limits = self.settings.login_limits;
        let name = digest(&login.trim().to_lowercase());
        let counter = |key: String, limit: u32| ThrottleKey {
            key,
            limit,
            window: limits.window,
        };
        let mut keys = vec![
            counter(format!("login-ip:{network}"), limits.per_ip),
            counter(format!("login-at:{name}:{network}"), limits.per_account),
        ];
        // Counted before the account is looked up: a refused address costs no query.
        self.limiter.begin_attempt(&keys).await?;
        let user = self.store.find_user_by_login(login).await?;
        let known = match &user {
            Some(user) => {
                self.limiter
                    .remembered(&known_address(user.id, &network))
                    .await?
            }
            None => false,
        };
        if !known {
            let anywhere = counter(format!("login:{name}"), limits.per_account_all_addresses);
            if let Err(refused) = self
                .limiter
                .begin_attempt(std::slice::from_ref(&anywhere))
                .await
            {
                self.limiter.forgive(&keys).await?;
                return Err(refused);
            }
            keys.push(anywhere);
        }

        let stored_hash = user.as_ref().map(|u| u.password_hash.as_str());
        let matched = self.hasher.verify(password, stored_hash).await?;
        let Some(user) = user.filter(|_| matched) else {
            metrics::counter!("picshare_login_failures_total").increment(1);
            return Err(AppError::InvalidCredentials);
        };
        self.limiter.forgive(&keys).await?;
        self.limiter
            .remember(&known_address(user.id, &network), KNOWN_ADDRESS_TTL)
            .await?;
        self.refuse_if_suspended(user.id)?;
        self.start_session(user.id).await
    }

    /// Refresh grant: spends the token and returns a new pair in the same family. Presenting a
    /// token that was already spent revokes the whole family (RFC 9700 §4.14.2).
    pub async fn refresh(&self, refresh_token: &str) -> AppResult<TokenPair> {
        let presented = hash_refresh_token(refresh_token);
        // Refused before the rotation, so a suspended account's token is not spent: it works
        // again once the suspension is over.
        if let Some(owner) = self.store.refresh_token_owner(&presented).await? {
            self.refuse_if_suspended(owner)?;
        }
        let (replacement, replacement_hash) = new_refresh_token();
        let now = OffsetDateTime::now_utc();
        match self
            .store
            .rotate_refresh_token(&presented, &replacement_hash, now)
            .await?
        {
            RefreshRotation::Rotated {
                user_id,
                expires_at,
            } => {
                // Suspended between the check above and the rotation.
                self.refuse_if_suspended(user_id)?;
                Ok(TokenPair {
                    access_token: self.tokens.issue_access_token(user_id)?,
                    expires_in: self.tokens.access_ttl.as_secs(),
                    refresh_token: replacement,
                    refresh_expires_in: seconds_until(expires_at, now),
                })
            }
            RefreshRotation::ReuseDetected => {
                tracing::warn!("refresh token reuse detected; token family revoked");
                metrics::counter!("picshare_refresh_reuse_total").increment(1);
                Err(AppError::InvalidCredentials)
            }
            RefreshRotation::Invalid => Err(AppError::InvalidCredentials),
        }
    }

    /// Revokes the session (token family) a refresh token belongs to; unknown tokens are fine.
    pub async fn revoke(&self, refresh_token: &str) -> AppResult<()> {
        let hash = hash_refresh_token(refresh_token);
        self.store
            .revoke_refresh_family(&hash, OffsetDateTime::now_utc())
            .await?;
        Ok(())
    }

    /// The caller named by a bearer token, if the token is valid and its account is not
    /// suspended (checked in memory: a suspension reaches every instance at once).
    pub fn authenticate(&self, access_token: &str) -> AppResult<Principal> {
        self.authenticate_until(access_token)
            .map(|(principal, _)| principal)
    }

    /// `authenticate`, with the moment the token expires (a socket closes then).
    pub fn authenticate_until(
        &self,
        access_token: &str,
    ) -> AppResult<(Principal, time::OffsetDateTime)> {
        let (user_id, expires) = self
            .tokens
            .verify_access_token_expiry(access_token)
            .ok_or(AppError::Unauthorized)?;
        self.refuse_if_suspended(user_id)?;
        Ok((Principal { user_id }, expires))
    }

    fn refuse_if_suspended(&self, user: UserId) -> AppResult<()> {
        match self.suspensions.until(user, OffsetDateTime::now_utc()) {
            Some(until) if until == crate::suspensions::DELETED => Err(AppError::Unauthorized),
            Some(until) => Err(AppError::AccountSuspended(until)),
            None => Ok(()),
        }
    }

    /// The caller's own account.
    pub async fn me(&self, principal: Principal) -> AppResult<User> {
        self.store
            .find_user(&UserLookup::Id(principal.user_id))
            .await?
            .ok_or(AppError::Unauthorized)
    }

    async fn start_session(&self, user_id: UserId) -> AppResult<TokenPair> {
        let now = OffsetDateTime::now_utc();
        let (refresh_token, token_hash) = new_refresh_token();
        let expires_at = now + self.tokens.refresh_ttl;
        self.store
            .insert_refresh_token(&NewRefreshToken {
                token_hash,
                family_id: Uuid::now_v7(),
                user_id,
                issued_at: now,
                expires_at,
            })
            .await?;
        Ok(TokenPair {
            access_token: self.tokens.issue_access_token(user_id)?,
            expires_in: self.tokens.access_ttl.as_secs(),
            refresh_token,
            refresh_expires_in: seconds_until(expires_at, now),
        })
    }
}

/// How long an address an account logged in from stays known to it.
const KNOWN_ADDRESS_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// Longer than any email (254) or handle (30): a longer login names nobody.
pub const MAX_LOGIN_CHARS: usize = 320;

fn known_address(user: UserId, network: &str) -> String {
    format!("known:{user}:{network}")
}

/// Bounds checked before any work: a login no account can have, or a password no policy
/// allows, is refused at once.
fn check_login_input(login: &str, password: &str) -> AppResult<()> {
    let bounded = |text: &str, max: usize| {
        if text.chars().count() > max {
            Err(format!("must be at most {max} characters long"))
        } else {
            Ok(())
        }
    };
    let mut errors = ValidationErrors::default();
    errors.check("login", bounded(login, MAX_LOGIN_CHARS));
    errors.check("password", bounded(password, Password::MAX_LEN));
    Ok(errors.into_result()?)
}

fn seconds_until(at: OffsetDateTime, now: OffsetDateTime) -> u64 {
    (at - now).whole_seconds().max(0) as u64
}
