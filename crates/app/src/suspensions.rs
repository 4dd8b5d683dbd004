//! The accounts suspended right now, held in every API process so that each authenticated
//! request is checked without a round trip: a suspension made through any instance reaches the
//! others through the event bus at once, and each process reloads the whole set from the
//! database every `RELOAD_EVERY` in case a message was lost (Redis away). Deleted accounts are
//! in it too, suspended until `DELETED`, until their rows are gone (docs/api.md, "Deleting an
//! account").

use std::collections::HashMap;
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use picshare_domain::UserId;
use picshare_store::Store;
use time::{OffsetDateTime, PrimitiveDateTime};

/// How often each process reloads the suspended accounts from the database.
pub const RELOAD_EVERY: Duration = Duration::from_secs(30);

/// The suspension of a deleted account: for good. Its tokens are refused as unknown, and
/// whatever shows accounts leaves it out.
pub const DELETED: OffsetDateTime = PrimitiveDateTime::MAX.assume_utc();

#[derive(Default)]
pub struct Suspensions {
    /// Never held across an `.await`.
    state: RwLock<State>,
}

#[derive(Default)]
struct State {
    /// Suspended accounts and the end of each suspension.
    until: HashMap<UserId, OffsetDateTime>,
    /// Changes heard since the last reload began, with when: a reload's read may predate them.
    changes: HashMap<UserId, (Instant, Option<OffsetDateTime>)>,
}

impl Suspensions {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The end of the user's suspension, if it runs past `now`.
    pub fn until(&self, user: UserId, now: OffsetDateTime) -> Option<OffsetDateTime> {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        state.until.get(&user).copied().filter(|end| *end > now)
    }

    /// Whether the account is deleted (its row not yet gone).
    pub fn is_deleted(&self, user: UserId) -> bool {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        state.until.get(&user) == Some(&DELETED)
    }

    /// Records a suspension (`Some`) or its lifting (`None`).
    pub fn set(&self, user: UserId, until: Option<OffsetDateTime>) {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        match until {
            Some(end) => state.until.insert(user, end),
            None => state.until.remove(&user),
        };
        state.changes.insert(user, (Instant::now(), until));
    }

    /// Replaces the whole set with the database's as read from `read_at` on (suspensions that
    /// ended fall out); changes heard since `read_at` stand, as the read may predate them.
    pub fn replace_all(&self, current: Vec<(UserId, OffsetDateTime)>, read_at: Instant) {
        let mut fresh: HashMap<_, _> = current.into_iter().collect();
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        state.changes.retain(|_, (at, _)| *at >= read_at);
        for (user, (_, until)) in &state.changes {
            match until {
                Some(end) => fresh.insert(*user, *end),
                None => fresh.remove(user),
            };
        }
        state.until = fresh;
    }

    /// Loads the set now, then reloads it every `RELOAD_EVERY` for as long as both the set and
    /// the store are in use (the task holds neither alive).
    pub async fn keep_loaded(set: Weak<Self>, store: Weak<dyn Store>) {
        loop {
            let (Some(this), Some(db)) = (set.upgrade(), store.upgrade()) else {
                return;
            };
            let read_at = Instant::now();
            match current(db.as_ref()).await {
                Ok(current) => this.replace_all(current, read_at),
                Err(err) => tracing::warn!(error = %err, "reloading suspensions failed"),
            }
            drop((this, db));
            tokio::time::sleep(RELOAD_EVERY).await;
        }
    }
}

/// The suspended and the deleted accounts, as the database has them now.
async fn current(db: &dyn Store) -> picshare_store::StoreResult<Vec<(UserId, OffsetDateTime)>> {
    let mut current = db.suspensions(OffsetDateTime::now_utc()).await?;
    let deleted = db.deleted_accounts().await?;
    current.extend(deleted.into_iter().map(|user| (user, DELETED)));
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_suspension_holds_until_its_end_and_a_reload_drops_lifted_ones() {
        let set = Suspensions::default();
        let (alice, bob) = (UserId::generate(), UserId::generate());
        let now = OffsetDateTime::now_utc();
        let end = now + time::Duration::hours(1);
        set.set(alice, Some(end));
        assert_eq!(set.until(alice, now), Some(end));
        assert_eq!(set.until(alice, end), None, "over at its end");
        assert_eq!(set.until(bob, now), None);
        set.replace_all(vec![(bob, end)], Instant::now());
        assert_eq!(
            (set.until(alice, now), set.until(bob, now)),
            (None, Some(end))
        );
        set.set(bob, None);
        assert_eq!(set.until(bob, now), None);
        // A reload whose read began before a change does not undo it.
        let stale_read = Instant::now();
        set.set(alice, Some(end));
        set.set(bob, None);
        set.replace_all(vec![(bob, end)], stale_read);
        assert_eq!(
            (set.until(alice, now), set.until(bob, now)),
            (Some(end), None)
        );
    }
}
