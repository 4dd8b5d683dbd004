//! Devices accounts register, by a fingerprint the client computes. It is stored only as an
//! HMAC under a server key, so the table cannot be matched against fingerprints from elsewhere;
//! many accounts on one device raise each one's risk score (`picshare_domain::trust`).

use std::collections::HashMap;
use std::time::Duration;

use hmac::{Hmac, Mac};
use picshare_domain::{UserId, ValidationErrors};
use picshare_store::{Device, Page, PageRequest};
use sha2::Sha256;
use time::OffsetDateTime;

use crate::auth::Principal;
use crate::throttle::ThrottleKey;
use crate::{App, AppError, AppResult};

/// Devices kept per account (the least recently seen go first).
pub const DEVICES_KEPT: u32 = 20;
/// Registrations one account may make per hour (a cost bound: always on).
pub const REGISTRATIONS_PER_HOUR: u32 = 60;
const FINGERPRINT_LENGTH: std::ops::RangeInclusive<usize> = 8..=512;

pub struct FingerprintKey {
    mac: Hmac<Sha256>,
}

impl FingerprintKey {
    pub fn new(key: [u8; 32]) -> AppResult<Self> {
        Ok(Self {
            mac: Hmac::new_from_slice(&key).map_err(AppError::internal)?,
        })
    }

    fn hash(&self, fingerprint: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(fingerprint.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }
}

impl App {
    /// Records that the caller uses this device (again); `true` when it is new to the account.
    pub async fn register_device(
        &self,
        caller: Principal,
        fingerprint: &str,
    ) -> AppResult<(Device, bool)> {
        let fingerprint = fingerprint.trim();
        if !FINGERPRINT_LENGTH.contains(&fingerprint.chars().count()) {
            return Err(ValidationErrors::single(
                "fingerprint",
                format!(
                    "must be {} to {} characters",
                    FINGERPRINT_LENGTH.start(),
                    FINGERPRINT_LENGTH.end()
                ),
            )
            .into());
        }
        self.me(caller).await?;
        self.limiter
            .begin_attempt(&[ThrottleKey {
                key: format!("device-register:{}", caller.user_id),
                limit: REGISTRATIONS_PER_HOUR,
                window: Duration::from_secs(3600),
            }])
            .await?;
        let device = self
            .store
            .register_device(
                caller.user_id,
                &self.devices.hash(fingerprint),
                OffsetDateTime::now_utc(),
                DEVICES_KEPT,
            )
            .await?;
        self.standing_changed(caller.user_id);
        Ok(device)
    }

    pub async fn devices(&self, caller: Principal, page: PageRequest) -> AppResult<Page<Device>> {
        Ok(self.store.devices(caller.user_id, page).await?)
    }

    /// Each account's risk score (0 for accounts without devices), for moderators' views.
    pub(crate) async fn risk_scores(&self, users: &[UserId]) -> AppResult<HashMap<UserId, u8>> {
        let shared = self.store.other_accounts_on_device(users).await?;
        Ok(users
            .iter()
            .map(|user| {
                let others = shared.get(user).copied().unwrap_or(0);
                (*user, picshare_domain::trust::risk_score(others))
            })
            .collect())
    }
}
