//! Leaving and taking your data: deleting an account, exporting it.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use picshare_app::accounts::DeletionRequest;
use picshare_app::export::ArchiveBytes;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, AuthUser, user_lookup};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(delete_user))
        .routes(routes!(export_user))
}

/// The owner's password, or a moderator's reason.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteUserRequest {
    /// Your password, to delete your own account.
    #[schema(max_length = 256)]
    pub password: Option<String>,
    /// Why a moderator deletes someone else's account (recorded in the audit log).
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

/// Delete an account: yours (with your password), or as a moderator another's (an admin for a
/// moderator's or admin's). Its sessions end and it vanishes from every view at once; its data
/// is then removed in the background (docs/api.md, "Deleting an account").
#[utoipa::path(delete, path = "/v1/users/{id}", tag = "users",
    params(("id" = String, Path, description = "A user UUID or `@handle`")),
    request_body = DeleteUserRequest,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Wrong password", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not your account, and you may not delete it as a moderator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No password (own account) or no reason (moderator)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong passwords", body = Problem, content_type = "application/problem+json",
            headers(("retry-after" = u64, description = "Seconds until a new attempt is allowed"))),
    ))]
async fn delete_user(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DeleteUserRequest>,
) -> Result<StatusCode, ApiError> {
    let request = DeletionRequest {
        password: body.password,
        reason: body.reason,
    };
    state
        .app
        .delete_account(caller, &user_lookup(&id)?, request)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Download everything your account owns and did: a ZIP archive with `account.json` and your
/// original photos under `media/`, streamed while it is written (docs/api.md, "Exporting your
/// data"). A transfer cut off partway fails rather than ending as a shorter archive.
#[utoipa::path(get, path = "/v1/users/{id}/export", tag = "users",
    params(("id" = String, Path, description = "A user UUID or `@handle`")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The archive", content_type = "application/zip", body = Vec<u8>),
        (status = 403, description = "Not your account", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
    ))]
async fn export_user(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let archive = state.app.export_account(caller, &user_lookup(&id)?).await?;
    let name = format!(
        "attachment; filename=\"picshare-export-{}.zip\"",
        caller.user_id
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (header::CONTENT_DISPOSITION, name),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        Body::from_stream(chunks(archive)),
    )
        .into_response())
}

fn chunks(
    archive: ArchiveBytes,
) -> impl futures::Stream<Item = std::io::Result<axum::body::Bytes>> + Send + 'static {
    use futures::StreamExt;
    // Fused: a layer may poll the body once more after its end.
    futures::stream::unfold(archive, |mut archive| async move {
        archive.recv().await.map(|chunk| (chunk, archive))
    })
    .fuse()
}
