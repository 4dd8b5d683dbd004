//! `/v1/auth`: OAuth 2.0 token-endpoint grants, revocation and the caller's own account.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use picshare_app::auth::TokenPair;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, AuthUser, ClientIp};
use crate::routes::users::PrivateUser;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(token))
        .routes(routes!(revoke))
        .routes(routes!(me))
}

/// A token request: `password` grant (login by email or handle) or `refresh_token` grant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "grant_type", rename_all = "snake_case")]
pub enum TokenRequest {
    Password { login: String, password: String },
    RefreshToken { refresh_token: String },
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// A PASETO v4.public token for `Authorization: Bearer`.
    pub access_token: String,
    #[schema(pattern = "^Bearer$")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Opaque; single use: every refresh returns a new one.
    pub refresh_token: String,
    /// Seconds until the session ends, whatever the refreshes.
    pub refresh_expires_in: u64,
}

impl From<TokenPair> for TokenResponse {
    fn from(pair: TokenPair) -> Self {
        Self {
            access_token: pair.access_token,
            token_type: "Bearer",
            expires_in: pair.expires_in,
            refresh_token: pair.refresh_token,
            refresh_expires_in: pair.refresh_expires_in,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RevokeRequest {
    pub refresh_token: String,
}

/// Obtain tokens.
#[utoipa::path(post, path = "/v1/auth/token", tag = "auth",
    request_body = TokenRequest,
    responses(
        (status = 200, description = "New access and refresh tokens", body = TokenResponse),
        (status = 401, description = "Wrong login or password, or an invalid, expired or reused refresh token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A login or password longer than any account can have", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed logins for this account or address", body = Problem, content_type = "application/problem+json",
            headers(("retry-after" = u64, description = "Seconds until a new attempt is allowed"))),
    ))]
async fn token(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(request): ApiJson<TokenRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let pair = match request {
        TokenRequest::Password { login, password } => {
            state.app.login(&login, &password, ip).await?
        }
        TokenRequest::RefreshToken { refresh_token } => state.app.refresh(&refresh_token).await?,
    };
    Ok((
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        ApiJson(TokenResponse::from(pair)),
    ))
}

/// Revoke a refresh token and every token of its session. Unknown tokens are accepted too.
#[utoipa::path(post, path = "/v1/auth/revoke", tag = "auth",
    request_body = RevokeRequest,
    responses((status = 204, description = "Revoked")))]
async fn revoke(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<RevokeRequest>,
) -> Result<StatusCode, ApiError> {
    state.app.revoke(&request.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's own account, with email, role and trust level.
#[utoipa::path(get, path = "/v1/auth/me", tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, description = "The caller", body = PrivateUser)))]
async fn me(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
) -> Result<ApiJson<PrivateUser>, ApiError> {
    let user = state.app.me(caller).await?;
    Ok(ApiJson(PrivateUser::load(&state, &user).await?))
}
