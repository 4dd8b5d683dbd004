//! Trust levels and what they allow: each level's per-action quotas, how an account's record
//! earns a level (and a recent strike costs one), and the risk its devices carry.

use std::borrow::Cow;
use std::time::Duration;

use time::OffsetDateTime;

use crate::TrustLevel;

/// A write that trust levels limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Post,
    Follow,
    Like,
    Comment,
    /// Sending a message, or starting a conversation.
    Message,
    Report,
    /// Starting an upload (each becomes a processing job).
    Upload,
}

impl Action {
    pub const ALL: [Action; 7] = [
        Action::Post,
        Action::Follow,
        Action::Like,
        Action::Comment,
        Action::Message,
        Action::Report,
        Action::Upload,
    ];

    /// The name in configuration, in `GET /v1/account/rate-limits` and in counter keys.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Post => "posts",
            Action::Follow => "follows",
            Action::Like => "likes",
            Action::Comment => "comments",
            Action::Message => "messages",
            Action::Report => "reports",
            Action::Upload => "uploads",
        }
    }
}

/// The period a quota renews over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    Hour,
    Day,
}

impl Period {
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Hour => "hour",
            Period::Day => "day",
        }
    }

    pub fn duration(self) -> Duration {
        match self {
            Period::Hour => Duration::from_secs(3600),
            Period::Day => Duration::from_secs(24 * 3600),
        }
    }
}

/// `limit` of `action` per `period`: a burst of `limit` at once, then one more every
/// `period / limit` (GCRA), so no stretch of time averages above `limit` per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub action: Action,
    pub period: Period,
    pub limit: u32,
}

/// The largest configurable quota.
pub const MAX_QUOTA: u32 = 1_000_000;

/// The quotas of one trust level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelLimits {
    quotas: Vec<Quota>,
}

impl LevelLimits {
    /// `[posts/h, posts/day, follows/day, likes/h, comments/h, messages/h, reports/day,
    /// uploads/h]`.
    fn from_table(values: [u32; 8]) -> Self {
        use {Action::*, Period::*};
        let shape = [
            (Post, Hour),
            (Post, Day),
            (Follow, Day),
            (Like, Hour),
            (Comment, Hour),
            (Message, Hour),
            (Report, Day),
            (Upload, Hour),
        ];
        Self {
            quotas: shape
                .into_iter()
                .zip(values)
                .map(|((action, period), limit)| Quota {
                    action,
                    period,
                    limit,
                })
                .collect(),
        }
    }

    /// Every quota of the level, grouped by action in `Action::ALL` order.
    pub fn all(&self) -> &[Quota] {
        &self.quotas
    }

    pub fn for_action(&self, action: Action) -> Vec<Quota> {
        self.quotas
            .iter()
            .copied()
            .filter(|quota| quota.action == action)
            .collect()
    }

    /// Applies `posts_per_hour=3,likes_per_day=500`: each `<action>_per_<hour|day>` sets (or
    /// adds) that quota, 1 to `MAX_QUOTA`.
    pub fn apply_overrides(&mut self, overrides: &str) -> Result<(), String> {
        for item in overrides
            .split(',')
            .map(str::trim)
            .filter(|i| !i.is_empty())
        {
            let (name, value) = item
                .split_once('=')
                .ok_or_else(|| format!("'{item}' is not <action>_per_<hour|day>=<limit>"))?;
            let (action, period) = name
                .trim()
                .split_once("_per_")
                .and_then(|(action, period)| {
                    let action = Action::ALL.into_iter().find(|a| a.as_str() == action)?;
                    let period = [Period::Hour, Period::Day]
                        .into_iter()
                        .find(|p| p.as_str() == period)?;
                    Some((action, period))
                })
                .ok_or_else(|| {
                    format!("'{name}' names no quota (actions: posts, follows, likes, comments, messages, reports, uploads; periods: hour, day)")
                })?;
            let limit = value
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|limit| (1..=MAX_QUOTA).contains(limit))
                .ok_or_else(|| format!("'{name}' must be a number from 1 to {MAX_QUOTA}"))?;
            match self
                .quotas
                .iter_mut()
                .find(|q| q.action == action && q.period == period)
            {
                Some(quota) => quota.limit = limit,
                None => {
                    self.quotas.push(Quota {
                        action,
                        period,
                        limit,
                    });
                    let order = |q: &Quota| {
                        let action = Action::ALL.iter().position(|a| *a == q.action);
                        (action, q.period == Period::Day)
                    };
                    self.quotas.sort_by_key(order);
                }
            }
        }
        Ok(())
    }

    /// These quotas with each limit halved (at least 1): for high-risk new accounts.
    fn halved(&self) -> Self {
        Self {
            quotas: self
                .quotas
                .iter()
                .map(|quota| Quota {
                    limit: (quota.limit / 2).max(1),
                    ..*quota
                })
                .collect(),
        }
    }
}

