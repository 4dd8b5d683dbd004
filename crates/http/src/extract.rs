//! Request extractors that reject with problem+json.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use picshare_app::auth::Principal;
use serde::Deserialize;

use crate::AppState;
use crate::error::ApiError;

/// `axum::Json` with our error responses, taking only a JSON object: serde would otherwise fill
/// a struct from an array by position (`["token"]`).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let (parts, body) = request.into_parts();
        let bytes = axum::body::Bytes::from_request(
            axum::extract::Request::from_parts(parts.clone(), body),
            state,
        )
        .await
        .map_err(|rejection| ApiError::from(JsonRejection::from(rejection)))?;
        let is_object = bytes
            .iter()
            .find(|byte| !byte.is_ascii_whitespace())
            .is_some_and(|byte| *byte == b'{');
        let request = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
        let axum::Json(value) = axum::Json::<T>::from_request(request, state).await?;
        if !is_object {
            return Err(ApiError::validation(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "body",
                "the request body must be a JSON object",
            ));
        }
        Ok(Self(value))
    }
}

impl<T: serde::Serialize> axum::response::IntoResponse for ApiJson<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// The caller, authenticated by `Authorization: Bearer <access token>`; 401 otherwise.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser(pub Principal);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(bearer_token)
            .ok_or_else(ApiError::unauthorized)?;
        state
            .app
            .authenticate(token)
            .map(AuthUser)
            .map_err(ApiError::from)
    }
}

/// A caller who may moderate (moderator or admin): 401 without a valid token, 403 for users.
/// Taken before the body, so a user learns nothing from how a body would be judged.
#[derive(Debug, Clone, Copy)]
pub struct Moderator(pub Principal);

impl FromRequestParts<AppState> for Moderator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let AuthUser(caller) = AuthUser::from_request_parts(parts, state).await?;
        state.app.require_moderator(caller).await?;
        Ok(Self(caller))
    }
}

/// An admin caller: 401 without a valid token, 403 for anyone else.
#[derive(Debug, Clone, Copy)]
pub struct Admin(pub Principal);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let AuthUser(caller) = AuthUser::from_request_parts(parts, state).await?;
        state.app.require_admin(caller).await?;
        Ok(Self(caller))
    }
}

/// The token of an `Authorization: Bearer …` value; the scheme is case-insensitive (RFC 9110 §11.1).
pub(crate) fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

/// The caller if a bearer token is present (and then it must be valid), else anonymous.
#[derive(Debug, Clone, Copy)]
pub struct MaybeAuthUser(pub Option<Principal>);

impl FromRequestParts<AppState> for MaybeAuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if !parts.headers.contains_key(header::AUTHORIZATION) {
            return Ok(MaybeAuthUser(None));
        }
        let AuthUser(principal) = AuthUser::from_request_parts(parts, state).await?;
        Ok(MaybeAuthUser(Some(principal)))
    }
}

/// The client's address: the socket peer, or — when the peer is a trusted proxy — the nearest
/// untrusted address in `X-Forwarded-For`.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let trusted = &state.http.trusted_proxies;
        if !trusted.contains(&peer) {
            return Ok(ClientIp(peer));
        }
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter_map(|part| part.trim().parse::<IpAddr>().ok())
            .collect::<Vec<_>>();
        let client = forwarded
            .into_iter()
            .rev()
            .find(|ip| !trusted.contains(ip))
            .unwrap_or(peer);
        Ok(ClientIp(client))
    }
}

/// An integer field that also accepts integral JSON numbers written with a fraction (`5.0`), as
/// JSON Schema's `integer` does.
pub fn whole_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    let number = serde_json::Number::deserialize(deserializer)?;
    if let Some(value) = number.as_i64() {
        return Ok(value);
    }
    match number.as_f64() {
        Some(value) if value.fract() == 0.0 && value.abs() < 9.0e15 => Ok(value as i64),
        _ => Err(serde::de::Error::custom("must be a whole number")),
    }
}

/// A user named in a path (UUID or `@handle`); anything else names nobody: 404.
pub fn user_lookup(raw: &str) -> Result<picshare_domain::UserLookup, ApiError> {
    picshare_domain::UserLookup::parse(raw)
        .ok_or_else(|| ApiError::for_status(axum::http::StatusCode::NOT_FOUND))
}

/// For optional fields that may be cleared: tells "absent" (outer `None`, via
/// `#[serde(default)]`) from "null" (`Some(None)`).
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
