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

/// Bytes of media lists kept: about 3,000 posts of one photo (~1.4 KB each with its variants'
/// keys). Bounded in bytes, not entries: 100,000 posts' lists would hold 140 MiB, and a
/// process's memory grew with every new post until then.
const CACHED_BYTES: u64 = 4 * 1024 * 1024;

static LOOKUPS: crate::CacheLookups = crate::CacheLookups::new("post_media");

impl Default for PostMediaCache {
    fn default() -> Self {
        Self {
            entries: Some(
                moka::sync::Cache::builder()
                    .weigher(|_, media: &Arc<Vec<Media>>| weight(media))
                    .max_capacity(CACHED_BYTES)
                    .build(),
            ),
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

/// About what an entry holds in memory: the structs and their strings, and the cache's own
/// bookkeeping.
fn weight(media: &[Media]) -> u32 {
    const ENTRY_OVERHEAD: usize = 128;
    let bytes: usize = media
        .iter()
        .map(|item| {
            std::mem::size_of::<Media>()
                + item.content_type.len()
                + item.error.as_ref().map_or(0, String::len)
                + item.blurhash.as_ref().map_or(0, String::len)
                + item
                    .variants
                    .iter()
                    .map(|variant| {
                        std::mem::size_of_val(variant)
                            + variant.name.len()
                            + variant.key.len()
                            + variant.content_type.len()
                    })
                    .sum::<usize>()
        })
        .sum();
    u32::try_from(bytes + ENTRY_OVERHEAD).unwrap_or(u32::MAX)
}
