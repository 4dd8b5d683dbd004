//! A deterministic social graph and post history, loaded in bulk.
//!
//! Shape: power-law followee counts (mean ≈ 150), a few hot accounts most people follow, heavy
//! users following 2000 accounts, and one user following 2000 accounts that went quiet months
//! ago. Posts spread over two years, most from a minority of active accounts.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

pub struct Size {
    pub users: usize,
    pub posts: usize,
}

pub fn size(name: &str) -> anyhow::Result<Size> {
    match name {
        "small" => Ok(Size {
            users: 10_000,
            posts: 500_000,
        }),
        "large" => Ok(Size {
            users: 100_000,
            posts: 5_000_000,
        }),
        "tiny" => Ok(Size {
            users: 2_500,
            posts: 50_000,
        }),
        other => anyhow::bail!("unknown size '{other}' (tiny, small, large)"),
    }
}

/// Roles some generated users play in the scenarios.
pub const HEAVY_USERS: usize = 10;
pub const HOT_ACCOUNTS: usize = 50;
pub const FOLLOW_CAP: usize = 2000;
const TWO_YEARS_SECS: u64 = 2 * 365 * 24 * 3600;
const QUIET_FOR_SECS: u64 = 120 * 24 * 3600;

pub struct Dataset {
    pub users: Vec<Uuid>,
    /// (follower, followee)
    pub follows: Vec<(usize, usize)>,
    /// (author, id) with ids made from the post time, so id order is time order.
    pub posts: Vec<(usize, Uuid)>,
    pub heavy: Vec<usize>,
    pub inactive_follower: usize,
    /// A hot account with the most followers (up to the cap): the author of
    /// `create_post_hot_author`.
    pub hot_author: usize,
    /// Ready, unattached uploads of the hot author, one per post the load driver creates.
    pub spare_media: Vec<Uuid>,
}

impl Dataset {
    /// Each user's newest post id (nil for none): what their follow rows mark as
    /// `followee_last_posted`.
    pub fn newest_posts(&self) -> Vec<Uuid> {
        let mut newest = vec![Uuid::nil(); self.users.len()];
        for &(author, id) in &self.posts {
            newest[author] = newest[author].max(id);
        }
        newest
    }
}

/// Ready uploads the hot author keeps for the load driver's new posts.
const SPARE_MEDIA: usize = 50_000;

/// The id of a generated post's one media item (a bijection of the post id, so media ids are
/// unique too).
pub fn media_of(post: Uuid) -> Uuid {
    Uuid::from_u128(post.as_u128() ^ 0x5a5a_5a5a_5a5a_5a5a_5a5a_5a5a_5a5a_5a5a)
}

/// A UUIDv7 for `secs` whose random part comes from the seeded generator, so the same seed
/// gives the same ids (the baseline finds the users the generator loaded).
fn uuid_at(rng: &mut StdRng, secs: u64) -> Uuid {
    let millis = secs * 1000 + rng.random_range(0..1000);
    let random: [u8; 10] = rng.random();
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}

/// Pareto-distributed count with the given minimum and shape, capped.
fn pareto(rng: &mut StdRng, minimum: f64, shape: f64, cap: usize) -> usize {
    let u: f64 = rng.random_range(f64::EPSILON..1.0);
    ((minimum / u.powf(1.0 / shape)) as usize).min(cap)
}

pub fn generate(size: &Size, seed: u64, now_secs: u64) -> Dataset {
    let mut rng = StdRng::seed_from_u64(seed);
    let start = now_secs - TWO_YEARS_SECS;
    let users: Vec<Uuid> = (0..size.users)
        .map(|_| {
            let joined = start - rng.random_range(0..3600 * 24 * 30);
            uuid_at(&mut rng, joined)
        })
        .collect();
    let n = size.users;
    // Roles: the first accounts are hot; the last 2000 went quiet; a few users are heavy.
    let hot: Vec<usize> = (0..HOT_ACCOUNTS.min(n / 10)).collect();
    let quiet: Vec<usize> = (n.saturating_sub(FOLLOW_CAP)..n).collect();
    let heavy: Vec<usize> = (HOT_ACCOUNTS..HOT_ACCOUNTS + HEAVY_USERS).collect();
    let inactive_follower = HOT_ACCOUNTS + HEAVY_USERS;

    let mut follows = Vec::new();
    let mut followers = vec![0usize; n];
    let mut add = |follows: &mut Vec<(usize, usize)>, a: usize, b: usize| {
        if a != b && followers[b] < FOLLOW_CAP {
            followers[b] += 1;
            follows.push((a, b));
        }
    };
    for follower in 0..n {
        let count = if heavy.contains(&follower) {
            FOLLOW_CAP
        } else if follower == inactive_follower {
            0
        } else {
            // Mean ≈ 150 with shape 1.5 and minimum 50.
            pareto(&mut rng, 50.0, 1.5, FOLLOW_CAP)
        };
        let mut chosen = std::collections::HashSet::with_capacity(count);
        for &h in hot.iter().take(count / 10) {
            chosen.insert(h);
        }
        let active_end = n.saturating_sub(FOLLOW_CAP).max(1);
        while chosen.len() < count.min(active_end.saturating_sub(1)) {
            chosen.insert(rng.random_range(0..active_end));
        }
        for followee in chosen {
            add(&mut follows, follower, followee);
        }
    }
    for &followee in &quiet {
        add(&mut follows, inactive_follower, followee);
    }

    // Posts: authors drawn with a heavy tail (hot accounts post most); quiet accounts only
    // before they went quiet.
    let mut posts = Vec::with_capacity(size.posts);
    let quiet_start = n.saturating_sub(FOLLOW_CAP);
    for _ in 0..size.posts {
        let author = if rng.random_bool(0.1) {
            hot[rng.random_range(0..hot.len().max(1))]
        } else {
            let skewed = rng.random_range(0.0f64..1.0).powi(2);
            (skewed * n as f64) as usize % n
        };
        let latest = if author >= quiet_start {
            now_secs - QUIET_FOR_SECS
        } else {
            now_secs
        };
        let at = rng.random_range(start..latest);
        posts.push((author, uuid_at(&mut rng, at)));
    }
    posts.sort_by_key(|(_, id)| *id);
    let hot_author = (0..hot.len().max(1))
        .max_by_key(|&h| (followers[h], std::cmp::Reverse(h)))
        .unwrap_or(0);
    let spare_media = (0..SPARE_MEDIA)
        .map(|_| uuid_at(&mut rng, now_secs))
        .collect();
    Dataset {
        users,
        follows,
        posts,
        heavy,
        inactive_follower,
        hot_author,
        spare_media,
    }
}
