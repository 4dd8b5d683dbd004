//! Accounts: identifiers, validated profile values and the user entity.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(pub Uuid);

impl UserId {
    /// A new time-sortable id (UUIDv7).
    pub fn generate() -> Self {
        Self(Uuid::now_v7())
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A handle as the user chose it (case kept for display); unique case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Handle(String);

impl Handle {
    pub const MIN_LEN: usize = 3;
    pub const MAX_LEN: usize = 30;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let len = raw.chars().count();
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&len) {
            return Err(format!(
                "must be {} to {} characters long",
                Self::MIN_LEN,
                Self::MAX_LEN
            ));
        }
        if !raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            return Err("may contain only letters a-z, digits 0-9, '_' and '.'".into());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form uniqueness and lookups use.
    pub fn canonical(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// An email address, stored lowercased.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    /// A structural check (one `@`, a local part, a dotted domain); deliverability is not our business here.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let email = raw.trim().to_lowercase();
        let invalid = || Err("must be a valid email address".to_owned());
        if email.len() > Self::MAX_LEN {
            return Err(format!("must be at most {} characters long", Self::MAX_LEN));
        }
        let Some((local, domain)) = email.rsplit_once('@') else {
            return invalid();
        };
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.contains('@')
            && local.chars().all(|c| !c.is_whitespace() && !c.is_control());
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if local_ok && domain_ok {
            Ok(Self(email))
        } else {
            invalid()
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../data/common-passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect()
});

/// A password that passed the policy: 8–256 characters, not a common password. No composition rules.
pub struct Password(String);

impl Password {
    pub const MIN_LEN: usize = 8;
    pub const MAX_LEN: usize = 256;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let len = raw.chars().count();
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&len) {
            return Err(format!(
                "must be {} to {} characters long",
                Self::MIN_LEN,
                Self::MAX_LEN
            ));
        }
        if COMMON_PASSWORDS.contains(raw.to_lowercase().as_str()) {
            return Err("is too common; choose a less guessable password".into());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
#[serde(transparent)]
pub struct DisplayName(String);

impl DisplayName {
    pub const MAX_LEN: usize = 50;

    pub fn parse(raw: &str) -> Result<Self, String> {
        crate::text::clean_text(raw, Self::MAX_LEN, false).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
#[serde(transparent)]
pub struct Bio(String);

impl Bio {
    pub const MAX_LEN: usize = 150;

    pub fn parse(raw: &str) -> Result<Self, String> {
        crate::text::clean_text(raw, Self::MAX_LEN, true).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    #[default]
    User,
    Moderator,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Moderator => "moderator",
            Role::Admin => "admin",
        }
    }

    pub fn is_moderator(self) -> bool {
        matches!(self, Role::Moderator | Role::Admin)
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "user" => Ok(Role::User),
            "moderator" => Ok(Role::Moderator),
            "admin" => Ok(Role::Admin),
            other => Err(format!("unknown role '{other}' (user, moderator, admin)")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TrustLevel {
    #[default]
    New,
    Basic,
    Trusted,
    Verified,
}

impl TrustLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            TrustLevel::New => "new",
            TrustLevel::Basic => "basic",
            TrustLevel::Trusted => "trusted",
            TrustLevel::Verified => "verified",
        }
    }
}

impl FromStr for TrustLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "new" => Ok(TrustLevel::New),
            "basic" => Ok(TrustLevel::Basic),
            "trusted" => Ok(TrustLevel::Trusted),
            "verified" => Ok(TrustLevel::Verified),
            other => Err(format!("unknown trust level '{other}'")),
        }
    }
}

/// A stored account. `password_hash` never leaves the app layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub handle: String,
    pub email: String,
    pub password_hash: String,
    pub display_name: String,
    pub bio: String,
    pub avatar_media_id: Option<Uuid>,
    pub is_private: bool,
    pub role: Role,
    pub trust_level: TrustLevel,
    pub followers_count: i64,
    pub following_count: i64,
    pub posts_count: i64,
    pub created_at: OffsetDateTime,
}

/// Everything needed to insert an account; values are already validated.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: UserId,
    pub handle: Handle,
    pub email: Email,
    pub password_hash: String,
    pub display_name: DisplayName,
    pub role: Role,
    pub created_at: OffsetDateTime,
}

/// How a client names a user in a path: a UUID or `@handle`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserLookup {
    Id(UserId),
    Handle(String),
}

impl UserLookup {
    pub fn parse(raw: &str) -> Option<Self> {
        if let Some(handle) = raw.strip_prefix('@') {
            return Handle::parse(handle)
                .ok()
                .map(|h| UserLookup::Handle(h.canonical()));
        }
        Uuid::parse_str(raw)
            .ok()
            .map(|id| UserLookup::Id(UserId(id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handle_accepts_allowed_characters_and_lengths() {
        assert!(Handle::parse("ab").is_err());
        assert!(Handle::parse("abc").is_ok());
        assert!(Handle::parse(&"a".repeat(30)).is_ok());
        assert!(Handle::parse(&"a".repeat(31)).is_err());
        assert!(Handle::parse("jane.doe_99").is_ok());
        assert!(Handle::parse("jane-doe").is_err());
        assert!(Handle::parse("jané").is_err());
        assert_eq!(Handle::parse("Jane").unwrap().canonical(), "jane");
    }

    #[test]
    fn email_is_lowercased_and_structurally_checked() {
        assert_eq!(
            Email::parse("Jane@Example.COM").unwrap().as_str(),
            "jane@example.com"
        );
        for bad in [
            "",
            "jane",
            "jane@",
            "@example.com",
            "jane@example",
            "ja ne@example.com",
            "jane@exa_mple.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn password_policy_is_length_and_common_list_only() {
        assert!(Password::parse("short7!").is_err());
        assert!(Password::parse("password").is_err(), "common password");
        assert!(
            Password::parse("PASSWORD").is_err(),
            "common password in capitals"
        );
        assert!(Password::parse("qwertyuiop").is_err(), "common password");
        assert!(Password::parse("correct horse battery").is_ok());
        assert!(
            Password::parse("lowercaseonlyletters").is_ok(),
            "no composition rules"
        );
        assert!(
            Password::parse(&"é".repeat(256)).is_ok(),
            "counted in characters"
        );
        assert!(Password::parse(&"x".repeat(257)).is_err());
    }

    #[test]
    fn common_password_list_is_shipped_whole() {
        assert!(
            COMMON_PASSWORDS.len() >= 9_900,
            "{}",
            COMMON_PASSWORDS.len()
        );
    }

    #[test]
    fn user_lookup_parses_uuid_or_at_handle() {
        let id = Uuid::now_v7();
        assert_eq!(
            UserLookup::parse(&id.to_string()),
            Some(UserLookup::Id(UserId(id)))
        );
        assert_eq!(
            UserLookup::parse("@Jane"),
            Some(UserLookup::Handle("jane".into()))
        );
        assert_eq!(UserLookup::parse("jane"), None);
        assert_eq!(UserLookup::parse("@x"), None);
    }

    #[test]
    fn profile_text_is_bounded() {
        assert!(Bio::parse(&"b".repeat(150)).is_ok());
        assert!(Bio::parse(&"b".repeat(151)).is_err());
        assert_eq!(
            DisplayName::parse("  Jane Doe ").unwrap().as_str(),
            "Jane Doe"
        );
        assert!(DisplayName::parse(&"d".repeat(51)).is_err());
    }
}
