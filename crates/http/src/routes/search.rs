//! Search and hashtags: `/v1/search/users`, `/v1/search/posts` (words and `#tags`, or a place),
//! `/v1/tags/{tag}` and its posts.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use picshare_app::search::NearbyPost;
use picshare_domain::search::Near;
use picshare_store::{Page, PostOrder};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, MaybeAuthUser};
use crate::pagination::{PageParams, Paging, RankedPageParams, RankedPaging};
use crate::routes::posts::{PostList, PostResponse, post_responses};
use crate::routes::social::{UserList, user_list};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search_users))
        .routes(routes!(search_posts))
        .routes(routes!(tag))
        .routes(routes!(tag_posts))
}

/// A place search reaches this far unless `radius_km` says otherwise.
const DEFAULT_RADIUS_KM: f64 = 10.0;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserSearchParams {
    /// A handle (`@` optional) or name, or the beginning of one; at most 200 characters.
    pub q: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PostSearchParams {
    /// Words the caption has (stemmed) and `#tags` the post carries, e.g. `#sunset beach`;
    /// at most 200 characters. Not with `near`.
    pub q: Option<String>,
    /// `relevance` (default: best match first) or `recent` (newest first).
    #[param(pattern = "^(relevance|recent)$")]
    pub sort: Option<String>,
    /// `<lat>,<lon>` in degrees: located posts nearest this point first.
    pub near: Option<String>,
    /// How far from `near`, in km: more than 0, at most 100 (default 10).
    pub radius_km: Option<String>,
}

/// People whose handle or name matches, best match first.
#[utoipa::path(get, path = "/v1/search/users", tag = "search",
    params(UserSearchParams, RankedPageParams),
    responses(
        (status = 200, description = "A page of people, best match first", body = UserList),
        (status = 400, description = "Bad cursor or limit", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Over-long query", body = Problem, content_type = "application/problem+json"),
    ))]
async fn search_users(
    State(state): State<AppState>,
    MaybeAuthUser(viewer): MaybeAuthUser,
    Query(params): Query<UserSearchParams>,
    RankedPaging(page): RankedPaging,
) -> Result<ApiJson<UserList>, ApiError> {
    let found = state.app.search_users(viewer, &params.q, page).await?;
    let next = found.next.map(|key| state.cursors.encode_ranked(key));
    let mut list = user_list(
        &state,
        Page {
            items: found.items,
            next: None,
        },
    )
    .await?;
    list.next_cursor = next;
    Ok(ApiJson(list))
}

/// A post a search found; `distance_km` in place searches.
#[derive(Debug, Serialize, ToSchema)]
pub struct FoundPostResponse {
    #[serde(flatten)]
    pub post: PostResponse,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_km: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FoundPostList {
    pub items: Vec<FoundPostResponse>,
    pub next_cursor: Option<String>,
}

fn post_order(sort: Option<&str>) -> Result<PostOrder, ApiError> {
    match sort {
        None | Some("relevance") => Ok(PostOrder::Relevance),
        Some("recent") => Ok(PostOrder::Recent),
        Some(_) => Err(unprocessable("sort", "must be relevance or recent")),
    }
}

fn unprocessable(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::validation(StatusCode::UNPROCESSABLE_ENTITY, field, message)
}

fn place(near: &str, radius_km: Option<&str>) -> Result<Near, ApiError> {
    let radius_km = match radius_km {
        None => DEFAULT_RADIUS_KM,
        Some(radius) => radius
            .trim()
            .parse::<f64>()
            .map_err(|_| unprocessable("radius_km", "must be a number of km"))?,
    };
    Near::parse(near, radius_km).map_err(|(field, message)| unprocessable(field, message))
}

/// Posts you may see whose caption matches the words and that carry the `#tags`, or located
/// near a place (nearest first, with `distance_km`).
#[utoipa::path(get, path = "/v1/search/posts", tag = "search",
    params(PostSearchParams, RankedPageParams),
    responses(
        (status = 200, description = "A page of posts", body = FoundPostList),
        (status = 400, description = "Bad cursor or limit", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No query, or a bad one (names the field)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn search_posts(
    State(state): State<AppState>,
    MaybeAuthUser(viewer): MaybeAuthUser,
    Query(params): Query<PostSearchParams>,
    RankedPaging(page): RankedPaging,
) -> Result<ApiJson<FoundPostList>, ApiError> {
    let order = post_order(params.sort.as_deref())?;
    let (views, distances, next) = match (params.q.as_deref(), params.near.as_deref()) {
        (Some(_), Some(_)) => return Err(unprocessable("near", "cannot be combined with q")),
        (None, None) => return Err(unprocessable("q", "give q or near")),
        (Some(query), None) => {
            let found = state.app.search_posts(viewer, query, order, page).await?;
            let distances = vec![None; found.items.len()];
            (found.items, distances, found.next)
        }
        (None, Some(near)) => {
            let near = place(near, params.radius_km.as_deref())?;
            let found = state.app.posts_near(viewer, near, page).await?;
            let distances = found
                .items
                .iter()
                .map(|nearby| Some((nearby.distance_km * 1000.0).round() / 1000.0))
                .collect();
            let views = found
                .items
                .into_iter()
                .map(|NearbyPost { view, .. }| view)
                .collect();
            (views, distances, found.next)
        }
    };
    let posts = post_responses(&state, views).await?;
    Ok(ApiJson(FoundPostList {
        items: posts
            .into_iter()
            .zip(distances)
            .map(|(post, distance_km)| FoundPostResponse { post, distance_km })
            .collect(),
        next_cursor: next.map(|key| state.cursors.encode_ranked(key)),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TagResponse {
    /// The tag as looked up: case and accents folded.
    pub name: String,
    /// Posts carrying it (taken-down ones left out).
    pub post_count: i64,
}

/// A hashtag and how many posts carry it.
#[utoipa::path(get, path = "/v1/tags/{tag}", tag = "search",
    params(("tag" = String, Path, description = "The tag, `#` optional; case and accents do not matter")),
    responses(
        (status = 200, description = "The tag", body = TagResponse),
        (status = 404, description = "Not a tag (1 to 100 letters, digits or `_`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn tag(
    State(state): State<AppState>,
    Path(tag): Path<String>,
) -> Result<ApiJson<TagResponse>, ApiError> {
    let tag = state.app.tag(&tag).await?;
    Ok(ApiJson(TagResponse {
        name: tag.name,
        post_count: tag.post_count,
    }))
}

/// Posts you may see that carry the tag, newest first.
#[utoipa::path(get, path = "/v1/tags/{tag}/posts", tag = "search",
    params(("tag" = String, Path, description = "The tag, `#` optional; case and accents do not matter"), PageParams),
    responses(
        (status = 200, description = "A page of posts", body = PostList),
        (status = 400, description = "Bad cursor or limit", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not a tag (1 to 100 letters, digits or `_`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn tag_posts(
    State(state): State<AppState>,
    MaybeAuthUser(viewer): MaybeAuthUser,
    Path(tag): Path<String>,
    Paging(page): Paging,
) -> Result<ApiJson<PostList>, ApiError> {
    let page = state.app.tag_posts(viewer, &tag, page).await?;
    Ok(ApiJson(PostList {
        items: post_responses(&state, page.items).await?,
        next_cursor: page.next.map(|key| state.cursors.encode(key)),
    }))
}
