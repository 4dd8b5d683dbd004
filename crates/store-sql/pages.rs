//! Keyset pages read the same way everywhere: newest first by a v7 id, one row more than the
//! page holds (it only says that there is more).

use picshare_store::{PageRequest, StoreResult};
use uuid::Uuid;

use crate::db_err;
use crate::dialect::{Db, Row};

/// The rows of one page: `sql` binds `$1` to `scope` (whose rows), `$2` to the key the page
/// starts after and `$3` to the row count (one more than the page holds).
pub(crate) async fn page_rows<R>(
    pool: &sqlx::Pool<Db>,
    sql: &str,
    scope: Uuid,
    page: PageRequest,
) -> StoreResult<Vec<R>>
where
    R: for<'r> sqlx::FromRow<'r, Row> + Send + Unpin,
{
    sqlx::query_as(sql)
        .bind(scope)
        .bind(page.after.unwrap_or(Uuid::max()))
        .bind(i64::from(page.limit) + 1)
        .fetch_all(pool)
        .await
        .map_err(db_err)
}
