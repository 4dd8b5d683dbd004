//! The follow graph, posts and engagement: validated values and the visibility rules.

use std::collections::BTreeSet;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::UserId;

/// How two users stand to each other, seen from the first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relationship {
    pub following: bool,
    pub followed_by: bool,
    /// A follow request from the first to the second is pending.
    pub requested: bool,
    pub blocking: bool,
    pub blocked_by: bool,
}

impl Relationship {
    pub fn is_blocked_either_way(&self) -> bool {
        self.blocking || self.blocked_by
    }
}

/// Caps on the graph, held under concurrency by the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowCaps {
    pub max_following: i64,
    pub max_followers: i64,
}

impl Default for FollowCaps {
    fn default() -> Self {
        Self {
            max_following: 2000,
            max_followers: 2000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    Public,
    Followers,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Followers => "followers",
        }
    }
}

impl FromStr for Visibility {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "public" => Ok(Visibility::Public),
            "followers" => Ok(Visibility::Followers),
            _ => Err("must be \"public\" or \"followers\"".into()),
        }
    }
}

/// What a viewer may see of an author's posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostAccess {
    /// Blocked either way, or a private account the viewer does not follow.
    None,
    PublicOnly,
    All,
}

/// The rule, in one place: blocks hide everything; the author and approved followers see
/// everything; others see public posts of public accounts only.
pub fn post_access(
    viewer: Option<UserId>,
    author: UserId,
    author_is_private: bool,
    relationship: Relationship,
) -> PostAccess {
    if viewer == Some(author) {
        return PostAccess::All;
    }
    if relationship.is_blocked_either_way() {
        return PostAccess::None;
    }
    if relationship.following {
        return PostAccess::All;
    }
    if author_is_private {
        PostAccess::None
    } else {
        PostAccess::PublicOnly
    }
}

/// Whether anyone at all, signed in or not, may see a post: `post_access` for a stranger.
pub fn visible_to_anyone(author: UserId, author_is_private: bool, visibility: Visibility) -> bool {
    post_access(None, author, author_is_private, Relationship::default()).allows(visibility)
}

impl PostAccess {
    pub fn allows(self, visibility: Visibility) -> bool {
        match self {
            PostAccess::None => false,
            PostAccess::PublicOnly => visibility == Visibility::Public,
            PostAccess::All => true,
        }
    }
}

pub const MAX_CAPTION_CHARS: usize = 2200;
pub const MAX_COMMENT_CHARS: usize = 1000;
pub const MAX_POST_MEDIA: usize = 20;

pub fn parse_caption(raw: &str) -> Result<String, String> {
    crate::text::clean_text(raw, MAX_CAPTION_CHARS, true)
}

pub fn parse_comment(raw: &str) -> Result<String, String> {
    let text = crate::text::clean_text(raw, usize::MAX, true)?;
    if text.is_empty() || text.chars().count() > MAX_COMMENT_CHARS {
        return Err(format!("must be 1 to {MAX_COMMENT_CHARS} characters long"));
    }
    Ok(text)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub name: String,
    pub lat: f64,
    pub lon: f64,
}

impl Location {
    pub fn parse(name: &str, lat: f64, lon: f64) -> Result<Self, String> {
        let name = crate::text::clean_text(name, usize::MAX, false)
            .map_err(|err| format!("name {err}"))?;
        if name.is_empty() || name.chars().count() > 200 {
            return Err("name must be 1 to 200 characters long".into());
        }
        if !(-90.0..=90.0).contains(&lat) || !lat.is_finite() {
            return Err("lat must be between -90 and 90".into());
        }
        if !(-180.0..=180.0).contains(&lon) || !lon.is_finite() {
            return Err("lon must be between -180 and 180".into());
        }
        Ok(Self { name, lat, lon })
    }
}

/// `#hashtags` in a caption, lowercased, deduplicated, in order of appearance. Letters and
/// digits of any script count (`#café`, `#東京`), as does `_`.
pub fn hashtags(text: &str) -> Vec<String> {
    tokens(text, '#', |c| c.is_alphanumeric() || c == '_', 1, 100)
}

/// `@mentions` in a caption: handles (letters, digits, `_`, `.`), lowercased, deduplicated.
pub fn mentions(text: &str) -> Vec<String> {
    tokens(
        text,
        '@',
        |c| c.is_ascii_alphanumeric() || c == '_' || c == '.',
        3,
        30,
    )
    .into_iter()
    .map(|handle| handle.trim_end_matches('.').to_owned())
    .filter(|handle| handle.len() >= 3)
    .collect()
}

fn tokens(
    text: &str,
    sigil: char,
    word: impl Fn(char) -> bool,
    min: usize,
    max: usize,
) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut found = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let starts_word = i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        if chars[i] == sigil && starts_word {
            let body: String = chars[i + 1..].iter().take_while(|c| word(**c)).collect();
            let length = body.chars().count();
            if (min..=max).contains(&length) {
                let token = body.to_lowercase();
                if seen.insert(token.clone()) {
                    found.push(token);
                }
            }
            i += 1 + length;
        } else {
            i += 1;
        }
    }
    found
}

/// A comment as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub id: Uuid,
    pub post_id: Uuid,
    pub author_id: UserId,
    pub text: String,
    pub created_at: OffsetDateTime,
    pub taken_down: Option<crate::TakenDown>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashtags_are_unicode_aware_lowercased_and_unique() {
        assert_eq!(
            hashtags("Sunset #Beach #café #東京 #beach, #_x and#not #"),
            vec!["beach", "café", "東京", "_x"]
        );
    }

    #[test]
    fn mentions_are_handles() {
        assert_eq!(
            mentions("hi @Jane and @bob.smith. and @x, mail a@b.com"),
            vec!["jane", "bob.smith"]
        );
    }

    #[test]
    fn access_follows_blocks_privacy_and_following() {
        let author = UserId::generate();
        let viewer = Some(UserId::generate());
        let none = Relationship::default();
        let following = Relationship {
            following: true,
            ..none
        };
        let blocked = Relationship {
            blocked_by: true,
            following: true,
            ..none
        };
        assert_eq!(
            post_access(Some(author), author, true, none),
            PostAccess::All
        );
        assert_eq!(
            post_access(viewer, author, false, none),
            PostAccess::PublicOnly
        );
        assert_eq!(
            post_access(None, author, false, none),
            PostAccess::PublicOnly
        );
        assert_eq!(post_access(viewer, author, true, none), PostAccess::None);
        assert_eq!(
            post_access(viewer, author, true, following),
            PostAccess::All
        );
        assert_eq!(
            post_access(viewer, author, false, blocked),
            PostAccess::None
        );
        assert!(!PostAccess::PublicOnly.allows(Visibility::Followers));
    }

    #[test]
    fn text_limits() {
        assert!(parse_caption(&"c".repeat(2200)).is_ok());
        assert!(parse_caption(&"c".repeat(2201)).is_err());
        assert!(parse_comment("  ").is_err());
        assert!(parse_comment(&"é".repeat(1000)).is_ok());
        assert!(parse_comment(&"é".repeat(1001)).is_err());
        assert!(Location::parse("Paris", 48.85, 2.35).is_ok());
        assert!(Location::parse("Nowhere", 91.0, 0.0).is_err());
        assert!(Location::parse("Nowhere", 0.0, -180.5).is_err());
    }
}
