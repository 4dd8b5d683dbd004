//! Posts, likes and comments.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use picshare_app::posts::{LocationInput, PostEdit, PostInput, PostView};
use picshare_domain::{Comment, User, Visibility, visible_to_anyone};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, AuthUser, MaybeAuthUser, user_lookup};
use crate::pagination::{PageParams, Paging};
use crate::routes::media::{MediaResponse, media_response};
use crate::routes::social::{UserList, user_list};
use crate::routes::users::PublicUser;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_post))
        .routes(routes!(get_post, update_post, delete_post))
        .routes(routes!(user_posts))
        .routes(routes!(like, unlike))
        .routes(routes!(likers))
        .routes(routes!(comments, add_comment))
        .routes(routes!(add_comment_alias))
        .routes(routes!(delete_comment))
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocationBody {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(minimum = -90, maximum = 90)]
    pub lat: f64,
    #[schema(minimum = -180, maximum = 180)]
    pub lon: f64,
}

impl From<LocationBody> for LocationInput {
    fn from(l: LocationBody) -> Self {
        Self {
            name: l.name,
            lat: l.lat,
            lon: l.lon,
        }
    }
}

/// Who may see a post: anyone, or the author's followers. (Requests carry it as a string, so
/// that any other value is answered with a field error naming it.)
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PostVisibility {
    Public,
    Followers,
}

