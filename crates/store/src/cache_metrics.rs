//! Hit ratio of the in-process caches, for `/metrics`.

/// Counts one lookup in an in-process cache as `picshare_cache_lookups_total{cache, result}`;
/// a cache's hit ratio is its `hit` lookups over all of its lookups.
pub fn count_lookup(cache: &'static str, hit: bool) {
    let result = if hit { "hit" } else { "miss" };
    metrics::counter!("picshare_cache_lookups_total", "cache" => cache, "result" => result)
        .increment(1);
}
