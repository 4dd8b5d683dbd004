//! Login, refresh-token rotation and revocation, and access-token authentication.

use std::net::IpAddr;

use picshare_domain::{User, UserId, UserLookup};
use picshare_store::{NewRefreshToken, RefreshRotation};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::throttle::ThrottleKey;
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
    /// Password grant. Unknown logins and wrong passwords fail alike, and cost alike.
    pub async fn login(
        &self,
        login: &str,
        password: &str,
        client_ip: IpAddr,
    ) -> AppResult<TokenPair> {
        let user = self.store.find_user_by_login(login).await?;
        let keys = self.throttle_keys(user.as_ref(), login, client_ip);
        self.login_throttle.begin_attempt(&keys).await?;

        let stored_hash = user.as_ref().map(|u| u.password_hash.as_str());
        let matched = self.hasher.verify(password, stored_hash).await?;
        let Some(user) = user.filter(|_| matched) else {
            metrics::counter!("picshare_login_failures_total").increment(1);
            return Err(AppError::InvalidCredentials);
        };
        self.login_throttle.forgive(&keys).await?;
        self.start_session(user.id).await
    }

    /// Refresh grant: spends the token and returns a new pair in the same family. Presenting a
    /// token that was already spent revokes the whole family (RFC 9700 §4.14.2).
    pub async fn refresh(&self, refresh_token: &str) -> AppResult<TokenPair> {
        let presented = hash_refresh_token(refresh_token);
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
            } => Ok(TokenPair {
                access_token: self.tokens.issue_access_token(user_id)?,
                expires_in: self.tokens.access_ttl.as_secs(),
                refresh_token: replacement,
                refresh_expires_in: seconds_until(expires_at, now),
            }),
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

    /// The caller named by a bearer token, if the token is valid and the account still exists.
    pub fn authenticate(&self, access_token: &str) -> AppResult<Principal> {
        self.tokens
            .verify_access_token(access_token)
            .map(|user_id| Principal { user_id })
            .ok_or(AppError::Unauthorized)
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

    /// Keys failures count against: the account (or the login string, when it names none, so
    /// throttling does not reveal which accounts exist) and the client IP.
    fn throttle_keys(&self, user: Option<&User>, login: &str, ip: IpAddr) -> [ThrottleKey; 2] {
        let limits = self.settings.login_limits;
        let account = match user {
            Some(user) => format!("account:{}", user.id),
            None => format!("login:{}", login.trim().to_lowercase()),
        };
        [
            ThrottleKey {
                key: account,
                limit: limits.per_account,
            },
            ThrottleKey {
                key: format!("ip:{ip}"),
                limit: limits.per_ip,
            },
        ]
    }
}

fn seconds_until(at: OffsetDateTime, now: OffsetDateTime) -> u64 {
    (at - now).whole_seconds().max(0) as u64
}
