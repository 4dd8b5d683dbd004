//! Feed pages read recently, kept as the API rendered them and served again while their
//! timeline's stamp is unchanged (docs/feed.md, "Page cache"): a hit copies no post and renders
//! no JSON. The stamp is read from the database on every request, so a
//! block, unfollow, deletion, edit or like made through any instance shows on the next read;
//! only counters and authors' profiles may lag, by at most `FEED_PAGE_TTL`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use picshare_domain::UserId;
use picshare_store::PageRequest;
use uuid::Uuid;

/// How long a cached page is served at most: the bound on how stale its like, comment and
/// follower counts and its authors' names and avatars may be.
pub const FEED_PAGE_TTL: Duration = Duration::from_secs(2);

/// Bytes of rendered pages held, at most (a post with its author renders to about 1 KB).
const CACHED_BYTES: u64 = 32 << 20;

static LOOKUPS: picshare_store::CacheLookups = picshare_store::CacheLookups::new("feed_pages");

/// Viewer, cursor and page length.
type PageKey = (UserId, Option<Uuid>, u32);

struct CachedPage {
    stamp: String,
    body: Bytes,
}

/// An in-process cache of feed pages; `off()` caches nothing.
#[derive(Clone)]
pub struct FeedPages {
    pages: Option<moka::sync::Cache<PageKey, Arc<CachedPage>>>,
}

impl Default for FeedPages {
    fn default() -> Self {
        Self::new()
    }
}

impl FeedPages {
    pub fn new() -> Self {
        let pages = moka::sync::Cache::builder()
            .max_capacity(CACHED_BYTES)
            .weigher(|_, cached: &Arc<CachedPage>| {
                u32::try_from(cached.body.len()).unwrap_or(u32::MAX)
            })
            .time_to_live(FEED_PAGE_TTL)
            .build();
        Self { pages: Some(pages) }
    }

    pub fn off() -> Self {
        Self { pages: None }
    }

    pub fn enabled(&self) -> bool {
        self.pages.is_some()
    }

    /// The page rendered for this viewer and request, if it was cached under `stamp`.
    pub fn get(&self, viewer: UserId, request: PageRequest, stamp: &str) -> Option<Bytes> {
        let cached = self
            .pages
            .as_ref()?
            .get(&key(viewer, request))
            .filter(|cached| cached.stamp == stamp);
        LOOKUPS.count(cached.is_some());
        cached.map(|cached| cached.body.clone())
    }

    /// Keeps `body`, a page read after the timeline's stamp was `stamp`.
    pub fn insert(&self, viewer: UserId, request: PageRequest, stamp: String, body: Bytes) {
        if let Some(pages) = &self.pages {
            pages.insert(key(viewer, request), Arc::new(CachedPage { stamp, body }));
        }
    }
}

fn key(viewer: UserId, request: PageRequest) -> PageKey {
    (viewer, request.after, request.limit)
}
