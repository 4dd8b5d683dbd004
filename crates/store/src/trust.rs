//! What trust levels are assessed from, admin verification, and the devices accounts register.

use std::collections::HashMap;

use async_trait::async_trait;
use picshare_domain::{TrustRecord, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{ModerationAct, Page, PageRequest, StoreResult};

/// A device an account registered; its fingerprint is kept only as a keyed hash, never shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub id: Uuid,
    pub first_seen_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
}

#[async_trait]
pub trait TrustStore {
    /// The account's record, with its standing strikes since `strikes_since`; `None` when there
    /// is no such user.
    async fn trust_record(
        &self,
        user: UserId,
        strikes_since: OffsetDateTime,
    ) -> StoreResult<Option<TrustRecord>>;

    /// Verifies the account (or withdraws its verification), with its audit line; false when
    /// there is no such user or it is so already.
    async fn set_verified(
        &self,
        user: UserId,
        verified: bool,
        act: &ModerationAct,
    ) -> StoreResult<bool>;

    /// Records that `user` uses the device with this fingerprint hash (seen again: its
    /// `last_seen_at` moves), keeping the account's `keep` most recently seen devices; raises
    /// the shared-device count of every account on it (never lowered, also when devices go);
    /// `true` when the device is new to the account. Registrations of one fingerprint by
    /// several accounts at once each count the others.
    async fn register_device(
        &self,
        user: UserId,
        fingerprint_hash: &str,
        now: OffsetDateTime,
        keep: u32,
    ) -> StoreResult<(Device, bool)>;

    /// The account's devices, newest first.
    async fn devices(&self, user: UserId, page: PageRequest) -> StoreResult<Page<Device>>;

    /// For each of `users` that ever shared a device: the most other accounts seen on one.
    async fn other_accounts_on_device(&self, users: &[UserId])
    -> StoreResult<HashMap<UserId, u32>>;
}
