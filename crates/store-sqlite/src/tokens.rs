use async_trait::async_trait;
use picshare_domain::UserId;
use picshare_store::{NewRefreshToken, RefreshRotation, StoreResult, TokenStore};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{SqliteStore, db_err, from_micros, to_micros};

#[async_trait]
impl TokenStore for SqliteStore {
    async fn insert_refresh_token(&self, token: &NewRefreshToken) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, family_id, user_id, issued_at, expires_at)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&token.token_hash)
        .bind(token.family_id)
        .bind(token.user_id.0)
        .bind(to_micros(token.issued_at))
        .bind(to_micros(token.expires_at))
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn rotate_refresh_token(
        &self,
        presented_hash: &[u8],
        replacement_hash: &[u8],
        now: OffsetDateTime,
    ) -> StoreResult<RefreshRotation> {
        let now_micros = to_micros(now);
        // The transaction starts with a write, so SQLite takes the write lock up front.
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let spent: Option<(Uuid, Uuid, i64)> = sqlx::query_as(
            "UPDATE refresh_tokens SET rotated_at = ?1
             WHERE token_hash = ?2 AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > ?1
             RETURNING family_id, user_id, expires_at",
        )
        .bind(now_micros)
        .bind(presented_hash)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;

        if let Some((family_id, user_id, expires_at)) = spent {
            sqlx::query(
                "INSERT INTO refresh_tokens (token_hash, family_id, user_id, issued_at, expires_at)
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(replacement_hash)
            .bind(family_id)
            .bind(user_id)
            .bind(now_micros)
            .bind(expires_at)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            tx.commit().await.map_err(db_err)?;
            return Ok(RefreshRotation::Rotated {
                user_id: UserId(user_id),
                expires_at: from_micros(expires_at),
            });
        }

        let known: Option<(Uuid, Option<i64>, Option<i64>, i64)> = sqlx::query_as(
            "SELECT family_id, rotated_at, revoked_at, expires_at FROM refresh_tokens WHERE token_hash = ?",
        )
        .bind(presented_hash)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let outcome = match known {
            Some((family_id, rotated_at, revoked_at, expires_at))
                if expires_at > now_micros && (rotated_at.is_some() || revoked_at.is_some()) =>
            {
                sqlx::query(
                    "UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL",
                )
                .bind(now_micros)
                .bind(family_id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                RefreshRotation::ReuseDetected
            }
            _ => RefreshRotation::Invalid,
        };
        tx.commit().await.map_err(db_err)?;
        Ok(outcome)
    }

    async fn revoke_refresh_family(
        &self,
        token_hash: &[u8],
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = ?
             WHERE revoked_at IS NULL
               AND family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = ?)",
        )
        .bind(to_micros(now))
        .bind(token_hash)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn delete_expired_refresh_tokens(&self, now: OffsetDateTime) -> StoreResult<u64> {
        let result = sqlx::query("DELETE FROM refresh_tokens WHERE expires_at <= ?")
            .bind(to_micros(now))
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(result.rows_affected())
    }
}
