//! Lists of ids as query parameters.

use sqlx::QueryBuilder;
use uuid::Uuid;

use crate::dialect::Db;

/// Appends `(id, id, …)`, each a parameter, for `IN`: one query shape for both backends
/// (PostgreSQL's `= ANY($1)` has no SQLite counterpart for UUIDs stored as blobs).
pub(crate) fn id_list(query: &mut QueryBuilder<'_, Db>, ids: impl IntoIterator<Item = Uuid>) {
    let mut unique: Vec<Uuid> = ids.into_iter().collect();
    unique.sort_unstable();
    unique.dedup();
    query.push("(");
    let mut list = query.separated(", ");
    for id in unique {
        list.push_bind(id);
    }
    list.push_unseparated(")");
}
