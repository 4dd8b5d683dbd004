//! Feed pages read recently, kept as the API rendered them and served again while their
//! timeline's stamp is unchanged (docs/feed.md, "Page cache"): a hit copies no post and renders
//! no JSON. The stamp is read from the database on every request, so a
//! block, unfollow, deletion, edit or like made through any instance shows on the next read;
//! only counters and authors' profiles may lag, by at most `FEED_PAGE_TTL`: a page older than
//! that is served again only once its counts read from the database are found unchanged.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use picshare_domain::UserId;
use picshare_store::{PageCounts, PageRequest};
use uuid::Uuid;

/// How long a cached page is served on its stamp alone. After that its counts are read again
/// (`TimelineStore::page_counts`) before it is served: the bound on how stale its like, comment
/// and follower counts and its authors' names and avatars may be.
pub const FEED_PAGE_TTL: Duration = Duration::from_secs(2);

/// How long a page is served at most, however often its counts are found unchanged: the bound
/// on the age of its signed media links (`MediaUrls` signs new ones this much sooner) and of an
/// avatar that finished processing since.
pub const FEED_PAGE_MAX_AGE: Duration = Duration::from_secs(30);

/// Bytes of rendered pages held, at most (a post with its author renders to about 1 KB).
const CACHED_BYTES: u64 = 32 << 20;

/// What a page's counts weigh beside its body, per post (an author's profile, a few counts).
const COUNTS_BYTES_PER_POST: usize = 256;

static LOOKUPS: picshare_store::CacheLookups = picshare_store::CacheLookups::new("feed_pages");

/// Viewer, cursor and page length.
type PageKey = (UserId, Option<Uuid>, u32);

/// A rendered page and what it showed.
#[derive(Clone)]
pub struct CachedPage {
    stamp: String,
    pub body: Bytes,
    /// The posts' counts and authors as the page shows them, newest first.
    pub counts: Arc<Vec<PageCounts>>,
    rendered_at: Instant,
    checked_at: Instant,
}

/// A cached page found under the request's stamp.
pub enum CachedFeedPage {
    /// Checked within `FEED_PAGE_TTL`: serve it.
    Fresh(Bytes),
    /// Serve it if its counts are still those stored (`FeedPages::renew` then).
    Aged(Arc<CachedPage>),
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
                let weight = cached.body.len() + cached.counts.len() * COUNTS_BYTES_PER_POST;
                u32::try_from(weight).unwrap_or(u32::MAX)
            })
            .time_to_live(FEED_PAGE_MAX_AGE)
            .build();
        Self { pages: Some(pages) }
    }

    pub fn off() -> Self {
        Self { pages: None }
    }

    pub fn enabled(&self) -> bool {
        self.pages.is_some()
    }

    /// The page rendered for this viewer and request, if it was cached under `stamp` within
    /// `FEED_PAGE_MAX_AGE`.
    pub fn get(&self, viewer: UserId, request: PageRequest, stamp: &str) -> Option<CachedFeedPage> {
        let cached = self
            .pages
            .as_ref()?
            .get(&key(viewer, request))
            .filter(|cached| {
                cached.stamp == stamp && cached.rendered_at.elapsed() < FEED_PAGE_MAX_AGE
            });
        LOOKUPS.count(cached.is_some());
        let cached = cached?;
        Some(if cached.checked_at.elapsed() < FEED_PAGE_TTL {
            CachedFeedPage::Fresh(cached.body.clone())
        } else {
            CachedFeedPage::Aged(cached)
        })
    }

    /// Keeps `body`, a page read after the timeline's stamp was `stamp`, showing `counts`.
    pub fn insert(
        &self,
        viewer: UserId,
        request: PageRequest,
        stamp: String,
        body: Bytes,
        counts: Vec<PageCounts>,
    ) {
        let now = Instant::now();
        self.keep(
            viewer,
            request,
            CachedPage {
                stamp,
                body,
                counts: Arc::new(counts),
                rendered_at: now,
                checked_at: now,
            },
        );
    }

    /// Serves `page` for another `FEED_PAGE_TTL` from `checked_at`, the moment before its counts
    /// were read and found unchanged — unless another request replaced it meanwhile (a page
    /// rendered since, with newer counts, stays).
    pub fn renew(
        &self,
        viewer: UserId,
        request: PageRequest,
        page: Arc<CachedPage>,
        checked_at: Instant,
    ) {
        let Some(pages) = &self.pages else { return };
        pages
            .entry(key(viewer, request))
            .and_compute_with(|entry| match entry {
                Some(entry) if Arc::ptr_eq(entry.value(), &page) => {
                    moka::ops::compute::Op::Put(Arc::new(CachedPage {
                        checked_at,
                        ..CachedPage::clone(&page)
                    }))
                }
                _ => moka::ops::compute::Op::Nop,
            });
    }

    fn keep(&self, viewer: UserId, request: PageRequest, page: CachedPage) {
        if let Some(pages) = &self.pages {
            pages.insert(key(viewer, request), Arc::new(page));
        }
    }
}

fn key(viewer: UserId, request: PageRequest) -> PageKey {
    (viewer, request.after, request.limit)
}
