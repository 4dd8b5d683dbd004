//! Sign-up, profiles and account administration.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use picshare_domain::{
    Bio, DisplayName, Email, Handle, NewUser, Password, Role, User, UserId, UserLookup,
    ValidationErrors,
};
use picshare_domain::{MediaPurpose, MediaStatus};
use picshare_store::{CacheLookups, ProfileUpdate};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::Principal;
use crate::media_urls::ImageView;
use crate::throttle::{ThrottleKey, network_of};
use crate::{App, AppError, AppResult};

/// Sign-up input as the client sent it; validated by [`App::sign_up`].
#[derive(Debug, Clone, Default)]
pub struct SignUp {
    pub handle: String,
    pub email: String,
    pub password: String,
    pub display_name: Option<String>,
    pub invite_code: Option<String>,
}

/// A profile change as the client sent it. `avatar_media_id: Some(None)` clears the avatar.
#[derive(Debug, Clone, Default)]
pub struct ProfileChange {
    pub display_name: Option<String>,
    pub bio: Option<String>,
    pub avatar_media_id: Option<Option<Uuid>>,
    pub is_private: Option<bool>,
}

impl App {
    /// Creates an account from the sign-up form. Sign-ups are counted per address (IPv6: per
    /// /64) before the password is hashed, so a flood from one client costs one counter lookup
    /// each and leaves the hashing pool to everyone else's logins.
    pub async fn sign_up(&self, input: SignUp, client_ip: IpAddr) -> AppResult<User> {
        if self.settings.rate_limits {
            self.limiter
                .begin_attempt(&[ThrottleKey {
                    key: format!("signup-ip:{}", network_of(client_ip)),
                    limit: self.settings.signups_per_ip,
                    window: self.settings.signup_window,
                }])
                .await?;
        }
        self.create_account(input, Role::User, true).await
    }

    /// Creates an account with any role, bypassing invite-only mode (operator command).
    pub async fn create_account_as_admin(&self, input: SignUp, role: Role) -> AppResult<User> {
        self.create_account(input, role, false).await
    }

    async fn create_account(
        &self,
        input: SignUp,
        role: Role,
        check_invite: bool,
    ) -> AppResult<User> {
        let mut errors = ValidationErrors::default();
        let handle = errors.check("handle", Handle::parse(&input.handle));
        let email = errors.check("email", Email::parse(&input.email));
        let password = errors.check("password", Password::parse(&input.password));
        let display_name = errors.check(
            "display_name",
            DisplayName::parse(input.display_name.as_deref().unwrap_or_default()),
        );
        let (Some(handle), Some(email), Some(password), Some(display_name)) =
            (handle, email, password, display_name)
        else {
            return Err(errors.into());
        };
        let code = input
            .invite_code
            .as_deref()
            .map(crate::invites::normalize_code)
            .filter(|code| !code.is_empty() && check_invite);
        if check_invite && self.settings.invite_only && code.is_none() {
            return Err(AppError::InviteRequired);
        }

        let password_hash = self.hasher.hash(password.expose()).await?;
        let new = NewUser {
            id: UserId::generate(),
            handle,
            email,
            password_hash,
            display_name,
            role,
            created_at: OffsetDateTime::now_utc(),
        };
        // A code given is spent with the sign-up (also where invites are optional, so the
        // invite tree is kept); an unknown, used, revoked or expired one refuses it.
        let user = match code {
            Some(code) => self
                .store
                .create_invited_user(&new, &code)
                .await?
                .ok_or(AppError::InviteRequired)?,
            None => self.store.create_user(&new).await?,
        };
        metrics::counter!("picshare_signups_total").increment(1);
        Ok(user)
    }

    pub async fn find_user(&self, lookup: &UserLookup) -> AppResult<User> {
        self.store
            .find_user(lookup)
            .await?
            .ok_or(AppError::NotFound)
    }

    /// Changes the caller's own profile; anyone else's is forbidden.
    pub async fn update_profile(
        &self,
        caller: Principal,
        target: &UserLookup,
        change: ProfileChange,
    ) -> AppResult<User> {
        let target = self.find_user(target).await?;
        if target.id != caller.user_id {
            return Err(AppError::Forbidden("you can only change your own profile"));
        }
        let mut errors = ValidationErrors::default();
        if let Some(Some(media_id)) = change.avatar_media_id
            && !self.is_ready_avatar_of(caller, media_id).await?
        {
            errors.check::<()>(
                "avatar_media_id",
                Err("must be a ready avatar upload of yours".into()),
            );
        }
        let update = ProfileUpdate {
            display_name: change
                .display_name
                .and_then(|name| errors.check("display_name", DisplayName::parse(&name))),
            bio: change
                .bio
                .and_then(|bio| errors.check("bio", Bio::parse(&bio))),
            avatar_media_id: change.avatar_media_id,
            is_private: change.is_private,
        };
        errors.into_result()?;
        if update.is_empty() {
            return Ok(target);
        }
        self.store
            .update_profile(target.id, &update)
            .await?
            .ok_or(AppError::NotFound)
    }
}

