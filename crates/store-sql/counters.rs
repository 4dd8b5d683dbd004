//! Counter repair: recomputes denormalised counts from the rows they count.

use async_trait::async_trait;
use picshare_store::{CounterStore, StoreResult};
use uuid::Uuid;

use crate::{SqlStore, db_err};

#[async_trait]
impl CounterStore for SqlStore {
    async fn recount(&self, batch: u32) -> StoreResult<u64> {
        let mut fixed = 0;
        for (table, sets, mismatch) in [
            (
                "users",
                "followers_count = (SELECT count(*) FROM follows WHERE followee_id = users.id),
                 following_count = (SELECT count(*) FROM follows WHERE follower_id = users.id),
                 posts_count = (SELECT count(*) FROM posts WHERE author_id = users.id)",
                "followers_count != (SELECT count(*) FROM follows WHERE followee_id = users.id)
                 OR following_count != (SELECT count(*) FROM follows WHERE follower_id = users.id)
                 OR posts_count != (SELECT count(*) FROM posts WHERE author_id = users.id)",
            ),
            (
                "posts",
                "like_count = (SELECT count(*) FROM likes WHERE post_id = posts.id),
                 comment_count = (SELECT count(*) FROM comments WHERE post_id = posts.id)",
                "like_count != (SELECT count(*) FROM likes WHERE post_id = posts.id)
                 OR comment_count != (SELECT count(*) FROM comments WHERE post_id = posts.id)",
            ),
        ] {
            let mut after = Uuid::nil();
            loop {
                let ids: Vec<Uuid> = sqlx::query_scalar(&format!(
                    "SELECT id FROM {table} WHERE id > $1 ORDER BY id LIMIT $2"
                ))
                .bind(after)
                .bind(i64::from(batch.max(1)))
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                let (Some(first), Some(last)) = (ids.first(), ids.last()) else {
                    break;
                };
                let mut tx = self.write_tx().await?;
                fixed += sqlx::query(&format!(
                    "UPDATE {table} SET {sets} WHERE id >= $1 AND id <= $2 AND ({mismatch})"
                ))
                .bind(first)
                .bind(last)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?
                .rows_affected();
                tx.commit().await.map_err(db_err)?;
                after = *last;
            }
        }
        Ok(fixed)
    }
}
