//! Reports, takedowns, strikes, suspensions, role changes and their audit lines.

use async_trait::async_trait;
use picshare_domain::{
    AuditAction, AuditEntry, Report, ReportState, Role, SuspensionLadder, Target, TargetKind,
    UserId,
};
use picshare_store::{
    AuditFilter, ModerationAct, ModerationStore, NewReport, Page, PageRequest, QueuedReport,
    StoreResult, Takedown,
};
use sqlx::{FromRow, QueryBuilder, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

use super::rows::corrupt;
use super::timelines::touch_timelines_showing;
use crate::dialect::{Db, FOR_UPDATE, Timestamp, from_ts, ts};
use crate::{SqlStore, db_err};

const REPORT_COLUMNS: &str = "id, reporter_id, target_kind, target_id, reason, text, state, \
     resolved_by, resolved_at, created_at";

#[derive(FromRow)]
struct ReportRow {
    id: Uuid,
    reporter_id: Uuid,
    target_kind: String,
    target_id: Uuid,
    reason: String,
    text: Option<String>,
    state: String,
    resolved_by: Option<Uuid>,
    resolved_at: Option<Timestamp>,
    created_at: Timestamp,
}

impl ReportRow {
    fn into_report(self) -> StoreResult<Report> {
        Ok(Report {
            id: self.id,
            reporter_id: UserId(self.reporter_id),
            target: Target {
                kind: self.target_kind.parse().map_err(corrupt)?,
                id: self.target_id,
            },
            reason: self.reason.parse().map_err(corrupt)?,
            text: self.text,
            state: self.state.parse().map_err(corrupt)?,
            resolved_by: self.resolved_by.map(UserId),
            resolved_at: self.resolved_at.map(from_ts),
            created_at: from_ts(self.created_at),
        })
    }
}

#[derive(FromRow)]
struct AuditRow {
    id: Uuid,
    actor_id: Uuid,
    action: String,
    target_kind: String,
    target_id: Uuid,
    reason: Option<String>,
    suspended_until: Option<Timestamp>,
    created_at: Timestamp,
}

impl AuditRow {
    fn into_entry(self) -> StoreResult<AuditEntry> {
        Ok(AuditEntry {
            id: self.id,
            actor_id: UserId(self.actor_id),
            action: self.action.parse().map_err(corrupt)?,
            target: Target {
                kind: self.target_kind.parse().map_err(corrupt)?,
                id: self.target_id,
            },
            reason: self.reason,
            suspended_until: self.suspended_until.map(from_ts),
            created_at: from_ts(self.created_at),
        })
    }
}

/// Appends one line to the audit log.
pub(super) async fn audit(
    tx: &mut Transaction<'_, Db>,
    action: AuditAction,
    target: Target,
    act: &ModerationAct,
    suspended_until: Option<OffsetDateTime>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO moderation_audit (id, actor_id, action, target_kind, target_id, reason,
                suspended_until, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(Uuid::now_v7())
    .bind(act.moderator.0)
    .bind(action.as_str())
    .bind(target.kind.as_str())
    .bind(target.id)
    .bind(&act.reason)
    .bind(suspended_until.map(ts))
    .bind(ts(act.at))
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Resolves the open reports on `target` as `state`; how many there were.
async fn resolve_open(
    tx: &mut Transaction<'_, Db>,
    target: Target,
    state: ReportState,
    act: &ModerationAct,
) -> StoreResult<u64> {
    Ok(sqlx::query(
        "UPDATE reports SET state = $3, resolved_by = $4, resolved_at = $5
         WHERE target_kind = $1 AND target_id = $2 AND state = 'open'",
    )
    .bind(target.kind.as_str())
    .bind(target.id)
    .bind(state.as_str())
    .bind(act.moderator.0)
    .bind(ts(act.at))
    .execute(&mut **tx)
    .await
    .map_err(db_err)?
    .rows_affected())
}

pub(super) fn user_target(user: UserId) -> Target {
    Target {
        kind: TargetKind::User,
        id: user.0,
    }
}

/// The table of a post or comment target.
fn content_table(kind: TargetKind) -> Option<&'static str> {
    match kind {
        TargetKind::Post => Some("posts"),
        TargetKind::Comment => Some("comments"),
        TargetKind::User => None,
    }
}

/// Suspends the account until `until` unless a suspension that runs longer is on it (a
/// suspension never shortens another), with its audit line; the suspension's end now, or `None`
/// when there is no such user.
async fn suspend(
    tx: &mut Transaction<'_, Db>,
    user: UserId,
    until: OffsetDateTime,
    act: &ModerationAct,
) -> StoreResult<Option<OffsetDateTime>> {
    let extended = sqlx::query(
        "UPDATE users SET suspended_until = $2
         WHERE id = $1 AND (suspended_until IS NULL OR suspended_until < $2)",
    )
    .bind(user.0)
    .bind(ts(until))
    .execute(&mut **tx)
    .await
    .map_err(db_err)?
    .rows_affected();
    if extended == 1 {
        audit(
            tx,
            AuditAction::SuspendUser,
            user_target(user),
            act,
            Some(until),
        )
        .await?;
        return Ok(Some(until));
    }
    let current: Option<Option<Timestamp>> =
        sqlx::query_scalar("SELECT suspended_until FROM users WHERE id = $1")
            .bind(user.0)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_err)?;
    Ok(current.flatten().map(from_ts))
}

impl SqlStore {
    /// Runs `update` (binding `$1` the user, `$2` the value) and audits it when it changed the
    /// account; `false` when it did not.
    pub(crate) async fn audited_user_update(
        &self,
        update: &str,
        user: UserId,
        value: &str,
        action: AuditAction,
        act: &ModerationAct,
    ) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let changed = sqlx::query(update)
            .bind(user.0)
            .bind(value)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        audit(&mut tx, action, user_target(user), act, None).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }
}