/// The quotas of every trust level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustLimits {
    pub new: LevelLimits,
    pub basic: LevelLimits,
    pub trusted: LevelLimits,
    pub verified: LevelLimits,
}

impl Default for TrustLimits {
    /// SPEC's posts, follows and likes; comments, messages, reports and uploads scaled alike.
    fn default() -> Self {
        Self {
            new: LevelLimits::from_table([1, 5, 20, 30, 10, 20, 5, 10]),
            basic: LevelLimits::from_table([5, 20, 100, 100, 50, 100, 20, 30]),
            trusted: LevelLimits::from_table([20, 100, 500, 500, 200, 500, 50, 100]),
            verified: LevelLimits::from_table([50, 200, 1000, 1000, 500, 1000, 100, 300]),
        }
    }
}

impl TrustLimits {
    pub fn level_mut(&mut self, level: TrustLevel) -> &mut LevelLimits {
        match level {
            TrustLevel::New => &mut self.new,
            TrustLevel::Basic => &mut self.basic,
            TrustLevel::Trusted => &mut self.trusted,
            TrustLevel::Verified => &mut self.verified,
        }
    }

    /// The quotas that apply to an account of this standing: its level's, and half of them
    /// for a new account at high risk.
    pub fn for_standing(&self, standing: &Standing) -> Cow<'_, LevelLimits> {
        match standing.level {
            TrustLevel::New if standing.high_risk => Cow::Owned(self.new.halved()),
            TrustLevel::New => Cow::Borrowed(&self.new),
            TrustLevel::Basic => Cow::Borrowed(&self.basic),
            TrustLevel::Trusted => Cow::Borrowed(&self.trusted),
            TrustLevel::Verified => Cow::Borrowed(&self.verified),
        }
    }
}

/// How long a strike costs a level.
pub const STRIKE_MEMORY: Duration = Duration::from_secs(90 * 24 * 3600);

/// What an account's standing is assessed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustRecord {
    pub created_at: OffsetDateTime,
    pub posts: i64,
    pub followers: i64,
    /// Strikes that stand (not withdrawn) from the last `STRIKE_MEMORY`.
    pub recent_strikes: u32,
    /// Set by an admin.
    pub verified: bool,
    /// The most other accounts ever seen on one of this account's devices.
    pub other_accounts_on_device: u32,
}

/// One thing a level needs, against the account's own figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirement {
    pub name: &'static str,
    pub current: i64,
    /// At least this much; for `recent_strikes`, at most.
    pub required: i64,
    pub at_most: bool,
}

impl Requirement {
    pub fn met(&self) -> bool {
        if self.at_most {
            self.current <= self.required
        } else {
            self.current >= self.required
        }
    }
}

/// What the next level needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextLevel {
    pub level: TrustLevel,
    pub requirements: Vec<Requirement>,
}

/// An account's trust level and how it got there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    pub level: TrustLevel,
    /// 0–100: progress towards `trusted` (100 when verified), less 25 per recent strike.
    pub score: u8,
    /// `None` at the top: `trusted`, or `verified` for an account an admin verified.
    pub next: Option<NextLevel>,
    /// 0–100: 20 per other account seen on one of this account's devices.
    pub risk_score: u8,
    /// `risk_score` ≥ `HIGH_RISK`: a new account's quotas are halved.
    pub high_risk: bool,
}

pub const HIGH_RISK: u8 = 60;
const RISK_PER_SHARED_ACCOUNT: u32 = 20;
const SCORE_PER_STRIKE: i64 = 25;

/// 20 per other account seen on one of an account's devices, at most 100.
pub fn risk_score(other_accounts_on_device: u32) -> u8 {
    other_accounts_on_device
        .saturating_mul(RISK_PER_SHARED_ACCOUNT)
        .min(100) as u8
}

