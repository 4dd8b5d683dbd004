//! Hit ratio of the in-process caches, for `/metrics`.

use std::sync::OnceLock;

/// One cache's lookups as `picshare_cache_lookups_total{cache, result}`; its hit ratio is its
/// `hit` lookups over all of them. The two counters are registered on the first lookup (by
/// then the process's recorder is installed) and are then a plain atomic add on the hot path.
pub struct CacheLookups {
    name: &'static str,
    counters: OnceLock<(metrics::Counter, metrics::Counter)>,
}

impl CacheLookups {
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            counters: OnceLock::new(),
        }
    }

    pub fn count(&self, hit: bool) {
        let (hits, misses) = self.counters.get_or_init(|| {
            let counter = |result: &'static str| {
                metrics::counter!("picshare_cache_lookups_total", "cache" => self.name, "result" => result)
            };
            (counter("hit"), counter("miss"))
        });
        if hit {
            hits.increment(1);
        } else {
            misses.increment(1);
        }
    }
}