#[async_trait]
impl ModerationStore for SqlStore {
    async fn file_report(&self, report: &NewReport) -> StoreResult<Result<Report, Report>> {
        let inserted = sqlx::query_as::<_, ReportRow>(&format!(
            "INSERT INTO reports (id, reporter_id, target_kind, target_id, reason, text, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             RETURNING {REPORT_COLUMNS}"
        ))
        .bind(report.id)
        .bind(report.reporter_id.0)
        .bind(report.target.kind.as_str())
        .bind(report.target.id)
        .bind(report.reason.as_str())
        .bind(&report.text)
        .bind(ts(report.created_at))
        .fetch_one(&self.writer)
        .await;
        match inserted {
            Ok(row) => Ok(Ok(row.into_report()?)),
            Err(err)
                if err
                    .as_database_error()
                    .is_some_and(|e| e.is_unique_violation()) =>
            {
                let open: ReportRow = sqlx::query_as(&format!(
                    "SELECT {REPORT_COLUMNS} FROM reports
                     WHERE reporter_id = $1 AND target_kind = $2 AND target_id = $3
                       AND state = 'open'"
                ))
                .bind(report.reporter_id.0)
                .bind(report.target.kind.as_str())
                .bind(report.target.id)
                .fetch_one(&self.writer)
                .await
                .map_err(db_err)?;
                Ok(Err(open.into_report()?))
            }
            Err(err) => Err(db_err(err)),
        }
    }