impl From<Visibility> for PostVisibility {
    fn from(visibility: Visibility) -> Self {
        match visibility {
            Visibility::Public => Self::Public,
            Visibility::Followers => Self::Followers,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePostRequest {
    #[schema(max_length = 2200)]
    pub caption: Option<String>,
    /// 1–20 ready post uploads of yours, in display order.
    #[schema(min_items = 1, max_items = 20)]
    pub media_ids: Vec<Uuid>,
    #[schema(value_type = PostVisibility)]
    pub visibility: String,
    pub location: Option<LocationBody>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePostRequest {
    #[schema(max_length = 2200)]
    pub caption: Option<String>,
    #[schema(value_type = Option<PostVisibility>)]
    pub visibility: Option<String>,
    /// `null` removes the location.
    #[serde(default, deserialize_with = "crate::extract::present")]
    #[schema(value_type = Option<LocationBody>)]
    pub location: Option<Option<LocationBody>>,
    /// The post's own media, reordered or some removed (at least one stays).
    #[schema(min_items = 1, max_items = 20)]
    pub media_ids: Option<Vec<Uuid>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PostResponse {
    pub id: Uuid,
    pub author: PublicUser,
    pub caption: String,
    pub media: Vec<MediaResponse>,
    pub visibility: PostVisibility,
    pub location: Option<LocationBody>,
    pub like_count: i64,
    pub comment_count: i64,
    pub liked_by_me: bool,
    pub hashtags: Vec<String>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(serialize_with = "crate::timestamp::serialize_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub edited_at: Option<OffsetDateTime>,
    /// Set when a moderator took the post down: only its author and moderators see it then.
    pub taken_down: Option<TakenDownBody>,
}

/// Why and when a moderator took something down.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TakenDownBody {
    pub reason: String,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
}

impl From<picshare_domain::TakenDown> for TakenDownBody {
    fn from(taken: picshare_domain::TakenDown) -> Self {
        Self {
            reason: taken.reason,
            at: taken.at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PostList {
    pub items: Vec<PostResponse>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LikeResponse {
    pub liked: bool,
    pub like_count: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentRequest {
    #[schema(min_length = 1, max_length = 1000)]
    pub text: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommentResponse {
    pub id: Uuid,
    pub post_id: Uuid,
    pub author: PublicUser,
    pub text: String,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Set when a moderator took the comment down (only its author and moderators see it).
    pub taken_down: Option<TakenDownBody>,
}

impl CommentResponse {
    fn new(comment: Comment, author: PublicUser) -> Self {
        Self {
            id: comment.id,
            post_id: comment.post_id,
            author,
            text: comment.text,
            created_at: comment.created_at,
            taken_down: comment.taken_down.map(TakenDownBody::from),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommentList {
    pub items: Vec<CommentResponse>,
    pub next_cursor: Option<String>,
}

pub async fn post_response(state: &AppState, view: PostView) -> Result<PostResponse, ApiError> {
    let author = PublicUser::load(state, &view.author).await?;
    post_body(state, view, author).await
}

/// Responses for a page of posts, each author (and their avatar) looked up once.
pub async fn post_responses(
    state: &AppState,
    views: Vec<PostView>,
) -> Result<Vec<PostResponse>, ApiError> {
    let authors = PublicUser::load_all(state, views.iter().map(|view| &view.author)).await?;
    let mut items = Vec::with_capacity(views.len());
    for view in views {
        let author = authors
            .get(&view.author.id)
            .cloned()
            .unwrap_or_else(|| PublicUser::from(&view.author));
        items.push(post_body(state, view, author).await?);
    }
    Ok(items)
}

async fn post_body(
    state: &AppState,
    view: PostView,
    author: PublicUser,
) -> Result<PostResponse, ApiError> {
    let post = view.post;
    // Links are stable only where anyone may see the post; others (a taken-down post's too)
    // are signed and expire.
    let public = visible_to_anyone(post.author_id, author.is_private, post.visibility)
        && post.taken_down.is_none();
    let mut media = Vec::with_capacity(post.media.len());
    for item in &post.media {
        media.push(media_response(state, item, public).await?);
    }
    Ok(PostResponse {
        id: post.id,
        author,
        caption: post.caption,
        media,
        visibility: post.visibility.into(),
        location: post.location.map(|l| LocationBody {
            name: l.name,
            lat: l.lat,
            lon: l.lon,
        }),
        like_count: post.like_count,
        comment_count: post.comment_count,
        liked_by_me: view.liked_by_me,
        hashtags: post.hashtags,
        created_at: post.created_at,
        edited_at: post.edited_at,
        taken_down: post.taken_down.map(TakenDownBody::from),
    })
}

async fn comment_response(
    state: &AppState,
    comment: Comment,
    author: &User,
) -> Result<CommentResponse, ApiError> {
    Ok(CommentResponse::new(
        comment,
        PublicUser::load(state, author).await?,
    ))
}

/// Publish a post.
#[utoipa::path(post, path = "/v1/posts", tag = "posts", request_body = CreatePostRequest,
    security(("bearer" = [])),
    responses((status = 201, description = "The post", body = PostResponse)))]
async fn create_post(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiJson(body): ApiJson<CreatePostRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let view = state
        .app
        .create_post(
            caller,
            PostInput {
                caption: body.caption,
                media_ids: body.media_ids,
                visibility: body.visibility,
                location: body.location.map(Into::into),
            },
        )
        .await?;
    let location = format!("/v1/posts/{}", view.post.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        ApiJson(post_response(&state, view).await?),
    ))
}

/// A post (404 if you may not see it).
#[utoipa::path(get, path = "/v1/posts/{id}", tag = "posts",
    params(("id" = Uuid, Path, description = "The post id")),
    responses(
        (status = 200, description = "The post", body = PostResponse),
        (status = 404, description = "No such post, or one you may not see", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_post(
    State(state): State<AppState>,
    MaybeAuthUser(viewer): MaybeAuthUser,
    Path(id): Path<Uuid>,
) -> Result<ApiJson<PostResponse>, ApiError> {
    let view = state.app.get_post(viewer, id).await?;
    Ok(ApiJson(post_response(&state, view).await?))
}

/// Edit your post; sets `edited_at`.
#[utoipa::path(patch, path = "/v1/posts/{id}", tag = "posts", request_body = UpdatePostRequest,
    params(("id" = Uuid, Path, description = "The post id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The edited post", body = PostResponse),
        (status = 403, description = "Not your post", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such post, or one you may not see", body = Problem, content_type = "application/problem+json"),
    ))]
async fn update_post(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<UpdatePostRequest>,
) -> Result<ApiJson<PostResponse>, ApiError> {
    let view = state
        .app
        .update_post(
            caller,
            id,
            PostEdit {
                caption: body.caption,
                visibility: body.visibility,
                location: body.location.map(|l| l.map(Into::into)),
                media_ids: body.media_ids,
            },
        )
        .await?;
    Ok(ApiJson(post_response(&state, view).await?))
}

/// Delete a post (its author or a moderator); its likes, comments and media go with it.
#[utoipa::path(delete, path = "/v1/posts/{id}", tag = "posts",
    params(("id" = Uuid, Path, description = "The post id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Neither the author nor a moderator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such post, or one you may not see", body = Problem, content_type = "application/problem+json"),
    ))]
async fn delete_post(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    state.app.delete_post(caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A user's posts you may see, newest first.
#[utoipa::path(get, path = "/v1/users/{id}/posts", tag = "posts",
    params(("id" = String, Path, description = "A user UUID or `@handle`"), PageParams),
    responses(
        (status = 200, description = "A page of posts", body = PostList),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
    ))]
async fn user_posts(
    State(state): State<AppState>,
    MaybeAuthUser(viewer): MaybeAuthUser,
    Path(id): Path<String>,
    Paging(page): Paging,
) -> Result<ApiJson<PostList>, ApiError> {
    let lookup = user_lookup(&id)?;
    let page = state.app.user_posts(viewer, &lookup, page).await?;
    Ok(ApiJson(PostList {
        items: post_responses(&state, page.items).await?,
        next_cursor: page.next.map(|key| state.cursors.encode(key)),
    }))
}

/// Like a post. Idempotent.
#[utoipa::path(post, path = "/v1/posts/{id}/like", tag = "posts",
    params(("id" = Uuid, Path, description = "The post id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Liked", body = LikeResponse),
        (status = 404, description = "No such post, or one you may not see", body = Problem, content_type = "application/problem+json"),
    ))]
async fn like(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<Uuid>,
) -> Result<ApiJson<LikeResponse>, ApiError> {
    let like_count = state.app.like(caller, id).await?;
    Ok(ApiJson(LikeResponse {
        liked: true,
        like_count,
    }))
}

/// Take a like back. Idempotent.
#[utoipa::path(delete, path = "/v1/posts/{id}/like", tag = "posts",
    params(("id" = Uuid, Path, description = "The post id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Not liked", body = LikeResponse),
        (status = 404, description = "No such post, or one you may not see", body = Problem, content_type = "application/problem+json"),
    ))]
async fn unlike(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<Uuid>,
) -> Result<ApiJson<LikeResponse>, ApiError> {
    let like_count = state.app.unlike(caller, id).await?;
    Ok(ApiJson(LikeResponse {
        liked: false,
        like_count,
    }))
}

/// Who liked a post, newest first.
#[utoipa::path(get, path = "/v1/posts/{id}/likes", tag = "posts",
    params(("id" = Uuid, Path, description = "The post id"), PageParams),
    responses(
        (status = 200, description = "A page of users", body = UserList),
        (status = 404, description = "No such post, or one you may not see", body = Problem, content_type = "application/problem+json"),
    ))]
async fn likers(
    State(state): State<AppState>,
    MaybeAuthUser(viewer): MaybeAuthUser,
    Path(id): Path<Uuid>,
    Paging(page): Paging,
) -> Result<ApiJson<UserList>, ApiError> {
    let page = state.app.likers(viewer, id, page).await?;
    Ok(ApiJson(user_list(&state, page).await?))
}

/// Comment on a post.
#[utoipa::path(post, path = "/v1/posts/{id}/comments", tag = "posts", request_body = CommentRequest,
    params(("id" = Uuid, Path, description = "The post id")),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The comment", body = CommentResponse),
        (status = 404, description = "No such post, or one you may not see", body = Problem, content_type = "application/problem+json"),
    ))]
async fn add_comment(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<CommentRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let (comment, author) = state.app.add_comment(caller, id, &body.text).await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(comment_response(&state, comment, &author).await?),
    ))
}

