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
    /// How many names hold each word, sorted by word; empty where the store keeps no counts
    /// (`name_word_counts`).
    name_counts: Vec<(String, u32)>,
    complete_until: OffsetDateTime,
}

impl Words {
    /// How many held words start with `prefix`.
    pub fn count_starting_with(&self, prefix: &str) -> u64 {
        sorted_starting_with(&self.sorted, prefix).len() as u64
    }

    /// How many names hold a word starting with `prefix` (a name with two such words counts
    /// twice), as last read.
    pub fn names_starting_with(&self, prefix: &str) -> u64 {
        let from = self
            .name_counts
            .partition_point(|(word, _)| word.as_str() < prefix);
        self.name_counts[from..]
            .iter()
            .take_while(|(word, _)| word.starts_with(prefix))
            .map(|(_, names)| u64::from(*names))
            .sum()
    }

    /// How many names hold `word`, as last read.
    pub fn names_with(&self, word: &str) -> u64 {
        self.name_counts
            .binary_search_by(|(held, _)| held.as_str().cmp(word))
            .map_or(0, |at| u64::from(self.name_counts[at].1))
    }
}

/// Every word there is: those held and those added since.
pub struct Dictionary {
    pub held: Arc<Words>,
    /// Sorted, deduplicated.
    pub recent: Vec<String>,
    /// False when more words were added since than a search reads (`MAX_RECENT`): then what
    /// the dictionary lacks may still exist.
    complete: bool,
}

impl Dictionary {
    /// The held words alone, as if none had been added since they were read: what it rules
    /// out, only every word can confirm.
    pub fn held_only(held: Arc<Words>) -> Self {
        Self {
            held,
            recent: Vec::new(),
            complete: true,
        }
    }

    /// Whether `word` may be a word: false only when it certainly is none.
    pub fn may_contain(&self, word: &str) -> bool {
        !self.complete
            || self
                .held
                .sorted
                .binary_search_by(|w| w.as_str().cmp(word))
                .is_ok()
            || self
                .recent
                .binary_search_by(|w| w.as_str().cmp(word))
                .is_ok()
    }

    /// Whether a word may start with `prefix`: false only when none certainly does.
    pub fn may_start_with(&self, prefix: &str) -> bool {
        !self.complete
            || !sorted_starting_with(&self.held.sorted, prefix).is_empty()
            || !sorted_starting_with(&self.recent, prefix).is_empty()
    }
}

/// The words of a sorted list that start with `prefix`.
fn sorted_starting_with<'a>(sorted: &'a [String], prefix: &str) -> &'a [String] {
    let from = sorted.partition_point(|word| word.as_str() < prefix);
    let len = sorted[from..].partition_point(|word| word.starts_with(prefix));
    &sorted[from..from + len]
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
                name_counts: Vec::new(),
                complete_until: OffsetDateTime::UNIX_EPOCH,
            })),
            first_load: OnceCell::new(),
        })
    }

    /// Every word: `held` (`held_words`) and the words added since they were read.
    pub async fn with_added(
        &self,
        store: &Arc<dyn Store>,
        held: Arc<Words>,
    ) -> StoreResult<Dictionary> {
        let added = store
            .name_words_since(held.complete_until, MAX_RECENT)
            .await?;
        let complete = added.len() < MAX_RECENT as usize;
        let mut recent: Vec<String> = added.into_iter().map(|(word, _)| word).collect();
        recent.sort_unstable();
        recent.dedup();
        Ok(Dictionary {
            held,
            recent,
            complete,
        })
    }

    /// The held words alone (without those added since they were read), loaded at first use.
    pub async fn held_words(self: &Arc<Self>, store: &Arc<dyn Store>) -> StoreResult<Arc<Words>> {
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
        Ok(self.held())
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
        let mut name_counts = store.name_word_counts(MAX_WORDS).await?;
        // Millions of words are a CPU job, not an executor one.
        let (sorted, name_counts) = tokio::task::spawn_blocking(move || {
            sorted.sort_unstable();
            sorted.dedup();
            name_counts.sort_unstable();
            (sorted, name_counts)
        })
        .await
        .unwrap_or_default();
        let words = Arc::new(Words {
            sorted,
            name_counts,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn dictionary(held: &[&str], recent: &[&str], complete: bool) -> Dictionary {
        let sorted = |words: &[&str]| {
            let mut words: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
            words.sort();
            words
        };
        Dictionary {
            held: Arc::new(Words {
                sorted: sorted(held),
                name_counts: vec![
                    ("garcia".to_owned(), 40),
                    ("maria".to_owned(), 7),
                    ("mario".to_owned(), 3),
                ],
                complete_until: OffsetDateTime::UNIX_EPOCH,
            }),
            recent: sorted(recent),
            complete,
        }
    }

    #[test]
    fn words_are_found_among_held_and_recent_ones() {
        let words = dictionary(
            &["garcia", "maria", "maria_lopez7", "mario"],
            &["zoe"],
            true,
        );
        assert!(words.may_contain("maria"));
        assert!(words.may_contain("zoe"));
        assert!(!words.may_contain("mari"));
        assert!(words.may_start_with("mari"));
        assert!(words.may_start_with("zo"));
        assert!(words.may_start_with("garcia"));
        assert!(!words.may_start_with("garcias"));
        assert!(!words.may_start_with("gacria"));
        assert_eq!(words.held.count_starting_with("mari"), 3);
        assert_eq!(words.held.count_starting_with("maria"), 2);
        assert_eq!(words.held.count_starting_with("b"), 0);
        assert_eq!(words.held.names_starting_with("mari"), 10);
        assert_eq!(words.held.names_starting_with("maria"), 7);
        assert_eq!(words.held.names_starting_with("gar"), 40);
        assert_eq!(words.held.names_starting_with("zoe"), 0);
        assert_eq!(words.held.names_with("mari"), 0);
        assert_eq!(words.held.names_with("mario"), 3);
    }

    #[test]
    fn an_incomplete_dictionary_rules_nothing_out() {
        let words = dictionary(&["maria"], &[], false);
        assert!(words.may_contain("gacria"));
        assert!(words.may_start_with("gacria"));
    }
}
