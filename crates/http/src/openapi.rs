//! The OpenAPI 3.1 document, generated from the handlers and types.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as OpenApiDoc, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;
use crate::error::{PROBLEM_JSON, Problem};
use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "PicShare API",
        description = "The API of PicShare, a photo-sharing social network. Errors are RFC 9457 \
            problem+json documents with a stable `code`.",
    ),
    components(schemas(Problem)),
    tags(
        (name = "auth", description = "Tokens and the caller's account"),
        (name = "users", description = "Accounts and profiles"),
        (name = "media", description = "Uploads and processed images"),
        (name = "social", description = "Follows, follow requests and blocks"),
        (name = "posts", description = "Posts, likes and comments"),
        (name = "feed", description = "The home feed"),
        (name = "notifications", description = "What happened to you"),
        (name = "messages", description = "Direct messages and the real-time stream"),
        (name = "invites", description = "Invite codes"),
        (name = "trust", description = "Trust levels, per-action limits and devices"),
        (name = "search", description = "People, posts, places and hashtags"),
        (name = "moderation", description = "Reports, takedowns, suspensions, roles and the audit log"),
        (name = "operations", description = "Health and metrics"),
    )
)]
struct ApiDoc;

fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::auth::router())
        .merge(routes::users::router())
        .merge(routes::accounts::router())
        .merge(routes::media::router())
        .merge(routes::social::router())
        .merge(routes::posts::router())
        .merge(routes::feed::router())
        .merge(routes::notifications::router())
        .merge(routes::conversations::router())
        .merge(routes::moderation::router())
        .merge(routes::invites::router())
        .merge(routes::trust::router())
        .merge(routes::search::router())
        .merge(routes::ops::router())
}

/// Splits the API router into the axum router and its finished OpenAPI document.
pub fn split() -> (axum::Router<AppState>, OpenApiDoc) {
    let (router, mut api) = api_router().split_for_parts();
    // After the merge, so that every route's operation is there to be completed.
    CommonResponses.modify(&mut api);
    (router, api)
}

/// States the configured upload limit as `size_bytes`' maximum, so the document matches the
/// server it is served by.
pub fn set_upload_limit(api: &mut OpenApiDoc, limit: u64) {
    use utoipa::openapi::schema::Schema;
    let Some(components) = api.components.as_mut() else {
        return;
    };
    if let Some(RefOr::T(Schema::Object(request))) =
        components.schemas.get_mut("StartUploadRequest")
        && let Some(RefOr::T(Schema::Object(size))) = request.properties.get_mut("size_bytes")
    {
        size.maximum = Some(utoipa::Number::UInt(limit as usize));
    }
}

/// The document without a running server (for tooling and tests).
pub fn openapi() -> OpenApiDoc {
    split().1
}

/// Declares the bearer scheme and the problem responses any operation may give.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("PASETO v4.public")
                    .build(),
            ),
        );
        let problem = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        PROBLEM_JSON,
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("Problem")))
                            .build(),
                    )
                    .build(),
            )
        };
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let secured = operation.security.is_some();
                let responses = &mut operation.responses.responses;
                let mut add = |status: &str, description: &str| {
                    responses
                        .entry(status.to_owned())
                        .or_insert_with(|| problem(description));
                };
                add("400", "Malformed request (body, query or cursor)");
                add("413", "Request body too large");
                add("415", "Request body is not JSON");
                add("422", "Validation failed; `errors` lists the fields");
                add("500", "Internal error");
                add("503", "Temporarily unavailable");
                if secured {
                    add("401", "Missing, invalid or expired access token");
                }
            }
        }
    }
}
