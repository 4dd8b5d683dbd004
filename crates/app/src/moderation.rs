//! Trust and safety: reports by anyone, and what moderators and admins do about them —
//! takedowns with strikes, suspensions, role changes — each recorded in the audit log by the
//! store in the same transaction.

use std::time::Duration;

use picshare_domain::moderation::{MAX_SUSPENSION, parse_moderation_reason, parse_report_text};
use picshare_domain::{
    Action, AuditEntry, Report, ReportReason, ReportState, Role, Target, TargetKind, User, UserId,
    UserLookup, ValidationErrors,
};
use picshare_store::{
    AuditFilter, ModerationAct, NewReport, Page, PageRequest, QueuedReport, Takedown,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::Principal;
use crate::{App, AppError, AppResult};

/// A report in the moderators' queue, with what it is about.
#[derive(Debug, Clone)]
pub struct ReportView {
    pub queued: QueuedReport,
    pub reporter: Option<User>,
    /// The reported user, or the author of the reported post or comment.
    pub target_owner: Option<User>,
    /// The reported post's caption or comment's text.
    pub target_text: Option<String>,
    /// The target owner's risk score (shared devices), 0–100.
    pub target_owner_risk: u8,
}

impl App {
    /// The caller's account if it may moderate (moderator or admin); 403 otherwise.
    pub async fn require_moderator(&self, caller: Principal) -> AppResult<User> {
        let me = self.me(caller).await?;
        if me.role.is_moderator() {
            Ok(me)
        } else {
            Err(AppError::Forbidden("this needs a moderator"))
        }
    }

    /// The caller's account if it is an admin; 403 otherwise.
    pub async fn require_admin(&self, caller: Principal) -> AppResult<User> {
        let me = self.me(caller).await?;
        if me.role == Role::Admin {
            Ok(me)
        } else {
            Err(AppError::Forbidden("this needs an admin"))
        }
    }

    /// Files a report on something the reporter can see (404 otherwise); the reporter's open
    /// report on the same target comes back instead of a second one (`false`: not new).
    pub async fn report(
        &self,
        caller: Principal,
        target: Target,
        reason: &str,
        text: Option<&str>,
    ) -> AppResult<(Report, bool)> {
        let mut errors = ValidationErrors::default();
        let reason = errors.check("reason", reason.parse::<ReportReason>());
        let text = errors.check("text", parse_report_text(text));
        errors.into_result()?;
        let (Some(reason), Some(text)) = (reason, text) else {
            return Err(AppError::NotFound);
        };
        let owner = self.owner_visible_to(Some(caller), target).await?;
        if owner == caller.user_id {
            return Err(AppError::Precondition(
                "you cannot report yourself or what you wrote",
            ));
        }
        let spent = self.spend_quota(caller.user_id, Action::Report).await?;
        let filed = self
            .store
            .file_report(&NewReport {
                id: Uuid::now_v7(),
                reporter_id: caller.user_id,
                target,
                reason,
                text,
                created_at: OffsetDateTime::now_utc(),
            })
            .await
            .map_err(From::from);
        self.keep_if(spent, &filed, Result::is_ok).await;
        Ok(match filed? {
            Ok(report) => (report, true),
            Err(open) => (open, false),
        })
    }

    /// Who owns `target`, if `viewer` may see it (moderators see taken-down content).
    async fn owner_visible_to(
        &self,
        viewer: Option<Principal>,
        target: Target,
    ) -> AppResult<UserId> {
        Ok(match target.kind {
            TargetKind::User => {
                self.visible_user(viewer, &UserLookup::Id(UserId(target.id)))
                    .await?
                    .id
            }
            TargetKind::Post => self.visible_post(viewer, target.id).await?.0.author_id,
            TargetKind::Comment => {
                let comment = self
                    .store
                    .find_comment(target.id)
                    .await?
                    .ok_or(AppError::NotFound)?;
                self.visible_post(viewer, comment.post_id).await?;
                let own = viewer.is_some_and(|v| v.user_id == comment.author_id);
                if comment.taken_down.is_some() && !own && !self.sees_as_moderator(viewer).await? {
                    return Err(AppError::NotFound);
                }
                comment.author_id
            }
        })
    }

    /// Whether the viewer sees as a moderator (taken-down content in reads). On read paths
    /// (comment lists, profiles), so the account comes from the recent-accounts cache: a role
    /// change shows in reads within its 2 s.
    pub(crate) async fn sees_as_moderator(&self, viewer: Option<Principal>) -> AppResult<bool> {
        let Some(viewer) = viewer else {
            return Ok(false);
        };
        let accounts = self.users_by_id(&[viewer.user_id]).await?;
        Ok(accounts
            .get(&viewer.user_id)
            .is_some_and(|account| account.role.is_moderator()))
    }

    /// Whether the caller may act as a moderator (delete others' posts and comments), read
    /// fresh: a removed moderator acts no more.
    pub(crate) async fn acts_as_moderator(&self, caller: Principal) -> AppResult<bool> {
        Ok(self.me(caller).await?.role.is_moderator())
    }

    /// Open reports, oldest first, each with its reporter and target.
    pub async fn open_reports(
        &self,
        caller: Principal,
        page: PageRequest,
    ) -> AppResult<Page<ReportView>> {
        self.require_moderator(caller).await?;
        let reports = self.store.open_reports(page).await?;
        let mut items = Vec::with_capacity(reports.items.len());
        for queued in reports.items {
            let (target_owner, target_text) = self.target_summary(queued.report.target).await?;
            let reporter = self
                .store
                .find_user(&UserLookup::Id(queued.report.reporter_id))
                .await?;
            items.push(ReportView {
                queued,
                reporter,
                target_owner,
                target_text,
                target_owner_risk: 0,
            });
        }
        let owners: Vec<UserId> = items
            .iter()
            .filter_map(|view| view.target_owner.as_ref().map(|owner| owner.id))
            .collect();
        let risks = self.risk_scores(&owners).await?;
        for view in &mut items {
            if let Some(owner) = &view.target_owner {
                view.target_owner_risk = risks.get(&owner.id).copied().unwrap_or(0);
            }
        }
        Ok(Page {
            items,
            next: reports.next,
        })
    }

    async fn target_summary(&self, target: Target) -> AppResult<(Option<User>, Option<String>)> {
        let (owner, text) = match target.kind {
            TargetKind::User => (Some(UserId(target.id)), None),
            TargetKind::Post => match self.store.find_post(target.id).await? {
                Some(post) => (Some(post.author_id), Some(post.caption)),
                None => (None, None),
            },
            TargetKind::Comment => match self.store.find_comment(target.id).await? {
                Some(comment) => (Some(comment.author_id), Some(comment.text)),
                None => (None, None),
            },
        };
        let owner = match owner {
            Some(id) => self.store.find_user(&UserLookup::Id(id)).await?,
            None => None,
        };
        Ok((owner, text))
    }

    /// Resolves a report and every other open report on the same target: `dismiss` (nothing
    /// wrong) or `act` (dealt with, e.g. by a takedown or suspension made separately).
    pub async fn resolve_report(
        &self,
        caller: Principal,
        id: Uuid,
        resolution: &str,
        note: Option<&str>,
    ) -> AppResult<Report> {
        self.require_moderator(caller).await?;
        let mut errors = ValidationErrors::default();
        let state = errors.check(
            "resolution",
            match resolution {
                "dismiss" => Ok(ReportState::Dismissed),
                "act" => Ok(ReportState::Actioned),
                _ => Err("must be dismiss or act".to_owned()),
            },
        );
        let note = errors.check("note", parse_report_text(note));
        errors.into_result()?;
        let (Some(state), Some(note)) = (state, note) else {
            return Err(AppError::NotFound);
        };
        let report = self
            .store
            .find_report(id)
            .await?
            .ok_or(AppError::NotFound)?;
        let resolved = if report.state == ReportState::Open {
            self.store
                .resolve_reports(report.target, state, &act(caller, note))
                .await?
        } else {
            0
        };
        // Also when another moderator resolved it a moment ago.
        if resolved == 0 {
            return Err(AppError::Precondition("this report is already resolved"));
        }
        self.store.find_report(id).await?.ok_or(AppError::NotFound)
    }

    /// Takes a post or comment down, strikes its author and, on the strike ladder, suspends them.
    pub async fn take_down(
        &self,
        caller: Principal,
        target: Target,
        reason: &str,
    ) -> AppResult<Takedown> {
        self.require_moderator(caller).await?;
        let reason =
            parse_moderation_reason(reason).map_err(|m| ValidationErrors::single("reason", m))?;
        let ladder = self.settings.suspension_ladder;
        let takedown = self
            .store
            .take_down(target, &act(caller, Some(reason)), &ladder)
            .await?
            .ok_or(AppError::NotFound)?;
        // The strike costs the author a level at once (here; elsewhere within a minute).
        self.standing_changed(takedown.author);
        if let Some(until) = takedown.suspended_until {
            self.suspensions_changed(takedown.author, Some(until)).await;
        }
        Ok(takedown)
    }

    /// Reverses a takedown and withdraws its strike.
    pub async fn reinstate(
        &self,
        caller: Principal,
        target: Target,
        reason: &str,
    ) -> AppResult<()> {
        self.require_moderator(caller).await?;
        let reason =
            parse_moderation_reason(reason).map_err(|m| ValidationErrors::single("reason", m))?;
        let author = self
            .store
            .reinstate(target, &act(caller, Some(reason)))
            .await?
            .ok_or(AppError::NotFound)?;
        // The withdrawn strike gives the level back at once (here; elsewhere within a minute).
        self.standing_changed(author);
        Ok(())
    }

    /// Suspends an account for `length`; its sessions are refused at once on every instance.
    pub async fn suspend(
        &self,
        caller: Principal,
        user: UserId,
        length: Duration,
        reason: &str,
    ) -> AppResult<OffsetDateTime> {
        let me = self.require_moderator(caller).await?;
        let reason =
            parse_moderation_reason(reason).map_err(|m| ValidationErrors::single("reason", m))?;
        if length.is_zero() || length > MAX_SUSPENSION {
            return Err(ValidationErrors::single(
                "duration_secs",
                format!("must be 1 to {} seconds", MAX_SUSPENSION.as_secs()),
            )
            .into());
        }
        self.may_suspend(&me, user).await?;
        let until = OffsetDateTime::now_utc() + length;
        let until = self
            .store
            .suspend_user(user, until, &act(caller, Some(reason)))
            .await?
            .ok_or(AppError::NotFound)?;
        self.suspensions_changed(user, Some(until)).await;
        Ok(until)
    }

    /// Nobody suspends themselves (or lifts their own suspension); only an admin suspends a
    /// moderator or admin, or lifts their suspension.
    async fn may_suspend(&self, me: &User, user: UserId) -> AppResult<()> {
        let target = self.find_user(&UserLookup::Id(user)).await?;
        if target.id == me.id || target.role.is_moderator() && me.role != Role::Admin {
            return Err(AppError::Forbidden(
                "you cannot suspend yourself, and only an admin suspends a moderator",
            ));
        }
        Ok(())
    }

    /// Lifts a suspension before its end.
    pub async fn lift_suspension(
        &self,
        caller: Principal,
        user: UserId,
        reason: &str,
    ) -> AppResult<()> {
        let me = self.require_moderator(caller).await?;
        let reason =
            parse_moderation_reason(reason).map_err(|m| ValidationErrors::single("reason", m))?;
        self.may_suspend(&me, user).await?;
        if !self
            .store
            .lift_suspension(user, &act(caller, Some(reason)))
            .await?
        {
            return Err(AppError::Precondition("this account is not suspended"));
        }
        self.suspensions_changed(user, None).await;
        Ok(())
    }

    /// Tells this process and every other one; the account's sockets here close at once.
    pub(crate) async fn suspensions_changed(&self, user: UserId, until: Option<OffsetDateTime>) {
        self.suspensions.set(user, until);
        if until.is_some() {
            self.events.hub().disconnect(user);
        }
        self.events.publish_suspension(user, until).await;
    }

    /// Grants (`moderator`) or removes (`user`) the moderator role; admins only, never on
    /// oneself or another admin.
    pub async fn change_role(
        &self,
        caller: Principal,
        user: UserId,
        role: &str,
    ) -> AppResult<User> {
        let me = self.require_admin(caller).await?;
        let role = match role {
            "moderator" => Role::Moderator,
            "user" => Role::User,
            _ => return Err(ValidationErrors::single("role", "must be moderator or user").into()),
        };
        if user == me.id {
            return Err(AppError::Forbidden("nobody changes their own role"));
        }
        let target = self.find_user(&UserLookup::Id(user)).await?;
        if target.role == Role::Admin {
            return Err(AppError::Forbidden("an admin's role is not changed here"));
        }
        if target.role == role {
            return Ok(target);
        }
        self.store
            .change_role(user, role, &act(caller, None))
            .await?;
        self.find_user(&UserLookup::Id(user)).await
    }

    /// The audit log, newest first, of one actor, target or action (`None`: any).
    pub async fn audit_log(
        &self,
        caller: Principal,
        actor: Option<UserId>,
        target: Option<Uuid>,
        action: Option<&str>,
        page: PageRequest,
    ) -> AppResult<Page<AuditEntry>> {
        self.require_moderator(caller).await?;
        let action = action
            .map(str::parse)
            .transpose()
            .map_err(|m: String| ValidationErrors::single("action", m))?;
        let filter = AuditFilter {
            actor,
            target,
            action,
        };
        Ok(self.store.audit_log(&filter, page).await?)
    }
}

pub(crate) fn act(caller: Principal, reason: Option<String>) -> ModerationAct {
    ModerationAct {
        moderator: caller.user_id,
        reason,
        at: OffsetDateTime::now_utc(),
    }
}
