use std::sync::Arc;

use picshare_domain::Media;
use time::OffsetDateTime;
use uuid::Uuid;

/// Posts' media lists kept in process, by post version (id and last edit). A post's media
/// change only through an edit, which moves `edited_at`, so an entry is never stale on any
/// instance and needs no invalidation; entries of deleted or edited posts just age out.
/// A post version: its id and when it was last edited.
type PostVersion = (Uuid, Option<OffsetDateTime>);

#[derive(Clone)]
pub struct PostMediaCache {
    /// `None`: caching is off (every read goes to the database).
    entries: Option<moka::sync::Cache<PostVersion, Arc<Vec<Media>>>>,
}

/// Posts whose media lists are kept (a few KB each).
const CACHED_POSTS: u64 = 100_000;

static LOOKUPS: crate::CacheLookups = crate::CacheLookups::new("post_media");

impl Default for PostMediaCache {
    fn default() -> Self {
        Self {
            entries: Some(moka::sync::Cache::new(CACHED_POSTS)),
        }
    }
}

impl PostMediaCache {
    /// A cache that keeps nothing.
    pub fn off() -> Self {
        Self { entries: None }
    }

    pub fn get(&self, post: Uuid, edited_at: Option<OffsetDateTime>) -> Option<Arc<Vec<Media>>> {
        let found = self.entries.as_ref()?.get(&(post, edited_at));
        LOOKUPS.count(found.is_some());
        found
    }

    pub fn insert(&self, post: Uuid, edited_at: Option<OffsetDateTime>, media: Arc<Vec<Media>>) {
        if let Some(entries) = &self.entries {
            entries.insert((post, edited_at), media);
        }
    }
}