/// Comment on a post: the earlier path of `POST /v1/posts/{id}/comments`, kept so no client
/// breaks.
#[utoipa::path(post, path = "/v1/posts/{id}/comment", tag = "posts", request_body = CommentRequest,
    params(("id" = Uuid, Path, description = "The post id")),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The comment", body = CommentResponse),
        (status = 404, description = "No such post, or one you may not see", body = Problem, content_type = "application/problem+json"),
    ))]
async fn add_comment_alias(
    state: State<AppState>,
    caller: AuthUser,
    id: Path<Uuid>,
    body: ApiJson<CommentRequest>,
) -> Result<impl IntoResponse, ApiError> {
    add_comment(state, caller, id, body).await
}

/// Comments on a post, oldest first.
#[utoipa::path(get, path = "/v1/posts/{id}/comments", tag = "posts",
    params(("id" = Uuid, Path, description = "The post id"), PageParams),
    responses(
        (status = 200, description = "A page of comments", body = CommentList),
        (status = 404, description = "No such post, or one you may not see", body = Problem, content_type = "application/problem+json"),
    ))]
async fn comments(
    State(state): State<AppState>,
    MaybeAuthUser(viewer): MaybeAuthUser,
    Path(id): Path<Uuid>,
    Paging(page): Paging,
) -> Result<ApiJson<CommentList>, ApiError> {
    let page = state.app.comments(viewer, id, page).await?;
    // Every author's avatar in one query, however many comments the page holds.
    let authors = PublicUser::load_all(&state, page.items.iter().map(|(_, author)| author)).await?;
    let mut items = Vec::with_capacity(page.items.len());
    for (comment, author) in page.items {
        let public = authors
            .get(&author.id)
            .cloned()
            .unwrap_or_else(|| PublicUser::from(&author));
        items.push(CommentResponse::new(comment, public));
    }
    Ok(ApiJson(CommentList {
        items,
        next_cursor: page.next.map(|key| state.cursors.encode(key)),
    }))
}

/// Delete a comment (its author, the post's author or a moderator).
#[utoipa::path(delete, path = "/v1/posts/{id}/comments/{comment_id}", tag = "posts",
    params(("id" = Uuid, Path, description = "The post id"), ("comment_id" = Uuid, Path, description = "The comment id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not allowed to delete this comment", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such comment, or a post you may not see", body = Problem, content_type = "application/problem+json"),
    ))]
async fn delete_comment(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path((id, comment_id)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    state.app.delete_comment(caller, id, comment_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
