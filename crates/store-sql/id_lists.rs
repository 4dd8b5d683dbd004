//! Lists of ids as query parameters.

use sqlx::QueryBuilder;
use uuid::Uuid;

use crate::dialect::{Db, push_id_membership};

/// Appends ` IN (…)` (or its backend's equivalent) for the distinct `ids`, after a column.
pub(crate) fn in_ids(query: &mut QueryBuilder<'_, Db>, ids: impl IntoIterator<Item = Uuid>) {
    let mut unique: Vec<Uuid> = ids.into_iter().collect();
    unique.sort_unstable();
    unique.dedup();
    push_id_membership(query, unique);
}