    async fn find_report(&self, id: Uuid) -> StoreResult<Option<Report>> {
        let row: Option<ReportRow> = sqlx::query_as(&format!(
            "SELECT {REPORT_COLUMNS} FROM reports WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(ReportRow::into_report).transpose()
    }

    async fn open_reports(&self, page: PageRequest) -> StoreResult<Page<QueuedReport>> {
        #[derive(FromRow)]
        struct Queued {
            #[sqlx(flatten)]
            report: ReportRow,
            target_reports: i64,
        }
        let rows: Vec<Queued> = sqlx::query_as(&format!(
            "SELECT {REPORT_COLUMNS},
                    (SELECT count(*) FROM reports o
                     WHERE o.target_kind = r.target_kind AND o.target_id = r.target_id
                       AND o.state = 'open') AS target_reports
             FROM reports r
             WHERE r.state = 'open' AND r.id > $1
             ORDER BY r.id LIMIT $2"
        ))
        .bind(page.after.unwrap_or(Uuid::nil()))
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let items = rows
            .into_iter()
            .map(|row| {
                let report = row.report.into_report()?;
                Ok((
                    report.id,
                    QueuedReport {
                        report,
                        target_reports: row.target_reports,
                    },
                ))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::from_rows(items, page.limit))
    }

    async fn resolve_reports(
        &self,
        target: Target,
        state: ReportState,
        act: &ModerationAct,
    ) -> StoreResult<u64> {
        let mut tx = self.write_tx().await?;
        let resolved = resolve_open(&mut tx, target, state, act).await?;
        if resolved > 0 {
            let action = if state == ReportState::Dismissed {
                AuditAction::DismissReport
            } else {
                AuditAction::ActionReport
            };
            audit(&mut tx, action, target, act, None).await?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(resolved)
    }

    async fn take_down(
        &self,
        target: Target,
        act: &ModerationAct,
        ladder: &SuspensionLadder,
    ) -> StoreResult<Option<Takedown>> {
        let Some(table) = content_table(target.kind) else {
            return Ok(None);
        };
        let mut tx = self.write_tx().await?;
        let found: Option<(Uuid, Option<Timestamp>)> = sqlx::query_as(&format!(
            "SELECT author_id, taken_down_at FROM {table} WHERE id = $1{FOR_UPDATE}"
        ))
        .bind(target.id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some((author, taken_down_at)) = found else {
            return Ok(None);
        };
        let author = UserId(author);
        let taken_down_now = taken_down_at.is_none();
        let mut suspended_until = None;
        if taken_down_now {
            sqlx::query(&format!(
                "UPDATE {table} SET taken_down_at = $2, takedown_reason = $3 WHERE id = $1"
            ))
            .bind(target.id)
            .bind(ts(act.at))
            .bind(&act.reason)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            if target.kind == TargetKind::Post {
                touch_timelines_showing(&mut tx, &[target.id]).await?;
            }
            let action = match target.kind {
                TargetKind::Comment => AuditAction::TakedownComment,
                _ => AuditAction::TakedownPost,
            };
            audit(&mut tx, action, target, act, None).await?;
            if resolve_open(&mut tx, target, ReportState::Actioned, act).await? > 0 {
                audit(&mut tx, AuditAction::ActionReport, target, act, None).await?;
            }
            // A target struck before (then reinstated) strikes again.
            sqlx::query(
                "INSERT INTO strikes (id, user_id, target_kind, target_id, created_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (target_kind, target_id) DO UPDATE SET withdrawn_at = NULL",
            )
            .bind(Uuid::now_v7())
            .bind(author.0)
            .bind(target.kind.as_str())
            .bind(target.id)
            .bind(ts(act.at))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        // The author's row, locked: takedowns of two of their posts count strikes in turn.
        let role: String =
            sqlx::query_scalar(&format!("SELECT role FROM users WHERE id = $1{FOR_UPDATE}"))
                .bind(author.0)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
        let strikes: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM strikes WHERE user_id = $1 AND withdrawn_at IS NULL",
        )
        .bind(author.0)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        let strikes = u32::try_from(strikes).unwrap_or(u32::MAX);
        // Strikes never suspend staff by themselves (no moderator locks out another, or an
        // admin, by taking their posts down): suspending a moderator is an admin's decision.
        let staff = role.parse::<Role>().is_ok_and(Role::is_moderator);
        if taken_down_now
            && !staff
            && let Some(length) = ladder.for_strikes(strikes)
        {
            let until = act.at + length;
            let why = ModerationAct {
                reason: Some(format!("{strikes} strikes")),
                ..act.clone()
            };
            if suspend(&mut tx, author, until, &why).await? == Some(until) {
                suspended_until = Some(until);
            }
        }
        tx.commit().await.map_err(db_err)?;
        Ok(Some(Takedown {
            author,
            taken_down_now,
            strikes,
            suspended_until,
        }))
    }

    async fn reinstate(&self, target: Target, act: &ModerationAct) -> StoreResult<Option<UserId>> {
        let Some(table) = content_table(target.kind) else {
            return Ok(None);
        };
        let mut tx = self.write_tx().await?;
        let author: Option<Uuid> = sqlx::query_scalar(&format!(
            "UPDATE {table} SET taken_down_at = NULL, takedown_reason = NULL
             WHERE id = $1 AND taken_down_at IS NOT NULL RETURNING author_id"
        ))
        .bind(target.id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some(author) = author else {
            return Ok(None);
        };
        if target.kind == TargetKind::Post {
            touch_timelines_showing(&mut tx, &[target.id]).await?;
        }
        sqlx::query(
            "UPDATE strikes SET withdrawn_at = $3
             WHERE target_kind = $1 AND target_id = $2 AND withdrawn_at IS NULL",
        )
        .bind(target.kind.as_str())
        .bind(target.id)
        .bind(ts(act.at))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let action = match target.kind {
            TargetKind::Comment => AuditAction::ReinstateComment,
            _ => AuditAction::ReinstatePost,
        };
        audit(&mut tx, action, target, act, None).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Some(UserId(author)))
    }

    async fn suspend_user(
        &self,
        user: UserId,
        until: OffsetDateTime,
        act: &ModerationAct,
    ) -> StoreResult<Option<OffsetDateTime>> {
        let mut tx = self.write_tx().await?;
        let now = suspend(&mut tx, user, until, act).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(now)
    }

    async fn lift_suspension(&self, user: UserId, act: &ModerationAct) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let lifted = sqlx::query(
            "UPDATE users SET suspended_until = NULL WHERE id = $1 AND suspended_until > $2",
        )
        .bind(user.0)
        .bind(ts(act.at))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if lifted == 0 {
            return Ok(false);
        }
        audit(
            &mut tx,
            AuditAction::UnsuspendUser,
            user_target(user),
            act,
            None,
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }

    async fn suspensions(&self, now: OffsetDateTime) -> StoreResult<Vec<(UserId, OffsetDateTime)>> {
        let rows: Vec<(Uuid, Timestamp)> =
            sqlx::query_as("SELECT id, suspended_until FROM users WHERE suspended_until > $1")
                .bind(ts(now))
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|(id, until)| (UserId(id), from_ts(until)))
            .collect())
    }

    async fn change_role(
        &self,
        user: UserId,
        role: Role,
        act: &ModerationAct,
    ) -> StoreResult<bool> {
        let action = if role == Role::Moderator {
            AuditAction::GrantModerator
        } else {
            AuditAction::RemoveModerator
        };
        self.audited_user_update(
            "UPDATE users SET role = $2 WHERE id = $1 AND role <> 'admin' AND role <> $2",
            user,
            role.as_str(),
            action,
            act,
        )
        .await
    }

    async fn audit_log(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> StoreResult<Page<AuditEntry>> {
        let mut query = QueryBuilder::<Db>::new(
            "SELECT id, actor_id, action, target_kind, target_id, reason, suspended_until,
                    created_at
             FROM moderation_audit WHERE id < ",
        );
        query.push_bind(page.after.unwrap_or(Uuid::max()));
        if let Some(actor) = filter.actor {
            query.push(" AND actor_id = ").push_bind(actor.0);
        }
        if let Some(target) = filter.target {
            query.push(" AND target_id = ").push_bind(target);
        }
        if let Some(action) = filter.action {
            query.push(" AND action = ").push_bind(action.as_str());
        }
        query
            .push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(page.limit) + 1);
        let rows: Vec<AuditRow> = query
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        let items = rows
            .into_iter()
            .map(|row| row.into_entry().map(|entry| (entry.id, entry)))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::from_rows(items, page.limit))
    }
}
