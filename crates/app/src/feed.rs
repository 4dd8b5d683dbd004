//! The home feed: the caller's posts and those of accounts they follow, newest first.
//!
//! Reads come from the caller's precomputed timeline (written by `fan_out` jobs when posts are
//! created, and by follows and unfollows as they happen) down to its floor, and from the follow
//! graph below it or while the timeline is cold. docs/feed.md explains the design and its costs.

use std::collections::HashMap;

use bytes::Bytes;
use picshare_domain::{User, UserId};
use picshare_store::{FeedEntry, Page, PageCounts, PageRequest, Post, TimelineFloor};
use uuid::Uuid;

use crate::auth::Principal;
use crate::feed_pages::CachedFeedPage;
use crate::jobs::{BUILD_TIMELINE, BuildTimelineJob, job};
use crate::posts::PostView;
use crate::{App, AppError, AppResult};

impl App {
    /// A page of the caller's feed, as `render` makes it for the API: from their timeline where
    /// it vouches for the page, from the follow graph below its floor or while it is cold. A
    /// page read wholly from the timeline is kept rendered, and served again while the
    /// timeline's stamp is unchanged.
    pub async fn home_feed<E: From<AppError>>(
        &self,
        caller: Principal,
        page: PageRequest,
        render: impl AsyncFnOnce(Page<PostView>) -> Result<Bytes, E>,
    ) -> Result<Bytes, E> {
        let viewer = caller.user_id;
        if self.settings.feed_timelines && self.feed_pages.enabled() {
            // The stamp is read before the page: a change committed meanwhile leaves the page
            // cached under a stamp the next read no longer matches.
            if let Some(stamp) = self
                .store
                .timeline_stamp(viewer, page)
                .await
                .map_err(AppError::from)?
            {
                match self.feed_pages.get(viewer, page, &stamp) {
                    Some(CachedFeedPage::Fresh(body)) => return Ok(body),
                    Some(CachedFeedPage::Aged(cached)) => {
                        // Only counts and profiles can have changed: one read of those
                        // instead of the page query and its rendering.
                        let posts: Vec<Uuid> =
                            cached.counts.iter().map(|counts| counts.post_id).collect();
                        let checked_at = std::time::Instant::now();
                        let now = self
                            .store
                            .page_counts(&posts)
                            .await
                            .map_err(AppError::from)?;
                        if now == *cached.counts {
                            let body = cached.body.clone();
                            self.feed_pages.renew(viewer, page, cached, checked_at);
                            return Ok(body);
                        }
                    }
                    None => {}
                }
                let (read, from_timeline) = self.read_feed(caller, page).await?;
                // Only a page read from the timeline is cached, so only it keeps its counts.
                let counts: Option<Vec<PageCounts>> = from_timeline.then(|| {
                    read.items
                        .iter()
                        .map(|view| PageCounts::new(&view.post, &view.author))
                        .collect()
                });
                let body = render(read).await?;
                if let Some(counts) = counts {
                    self.feed_pages
                        .insert(viewer, page, stamp, body.clone(), counts);
                }
                return Ok(body);
            }
        }
        render(self.read_feed(caller, page).await?.0).await
    }

    /// A page of the feed, and whether it came wholly from the caller's timeline.
    async fn read_feed(
        &self,
        caller: Principal,
        page: PageRequest,
    ) -> AppResult<(Page<PostView>, bool)> {
        let viewer = caller.user_id;
        let limit = page.limit as usize;
        let mut entries = Vec::new();
        // Where the graph read starts, if the page needs it.
        let mut graph_after = Some(page.after);
        if self.settings.feed_timelines {
            match self.store.timeline_slice(viewer, page).await? {
                None => self.start_timeline(viewer, false).await?,
                Some(slice) => {
                    // Below the floor, and below every entry returned: a trim may have raised
                    // the floor between the page query and the floor query.
                    graph_after = match slice.floor.and_then(TimelineFloor::graph_below) {
                        None => None,
                        Some(floor) => Some(
                            [
                                page.after,
                                Some(floor),
                                slice.entries.last().map(|e| e.post.id),
                            ]
                            .into_iter()
                            .flatten()
                            .min(),
                        ),
                    };
                    entries = slice.entries;
                }
            }
        }
        let mut more = entries.len() > limit;
        let from_timeline = graph_after.is_none();
        if let Some(after) = graph_after {
            let rest = self
                .store
                .home_feed(
                    viewer,
                    PageRequest {
                        after,
                        limit: (page.limit - entries.len() as u32).max(1),
                    },
                )
                .await?;
            more = rest.next.is_some() || entries.len() + rest.items.len() > limit;
            entries.extend(self.feed_entries(caller, rest.items).await?);
        }
        entries.truncate(limit);
        let next = if more {
            entries.last().map(|entry| entry.post.id)
        } else {
            None
        };
        let read = Page {
            items: entries.into_iter().map(PostView::from).collect(),
            next,
        };
        Ok((read, from_timeline))
    }

    /// Posts read from the graph, with their authors and the caller's likes (a query each).
    async fn feed_entries(&self, caller: Principal, posts: Vec<Post>) -> AppResult<Vec<FeedEntry>> {
        let liked = self.liked_among(Some(caller), &posts).await?;
        let ids: Vec<UserId> = posts.iter().map(|post| post.author_id).collect();
        let authors: HashMap<UserId, User> = self
            .store
            .find_users(&ids)
            .await?
            .into_iter()
            .map(|user| (user.id, user))
            .collect();
        Ok(posts
            .into_iter()
            // An author deleted since the page was read takes their posts along.
            .filter_map(|post| {
                let author = authors.get(&post.author_id)?.clone();
                let liked_by_me = liked.contains(&post.id);
                Some(FeedEntry {
                    post,
                    author,
                    liked_by_me,
                })
            })
            .collect())
    }

    /// Drops the caller's timeline and builds it again from the follow graph (in the
    /// background; reads use the graph meanwhile).
    pub async fn refresh_feed(&self, caller: Principal) -> AppResult<()> {
        self.me(caller).await?;
        // A rebuild reads up to the whole follow graph: bounded per account, always.
        self.limiter
            .begin_attempt(&[crate::throttle::ThrottleKey {
                key: format!("feed-refresh:{}", caller.user_id),
                limit: self.settings.feed_refreshes_per_hour,
                window: std::time::Duration::from_secs(3600),
            }])
            .await?;
        self.start_timeline(caller.user_id, true).await
    }

    async fn start_timeline(&self, viewer: UserId, restart: bool) -> AppResult<()> {
        let build = job(BUILD_TIMELINE, &BuildTimelineJob { user_id: viewer.0 }, 5)?;
        if self.store.start_timeline(viewer, &build, restart).await? {
            self.wake_workers().await;
        }
        Ok(())
    }
}
