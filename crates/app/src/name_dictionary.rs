//! The words people are found by with typos (`name_words`: handles and name words), held sorted
//! in each API process so that a typo-tolerant search walks them in memory
//! (`search::beginnings_within_typos`) instead of asking the database to judge every similar
//! row. Each search also reads the words added since the held list was read, so a new name is
//! found at once through every instance; the whole list is read again every `RELOAD_EVERY`.

use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use picshare_store::{Store, StoreResult};
use time::OffsetDateTime;
use tokio::sync::OnceCell;

/// How often each process reads the whole list again.
pub const RELOAD_EVERY: Duration = Duration::from_secs(300);
/// A list read at `t` is taken to hold the words added until `t - OVERLAP`; later ones are read
/// with each search. Covers a transaction slow to commit and an instance whose clock is behind.
const OVERLAP: time::Duration = time::Duration::seconds(60);
/// A process holds at most this many words (a few tens of bytes each).
pub const MAX_WORDS: u32 = 2_000_000;
/// A search reads at most this many words added since the list was read.
pub const MAX_RECENT: u32 = 10_000;

/// Sorted words, with every word added until `complete_until` among them (none at first).
pub struct Words {
    pub sorted: Vec<String>,
    complete_until: OffsetDateTime,
}

pub struct NameDictionary {
    /// Never held across an `.await`.
    held: RwLock<Arc<Words>>,
    first_load: OnceCell<()>,
}

impl NameDictionary {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            held: RwLock::new(Arc::new(Words {
                sorted: Vec::new(),
                complete_until: OffsetDateTime::UNIX_EPOCH,
            })),
            first_load: OnceCell::new(),
        })
    }

    /// The held words, and the words added since they were read (sorted too); the first call
    /// reads the list and keeps it fresh from then on.
    pub async fn words(
        self: &Arc<Self>,
        store: &Arc<dyn Store>,
    ) -> StoreResult<(Arc<Words>, Vec<String>)> {
        self.first_load
            .get_or_try_init(|| async {
                self.reload(store.as_ref()).await?;
                tokio::spawn(Self::keep_loaded(
                    Arc::downgrade(self),
                    Arc::downgrade(store),
                ));
                StoreResult::Ok(())
            })
            .await?;
        let held = self.held();
        let added = store
            .name_words_since(held.complete_until, MAX_RECENT)
            .await?;
        let mut recent: Vec<String> = added.into_iter().map(|(word, _)| word).collect();
        recent.sort_unstable();
        recent.dedup();
        Ok((held, recent))
    }

    fn held(&self) -> Arc<Words> {
        self.held.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    async fn reload(&self, store: &dyn Store) -> StoreResult<()> {
        let read_at = OffsetDateTime::now_utc();
        let rows = store
            .name_words_since(OffsetDateTime::UNIX_EPOCH, MAX_WORDS)
            .await?;
        // Past the bound, the words after the last one held are read with each search.
        let complete_until = match rows.len() >= MAX_WORDS as usize {
            true => rows.last().map_or(read_at, |(_, at)| *at),
            false => read_at - OVERLAP,
        };
        let mut sorted: Vec<String> = rows.into_iter().map(|(word, _)| word).collect();
        // Millions of words are a CPU job, not an executor one.
        let sorted = tokio::task::spawn_blocking(move || {
            sorted.sort_unstable();
            sorted.dedup();
            sorted
        })
        .await
        .unwrap_or_default();
        let words = Arc::new(Words {
            sorted,
            complete_until,
        });
        *self.held.write().unwrap_or_else(|e| e.into_inner()) = words;
        Ok(())
    }

    /// Reads the list again every `RELOAD_EVERY` for as long as both it and the store are in
    /// use (the task holds neither alive).
    async fn keep_loaded(dictionary: Weak<Self>, store: Weak<dyn Store>) {
        loop {
            tokio::time::sleep(RELOAD_EVERY).await;
            let (Some(this), Some(db)) = (dictionary.upgrade(), store.upgrade()) else {
                return;
            };
            if let Err(err) = this.reload(db.as_ref()).await {
                tracing::warn!(error = %err, "reloading the name dictionary failed");
            }
        }
    }
}
