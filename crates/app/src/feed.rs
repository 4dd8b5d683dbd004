//! The home feed: the caller's posts and those of accounts they follow, newest first.
//!
//! Today every request reads the feed from the follow graph (see `PostStore::home_feed`), so
//! blocks, unfollows, new follows and deletions show on the very next request. Precomputed
//! timelines and caches come on top of this path, which stays as the fallback for cold or deep
//! pages.

use std::collections::HashMap;

use picshare_domain::{User, UserLookup};
use picshare_store::{Page, PageRequest};

use crate::auth::Principal;
use crate::posts::PostView;
use crate::{App, AppResult};

impl App {
    pub async fn home_feed(
        &self,
        caller: Principal,
        page: PageRequest,
    ) -> AppResult<Page<PostView>> {
        let posts = self.store.home_feed(caller.user_id, page).await?;
        let liked = self.liked_among(Some(caller), &posts.items).await?;
        let mut authors: HashMap<_, User> = HashMap::new();
        let mut items = Vec::with_capacity(posts.items.len());
        for post in posts.items {
            let author = match authors.get(&post.author_id) {
                Some(author) => author.clone(),
                None => {
                    let author = self.find_user(&UserLookup::Id(post.author_id)).await?;
                    authors.insert(post.author_id, author.clone());
                    author
                }
            };
            let liked_by_me = liked.contains(&post.id);
            items.push(PostView {
                post,
                author,
                liked_by_me,
            });
        }
        Ok(Page {
            items,
            next: posts.next,
        })
    }

    /// Drops and rebuilds the caller's cached feed state. The feed is computed on every read
    /// today, so there is nothing cached to drop; the endpoint exists so clients can rely on it.
    pub async fn refresh_feed(&self, caller: Principal) -> AppResult<()> {
        self.me(caller).await.map(drop)
    }
}
