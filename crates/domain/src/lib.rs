//! Domain types of PicShare: validated values and pure rules. No I/O, no framework types.

pub mod error;
pub mod media;
pub mod messaging;
pub mod moderation;
pub mod search;
pub mod social;
pub mod text;
pub mod trust;
pub mod user;

pub use error::{FieldError, ValidationErrors};
pub use media::{Media, MediaPurpose, MediaStatus, NewMedia, ProcessedMedia, StoredVariant};
pub use messaging::{Conversation, Message, Notification, NotificationKind};
pub use moderation::{
    AuditAction, AuditEntry, Report, ReportReason, ReportState, SuspensionLadder, TakenDown,
    Target, TargetKind,
};
pub use social::{
    Comment, FollowCaps, Location, PostAccess, Relationship, Visibility, post_access,
    visible_to_anyone,
};
pub use trust::{
    Action, LevelLimits, NextLevel, Period, Quota, Requirement, Standing, TrustLimits, TrustRecord,
};
pub use user::{
    Bio, DisplayName, Email, Handle, NewUser, Password, Role, TrustLevel, User, UserId, UserLookup,
};
