use std::sync::Arc;

use picshare_domain::Media;
use time::OffsetDateTime;
use uuid::Uuid;

/// Posts' media lists kept in process, by post version (id and last edit). A post's media
/// change only through an edit, which moves `edited_at`, so an entry is never stale on any
/// instance and needs no invalidation; entries of deleted or edited posts just age out.
#[derive(Clone)]
pub struct PostMediaCache {
    entries: moka::sync::Cache<(Uuid, Option<OffsetDateTime>), Arc<Vec<Media>>>,
}

/// Posts whose media lists are kept (a few KB each).
const CACHED_POSTS: u64 = 100_000;

impl Default for PostMediaCache {
    fn default() -> Self {
        Self {
            entries: moka::sync::Cache::new(CACHED_POSTS),
        }
    }
}

impl PostMediaCache {
    pub fn get(&self, post: Uuid, edited_at: Option<OffsetDateTime>) -> Option<Arc<Vec<Media>>> {
        self.entries.get(&(post, edited_at))
    }

    pub fn insert(&self, post: Uuid, edited_at: Option<OffsetDateTime>, media: Arc<Vec<Media>>) {
        self.entries.insert((post, edited_at), media);
    }
}
