//! One error type for the whole API, rendered as RFC 9457 problem+json.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use picshare_app::{AppError, RateLimit};
use picshare_domain::FieldError;
use serde::Serialize;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document. `code` is stable and meant for programs; `detail` for people.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type (`urn:picshare:problem:<code>`).
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub code: String,
    /// Present for validation failures: one entry per rejected field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemFieldError>,
    /// Present for `account_suspended`: when the suspension ends (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suspended_until: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemFieldError {
    pub field: String,
    pub message: String,
}

impl From<FieldError> for ProblemFieldError {
    fn from(error: FieldError) -> Self {
        Self {
            field: error.field,
            message: error.message,
        }
    }
}

/// An error on its way to becoming a problem+json response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    errors: Vec<ProblemFieldError>,
    headers: Vec<(HeaderName, HeaderValue)>,
    suspended_until: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
            headers: Vec::new(),
            suspended_until: None,
        }
    }

    pub fn validation(status: StatusCode, field: &str, message: impl Into<String>) -> Self {
        let mut error = Self::new(status, "validation_failed", "the request is not valid");
        error.errors.push(ProblemFieldError {
            field: field.to_owned(),
            message: message.into(),
        });
        error
    }

    pub fn unauthorized() -> Self {
        let mut error = Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid access token is required",
        );
        error
            .headers
            .push((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        error
    }

    /// The generic problem for a status produced outside our handlers (router, middleware).
    pub fn for_status(status: StatusCode) -> Self {
        let (code, detail) = match status {
            StatusCode::NOT_FOUND => ("not_found", "no such resource"),
            StatusCode::METHOD_NOT_ALLOWED => (
                "method_not_allowed",
                "this method is not allowed on this resource",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the request body is too large"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => (
                "unsupported_media_type",
                "the request body must be application/json",
            ),
            StatusCode::UNAUTHORIZED => ("unauthorized", "a valid access token is required"),
            StatusCode::FORBIDDEN => ("forbidden", "you may not do this"),
            StatusCode::REQUEST_TIMEOUT | StatusCode::SERVICE_UNAVAILABLE => {
                ("unavailable", "the service is temporarily unavailable")
            }
            status if status.is_server_error() => ("internal", "an internal error occurred"),
            _ => ("validation_failed", "the request is not valid"),
        };
        Self::new(status, code, detail)
    }
}

impl ApiError {
    /// The problem document this error becomes (for responses that add members of their own).
    pub fn problem(self) -> Problem {
        Problem {
            problem_type: format!("urn:picshare:problem:{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail,
            code: self.code.to_owned(),
            errors: self.errors,
            suspended_until: self.suspended_until,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(mut self) -> Response {
        let status = self.status;
        let headers = std::mem::take(&mut self.headers);
        let problem = self.problem();
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (
            status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON))],
            body,
        )
            .into_response();
        response.headers_mut().extend(headers);
        response
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Validation(validation) => {
                let mut api = Self::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation_failed",
                    "the request is not valid",
                );
                api.errors = validation.errors.into_iter().map(Into::into).collect();
                api
            }
            AppError::InvalidCredentials => Self::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "the login or password is wrong, or the token is invalid or expired",
            ),
            AppError::Unauthorized => Self::unauthorized(),
            AppError::Forbidden(reason) => Self::new(StatusCode::FORBIDDEN, "forbidden", reason),
            AppError::NotFound => Self::for_status(StatusCode::NOT_FOUND),
            AppError::Conflict { field } => {
                let mut api = Self::new(
                    StatusCode::CONFLICT,
                    "conflict",
                    format!("this {field} is already taken"),
                );
                api.errors.push(ProblemFieldError {
                    field: field.to_owned(),
                    message: "is already taken".into(),
                });
                api
            }
            AppError::RateLimited(limit) => rate_limited(limit),
            AppError::FollowLimitReached => Self::new(
                StatusCode::CONFLICT,
                "follow_limit_reached",
                "one of you has reached the limit of follows",
            ),
            AppError::Precondition(reason) => Self::new(StatusCode::CONFLICT, "conflict", reason),
            AppError::UnsupportedMediaType(reason) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                reason,
            ),
            AppError::PayloadTooLarge(reason) => {
                Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", reason)
            }
            AppError::AccountSuspended(until) => {
                let mut api = Self::new(
                    StatusCode::FORBIDDEN,
                    "account_suspended",
                    "this account is suspended",
                );
                api.suspended_until = Some(crate::timestamp::format(until));
                api
            }
            AppError::InviteRequired => Self::new(
                StatusCode::FORBIDDEN,
                "invite_required",
                "sign-up needs a valid invite code (unused, unrevoked, unexpired)",
            ),
            AppError::Unavailable(reason) => {
                let mut api = Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", reason);
                api.headers
                    .push((header::RETRY_AFTER, HeaderValue::from_static("1")));
                api
            }
            AppError::Internal(source) => {
                tracing::error!(error = %source, "internal error");
                Self::for_status(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }
}

