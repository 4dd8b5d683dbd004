//! Feed pages read recently, served again while their timeline's stamp is unchanged
//! (docs/feed.md, "Page cache"). The stamp is read from the database on every request, so a
//! block, unfollow, deletion, edit or like made through any instance shows on the next read;
//! only counters and authors' profiles may lag, by at most `FEED_PAGE_TTL`.

use std::sync::Arc;
use std::time::Duration;

use picshare_domain::UserId;
use picshare_store::{Page, PageRequest};
use uuid::Uuid;

use crate::posts::PostView;

/// How long a cached page is served at most: the bound on how stale its like, comment and
/// follower counts and its authors' names and avatars may be.
pub const FEED_PAGE_TTL: Duration = Duration::from_secs(2);

/// Posts held across all cached pages (a post with its author is about 2 KB).
const CACHED_POSTS: u64 = 32_768;

static LOOKUPS: picshare_store::CacheLookups = picshare_store::CacheLookups::new("feed_pages");

/// Viewer, cursor and page length.
type PageKey = (UserId, Option<Uuid>, u32);

struct CachedPage {
    stamp: String,
    page: Page<PostView>,
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
            .max_capacity(CACHED_POSTS)
            .weigher(|_, cached: &Arc<CachedPage>| cached.page.items.len() as u32 + 1)
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

    /// The page cached for this viewer and request, if it was cached under `stamp`.
    pub fn get(&self, viewer: UserId, request: PageRequest, stamp: &str) -> Option<Page<PostView>> {
        let cached = self
            .pages
            .as_ref()?
            .get(&key(viewer, request))
            .filter(|cached| cached.stamp == stamp);
        LOOKUPS.count(cached.is_some());
        cached.map(|cached| cached.page.clone())
    }

    /// Keeps `page`, read after the timeline's stamp was `stamp`.
    pub fn insert(
        &self,
        viewer: UserId,
        request: PageRequest,
        stamp: String,
        page: &Page<PostView>,
    ) {
        if let Some(pages) = &self.pages {
            let page = page.clone();
            pages.insert(key(viewer, request), Arc::new(CachedPage { stamp, page }));
        }
    }
}

fn key(viewer: UserId, request: PageRequest) -> PageKey {
    (viewer, request.after, request.limit)
}
