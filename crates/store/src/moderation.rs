//! Reports, takedowns, strikes, suspensions, role changes and the audit log that records them.
//! Every moderation write appends its audit line in the same transaction, so the log cannot
//! miss an action that happened, nor show one that did not.

use async_trait::async_trait;
use picshare_domain::{
    AuditAction, AuditEntry, Report, ReportReason, ReportState, Role, SuspensionLadder, Target,
    UserId,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Page, PageRequest, StoreResult};

#[derive(Debug, Clone)]
pub struct NewReport {
    pub id: Uuid,
    pub reporter_id: UserId,
    pub target: Target,
    pub reason: ReportReason,
    pub text: Option<String>,
    pub created_at: OffsetDateTime,
}

/// Who acts, why, and when: the audit line's own fields.
#[derive(Debug, Clone)]
pub struct ModerationAct {
    pub moderator: UserId,
    pub reason: Option<String>,
    pub at: OffsetDateTime,
}

/// A report as the moderators' queue shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedReport {
    pub report: Report,
    /// Open reports on the same target, this one included.
    pub target_reports: i64,
}

/// What a takedown did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Takedown {
    pub author: UserId,
    /// False when the content was already taken down (nothing changed).
    pub taken_down_now: bool,
    /// The author's strikes that stand, this one included.
    pub strikes: u32,
    /// Set when this strike suspended the author (to this moment).
    pub suspended_until: Option<OffsetDateTime>,
}

/// Filters of the audit log; `None` matches any.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<UserId>,
    pub target: Option<Uuid>,
    pub action: Option<AuditAction>,
}

#[async_trait]
pub trait ModerationStore {
    /// Files a report; `Err` with the reporter's open report on the same target when there is
    /// one (one open report per reporter and target, also when two requests race).
    async fn file_report(&self, report: &NewReport) -> StoreResult<Result<Report, Report>>;

    async fn find_report(&self, id: Uuid) -> StoreResult<Option<Report>>;

    /// Open reports, oldest first.
    async fn open_reports(&self, page: PageRequest) -> StoreResult<Page<QueuedReport>>;

    /// Resolves every open report on `target` as `state` (dismissed or actioned), with one
    /// audit line; how many were open.
    async fn resolve_reports(
        &self,
        target: Target,
        state: ReportState,
        act: &ModerationAct,
    ) -> StoreResult<u64>;

    /// Takes a post or comment down: hidden from everyone but its author and moderators, a
    /// strike for its author (one per target), its open reports actioned, and — when the
    /// author's strikes now call for one on `ladder` — a suspension (never shortening one that
    /// runs longer); with their audit lines, in one transaction. `None` when there is no such
    /// content.
    async fn take_down(
        &self,
        target: Target,
        act: &ModerationAct,
        ladder: &SuspensionLadder,
    ) -> StoreResult<Option<Takedown>>;

    /// Reverses a takedown and withdraws its strike (a suspension it caused stays until lifted);
    /// the content's author, `None` when the content does not exist or is not taken down.
    async fn reinstate(&self, target: Target, act: &ModerationAct) -> StoreResult<Option<UserId>>;

    /// Suspends the user until `until`, with its audit line, unless a suspension that runs
    /// longer is on them (one never shortens another); the suspension's end now, `None` when
    /// there is no such user.
    async fn suspend_user(
        &self,
        user: UserId,
        until: OffsetDateTime,
        act: &ModerationAct,
    ) -> StoreResult<Option<OffsetDateTime>>;

    /// Lifts the user's suspension, with its audit line; false when they are not suspended.
    async fn lift_suspension(&self, user: UserId, act: &ModerationAct) -> StoreResult<bool>;

    /// Accounts suspended past `now`, with the end of each suspension.
    async fn suspensions(&self, now: OffsetDateTime) -> StoreResult<Vec<(UserId, OffsetDateTime)>>;

    /// Sets the role of a user who is not an admin, with its audit line; false when there is
    /// no such user, the user is an admin, or the role is theirs already (nothing to record).
    async fn change_role(&self, user: UserId, role: Role, act: &ModerationAct)
    -> StoreResult<bool>;

    /// The audit log, newest first.
    async fn audit_log(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> StoreResult<Page<AuditEntry>>;
}
