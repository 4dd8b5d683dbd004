//! Keyset pagination, shared by every list a port returns.

use uuid::Uuid;

/// One page of a keyset-paginated list; `next` is the key to continue after.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Uuid>,
}

/// Where a page starts and how long it is (1–100).
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    pub after: Option<Uuid>,
    pub limit: u32,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows keyed by `key`: the extra row only says that
    /// there is more.
    pub fn from_rows(rows: Vec<(Uuid, T)>, limit: u32) -> Self {
        let (items, next) = split_rows(rows, limit);
        Self { items, next }
    }
}

/// Up to `limit + 1` keyed rows as a page's items and the key to continue after: the extra
/// row only says that there is more.
pub(crate) fn split_rows<K: Copy, T>(mut rows: Vec<(K, T)>, limit: u32) -> (Vec<T>, Option<K>) {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next = if more {
        rows.last().map(|(key, _)| *key)
    } else {
        None
    };
    (rows.into_iter().map(|(_, item)| item).collect(), next)
}