/// Account age (days), posts and followers each level needs; index 0 is `basic`.
const NEEDS: [(TrustLevel, [i64; 3]); 2] = [
    (TrustLevel::Basic, [2, 1, 0]),
    (TrustLevel::Trusted, [30, 10, 10]),
];
const LADDER: [TrustLevel; 3] = [TrustLevel::New, TrustLevel::Basic, TrustLevel::Trusted];
/// A verified account's ladder: its strikes cost it levels as anyone's do.
const VERIFIED_LADDER: [TrustLevel; 4] = [
    TrustLevel::New,
    TrustLevel::Basic,
    TrustLevel::Trusted,
    TrustLevel::Verified,
];

fn figures(record: &TrustRecord, now: OffsetDateTime) -> [i64; 3] {
    let age_days = (now - record.created_at).whole_days().max(0);
    [age_days, record.posts, record.followers]
}

fn needs_of(level: TrustLevel, current: [i64; 3]) -> Vec<Requirement> {
    let Some((_, required)) = NEEDS.iter().find(|(l, _)| *l == level) else {
        return Vec::new();
    };
    ["account_age_days", "posts", "followers"]
        .into_iter()
        .zip(current)
        .zip(required.iter().copied())
        .filter(|(_, required)| *required > 0)
        .map(|((name, current), required)| Requirement {
            name,
            current,
            required,
            at_most: false,
        })
        .collect()
}

