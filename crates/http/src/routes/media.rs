//! `/v1/media`: upload tickets, the embedded upload route, completion, status, deletion; and
//! `/media/…`, the variants of the embedded (local directory) storage.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use picshare_app::media::UploadRequest;
use picshare_app::media_urls::MediaFileAccess;
use picshare_domain::Media;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, AuthUser, MaybeAuthUser};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start_upload))
        .routes(routes!(upload_data))
        .routes(routes!(complete_upload))
        .routes(routes!(upload_status))
        .routes(routes!(get_media, delete_media))
}

/// Variant files of local storage (not part of the JSON API, so not in the OpenAPI document).
pub fn files() -> axum::Router<AppState> {
    axum::Router::new().route("/media/{*key}", get(media_file))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartUploadRequest {
    /// `image/jpeg`, `image/png` or `image/webp` (others → 415).
    #[schema(pattern = "^image/(jpeg|png|webp)$")]
    pub content_type: String,
    /// Exact size of the file in bytes; at most the server's limit (larger → 413).
    #[serde(deserialize_with = "crate::extract::whole_number")]
    #[schema(minimum = 1)]
    pub size_bytes: i64,
    #[schema(pattern = "^(post|avatar)$")]
    pub purpose: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UploadTicketResponse {
    pub upload_id: Uuid,
    /// Where to send the bytes: a presigned S3 URL, or this server's upload route.
    pub upload_url: String,
    #[schema(pattern = "^PUT$")]
    pub upload_method: &'static str,
    /// Headers the `PUT` must carry.
    pub upload_headers: BTreeMap<String, String>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UploadStatusResponse {
    pub upload_id: Uuid,
    #[schema(pattern = "^(pending|uploaded|processing|ready|failed)$")]
    pub status: &'static str,
    pub media_id: Uuid,
    /// Why processing failed, in words for the user; `null` unless `failed`.
    pub error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VariantResponse {
    pub url: String,
    pub width: u32,
    pub height: u32,
    pub content_type: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MediaResponse {
    pub id: Uuid,
    #[schema(pattern = "^(pending|uploaded|processing|ready|failed)$")]
    pub status: &'static str,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub blurhash: Option<String>,
    /// `thumb` and `medium` for posts, `avatar` for avatars; empty until ready.
    pub variants: BTreeMap<String, VariantResponse>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

fn status_of(media: &Media) -> UploadStatusResponse {
    UploadStatusResponse {
        upload_id: media.id,
        status: media.status.as_str(),
        media_id: media.id,
        error: media.error.clone(),
    }
}

/// A media item as shown to others; `public` says whether anyone may see it now (then its links
/// are stable), else they are signed and short-lived.
pub async fn media_response(
    state: &AppState,
    media: &Media,
    public: bool,
) -> Result<MediaResponse, ApiError> {
    let mut variants = BTreeMap::new();
    for variant in &media.variants {
        variants.insert(
            variant.name.clone(),
            VariantResponse {
                url: state.app.variant_url(&variant.key, public).await?,
                width: variant.width,
                height: variant.height,
                content_type: variant.content_type.clone(),
            },
        );
    }
    Ok(MediaResponse {
        id: media.id,
        status: media.status.as_str(),
        width: media.width,
        height: media.height,
        blurhash: media.blurhash.clone(),
        variants,
        created_at: media.created_at,
    })
}

/// Ask where to upload a file. The declared type and size are checked before any byte is stored.
#[utoipa::path(post, path = "/v1/media/upload", tag = "media",
    request_body = StartUploadRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Where and how to send the bytes", body = UploadTicketResponse),
        (status = 409, description = "Too many open uploads, or too many images on no post", body = Problem, content_type = "application/problem+json"),
    ))]
async fn start_upload(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiJson(body): ApiJson<StartUploadRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let ticket = state
        .app
        .start_upload(
            caller,
            UploadRequest {
                content_type: body.content_type,
                size_bytes: body.size_bytes,
                purpose: body.purpose,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(UploadTicketResponse {
            upload_id: ticket.upload_id,
            upload_url: ticket.upload_url,
            upload_method: "PUT",
            upload_headers: ticket.upload_headers.into_iter().collect(),
            expires_at: ticket.expires_at,
        }),
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct UploadTokenQuery {
    /// The capability from `upload_url`.
    pub token: String,
}

/// Receive an upload's bytes (embedded storage only; use the `upload_url` you were given).
#[utoipa::path(put, path = "/v1/media/upload/{id}/data", tag = "media",
    params(("id" = Uuid, Path, description = "The upload id"), UploadTokenQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses(
        (status = 204, description = "Stored; now complete the upload"),
        (status = 401, description = "Invalid or expired upload URL", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such upload", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The upload is no longer open", body = Problem, content_type = "application/problem+json"),
    ))]
async fn upload_data(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Query(query): Query<UploadTokenQuery>,
    body: Body,
) -> Result<StatusCode, ApiError> {
    state
        .app
        .receive_upload(id, &query.token, body.into_data_stream())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Say the bytes are uploaded; processing starts. Only the uploader may complete an upload.
#[utoipa::path(post, path = "/v1/media/upload/{id}/complete", tag = "media",
    params(("id" = Uuid, Path, description = "The upload id")),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Accepted for processing", body = UploadStatusResponse),
        (status = 404, description = "No such upload of yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Nothing uploaded yet, or the upload expired", body = Problem, content_type = "application/problem+json"),
    ))]
async fn complete_upload(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<Uuid>,
) -> Result<impl IntoResponse, ApiError> {
    let media = state.app.complete_upload(caller, id).await?;
    Ok((StatusCode::ACCEPTED, ApiJson(status_of(&media))))
}

/// Where an upload stands; `failed` carries the reason.
#[utoipa::path(get, path = "/v1/media/upload/{id}/status", tag = "media",
    params(("id" = Uuid, Path, description = "The upload id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The upload's status", body = UploadStatusResponse),
        (status = 404, description = "No such upload of yours", body = Problem, content_type = "application/problem+json"),
    ))]
async fn upload_status(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<Uuid>,
) -> Result<ApiJson<UploadStatusResponse>, ApiError> {
    let media = state.app.own_media(caller, id).await?;
    Ok(ApiJson(status_of(&media)))
}

/// A media item: its variants once ready. Others see ready media only.
#[utoipa::path(get, path = "/v1/media/{id}", tag = "media",
    params(("id" = Uuid, Path, description = "The media id")),
    responses(
        (status = 200, description = "The media", body = MediaResponse),
        (status = 404, description = "No such media", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_media(
    State(state): State<AppState>,
    MaybeAuthUser(viewer): MaybeAuthUser,
    Path(id): Path<Uuid>,
) -> Result<ApiJson<MediaResponse>, ApiError> {
    let visible = state.app.visible_media(viewer, id).await?;
    Ok(ApiJson(
        media_response(&state, &visible.media, visible.public).await?,
    ))
}

/// Delete your media and its stored files.
#[utoipa::path(delete, path = "/v1/media/{id}", tag = "media",
    params(("id" = Uuid, Path, description = "The media id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such media of yours", body = Problem, content_type = "application/problem+json"),
    ))]
async fn delete_media(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    state.app.delete_media(caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
pub struct MediaFileQuery {
    expires: Option<i64>,
    sig: Option<String>,
}

/// Serves a variant from local storage. Originals are never served. Every request is checked
/// again: a public variant while it is public (caches must revalidate, so a hidden or deleted one
/// stops at once), any other with a valid, unexpired signature while its media exists.
async fn media_file(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Query(query): Query<MediaFileQuery>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::for_status(StatusCode::NOT_FOUND);
    let valid = key.starts_with("variants/")
        && key.ends_with(".jpg")
        && key
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..");
    if !valid || !state.app.objects.is_local() {
        return Err(not_found());
    }
    let signature = match (query.expires, query.sig.as_deref()) {
        (Some(expires), Some(sig)) => Some((expires, sig)),
        (None, None) => None,
        _ => return Err(picshare_app::AppError::Forbidden("this media link is incomplete").into()),
    };
    let access = state.app.media_file_access(&key, signature).await?;
    let cache_control = match access {
        MediaFileAccess::Public => "public, no-cache".to_owned(),
        MediaFileAccess::Signed { max_age } => format!("private, max-age={}", max_age.as_secs()),
    };
    // A variant's bytes never change under its key, so the key is its validator.
    let etag = format!("\"{}\"", key.replace('/', "-"));
    let cache_headers = [
        (
            header::CACHE_CONTROL,
            HeaderValue::from_str(&cache_control).map_err(picshare_app::AppError::internal)?,
        ),
        (
            header::ETAG,
            HeaderValue::from_str(&etag).map_err(picshare_app::AppError::internal)?,
        ),
    ];
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|tag| tag.trim() == etag));
    if unchanged {
        return Ok((StatusCode::NOT_MODIFIED, cache_headers).into_response());
    }
    let bytes = match state.app.objects.get(&key, 16 * 1024 * 1024).await {
        Ok(bytes) => bytes,
        Err(picshare_objects::ObjectError::NotFound) => return Err(not_found()),
        Err(err) => return Err(picshare_app::AppError::from(err).into()),
    };
    Ok((
        cache_headers,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg")),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("inline"),
            ),
        ],
        bytes,
    )
        .into_response())
}
