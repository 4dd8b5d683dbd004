use std::time::Duration;

use picshare_domain::ValidationErrors;
use picshare_store::StoreError;

pub type AppResult<T> = Result<T, AppError>;

/// The state of a limit that was hit, for `Retry-After` and `RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub limit: u32,
    pub remaining: u32,
    pub reset_after: Duration,
}

/// Every way a use case can fail, in terms a client can act on.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("validation failed")]
    Validation(#[from] ValidationErrors),
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("authentication required")]
    Unauthorized,
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("not found")]
    NotFound,
    #[error("{field} is already taken")]
    Conflict { field: &'static str },
    #[error("follow limit reached")]
    FollowLimitReached,
    #[error("rate limited")]
    RateLimited(RateLimit),
    #[error("{0}")]
    Precondition(&'static str),
    #[error("unsupported media type")]
    UnsupportedMediaType(&'static str),
    #[error("payload too large")]
    PayloadTooLarge(String),
    #[error("the account is suspended until {0}")]
    AccountSuspended(time::OffsetDateTime),
    #[error("an invite code is required")]
    InviteRequired,
    #[error("temporarily unavailable: {0}")]
    Unavailable(&'static str),
    #[error("internal error: {0}")]
    Internal(Box<dyn std::error::Error + Send + Sync>),
}

impl AppError {
    pub fn internal(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(err))
    }
}

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict { field } => AppError::Conflict { field },
            StoreError::Unavailable(source) => {
                tracing::warn!(error = %source, "database unavailable");
                AppError::Unavailable("the database is unavailable; try again shortly")
            }
            StoreError::Backend(source) => AppError::Internal(source),
        }
    }
}

impl From<picshare_objects::ObjectError> for AppError {
    fn from(err: picshare_objects::ObjectError) -> Self {
        match err {
            picshare_objects::ObjectError::Timeout => {
                AppError::Unavailable("object storage did not answer in time")
            }
            // A bucket that refuses or fails a call: nothing was recorded, the client may retry.
            picshare_objects::ObjectError::Storage(reason) => {
                tracing::warn!(error = %reason, "object storage unavailable");
                AppError::Unavailable("object storage is unavailable; try again shortly")
            }
            other => AppError::internal(other),
        }
    }
}
