//! The home feed: the caller's posts and those of accounts they follow, newest first.
//!
//! Reads come from the caller's precomputed timeline (written by `fan_out` jobs when posts are
//! created, and by follows and unfollows as they happen) down to its floor, and from the follow
//! graph below it or while the timeline is cold. docs/feed.md explains the design and its costs.

use std::collections::HashMap;

use picshare_domain::{User, UserId};
use picshare_store::{FLOOR_COMPLETE, Page, PageRequest, Post};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::Principal;
use crate::media::job;
use crate::posts::PostView;
use crate::{App, AppResult};

/// Job: write a new post into its author's followers' timelines.
pub const FAN_OUT: &str = "fan_out_post";
/// Job: fill a started timeline from the follow graph.
pub const BUILD_TIMELINE: &str = "build_timeline";

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct FanOutJob {
    pub post_id: Uuid,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct BuildTimelineJob {
    pub user_id: Uuid,
}

pub(crate) fn fan_out_job(post: Uuid) -> AppResult<picshare_store::NewJob> {
    job(FAN_OUT, &FanOutJob { post_id: post }, 10)
}

impl App {
    pub async fn home_feed(
        &self,
        caller: Principal,
        page: PageRequest,
    ) -> AppResult<Page<PostView>> {
        let posts = self.feed_posts(caller.user_id, page).await?;
        let liked = self.liked_among(Some(caller), &posts.items).await?;
        let ids: Vec<UserId> = posts.items.iter().map(|post| post.author_id).collect();
        let authors: HashMap<UserId, User> = self
            .store
            .find_users(&ids)
            .await?
            .into_iter()
            .map(|user| (user.id, user))
            .collect();
        let items = posts
            .items
            .into_iter()
            // An author deleted since the page was read takes their posts along.
            .filter_map(|post| {
                let author = authors.get(&post.author_id)?.clone();
                let liked_by_me = liked.contains(&post.id);
                Some(PostView {
                    post,
                    author,
                    liked_by_me,
                })
            })
            .collect();
        Ok(Page {
            items,
            next: posts.next,
        })
    }

    /// The page from the timeline where it vouches for it, the rest from the graph.
    async fn feed_posts(&self, viewer: UserId, page: PageRequest) -> AppResult<Page<Post>> {
        if !self.settings.feed_timelines {
            return Ok(self.store.home_feed(viewer, page).await?);
        }
        let Some(slice) = self.store.timeline_slice(viewer, page).await? else {
            // Cold: answer from the graph now and build the timeline in the background.
            self.start_timeline(viewer, false).await?;
            return Ok(self.store.home_feed(viewer, page).await?);
        };
        let wanted = page.limit as usize;
        if slice.posts.len() > wanted || slice.floor == FLOOR_COMPLETE {
            return Ok(keyed_page(slice.posts, page.limit, false));
        }
        // The timeline ran out at its floor: continue below it from the graph.
        let below = match page.after {
            Some(after) if after < slice.floor => after,
            _ => slice.floor,
        };
        let rest = self
            .store
            .home_feed(
                viewer,
                PageRequest {
                    after: Some(below),
                    limit: (page.limit - slice.posts.len() as u32).max(1),
                },
            )
            .await?;
        let mut posts = slice.posts;
        let more = rest.next.is_some();
        posts.extend(rest.items);
        Ok(keyed_page(posts, page.limit, more))
    }

    /// Drops the caller's timeline and builds it again from the follow graph (in the
    /// background; reads use the graph meanwhile).
    pub async fn refresh_feed(&self, caller: Principal) -> AppResult<()> {
        self.me(caller).await?;
        self.start_timeline(caller.user_id, true).await
    }

    async fn start_timeline(&self, viewer: UserId, restart: bool) -> AppResult<()> {
        let build = job(BUILD_TIMELINE, &BuildTimelineJob { user_id: viewer.0 }, 5)?;
        if self.store.start_timeline(viewer, &build, restart).await? {
            self.jobs_waiting.notify_one();
        }
        Ok(())
    }
}

/// A page of `posts` (newest first); `more` says there are posts after the last one even if
/// `posts` holds no extra one.
fn keyed_page(posts: Vec<Post>, limit: u32, more: bool) -> Page<Post> {
    let mut page = Page::from_rows(posts.into_iter().map(|p| (p.id, p)).collect(), limit);
    if more && page.next.is_none() {
        page.next = page.items.last().map(|post| post.id);
    }
    page
}
