use async_trait::async_trait;
use picshare_domain::{Bio, DisplayName, NewUser, Role, User, UserId, UserLookup};
use uuid::Uuid;

use crate::StoreResult;

/// A profile change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    pub display_name: Option<DisplayName>,
    pub bio: Option<Bio>,
    pub avatar_media_id: Option<Option<Uuid>>,
    pub is_private: Option<bool>,
}

impl ProfileUpdate {
    pub fn is_empty(&self) -> bool {
        self.display_name.is_none()
            && self.bio.is_none()
            && self.avatar_media_id.is_none()
            && self.is_private.is_none()
    }
}

#[async_trait]
pub trait UserStore {
    /// Inserts an account; a taken handle or email is `StoreError::Conflict`.
    async fn create_user(&self, user: &NewUser) -> StoreResult<User>;

    async fn find_user(&self, lookup: &UserLookup) -> StoreResult<Option<User>>;

    /// The accounts among `ids` that exist (one query; duplicates allowed), in no order.
    async fn find_users(&self, ids: &[UserId]) -> StoreResult<Vec<User>>;

    /// Finds the account whose email or handle (case-insensitively) is `login`.
    async fn find_user_by_login(&self, login: &str) -> StoreResult<Option<User>>;

    /// Applies `update` and returns the account as it now is (`None` if it does not exist).
    async fn update_profile(&self, id: UserId, update: &ProfileUpdate)
    -> StoreResult<Option<User>>;

    async fn set_role(&self, id: UserId, role: Role) -> StoreResult<bool>;
}
