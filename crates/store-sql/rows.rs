//! Row types and column lists that several store modules read, kept apart so that the modules
//! using them never import each other in a circle.

use picshare_domain::{Location, UserId};
use picshare_store::{Post, StoreError, StoreResult};
use sqlx::FromRow;
use uuid::Uuid;

use super::users::USER_COLUMNS;
use crate::dialect::{Timestamp, from_ts};

/// `columns` (a comma-separated list) qualified with `table.`, for joins.
pub(crate) fn qualified(columns: &str, table: &str) -> String {
    columns
        .split(", ")
        .map(|column| format!("{table}.{column}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `u.`-qualified user columns, for joins.
pub(crate) fn user_columns() -> String {
    qualified(USER_COLUMNS, "u")
}

/// Leaves out users in a block, either way, with the viewer (`?viewer` bound as a UUID).
pub(crate) const NOT_BLOCKED_WITH_VIEWER: &str = "NOT EXISTS (SELECT 1 FROM blocks b
      WHERE (b.blocker_id = :viewer AND b.blocked_id = u.id)
         OR (b.blocker_id = u.id AND b.blocked_id = :viewer))";

pub(crate) const POST_COLUMNS: &str = "id, author_id, caption, visibility, location_name, lat, lon, hashtags, \
     like_count, comment_count, created_at, edited_at, taken_down_at, takedown_reason";

/// The post columns qualified with `p.`, for joins.
pub(crate) fn prefixed_post_columns() -> String {
    qualified(POST_COLUMNS, "p")
}

#[derive(FromRow)]
pub(crate) struct PostRow {
    pub(crate) id: Uuid,
    pub(crate) author_id: Uuid,
    pub(crate) caption: String,
    pub(crate) visibility: String,
    pub(crate) location_name: Option<String>,
    pub(crate) lat: Option<f64>,
    pub(crate) lon: Option<f64>,
    pub(crate) hashtags: sqlx::types::Json<Vec<String>>,
    pub(crate) like_count: i64,
    pub(crate) comment_count: i64,
    pub(crate) created_at: Timestamp,
    pub(crate) edited_at: Option<Timestamp>,
    pub(crate) taken_down_at: Option<Timestamp>,
    pub(crate) takedown_reason: Option<String>,
}

/// A takedown from its two columns.
pub(crate) fn taken_down(
    at: Option<Timestamp>,
    reason: Option<String>,
) -> Option<picshare_domain::TakenDown> {
    at.map(|at| picshare_domain::TakenDown {
        at: from_ts(at),
        reason: reason.unwrap_or_default(),
    })
}

/// A value the database holds that the domain does not accept.
pub(crate) fn corrupt(message: String) -> StoreError {
    StoreError::Backend(message.into())
}

/// A post from its row and its media, in display order.
pub(crate) fn post_from_row(row: PostRow, media: Vec<picshare_domain::Media>) -> StoreResult<Post> {
    let location = match (row.location_name, row.lat, row.lon) {
        (Some(name), Some(lat), Some(lon)) => Some(Location { name, lat, lon }),
        _ => None,
    };
    Ok(Post {
        id: row.id,
        author_id: UserId(row.author_id),
        caption: row.caption,
        visibility: row.visibility.parse().map_err(corrupt)?,
        location,
        media,
        like_count: row.like_count,
        comment_count: row.comment_count,
        hashtags: row.hashtags.0,
        created_at: from_ts(row.created_at),
        edited_at: row.edited_at.map(from_ts),
        taken_down: taken_down(row.taken_down_at, row.takedown_reason),
    })
}
