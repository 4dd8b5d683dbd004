//! Trust and safety: reports, takedowns, strikes and suspensions, as values and pure rules.

use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::UserId;

/// Why a user reports something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportReason {
    Spam,
    Harassment,
    Nudity,
    Violence,
    Other,
}

impl ReportReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportReason::Spam => "spam",
            ReportReason::Harassment => "harassment",
            ReportReason::Nudity => "nudity",
            ReportReason::Violence => "violence",
            ReportReason::Other => "other",
        }
    }
}

impl FromStr for ReportReason {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "spam" => ReportReason::Spam,
            "harassment" => ReportReason::Harassment,
            "nudity" => ReportReason::Nudity,
            "violence" => ReportReason::Violence,
            "other" => ReportReason::Other,
            _ => return Err("must be one of spam, harassment, nudity, violence, other".into()),
        })
    }
}

/// What a report, a takedown or an audit entry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    User,
    Post,
    Comment,
}

impl TargetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::User => "user",
            TargetKind::Post => "post",
            TargetKind::Comment => "comment",
        }
    }
}

impl FromStr for TargetKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "user" => TargetKind::User,
            "post" => TargetKind::Post,
            "comment" => TargetKind::Comment,
            other => return Err(format!("unknown target kind '{other}'")),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Target {
    pub kind: TargetKind,
    pub id: Uuid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportState {
    Open,
    Dismissed,
    Actioned,
}

impl ReportState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportState::Open => "open",
            ReportState::Dismissed => "dismissed",
            ReportState::Actioned => "actioned",
        }
    }
}

impl FromStr for ReportState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "open" => ReportState::Open,
            "dismissed" => ReportState::Dismissed,
            "actioned" => ReportState::Actioned,
            other => return Err(format!("unknown report state '{other}'")),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub id: Uuid,
    pub reporter_id: UserId,
    pub target: Target,
    pub reason: ReportReason,
    pub text: Option<String>,
    pub state: ReportState,
    pub resolved_by: Option<UserId>,
    pub resolved_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

/// Content a moderator took down: hidden from everyone but its author and moderators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TakenDown {
    pub at: OffsetDateTime,
    pub reason: String,
}

/// A report's free text, and a moderator's reason, at most.
pub const MAX_MODERATION_TEXT: usize = 1000;

/// Optional free text of a report: trimmed, empty means none, at most 1000 characters.
pub fn parse_report_text(raw: Option<&str>) -> Result<Option<String>, String> {
    let Some(text) = raw.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > MAX_MODERATION_TEXT {
        return Err(format!(
            "must be at most {MAX_MODERATION_TEXT} characters long"
        ));
    }
    Ok(Some(text.to_owned()))
}

/// A moderator's reason for an action: required, trimmed, 1–1000 characters.
pub fn parse_moderation_reason(raw: &str) -> Result<String, String> {
    match parse_report_text(Some(raw))? {
        Some(reason) => Ok(reason),
        None => Err("must not be empty".into()),
    }
}

/// Every moderation and admin action, as written to the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    TakedownPost,
    ReinstatePost,
    TakedownComment,
    ReinstateComment,
    SuspendUser,
    UnsuspendUser,
    DismissReport,
    ActionReport,
    GrantModerator,
    RemoveModerator,
    VerifyUser,
    UnverifyUser,
    DeleteUser,
}

impl AuditAction {
    pub const ALL: [AuditAction; 13] = [
        AuditAction::TakedownPost,
        AuditAction::ReinstatePost,
        AuditAction::TakedownComment,
        AuditAction::ReinstateComment,
        AuditAction::SuspendUser,
        AuditAction::UnsuspendUser,
        AuditAction::DismissReport,
        AuditAction::ActionReport,
        AuditAction::GrantModerator,
        AuditAction::RemoveModerator,
        AuditAction::VerifyUser,
        AuditAction::UnverifyUser,
        AuditAction::DeleteUser,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::TakedownPost => "takedown_post",
            AuditAction::ReinstatePost => "reinstate_post",
            AuditAction::TakedownComment => "takedown_comment",
            AuditAction::ReinstateComment => "reinstate_comment",
            AuditAction::SuspendUser => "suspend_user",
            AuditAction::UnsuspendUser => "unsuspend_user",
            AuditAction::DismissReport => "dismiss_report",
            AuditAction::ActionReport => "action_report",
            AuditAction::GrantModerator => "grant_moderator",
            AuditAction::RemoveModerator => "remove_moderator",
            AuditAction::VerifyUser => "verify_user",
            AuditAction::UnverifyUser => "unverify_user",
            AuditAction::DeleteUser => "delete_user",
        }
    }
}

impl FromStr for AuditAction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        AuditAction::ALL
            .into_iter()
            .find(|action| action.as_str() == s)
            .ok_or_else(|| format!("unknown action '{s}'"))
    }
}

/// One line of the audit log. `suspended_until` is set by suspensions (also by a takedown's
/// strike that suspends, on its own line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: Uuid,
    pub actor_id: UserId,
    pub action: AuditAction,
    pub target: Target,
    pub reason: Option<String>,
    pub suspended_until: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

/// How long an account is suspended when a strike brings its count to 3, 4, and 5 or more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SuspensionLadder {
    pub third: Duration,
    pub fourth: Duration,
    pub fifth_and_later: Duration,
}

impl Default for SuspensionLadder {
    fn default() -> Self {
        const DAY: u64 = 24 * 3600;
        Self {
            third: Duration::from_secs(7 * DAY),
            fourth: Duration::from_secs(30 * DAY),
            fifth_and_later: Duration::from_secs(365 * DAY),
        }
    }
}

impl SuspensionLadder {
    /// The suspension a strike count calls for, if any.
    pub fn for_strikes(&self, strikes: u32) -> Option<Duration> {
        match strikes {
            0..=2 => None,
            3 => Some(self.third),
            4 => Some(self.fourth),
            _ => Some(self.fifth_and_later),
        }
    }
}

/// Longest suspension a moderator may set directly.
pub const MAX_SUSPENSION: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ladder_starts_at_the_third_strike_and_tops_out_at_the_fifth() {
        let ladder = SuspensionLadder::default();
        let days = |strikes| ladder.for_strikes(strikes).map(|d| d.as_secs() / 86_400);
        assert_eq!(
            [0, 1, 2, 3, 4, 5, 9].map(days),
            [None, None, None, Some(7), Some(30), Some(365), Some(365)]
        );
    }

    #[test]
    fn report_text_is_optional_but_bounded_and_a_reason_is_required() {
        assert_eq!(parse_report_text(Some("  ")), Ok(None));
        assert_eq!(parse_report_text(Some(" rude ")), Ok(Some("rude".into())));
        assert!(parse_report_text(Some(&"x".repeat(1001))).is_err());
        assert!(parse_moderation_reason(" ").is_err());
        assert_eq!(parse_moderation_reason("spam wave"), Ok("spam wave".into()));
        for action in AuditAction::ALL {
            assert_eq!(action.as_str().parse::<AuditAction>(), Ok(action));
        }
    }
}
