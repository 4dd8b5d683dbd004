//! Trust records, verification and devices.

use std::collections::HashMap;

use async_trait::async_trait;
use picshare_domain::{AuditAction, TrustLevel, TrustRecord, UserId};
use picshare_store::{Device, ModerationAct, Page, PageRequest, StoreResult, TrustStore};
use sqlx::{FromRow, QueryBuilder};
use time::OffsetDateTime;
use uuid::Uuid;

use super::id_lists::in_ids;
use super::pages::page_rows;
use crate::dialect::{Db, GREATEST, Timestamp, from_ts, lock_name, ts};
use crate::{SqlStore, db_err};

#[derive(FromRow)]
struct DeviceRow {
    id: Uuid,
    first_seen_at: Timestamp,
    last_seen_at: Timestamp,
}

impl DeviceRow {
    fn into_device(self) -> Device {
        Device {
            id: self.id,
            first_seen_at: from_ts(self.first_seen_at),
            last_seen_at: from_ts(self.last_seen_at),
        }
    }
}

/// Accounts seen on a device are counted up to this many (past the top risk score), so a
/// device shared by a whole spam farm costs no more to register.
const SHARED_COUNT_CAP: i64 = 50;

#[async_trait]
impl TrustStore for SqlStore {
    async fn trust_record(
        &self,
        user: UserId,
        strikes_since: OffsetDateTime,
    ) -> StoreResult<Option<TrustRecord>> {
        let row: Option<(Timestamp, i64, i64, String, i64, i64)> = sqlx::query_as(
            "SELECT u.created_at, u.posts_count, u.followers_count, u.trust_level,
                    (SELECT count(*) FROM strikes s
                     WHERE s.user_id = u.id AND s.withdrawn_at IS NULL AND s.created_at > $2),
                    u.shared_device_accounts
             FROM users u WHERE u.id = $1",
        )
        .bind(user.0)
        .bind(ts(strikes_since))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(row.map(
            |(created_at, posts, followers, level, strikes, others)| TrustRecord {
                created_at: from_ts(created_at),
                posts,
                followers,
                recent_strikes: u32::try_from(strikes).unwrap_or(u32::MAX),
                verified: level == TrustLevel::Verified.as_str(),
                other_accounts_on_device: u32::try_from(others).unwrap_or(0),
            },
        ))
    }

    async fn set_verified(
        &self,
        user: UserId,
        verified: bool,
        act: &ModerationAct,
    ) -> StoreResult<bool> {
        let (level, action) = if verified {
            (TrustLevel::Verified, AuditAction::VerifyUser)
        } else {
            (TrustLevel::New, AuditAction::UnverifyUser)
        };
        self.audited_user_update(
            "UPDATE users SET trust_level = $2 WHERE id = $1 AND trust_level <> $2",
            user,
            level.as_str(),
            action,
            act,
        )
        .await
    }

    async fn register_device(
        &self,
        user: UserId,
        fingerprint_hash: &str,
        now: OffsetDateTime,
        keep: u32,
    ) -> StoreResult<(Device, bool)> {
        let mut tx = self.write_tx().await?;
        // Without it, two accounts registering one fingerprint at once would each count the
        // other's row as not there yet (neither committed) and neither would be raised.
        lock_name(&mut tx, &format!("device:{fingerprint_hash}")).await?;
        let id = Uuid::now_v7();
        let row: DeviceRow = sqlx::query_as(&format!(
            "INSERT INTO devices (id, user_id, fingerprint_hash, first_seen_at, last_seen_at)
             VALUES ($1, $2, $3, $4, $4)
             ON CONFLICT (user_id, fingerprint_hash)
             DO UPDATE SET last_seen_at = {GREATEST}(devices.last_seen_at, $4)
             RETURNING id, first_seen_at, last_seen_at"
        ))
        .bind(id)
        .bind(user.0)
        .bind(fingerprint_hash)
        .bind(ts(now))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        let others: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM (
                 SELECT 1 FROM devices WHERE fingerprint_hash = $1 AND user_id <> $2
                 LIMIT {SHARED_COUNT_CAP}) AS capped"
        ))
        .bind(fingerprint_hash)
        .bind(user.0)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        // Everyone on the device now shares it with `others` accounts besides themselves.
        sqlx::query(
            "UPDATE users SET shared_device_accounts = $2
             WHERE shared_device_accounts < $2
               AND id IN (SELECT user_id FROM devices WHERE fingerprint_hash = $1)",
        )
        .bind(fingerprint_hash)
        .bind(others)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        sqlx::query(
            "DELETE FROM devices WHERE user_id = $1 AND id NOT IN (
                 SELECT id FROM devices WHERE user_id = $1
                 ORDER BY last_seen_at DESC, id DESC LIMIT $2)",
        )
        .bind(user.0)
        .bind(i64::from(keep))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        let created = row.id == id;
        Ok((row.into_device(), created))
    }

    async fn devices(&self, user: UserId, page: PageRequest) -> StoreResult<Page<Device>> {
        let rows: Vec<DeviceRow> = page_rows(
            &self.pool,
            "SELECT id, first_seen_at, last_seen_at FROM devices
             WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
            user.0,
            page,
        )
        .await?;
        let items = rows
            .into_iter()
            .map(|row| (row.id, row.into_device()))
            .collect();
        Ok(Page::from_rows(items, page.limit))
    }

    async fn other_accounts_on_device(
        &self,
        users: &[UserId],
    ) -> StoreResult<HashMap<UserId, u32>> {
        if users.is_empty() {
            return Ok(HashMap::new());
        }
        let mut query = QueryBuilder::<Db>::new(
            "SELECT id, shared_device_accounts FROM users WHERE shared_device_accounts > 0 AND id",
        );
        in_ids(&mut query, users.iter().map(|user| user.0));
        let rows: Vec<(Uuid, i64)> = query
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|(user, others)| (UserId(user), u32::try_from(others).unwrap_or(0)))
            .collect())
    }
}
