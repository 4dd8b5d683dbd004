//! `/v1/users`: sign-up and profiles.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use picshare_app::media_urls::ImageView;
use picshare_app::users::{ProfileChange, SignUp};
use picshare_domain::{User, UserId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, AuthUser, ClientIp, MaybeAuthUser, user_lookup};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_user))
        .routes(routes!(get_user, update_user))
}

/// A picture in its served size (an avatar, a post's thumb).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Image {
    pub url: String,
    pub width: u32,
    pub height: u32,
}

/// What anyone may see of an account. Never contains email, role or credentials.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicUser {
    pub id: Uuid,
    pub handle: String,
    pub display_name: String,
    pub bio: String,
    pub avatar: Option<Image>,
    pub is_private: bool,
    pub followers_count: i64,
    pub following_count: i64,
    pub posts_count: i64,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

/// The account as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrivateUser {
    #[serde(flatten)]
    pub public: PublicUser,
    pub email: String,
    #[schema(value_type = String, pattern = "^(user|moderator|admin)$")]
    pub role: &'static str,
    #[schema(value_type = String, pattern = "^(new|basic|trusted|verified)$")]
    pub trust_level: &'static str,
}

impl From<ImageView> for Image {
    fn from(view: ImageView) -> Self {
        Self {
            url: view.url,
            width: view.width,
            height: view.height,
        }
    }
}

impl PublicUser {
    /// The public view of `user`, with its avatar looked up.
    pub async fn load(state: &AppState, user: &User) -> Result<Self, ApiError> {
        let avatar = state.app.avatar_of(user).await?.map(Image::from);
        Ok(Self {
            avatar,
            ..Self::from(user)
        })
    }

    /// Public users for everyone `users` names, by id, their avatars read in one query.
    pub async fn load_all<'a>(
        state: &AppState,
        users: impl IntoIterator<Item = &'a User>,
    ) -> Result<HashMap<UserId, Self>, ApiError> {
        let users: Vec<&User> = users.into_iter().collect();
        let avatars = state.app.avatars_of(&users).await?;
        Ok(users
            .into_iter()
            .map(|user| {
                let public = Self {
                    avatar: avatars.get(&user.id).cloned().map(Image::from),
                    ..Self::from(user)
                };
                (user.id, public)
            })
            .collect())
    }
}

impl PrivateUser {
    pub async fn load(state: &AppState, user: &User) -> Result<Self, ApiError> {
        Ok(Self {
            public: PublicUser::load(state, user).await?,
            trust_level: state.app.trust_level(user.id).await?.as_str(),
            ..Self::from(user)
        })
    }
}

impl From<&User> for PublicUser {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.0,
            handle: user.handle.clone(),
            display_name: user.display_name.clone(),
            bio: user.bio.clone(),
            avatar: None,
            is_private: user.is_private,
            followers_count: user.followers_count,
            following_count: user.following_count,
            posts_count: user.posts_count,
            created_at: user.created_at,
        }
    }
}

impl From<&User> for PrivateUser {
    fn from(user: &User) -> Self {
        Self {
            public: PublicUser::from(user),
            email: user.email.clone(),
            role: user.role.as_str(),
            trust_level: user.trust_level.as_str(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// 3–30 of letters, digits, `_` and `.`; unique case-insensitively.
    #[schema(pattern = "^[A-Za-z0-9_.]{3,30}$", min_length = 3, max_length = 30)]
    pub handle: String,
    /// Stored lowercased; unique.
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// 8–256 characters, not one of the 10,000 most common passwords.
    #[schema(min_length = 8, max_length = 256)]
    pub password: String,
    #[schema(max_length = 50)]
    pub display_name: Option<String>,
    pub invite_code: Option<String>,
}

/// Fields a user may change on their own profile; anything else is rejected with 422.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    #[schema(max_length = 50)]
    pub display_name: Option<String>,
    #[schema(max_length = 150)]
    pub bio: Option<String>,
    /// A ready avatar upload of the caller; `null` removes the avatar.
    #[serde(default, deserialize_with = "crate::extract::present")]
    #[schema(value_type = Option<Uuid>)]
    pub avatar_media_id: Option<Option<Uuid>>,
    pub is_private: Option<bool>,
}

/// Create an account.
#[utoipa::path(post, path = "/v1/users", tag = "users",
    request_body = CreateUserRequest,
    responses(
        (status = 201, description = "Account created", body = PrivateUser),
        (status = 403, description = "Invite-only mode and no valid invite code", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Handle or email already taken", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many sign-ups from this address", body = Problem, content_type = "application/problem+json",
            headers(("retry-after" = u64, description = "Seconds until a new attempt is allowed"))),
    ))]
async fn create_user(
    State(state): State<AppState>,
    ClientIp(client_ip): ClientIp,
    ApiJson(body): ApiJson<CreateUserRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let user = state
        .app
        .sign_up(
            SignUp {
                handle: body.handle,
                email: body.email,
                password: body.password,
                display_name: body.display_name,
                invite_code: body.invite_code,
            },
            client_ip,
        )
        .await?;
    let location = format!("/v1/users/{}", user.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        ApiJson(PrivateUser::from(&user)),
    ))
}

/// Get a user's public profile by UUID or `@handle`.
#[utoipa::path(get, path = "/v1/users/{id}", tag = "users",
    params(("id" = String, Path, description = "A user UUID or `@handle`")),
    responses(
        (status = 200, description = "The public user", body = PublicUser),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_user(
    State(state): State<AppState>,
    MaybeAuthUser(viewer): MaybeAuthUser,
    Path(id): Path<String>,
) -> Result<ApiJson<PublicUser>, ApiError> {
    let user = state.app.visible_user(viewer, &user_lookup(&id)?).await?;
    Ok(ApiJson(PublicUser::load(&state, &user).await?))
}

/// Change your own profile.
#[utoipa::path(patch, path = "/v1/users/{id}", tag = "users",
    params(("id" = String, Path, description = "A user UUID or `@handle`")),
    request_body = UpdateUserRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The updated account", body = PrivateUser),
        (status = 403, description = "Not your account", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
    ))]
async fn update_user(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateUserRequest>,
) -> Result<ApiJson<PrivateUser>, ApiError> {
    let user = state
        .app
        .update_profile(
            caller,
            &user_lookup(&id)?,
            ProfileChange {
                display_name: body.display_name,
                bio: body.bio,
                avatar_media_id: body.avatar_media_id,
                is_private: body.is_private,
            },
        )
        .await?;
    Ok(ApiJson(PrivateUser::load(&state, &user).await?))
}
