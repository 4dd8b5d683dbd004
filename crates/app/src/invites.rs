//! Invites: 12-character codes from an alphabet without look-alikes, valid for 7 days, as many
//! open at once as the inviter's trust level allows; and the invite tree moderators trace.

use picshare_domain::{TrustLevel, User, UserId, UserLookup};
use picshare_store::{Invite, InviteStats, NewInvite, Page, PageRequest};
use rand::Rng;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::Principal;
use crate::{App, AppError, AppResult};

/// No 0/O, 1/I/L: a code read aloud or copied by hand survives.
const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
pub const CODE_LEN: usize = 12;
pub const INVITE_LIFETIME: time::Duration = time::Duration::days(7);
/// Ancestors shown of an account's place in the invite tree, at most.
const MAX_TREE_DEPTH: usize = 50;

/// Open invites one account may hold at once, by trust level.
pub fn invite_quota(level: TrustLevel) -> u32 {
    match level {
        TrustLevel::New => 3,
        TrustLevel::Basic => 10,
        TrustLevel::Trusted => 50,
        TrustLevel::Verified => 200,
    }
}

fn new_code() -> String {
    let mut rng = rand::rng();
    (0..CODE_LEN)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// A code as typed: case and surrounding spaces do not matter.
pub fn normalize_code(code: &str) -> String {
    code.trim().to_ascii_uppercase()
}

/// Where an account stands in the invite tree.
#[derive(Debug, Clone)]
pub struct InviteTree {
    pub user: User,
    /// Who invited the account, then who invited them, up to the root (at most 50).
    pub invited_by: Vec<User>,
    /// The accounts it invited (one page).
    pub invitees: Page<User>,
}

impl App {
    pub async fn create_invite(&self, caller: Principal) -> AppResult<Invite> {
        let me = self.me(caller).await?;
        let now = OffsetDateTime::now_utc();
        let invite = NewInvite {
            id: Uuid::now_v7(),
            code: new_code(),
            inviter_id: me.id,
            created_at: now,
            expires_at: now + INVITE_LIFETIME,
        };
        self.store
            .create_invite(&invite, invite_quota(self.trust_level(me.id).await?))
            .await?
            .ok_or(AppError::Precondition(
                "you hold as many open invites as your trust level allows; revoke one or wait",
            ))
    }

    pub async fn invites(&self, caller: Principal, page: PageRequest) -> AppResult<Page<Invite>> {
        Ok(self.store.invites(caller.user_id, page).await?)
    }

    pub async fn invite_stats(&self, caller: Principal) -> AppResult<InviteStats> {
        Ok(self
            .store
            .invite_stats(caller.user_id, OffsetDateTime::now_utc())
            .await?)
    }

    /// Revokes one of the caller's unused invites (404 for anyone else's or a used one).
    pub async fn revoke_invite(&self, caller: Principal, code: &str) -> AppResult<()> {
        let code = normalize_code(code);
        let now = OffsetDateTime::now_utc();
        if self.store.revoke_invite(caller.user_id, &code, now).await? {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }

    /// The account's inviters up to the root and the accounts it invited (moderators).
    pub async fn invite_tree(
        &self,
        caller: Principal,
        user: UserId,
        page: PageRequest,
    ) -> AppResult<InviteTree> {
        self.require_moderator(caller).await?;
        let found = self.find_user(&UserLookup::Id(user)).await?;
        let mut invited_by = Vec::new();
        let mut next = self.store.inviter_of(user).await?;
        while let Some(inviter) = next {
            if invited_by.len() >= MAX_TREE_DEPTH {
                break;
            }
            let Some(account) = self.store.find_user(&UserLookup::Id(inviter)).await? else {
                break;
            };
            invited_by.push(account);
            next = self.store.inviter_of(inviter).await?;
        }
        let ids = self.store.invitees(user, page).await?;
        let accounts = self.users_by_id(&ids.items).await?;
        let invitees = Page {
            items: ids
                .items
                .iter()
                .filter_map(|id| accounts.get(id).cloned())
                .collect(),
            next: ids.next,
        };
        Ok(InviteTree {
            user: found,
            invited_by,
            invitees,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_twelve_characters_without_look_alikes() {
        for _ in 0..100 {
            let code = new_code();
            assert_eq!(code.len(), CODE_LEN);
            assert!(!code.contains(['0', 'O', '1', 'I', 'L']), "{code}");
            assert_eq!(normalize_code(&format!(" {} ", code.to_lowercase())), code);
        }
        assert_eq!(
            [
                TrustLevel::New,
                TrustLevel::Basic,
                TrustLevel::Trusted,
                TrustLevel::Verified
            ]
            .map(invite_quota),
            [3, 10, 50, 200]
        );
    }
}
