//! Refresh tokens: stored hashed, rotated on every use, a whole family revoked on reuse.

use async_trait::async_trait;
use picshare_domain::UserId;
use picshare_store::{NewRefreshToken, RefreshRotation, StoreResult, TokenStore};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::dialect::{FOR_UPDATE, Timestamp, from_ts, ts};
use crate::{SqlStore, db_err};

#[async_trait]
impl TokenStore for SqlStore {
    async fn insert_refresh_token(&self, token: &NewRefreshToken) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, family_id, user_id, issued_at, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&token.token_hash)
        .bind(token.family_id)
        .bind(token.user_id.0)
        .bind(ts(token.issued_at))
        .bind(ts(token.expires_at))
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
        let now = ts(now);
        let mut tx = self.write_tx().await?;
        let spent: Option<(Uuid, Uuid, Timestamp)> = sqlx::query_as(
            "UPDATE refresh_tokens SET rotated_at = $1
             WHERE token_hash = $2 AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > $1
             RETURNING family_id, user_id, expires_at",
        )
        .bind(now)
        .bind(presented_hash)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;

        if let Some((family_id, user_id, expires_at)) = spent {
            sqlx::query(
                "INSERT INTO refresh_tokens (token_hash, family_id, user_id, issued_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(replacement_hash)
            .bind(family_id)
            .bind(user_id)
            .bind(now)
            .bind(expires_at)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            tx.commit().await.map_err(db_err)?;
            return Ok(RefreshRotation::Rotated {
                user_id: UserId(user_id),
                expires_at: from_ts(expires_at),
            });
        }

        type Known = (Uuid, Option<Timestamp>, Option<Timestamp>, Timestamp);
        let known: Option<Known> = sqlx::query_as(&format!(
            "SELECT family_id, rotated_at, revoked_at, expires_at FROM refresh_tokens
             WHERE token_hash = $1{FOR_UPDATE}"
        ))
        .bind(presented_hash)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let outcome = match known {
            Some((family_id, rotated_at, revoked_at, expires_at))
                if expires_at > now && (rotated_at.is_some() || revoked_at.is_some()) =>
            {
                sqlx::query(
                    "UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL",
                )
                .bind(now)
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

    async fn refresh_token_owner(&self, token_hash: &[u8]) -> StoreResult<Option<UserId>> {
        let owner: Option<uuid::Uuid> =
            sqlx::query_scalar("SELECT user_id FROM refresh_tokens WHERE token_hash = $1")
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
        Ok(owner.map(UserId))
    }

    async fn revoke_refresh_family(
        &self,
        token_hash: &[u8],
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $1
             WHERE revoked_at IS NULL
               AND family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $2)",
        )
        .bind(ts(now))
        .bind(token_hash)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn delete_expired_refresh_tokens(&self, now: OffsetDateTime) -> StoreResult<u64> {
        let result = sqlx::query("DELETE FROM refresh_tokens WHERE expires_at <= $1")
            .bind(ts(now))
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(result.rows_affected())
    }
}