impl App {
    async fn is_ready_avatar_of(&self, caller: Principal, media_id: Uuid) -> AppResult<bool> {
        Ok(self.store.find_media(media_id).await?.is_some_and(|media| {
            media.owner_id == caller.user_id
                && media.purpose == MediaPurpose::Avatar
                && media.status == MediaStatus::Ready
        }))
    }

    /// The avatar to show for `user`, if it has one that is ready.
    pub async fn avatar_of(&self, user: &User) -> AppResult<Option<ImageView>> {
        Ok(self.avatars_of(&[user]).await?.remove(&user.id))
    }

    /// The avatars to show for `users`, by user: those looked up recently, and the rest in one
    /// query, however many users a page shows.
    pub async fn avatars_of(&self, users: &[&User]) -> AppResult<HashMap<UserId, ImageView>> {
        let mut views = HashMap::new();
        let mut missing: HashMap<Uuid, Vec<UserId>> = HashMap::new();
        for user in users {
            let Some(media_id) = user.avatar_media_id else {
                continue;
            };
            match self.avatars.get(&media_id) {
                Some(view) => {
                    views.insert(user.id, view);
                }
                None => missing.entry(media_id).or_default().push(user.id),
            }
        }
        let ids: Vec<Uuid> = missing.keys().copied().collect();
        for media in self.store.find_media_by_ids(&ids).await? {
            let Some(variant) = media.variants.iter().find(|v| v.name == "avatar") else {
                continue;
            };
            // Avatars are public: whoever sees the profile sees the picture.
            let view = self.image_view(variant, true).await?;
            self.avatars.insert(media.id, view.clone());
            for user in missing.get(&media.id).into_iter().flatten() {
                views.insert(*user, view.clone());
            }
        }
        Ok(views)
    }
}

/// How long a looked-up avatar or account is reused: as long as a cached feed page may show an
/// old profile (`FEED_PAGE_TTL`). A ready avatar's variants never change; the limit bounds how
/// long one whose media was deleted, or a profile since edited, is still shown.
const RECENT_TTL: std::time::Duration = crate::feed_pages::FEED_PAGE_TTL;

/// Values looked up recently, by key, for `RECENT_TTL` (`off()` without in-process caches).
#[derive(Clone)]
pub struct Recent<K, V> {
    values: Option<moka::sync::Cache<K, V>>,
    /// Its hits and misses in `/metrics`.
    lookups: Arc<CacheLookups>,
}

/// Avatars looked up recently, by media id: a page of posts shows one per author.
pub type AvatarViews = Recent<Uuid, ImageView>;

/// Accounts read recently, by id: events and their lists show the same senders and actors
/// again and again.
pub type RecentUsers = Recent<UserId, User>;

impl<K, V> Recent<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A cache named `name` in `/metrics`.
    pub fn new(name: &'static str) -> Self {
        Self::with_ttl(name, RECENT_TTL)
    }

    /// Values kept for `ttl` instead of `RECENT_TTL`.
    pub fn with_ttl(name: &'static str, ttl: std::time::Duration) -> Self {
        let values = moka::sync::Cache::builder()
            .max_capacity(100_000)
            .time_to_live(ttl)
            .build();
        Self {
            values: Some(values),
            lookups: Arc::new(CacheLookups::new(name)),
        }
    }

    pub fn off() -> Self {
        Self {
            values: None,
            lookups: Arc::new(CacheLookups::new("off")),
        }
    }

    pub(crate) fn get(&self, key: &K) -> Option<V> {
        let found = self.values.as_ref()?.get(key);
        self.lookups.count(found.is_some());
        found
    }

    pub(crate) fn insert(&self, key: K, value: V) {
        if let Some(values) = &self.values {
            values.insert(key, value);
        }
    }

    pub(crate) fn remove(&self, key: &K) {
        if let Some(values) = &self.values {
            values.invalidate(key);
        }
    }
}

impl App {
    /// The accounts among `ids` that exist, by id: those read in the last moments, and the rest
    /// in one query.
    pub async fn users_by_id(&self, ids: &[UserId]) -> AppResult<HashMap<UserId, User>> {
        let mut found = HashMap::with_capacity(ids.len());
        let mut missing = Vec::new();
        // A deletion reaches every process at once; a cached account may predate it.
        for id in ids.iter().filter(|id| !self.suspensions.is_deleted(**id)) {
            match self.recent_users.get(id) {
                Some(user) => {
                    found.insert(*id, user);
                }
                None => missing.push(*id),
            }
        }
        missing.sort();
        missing.dedup();
        if !missing.is_empty() {
            for user in self.store.find_users(&missing).await? {
                self.recent_users.insert(user.id, user.clone());
                found.insert(user.id, user);
            }
        }
        Ok(found)
    }
}
