//! Trust levels and what they allow (`/v1/account/trust-score`, `/v1/account/rate-limits`),
//! devices (`/v1/account/device/register`, `/v1/account/devices`), the moderators' review of an
//! account and the admins' verification.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use picshare_app::trust::{AccountReview, QuotaState, RateLimitsView};
use picshare_domain::{Requirement, Standing, UserId};
use picshare_store::Device;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::error::{ApiError, Problem};
use crate::extract::{Admin, ApiJson, AuthUser, Moderator};
use crate::pagination::{PageParams, Paging};
use crate::routes::users::PublicUser;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(trust_score))
        .routes(routes!(rate_limits))
        .routes(routes!(register_device))
        .routes(routes!(list_devices))
        .routes(routes!(review_account))
        .routes(routes!(set_verification))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RequirementResponse {
    /// `account_age_days`, `posts`, `followers` or `recent_strikes` (standing strikes of the
    /// last 90 days).
    pub name: &'static str,
    pub current: i64,
    pub required: i64,
    /// `at_least` the required figure, or `at_most` (strikes).
    #[schema(value_type = String, pattern = "^(at_least|at_most)$")]
    pub comparison: &'static str,
    pub met: bool,
}

impl From<&Requirement> for RequirementResponse {
    fn from(requirement: &Requirement) -> Self {
        Self {
            name: requirement.name,
            current: requirement.current,
            required: requirement.required,
            comparison: if requirement.at_most {
                "at_most"
            } else {
                "at_least"
            },
            met: requirement.met(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NextLevelResponse {
    #[schema(value_type = String, pattern = "^(basic|trusted|verified)$")]
    pub trust_level: &'static str,
    pub requirements: Vec<RequirementResponse>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrustScoreResponse {
    #[schema(value_type = String, pattern = "^(new|basic|trusted|verified)$")]
    pub trust_level: &'static str,
    /// 0–100: progress towards `trusted` (100 when verified), less 25 per recent strike.
    pub score: u8,
    /// What the next level needs (`verified` when a strike holds a verified account back); null
    /// at `trusted` (`verified` is an admin's decision) and at an unstruck `verified`.
    pub next_level: Option<NextLevelResponse>,
}

impl From<&Standing> for TrustScoreResponse {
    fn from(standing: &Standing) -> Self {
        Self {
            trust_level: standing.level.as_str(),
            score: standing.score,
            next_level: standing.next.as_ref().map(|next| NextLevelResponse {
                trust_level: next.level.as_str(),
                requirements: next
                    .requirements
                    .iter()
                    .map(RequirementResponse::from)
                    .collect(),
            }),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaResponse {
    #[schema(value_type = String, pattern = "^(posts|follows|likes|comments|messages|reports|uploads)$")]
    pub action: &'static str,
    #[schema(value_type = String, pattern = "^(hour|day)$")]
    pub period: &'static str,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the quota is whole again.
    pub reset_secs: u64,
}

impl From<&QuotaState> for QuotaResponse {
    fn from(quota: &QuotaState) -> Self {
        Self {
            action: quota.quota.action.as_str(),
            period: quota.quota.period.as_str(),
            limit: quota.state.limit,
            remaining: quota.state.remaining,
            reset_secs: quota.state.reset_after.as_secs_f64().ceil() as u64,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RateLimitsResponse {
    #[schema(value_type = String, pattern = "^(new|basic|trusted|verified)$")]
    pub trust_level: &'static str,
    /// False when the server runs with `PICSHARE_RATE_LIMITS=off`.
    pub enforced: bool,
    pub limits: Vec<QuotaResponse>,
}

impl From<&RateLimitsView> for RateLimitsResponse {
    fn from(view: &RateLimitsView) -> Self {
        Self {
            trust_level: view.level.as_str(),
            enforced: view.enforced,
            limits: view.quotas.iter().map(QuotaResponse::from).collect(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceRequest {
    /// The client's device fingerprint, 8–512 characters; stored only as a keyed hash and never
    /// shown again.
    pub fingerprint: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceResponse {
    pub id: Uuid,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub first_seen_at: OffsetDateTime,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub last_seen_at: OffsetDateTime,
}

impl From<&Device> for DeviceResponse {
    fn from(device: &Device) -> Self {
        Self {
            id: device.id,
            first_seen_at: device.first_seen_at,
            last_seen_at: device.last_seen_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceList {
    pub items: Vec<DeviceResponse>,
    pub next_cursor: Option<String>,
}

/// An account as moderators review it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountReviewResponse {
    pub user: PublicUser,
    #[schema(value_type = String, pattern = "^(new|basic|trusted|verified)$")]
    pub trust_level: &'static str,
    pub score: u8,
    /// 0–100: 20 per other account seen on one of this account's devices; 60 and above is high
    /// risk (a new account's limits are halved).
    pub risk_score: u8,
    #[serde(serialize_with = "crate::timestamp::serialize_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub suspended_until: Option<OffsetDateTime>,
    /// Whose invite the account signed up with.
    pub invited_by: Option<Uuid>,
}

impl From<&AccountReview> for AccountReviewResponse {
    fn from(review: &AccountReview) -> Self {
        Self {
            user: PublicUser::from(&review.user),
            trust_level: review.standing.level.as_str(),
            score: review.standing.score,
            risk_score: review.standing.risk_score,
            suspended_until: review.suspended_until,
            invited_by: review.invited_by.map(|user| user.0),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerificationRequest {
    /// True verifies the account (the `verified` level, whatever its record); false withdraws
    /// it (the level is assessed from the record again).
    pub verified: bool,
    /// Up to 1000 characters, kept in the audit log.
    pub reason: Option<String>,
}

/// Your trust level, score, and what the next level needs.
#[utoipa::path(get, path = "/v1/account/trust-score", tag = "trust",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Your standing", body = TrustScoreResponse),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    ))]
async fn trust_score(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
) -> Result<ApiJson<TrustScoreResponse>, ApiError> {
    let standing = state.app.standing(caller.user_id).await?;
    Ok(ApiJson(TrustScoreResponse::from(standing.as_ref())))
}

/// Each of your per-action quotas: limit, remaining and when it is whole again.
#[utoipa::path(get, path = "/v1/account/rate-limits", tag = "trust",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Your quotas", body = RateLimitsResponse),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    ))]
async fn rate_limits(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
) -> Result<ApiJson<RateLimitsResponse>, ApiError> {
    let view = state.app.rate_limits(caller).await?;
    Ok(ApiJson(RateLimitsResponse::from(&view)))
}

/// Register the device you use (again: its last use moves).
#[utoipa::path(post, path = "/v1/account/device/register", tag = "trust",
    request_body = DeviceRequest, security(("bearer" = [])),
    responses(
        (status = 201, description = "A device new to this account", body = DeviceResponse),
        (status = 200, description = "A device this account registered before", body = DeviceResponse),
        (status = 422, description = "Bad fingerprint", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many registrations this hour", body = Problem, content_type = "application/problem+json"),
    ))]
async fn register_device(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiJson(body): ApiJson<DeviceRequest>,
) -> Result<(StatusCode, ApiJson<DeviceResponse>), ApiError> {
    let (device, created) = state.app.register_device(caller, &body.fingerprint).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, ApiJson(DeviceResponse::from(&device))))
}

/// Your devices, newest first (the 20 most recently seen are kept).
#[utoipa::path(get, path = "/v1/account/devices", tag = "trust",
    params(PageParams), security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of your devices", body = DeviceList),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_devices(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Paging(page): Paging,
) -> Result<ApiJson<DeviceList>, ApiError> {
    let page = state.app.devices(caller, page).await?;
    Ok(ApiJson(DeviceList {
        items: page.items.iter().map(DeviceResponse::from).collect(),
        next_cursor: page.next.map(|key| state.cursors.encode(key)),
    }))
}

/// An account's trust level, risk score, suspension and inviter (moderators).
#[utoipa::path(get, path = "/v1/moderation/users/{id}", tag = "moderation",
    params(("id" = Uuid, Path, description = "User id")), security(("bearer" = [])),
    responses(
        (status = 200, description = "The account's review", body = AccountReviewResponse),
        (status = 403, description = "Not a moderator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
    ))]
async fn review_account(
    State(state): State<AppState>,
    Moderator(caller): Moderator,
    Path(id): Path<Uuid>,
) -> Result<ApiJson<AccountReviewResponse>, ApiError> {
    let review = state.app.review_account(caller, UserId(id)).await?;
    Ok(ApiJson(AccountReviewResponse::from(&review)))
}

/// Verify an account or withdraw its verification (admins).
#[utoipa::path(post, path = "/v1/admin/users/{id}/verification", tag = "moderation",
    params(("id" = Uuid, Path, description = "User id")), request_body = VerificationRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The account's standing now", body = TrustScoreResponse),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad reason", body = Problem, content_type = "application/problem+json"),
    ))]
async fn set_verification(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<VerificationRequest>,
) -> Result<ApiJson<TrustScoreResponse>, ApiError> {
    let standing = state
        .app
        .set_verified(caller, UserId(id), body.verified, body.reason.as_deref())
        .await?;
    Ok(ApiJson(TrustScoreResponse::from(standing.as_ref())))
}