/// Assesses an account: the highest level whose needs its record meets (`verified` when an
/// admin said so), one step lower per recent strike.
pub fn assess(record: &TrustRecord, now: OffsetDateTime) -> Standing {
    let current = figures(record, now);
    let strikes = i64::from(record.recent_strikes);
    let ladder: &[TrustLevel] = if record.verified {
        &VERIFIED_LADDER
    } else {
        &LADDER
    };
    let earned = if record.verified {
        ladder.len() - 1
    } else {
        LADDER
            .iter()
            .rposition(|level| needs_of(*level, current).iter().all(Requirement::met))
            .unwrap_or(0)
    };
    let step = (earned as i64 - strikes).max(0) as usize;
    let risk_score = risk_score(record.other_accounts_on_device);
    let high_risk = risk_score >= HIGH_RISK;
    let trusted_needs = needs_of(TrustLevel::Trusted, current);
    let progress = if record.verified {
        1.0
    } else {
        trusted_needs
            .iter()
            .map(|need| (need.current as f64 / need.required as f64).clamp(0.0, 1.0))
            .sum::<f64>()
            / trusted_needs.len() as f64
    };
    let score = ((progress * 100.0).round() as i64 - SCORE_PER_STRIKE * strikes).clamp(0, 100);
    let next = ladder.get(step + 1).map(|&level| {
        let mut requirements = needs_of(level, current);
        // The strikes the target still allows: a level earned twice over absorbs one.
        let allowed = earned.saturating_sub(step + 1) as i64;
        requirements.push(Requirement {
            name: "recent_strikes",
            current: strikes,
            required: allowed,
            at_most: true,
        });
        NextLevel {
            level,
            requirements,
        }
    });
    Standing {
        level: ladder[step],
        score: score as u8,
        next,
        risk_score,
        high_risk,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(age_days: i64, posts: i64, followers: i64, strikes: u32) -> TrustRecord {
        TrustRecord {
            created_at: now() - time::Duration::days(age_days),
            posts,
            followers,
            recent_strikes: strikes,
            verified: false,
            other_accounts_on_device: 0,
        }
    }

    fn now() -> OffsetDateTime {
        time::macros::datetime!(2026-12-01 12:00 UTC)
    }

    #[test]
    fn the_record_earns_basic_then_trusted() {
        assert_eq!(assess(&record(0, 0, 0, 0), now()).level, TrustLevel::New);
        assert_eq!(assess(&record(1, 5, 0, 0), now()).level, TrustLevel::New);
        assert_eq!(assess(&record(2, 1, 0, 0), now()).level, TrustLevel::Basic);
        assert_eq!(
            assess(&record(29, 50, 50, 0), now()).level,
            TrustLevel::Basic
        );
        let trusted = assess(&record(30, 10, 10, 0), now());
        assert_eq!(trusted.level, TrustLevel::Trusted);
        assert_eq!(trusted.score, 100);
        assert_eq!(trusted.next, None, "verification is an admin's decision");
    }

    #[test]
    fn each_recent_strike_costs_one_level() {
        assert_eq!(
            assess(&record(40, 20, 20, 1), now()).level,
            TrustLevel::Basic
        );
        assert_eq!(assess(&record(40, 20, 20, 2), now()).level, TrustLevel::New);
        assert_eq!(assess(&record(3, 2, 0, 1), now()).level, TrustLevel::New);
        let struck = assess(&record(40, 20, 20, 1), now());
        assert_eq!(struck.score, 75);
        let next = struck.next.unwrap();
        assert_eq!(next.level, TrustLevel::Trusted);
        let strikes = next
            .requirements
            .iter()
            .find(|r| r.name == "recent_strikes")
            .unwrap();
        assert!(!strikes.met());
    }

    #[test]
    fn the_next_level_lists_what_is_missing() {
        let standing = assess(&record(1, 0, 0, 0), now());
        let next = standing.next.unwrap();
        assert_eq!(next.level, TrustLevel::Basic);
        let unmet: Vec<_> = next
            .requirements
            .iter()
            .filter(|r| !r.met())
            .map(|r| (r.name, r.current, r.required))
            .collect();
        assert_eq!(unmet, [("account_age_days", 1, 2), ("posts", 0, 1)]);
        // 1/30 days, 0/10 posts, 0/10 followers.
        assert_eq!(standing.score, 1);
    }

    #[test]
    fn verified_is_kept_whatever_the_record_but_strikes_cost_it_too() {
        let verified = |strikes| {
            assess(
                &TrustRecord {
                    verified: true,
                    ..record(0, 0, 0, strikes)
                },
                now(),
            )
        };
        assert_eq!(verified(0).level, TrustLevel::Verified);
        assert_eq!(verified(0).next, None);
        let struck = verified(1);
        assert_eq!(struck.level, TrustLevel::Trusted);
        let next = struck.next.unwrap();
        assert_eq!(next.level, TrustLevel::Verified);
        let names: Vec<_> = next.requirements.iter().map(|r| r.name).collect();
        assert_eq!(names, ["recent_strikes"]);
        assert_eq!(verified(2).level, TrustLevel::Basic);
    }

    #[test]
    fn shared_devices_raise_risk_and_halve_a_new_accounts_quotas() {
        let limits = TrustLimits::default();
        let shared = |others| {
            assess(
                &TrustRecord {
                    other_accounts_on_device: others,
                    ..record(0, 0, 0, 0)
                },
                now(),
            )
        };
        assert_eq!(shared(2).risk_score, 40);
        assert!(!shared(2).high_risk);
        assert!(shared(3).high_risk);
        assert_eq!(shared(9).risk_score, 100);
        let likes = |standing: &Standing| limits.for_standing(standing).for_action(Action::Like);
        assert_eq!(likes(&shared(0))[0].limit, 30);
        assert_eq!(likes(&shared(3))[0].limit, 15);
        let posts = limits.for_standing(&shared(3)).for_action(Action::Post);
        assert_eq!(posts[0].limit, 1, "never below one");
    }

    #[test]
    fn spec_defaults_and_overrides() {
        let mut limits = TrustLimits::default();
        let summary = |level: &LevelLimits| -> Vec<(&str, &str, u32)> {
            level
                .all()
                .iter()
                .map(|q| (q.action.as_str(), q.period.as_str(), q.limit))
                .collect()
        };
        assert_eq!(
            summary(&limits.new)[..4],
            [
                ("posts", "hour", 1),
                ("posts", "day", 5),
                ("follows", "day", 20),
                ("likes", "hour", 30)
            ]
        );
        let basic: Vec<u32> = limits.basic.all()[..4].iter().map(|q| q.limit).collect();
        assert_eq!(basic, [5, 20, 100, 100]);
        limits
            .new
            .apply_overrides("likes_per_hour=5, follows_per_hour=2")
            .unwrap();
        assert_eq!(limits.new.for_action(Action::Like)[0].limit, 5);
        let follows = summary(&LevelLimits {
            quotas: limits.new.for_action(Action::Follow),
        });
        assert_eq!(follows, [("follows", "hour", 2), ("follows", "day", 20)]);
        for bad in [
            "likes=5",
            "likes_per_week=5",
            "likes_per_hour=0",
            "pokes_per_hour=1",
        ] {
            assert!(limits.new.apply_overrides(bad).is_err(), "{bad}");
        }
    }
}