fn rate_limited(limit: RateLimit) -> ApiError {
    // Rounded up: a client that waits exactly this long is let through.
    let reset = (limit.reset_after.as_millis().div_ceil(1000) as u64).max(1);
    let mut api = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("too many attempts; try again in {reset} seconds"),
    );
    for (name, value) in [
        (header::RETRY_AFTER.as_str(), reset),
        ("ratelimit-limit", u64::from(limit.limit)),
        ("ratelimit-remaining", u64::from(limit.remaining)),
        ("ratelimit-reset", reset),
    ] {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value.to_string()),
        ) {
            api.headers.push((name, value));
        }
    }
    api
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(error) => {
                let (field, message) = describe_data_error(&error.body_text());
                let mut api = Self::validation(StatusCode::UNPROCESSABLE_ENTITY, &field, message);
                api.detail = "the request body does not have the expected fields".into();
                api
            }
            JsonRejection::JsonSyntaxError(_) => Self::validation(
                StatusCode::BAD_REQUEST,
                "body",
                "the request body is not valid JSON",
            ),
            JsonRejection::MissingJsonContentType(_) => {
                Self::for_status(StatusCode::UNSUPPORTED_MEDIA_TYPE)
            }
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Self::for_status(StatusCode::PAYLOAD_TOO_LARGE)
            }
            other => Self::validation(StatusCode::BAD_REQUEST, "body", other.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(_: PathRejection) -> Self {
        Self::for_status(StatusCode::NOT_FOUND)
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::validation(StatusCode::BAD_REQUEST, "query", rejection.body_text())
    }
}

/// Turns serde's "path: message" text into a field name and a message.
fn describe_data_error(text: &str) -> (String, String) {
    let text = text
        .strip_prefix("Failed to deserialize the JSON body into the target type: ")
        .unwrap_or(text);
    if let Some(rest) = text.split("unknown field `").nth(1) {
        let field = rest.split('`').next().unwrap_or("body");
        return (
            field.to_owned(),
            "is not a field that can be set here".into(),
        );
    }
    if let Some(rest) = text.split("missing field `").nth(1) {
        let field = rest.split('`').next().unwrap_or("body");
        return (field.to_owned(), "is required".into());
    }
    match text.split_once(": ") {
        Some((path, message)) if !path.contains(' ') && path != "." => {
            (path.to_owned(), message.to_owned())
        }
        _ => ("body".to_owned(), text.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::describe_data_error;

    #[test]
    fn names_the_field_serde_complained_about() {
        let (field, _) = describe_data_error(
            "Failed to deserialize the JSON body into the target type: unknown field `role`, expected one of `bio`",
        );
        assert_eq!(field, "role");
        let (field, message) = describe_data_error(
            "Failed to deserialize the JSON body into the target type: missing field `email` at line 1 column 2",
        );
        assert_eq!((field.as_str(), message.as_str()), ("email", "is required"));
        let (field, _) = describe_data_error(
            "Failed to deserialize the JSON body into the target type: is_private: invalid type: string \"x\", expected a boolean at line 1 column 20",
        );
        assert_eq!(field, "is_private");
    }
}
