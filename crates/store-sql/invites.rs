//! Invites, spent in the transaction that creates the invited account.

use async_trait::async_trait;
use picshare_domain::{NewUser, User, UserId};
use picshare_store::{Invite, InviteStats, InviteStore, NewInvite, Page, PageRequest, StoreResult};
use sqlx::FromRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::pages::page_rows;
use super::users::insert_user;
use crate::dialect::{FOR_UPDATE, Timestamp, from_ts, ts};
use crate::{SqlStore, db_err};

const INVITE_COLUMNS: &str =
    "id, code, inviter_id, created_at, expires_at, used_by, used_at, revoked_at";

#[derive(FromRow)]
struct InviteRow {
    id: Uuid,
    code: String,
    inviter_id: Uuid,
    created_at: Timestamp,
    expires_at: Timestamp,
    used_by: Option<Uuid>,
    used_at: Option<Timestamp>,
    revoked_at: Option<Timestamp>,
}

impl InviteRow {
    fn into_invite(self) -> Invite {
        Invite {
            id: self.id,
            code: self.code,
            inviter_id: UserId(self.inviter_id),
            created_at: from_ts(self.created_at),
            expires_at: from_ts(self.expires_at),
            used_by: self.used_by.map(UserId),
            used_at: self.used_at.map(from_ts),
            revoked_at: self.revoked_at.map(from_ts),
        }
    }
}

#[async_trait]
impl InviteStore for SqlStore {
    async fn create_invite(&self, invite: &NewInvite, quota: u32) -> StoreResult<Option<Invite>> {
        let mut tx = self.write_tx().await?;
        sqlx::query(&format!("SELECT id FROM users WHERE id = $1{FOR_UPDATE}"))
            .bind(invite.inviter_id.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        let open: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM invites
             WHERE inviter_id = $1 AND used_by IS NULL AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(invite.inviter_id.0)
        .bind(ts(invite.created_at))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        if open >= i64::from(quota) {
            return Ok(None);
        }
        let row: InviteRow = sqlx::query_as(&format!(
            "INSERT INTO invites (id, code, inviter_id, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING {INVITE_COLUMNS}"
        ))
        .bind(invite.id)
        .bind(&invite.code)
        .bind(invite.inviter_id.0)
        .bind(ts(invite.created_at))
        .bind(ts(invite.expires_at))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(Some(row.into_invite()))
    }

    async fn invites(&self, inviter: UserId, page: PageRequest) -> StoreResult<Page<Invite>> {
        let sql = format!(
            "SELECT {INVITE_COLUMNS} FROM invites WHERE inviter_id = $1 AND id < $2
             ORDER BY id DESC LIMIT $3"
        );
        let rows: Vec<InviteRow> = page_rows(&self.pool, &sql, inviter.0, page).await?;
        let items = rows
            .into_iter()
            .map(|row| (row.id, row.into_invite()))
            .collect();
        Ok(Page::from_rows(items, page.limit))
    }

    async fn invite_stats(&self, inviter: UserId, now: OffsetDateTime) -> StoreResult<InviteStats> {
        let (created, used, expired, revoked): (i64, i64, i64, i64) = sqlx::query_as(
            "SELECT count(*),
                    count(used_by),
                    coalesce(sum(CASE WHEN used_by IS NULL AND revoked_at IS NULL
                                           AND expires_at <= $2 THEN 1 ELSE 0 END), 0),
                    count(revoked_at)
             FROM invites WHERE inviter_id = $1",
        )
        .bind(inviter.0)
        .bind(ts(now))
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(InviteStats {
            created: count(created),
            used: count(used),
            expired: count(expired),
            revoked: count(revoked),
        })
    }

    async fn revoke_invite(
        &self,
        inviter: UserId,
        code: &str,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        let revoked = sqlx::query(
            "UPDATE invites SET revoked_at = $3
             WHERE inviter_id = $1 AND code = $2 AND used_by IS NULL AND revoked_at IS NULL",
        )
        .bind(inviter.0)
        .bind(code)
        .bind(ts(now))
        .execute(&self.writer)
        .await
        .map_err(db_err)?
        .rows_affected();
        Ok(revoked == 1)
    }

    async fn create_invited_user(&self, user: &NewUser, code: &str) -> StoreResult<Option<User>> {
        let mut tx = self.write_tx().await?;
        // Locked: of two sign-ups racing for one code, the second finds it spent.
        let inviter: Option<Uuid> = sqlx::query_scalar(&format!(
            "SELECT inviter_id FROM invites
             WHERE code = $1 AND used_by IS NULL AND revoked_at IS NULL AND expires_at > $2{FOR_UPDATE}"
        ))
        .bind(code)
        .bind(ts(user.created_at))
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some(inviter) = inviter else {
            return Ok(None);
        };
        let created = insert_user(&mut tx, user, Some(UserId(inviter))).await?;
        let spent = sqlx::query(
            "UPDATE invites SET used_by = $2, used_at = $3
             WHERE code = $1 AND used_by IS NULL AND revoked_at IS NULL",
        )
        .bind(code)
        .bind(user.id.0)
        .bind(ts(user.created_at))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if spent != 1 {
            return Ok(None);
        }
        tx.commit().await.map_err(db_err)?;
        Ok(Some(created))
    }

    async fn inviter_of(&self, user: UserId) -> StoreResult<Option<UserId>> {
        let inviter: Option<Option<Uuid>> =
            sqlx::query_scalar("SELECT invited_by FROM users WHERE id = $1")
                .bind(user.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
        Ok(inviter.flatten().map(UserId))
    }

    async fn invitees(&self, user: UserId, page: PageRequest) -> StoreResult<Page<UserId>> {
        let rows: Vec<Uuid> = sqlx::query_scalar(
            "SELECT id FROM users WHERE invited_by = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(user.0)
        .bind(page.after.unwrap_or(Uuid::nil()))
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let items = rows.into_iter().map(|id| (id, UserId(id))).collect();
        Ok(Page::from_rows(items, page.limit))
    }
}
