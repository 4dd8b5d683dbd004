//! Search: posts by caption and hashtag, places, and hashtags (people: `people_search`). Only
//! what the searcher may see; suspended accounts never.

use std::collections::HashSet;

use picshare_domain::search::{self, MAX_QUERY_CHARS, Near, fold_tag, parse_post_query};
use picshare_domain::{UserId, ValidationErrors};
use picshare_store::{
    FoundPost, Page, PageRequest, Post, PostOrder, RankedKey, RankedPage, RankedRequest, Searcher,
};
use time::OffsetDateTime;

use crate::auth::Principal;
use crate::posts::PostView;
use crate::{App, AppResult};

/// A post a place search found, with how far it is.
#[derive(Debug, Clone)]
pub struct NearbyPost {
    pub view: PostView,
    pub distance_km: f64,
}

/// `GET /v1/tags/{tag}`.
#[derive(Debug, Clone)]
pub struct TagView {
    pub name: String,
    pub post_count: i64,
}

pub(crate) fn checked_query(query: &str) -> AppResult<&str> {
    let query = query.trim();
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(ValidationErrors::single(
            "q",
            format!("must be at most {MAX_QUERY_CHARS} characters"),
        )
        .into());
    }
    Ok(query)
}

pub(crate) fn searcher(viewer: Option<Principal>) -> Searcher {
    Searcher {
        viewer: viewer.map(|viewer| viewer.user_id),
        now: OffsetDateTime::now_utc(),
    }
}

impl App {
    /// Posts whose caption matches the query's words and that carry its `#tags`.
    pub async fn search_posts(
        &self,
        viewer: Option<Principal>,
        query: &str,
        order: PostOrder,
        page: RankedRequest,
    ) -> AppResult<RankedPage<PostView>> {
        let query = parse_post_query(checked_query(query)?);
        if query.tags.is_empty() && query.words.is_empty() {
            return Ok(RankedPage::from_keyed(Vec::new(), page.limit));
        }
        let found = self
            .store
            .search_posts(searcher(viewer), &query, order, page.after, page.limit)
            .await?;
        let keyed = self.keyed_views(viewer, found).await?;
        Ok(RankedPage::from_keyed(keyed, page.limit))
    }

    /// Located posts within the radius, nearest first.
    pub async fn posts_near(
        &self,
        viewer: Option<Principal>,
        near: Near,
        page: RankedRequest,
    ) -> AppResult<RankedPage<NearbyPost>> {
        let found = self
            .store
            .posts_near(searcher(viewer), &near, page.after, page.limit)
            .await?;
        let keyed = self.keyed_views(viewer, found).await?;
        let nearby = keyed
            .into_iter()
            .map(|(key, view)| {
                let distance_km = -key.score;
                (key, NearbyPost { view, distance_km })
            })
            .collect();
        Ok(RankedPage::from_keyed(nearby, page.limit))
    }

    /// A tag and its post count (0 for a tag no post carries); not found for text that cannot
    /// be a tag.
    pub async fn tag(&self, tag: &str) -> AppResult<TagView> {
        let name = checked_tag(tag)?;
        let post_count = self.store.tag_post_count(&name).await?;
        Ok(TagView { name, post_count })
    }

    /// The tag's posts the viewer may see, newest first.
    pub async fn tag_posts(
        &self,
        viewer: Option<Principal>,
        tag: &str,
        page: PageRequest,
    ) -> AppResult<Page<PostView>> {
        let query = search::PostQuery {
            tags: vec![checked_tag(tag)?],
            words: String::new(),
        };
        let after = page.after.map(|id| RankedKey {
            rank: 0,
            score: 0.0,
            id,
        });
        let found = self
            .store
            .search_posts(
                searcher(viewer),
                &query,
                PostOrder::Recent,
                after,
                page.limit,
            )
            .await?;
        let views = self.keyed_views(viewer, found).await?;
        Ok(Page::from_rows(
            views
                .into_iter()
                .map(|(key, view)| (key.id, view))
                .collect(),
            page.limit,
        ))
    }

    /// Found posts as the feed shows them (author, `liked_by_me`), keyed for paging.
    async fn keyed_views(
        &self,
        viewer: Option<Principal>,
        found: Vec<FoundPost>,
    ) -> AppResult<Vec<(RankedKey, PostView)>> {
        let (posts, scores): (Vec<Post>, Vec<f64>) = found
            .into_iter()
            .map(|found| (found.post, found.score))
            .unzip();
        let liked: HashSet<uuid::Uuid> = self.liked_among(viewer, &posts).await?;
        let author_ids: Vec<UserId> = posts.iter().map(|post| post.author_id).collect();
        let authors = self.users_by_id(&author_ids).await?;
        Ok(posts
            .into_iter()
            .zip(scores)
            .filter_map(|(post, score)| {
                let author = authors.get(&post.author_id)?.clone();
                let key = RankedKey {
                    rank: 0,
                    score,
                    id: post.id,
                };
                let view = PostView {
                    liked_by_me: liked.contains(&post.id),
                    post,
                    author,
                };
                Some((key, view))
            })
            .collect())
    }
}

/// A tag as looked up: `#` optional, folded; 1 to 100 letters, digits or `_` (anything else
/// names no tag: not found).
fn checked_tag(tag: &str) -> AppResult<String> {
    let tag = fold_tag(tag.trim().trim_start_matches('#'));
    let valid = (1..=100).contains(&tag.chars().count())
        && tag.chars().all(|c| c.is_alphanumeric() || c == '_');
    if valid {
        Ok(tag)
    } else {
        Err(crate::AppError::NotFound)
    }
}
