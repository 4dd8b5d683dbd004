//! One table: every route, tried as an anonymous client, as another user, as a user the owner
//! blocked, and as a moderator. Each answer must be the one SPEC gives, and a refused request
//! must leave everything the owner can see exactly as it was. Add a row when you add a route.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// What each kind of caller must get, in this order.
const CALLERS: [&str; 4] = ["anonymous", "other user", "blocked user", "moderator"];

struct Route {
    method: Method,
    /// `{owner}`, `{other}`, `{post}`, `{comment}`, `{media}`, `{upload}`, `{notification}`,
    /// `{conversation}` are filled in.
    path: &'static str,
    body: Option<&'static str>,
    /// Status for: anonymous, other user, blocked user, moderator.
    expect: [u16; 4],
}

fn route(
    method: Method,
    path: &'static str,
    body: Option<&'static str>,
    expect: [u16; 4],
) -> Route {
    Route {
        method,
        path,
        body,
        expect,
    }
}

fn routes() -> Vec<Route> {
    use Method as M;
    vec![
        route(
            M::POST,
            "/v1/users",
            Some(
                r#"{"handle": "OWNER", "email": "x@example.com", "password": "correct horse battery"}"#,
            ),
            [409, 409, 409, 409],
        ),
        route(
            M::POST,
            "/v1/auth/token",
            Some(r#"{"grant_type": "password", "login": "owner", "password": "guessing wrong"}"#),
            [401, 401, 401, 401],
        ),
        route(M::GET, "/v1/auth/me", None, [401, 200, 200, 200]),
        route(
            M::POST,
            "/v1/auth/revoke",
            Some(r#"{"refresh_token": "not-mine"}"#),
            [204, 204, 204, 204],
        ),
        route(M::GET, "/v1/users/{owner}", None, [200, 200, 404, 200]),
        route(
            M::PATCH,
            "/v1/users/{owner}",
            Some(r#"{"bio": "changed"}"#),
            [401, 403, 403, 403],
        ),
        route(
            M::GET,
            "/v1/users/{owner}/export",
            None,
            [401, 403, 403, 403],
        ),
        // A moderator gives a reason to delete someone's account; a password is not one.
        route(
            M::DELETE,
            "/v1/users/{owner}",
            Some(r#"{"password": "guessing wrong"}"#),
            [401, 403, 403, 422],
        ),
        route(
            M::GET,
            "/v1/users/{owner}/posts",
            None,
            [200, 200, 404, 200],
        ),
        route(
            M::GET,
            "/v1/users/{owner}/followers",
            None,
            [200, 200, 404, 200],
        ),
        route(
            M::GET,
            "/v1/users/{owner}/following",
            None,
            [200, 200, 404, 200],
        ),
        route(
            M::GET,
            "/v1/users/{owner}/relationship",
            None,
            [401, 200, 200, 200],
        ),
        route(
            M::POST,
            "/v1/users/{owner}/follow",
            None,
            [401, 200, 404, 200],
        ),
        route(
            M::POST,
            "/v1/users/{owner}/unfollow",
            None,
            [401, 200, 200, 200],
        ),
        route(
            M::POST,
            "/v1/users/{owner}/block",
            None,
            [401, 200, 200, 200],
        ),
        route(
            M::POST,
            "/v1/users/{owner}/unblock",
            None,
            [401, 200, 200, 200],
        ),
        route(M::GET, "/v1/follow-requests", None, [401, 200, 200, 200]),
        route(
            M::POST,
            "/v1/follow-requests/{other}/approve",
            None,
            [401, 404, 404, 404],
        ),
        route(
            M::POST,
            "/v1/follow-requests/{other}/reject",
            None,
            [401, 404, 404, 404],
        ),
        route(
            M::POST,
            "/v1/media/upload",
            Some(r#"{"content_type": "image/png", "size_bytes": 10, "purpose": "post"}"#),
            [401, 201, 201, 201],
        ),
        route(
            M::POST,
            "/v1/media/upload/{upload}/complete",
            None,
            [401, 404, 404, 404],
        ),
        route(
            M::GET,
            "/v1/media/upload/{upload}/status",
            None,
            [401, 404, 404, 404],
        ),
        route(M::GET, "/v1/media/{media}", None, [200, 200, 404, 200]),
        route(M::DELETE, "/v1/media/{media}", None, [401, 404, 404, 404]),
        route(
            M::POST,
            "/v1/posts",
            Some(r#"{"media_ids": ["{media}"], "visibility": "public"}"#),
            [401, 422, 422, 422],
        ),
        route(M::GET, "/v1/posts/{post}", None, [200, 200, 404, 200]),
        route(
            M::PATCH,
            "/v1/posts/{post}",
            Some(r#"{"caption": "changed"}"#),
            [401, 403, 404, 403],
        ),
        route(M::POST, "/v1/posts/{post}/like", None, [401, 200, 404, 200]),
        route(
            M::DELETE,
            "/v1/posts/{post}/like",
            None,
            [401, 200, 404, 200],
        ),
        route(M::GET, "/v1/posts/{post}/likes", None, [200, 200, 404, 200]),
        route(
            M::POST,
            "/v1/posts/{post}/comments",
            Some(r#"{"text": "hello"}"#),
            [401, 201, 404, 201],
        ),
        route(
            M::POST,
            "/v1/posts/{post}/comment",
            Some(r#"{"text": "hello"}"#),
            [401, 201, 404, 201],
        ),
        route(
            M::GET,
            "/v1/posts/{post}/comments",
            None,
            [200, 200, 404, 200],
        ),
        route(
            M::DELETE,
            "/v1/posts/{post}/comments/{comment}",
            None,
            [401, 403, 404, 204],
        ),
        route(M::GET, "/v1/feed", None, [401, 200, 200, 200]),
        route(M::POST, "/v1/feed/refresh", None, [401, 204, 204, 204]),
        route(M::DELETE, "/v1/posts/{post}", None, [401, 403, 404, 204]),
        route(M::GET, "/v1/notifications", None, [401, 200, 200, 200]),
        route(
            M::POST,
            "/v1/notifications/{notification}/read",
            None,
            [401, 404, 404, 404],
        ),
        route(
            M::POST,
            "/v1/notifications/read-all",
            None,
            [401, 204, 204, 204],
        ),
        route(
            M::GET,
            "/v1/notifications/unread-count",
            None,
            [401, 200, 200, 200],
        ),
        route(
            M::POST,
            "/v1/conversations",
            Some(r#"{"participant_ids": ["{owner}"]}"#),
            [401, 201, 422, 201],
        ),
        route(M::GET, "/v1/conversations", None, [401, 200, 200, 200]),
        route(
            M::GET,
            "/v1/conversations/{conversation}",
            None,
            [401, 404, 404, 404],
        ),
        route(
            M::GET,
            "/v1/conversations/{conversation}/messages",
            None,
            [401, 404, 404, 404],
        ),
        route(
            M::POST,
            "/v1/conversations/{conversation}/messages",
            Some(r#"{"text": "hi", "client_message_id": "m-1"}"#),
            [401, 404, 404, 404],
        ),
        route(
            M::POST,
            "/v1/conversations/{conversation}/read",
            None,
            [401, 404, 404, 404],
        ),
        // Authenticated before the upgrade; a plain GET is then no WebSocket handshake.
        route(M::GET, "/v1/ws", None, [401, 426, 426, 426]),
        // Reports: anyone signed in, about what they can see.
        route(
            M::POST,
            "/v1/moderation/users/{owner}/flag",
            Some(r#"{"reason": "spam"}"#),
            [401, 201, 404, 201],
        ),
        route(
            M::POST,
            "/v1/moderation/posts/{post}/flag",
            Some(r#"{"reason": "spam"}"#),
            [401, 201, 404, 201],
        ),
        route(
            M::POST,
            "/v1/moderation/comments/{comment}/flag",
            Some(r#"{"reason": "harassment", "text": "rude"}"#),
            [401, 201, 404, 201],
        ),
        // Moderators only: 403 for users, whoever they are.
        route(M::GET, "/v1/moderation/reports", None, [401, 403, 403, 200]),
        route(
            M::POST,
            "/v1/moderation/reports/00000000-0000-0000-0000-000000000000/resolve",
            Some(r#"{"resolution": "dismiss"}"#),
            [401, 403, 403, 404],
        ),
        route(
            M::POST,
            "/v1/moderation/posts/{post}/takedown",
            Some(r#"{"reason": "against the rules"}"#),
            [401, 403, 403, 200],
        ),
        route(
            M::POST,
            "/v1/moderation/comments/{comment}/takedown",
            Some(r#"{"reason": "against the rules"}"#),
            [401, 403, 403, 200],
        ),
        route(
            M::POST,
            "/v1/moderation/posts/{post}/reinstate",
            Some(r#"{"reason": "appeal"}"#),
            [401, 403, 403, 404],
        ),
        route(
            M::POST,
            "/v1/moderation/comments/{comment}/reinstate",
            Some(r#"{"reason": "appeal"}"#),
            [401, 403, 403, 404],
        ),
        route(
            M::POST,
            "/v1/moderation/users/{owner}/suspend",
            Some(r#"{"duration_secs": 60, "reason": "spam wave"}"#),
            [401, 403, 403, 200],
        ),
        route(
            M::POST,
            "/v1/moderation/users/{owner}/unsuspend",
            Some(r#"{"reason": "mistake"}"#),
            [401, 403, 403, 409],
        ),
        route(M::GET, "/v1/moderation/audit", None, [401, 403, 403, 200]),
        route(
            M::GET,
            "/v1/moderation/users/{owner}/invite-tree",
            None,
            [401, 403, 403, 200],
        ),
        // Invites: each caller's own.
        route(M::POST, "/v1/invites", None, [401, 201, 201, 201]),
        route(M::GET, "/v1/invites", None, [401, 200, 200, 200]),
        route(M::GET, "/v1/invites/stats", None, [401, 200, 200, 200]),
        route(
            M::POST,
            "/v1/invites/NOSUCHCODE23/revoke",
            None,
            [401, 404, 404, 404],
        ),
        // Trust: each caller's own standing, quotas and devices.
        route(
            M::GET,
            "/v1/account/trust-score",
            None,
            [401, 200, 200, 200],
        ),
        route(
            M::GET,
            "/v1/account/rate-limits",
            None,
            [401, 200, 200, 200],
        ),
        route(
            M::POST,
            "/v1/account/device/register",
            Some(r#"{"fingerprint": "device-of-the-caller"}"#),
            [401, 201, 201, 201],
        ),
        route(M::GET, "/v1/account/devices", None, [401, 200, 200, 200]),
        // Search answers anyone; what each caller may see is tested in search.rs.
        route(
            M::GET,
            "/v1/search/users?q=owner",
            None,
            [200, 200, 200, 200],
        ),
        route(
            M::GET,
            "/v1/search/posts?q=mine",
            None,
            [200, 200, 200, 200],
        ),
        route(
            M::GET,
            "/v1/search/posts?near=0,0&radius_km=5",
            None,
            [200, 200, 200, 200],
        ),
        route(M::GET, "/v1/tags/mine", None, [200, 200, 200, 200]),
        route(M::GET, "/v1/tags/mine/posts", None, [200, 200, 200, 200]),
        route(
            M::GET,
            "/v1/moderation/users/{owner}",
            None,
            [401, 403, 403, 200],
        ),
        // Admins only: a moderator is refused too.
        route(
            M::POST,
            "/v1/admin/users/{owner}/role",
            Some(r#"{"role": "moderator"}"#),
            [401, 403, 403, 403],
        ),
        route(
            M::POST,
            "/v1/admin/users/{owner}/verification",
            Some(r#"{"verified": true}"#),
            [401, 403, 403, 403],
        ),
    ]
}

/// An owner with a post (with an image and a comment), a pending upload, a notification and a
/// conversation with a friend; another user; a user the owner blocked; a moderator.
struct World {
    app: TestApp,
    owner: String,
    owner_token: String,
    other: String,
    callers: [Option<String>; 4],
    post: String,
    comment: String,
    media: String,
    upload: String,
    notification: String,
    conversation: String,
}

async fn world() -> World {
    let app = spawn_app().await;
    let (owner, owner_token) = app.quick_user("owner").await;
    let (other, other_token) = app.quick_user("other").await;
    let (blocked, blocked_token) = app.quick_user("blocked").await;
    let (moderator, moderator_token) = app.quick_user("moderator").await;
    app.store()
        .set_role(
            picshare_domain::UserId(moderator.parse().unwrap()),
            picshare_domain::Role::Moderator,
        )
        .await
        .unwrap();
    app.post_empty(&format!("/v1/users/{blocked}/block"), Some(&owner_token))
        .await;
    let media = app.ready_media(&owner_token).await;
    let post: Value = app
        .post_json(
            "/v1/posts",
            Some(&owner_token),
            &json!({"media_ids": [media], "visibility": "public", "caption": "mine"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let post = post["id"].as_str().unwrap().to_owned();
    let comment: Value = app
        .post_json(
            &format!("/v1/posts/{post}/comment"),
            Some(&owner_token),
            &json!({"text": "my comment"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let upload: Value = app
        .start_upload(&owner_token, "image/png", 100, "post")
        .await
        .json()
        .await
        .unwrap();
    let (friend, friend_token) = app.quick_user("friend").await;
    app.post_empty(&format!("/v1/users/{owner}/follow"), Some(&friend_token))
        .await;
    app.run_jobs().await;
    let notifications: Value = app
        .get("/v1/notifications", Some(&owner_token))
        .await
        .json()
        .await
        .unwrap();
    let conversation: Value = app
        .post_json(
            "/v1/conversations",
            Some(&owner_token),
            &json!({"participant_ids": [friend]}),
        )
        .await
        .json()
        .await
        .unwrap();
    World {
        notification: notifications["items"][0]["id"]
            .as_str()
            .expect("the friend's follow notified the owner")
            .to_owned(),
        conversation: conversation["id"].as_str().unwrap().to_owned(),
        owner,
        other,
        callers: [
            None,
            Some(other_token),
            Some(blocked_token),
            Some(moderator_token),
        ],
        post,
        comment: comment["id"].as_str().unwrap().to_owned(),
        media,
        upload: upload["upload_id"].as_str().unwrap().to_owned(),
        owner_token,
        app,
    }
}

impl World {
    fn fill(&self, template: &str) -> String {
        template
            .replace("{owner}", &self.owner)
            .replace("{other}", &self.other)
            .replace("{post}", &self.post)
            .replace("{comment}", &self.comment)
            .replace("{media}", &self.media)
            .replace("{upload}", &self.upload)
            .replace("{notification}", &self.notification)
            .replace("{conversation}", &self.conversation)
    }

    /// Everything the owner can see of their own things.
    async fn snapshot(&self) -> Vec<(u16, Value)> {
        let mut seen = Vec::new();
        for path in [
            "/v1/auth/me".to_owned(),
            format!("/v1/posts/{}", self.post),
            format!("/v1/posts/{}/comments", self.post),
            format!("/v1/posts/{}/likes", self.post),
            format!("/v1/users/{}/followers", self.owner),
            format!("/v1/users/{}/following", self.owner),
            "/v1/follow-requests".to_owned(),
            format!("/v1/media/upload/{}/status", self.upload),
            format!("/v1/media/{}", self.media),
            "/v1/notifications".to_owned(),
            "/v1/conversations".to_owned(),
            format!("/v1/conversations/{}/messages", self.conversation),
        ] {
            let response = self.app.get(&path, Some(&self.owner_token)).await;
            let status = response.status().as_u16();
            seen.push((status, response.json().await.unwrap_or(Value::Null)));
        }
        seen
    }
}

#[tokio::test]
async fn every_route_answers_each_kind_of_caller_as_spec_says_and_refusals_change_nothing() {
    let mut failures = Vec::new();
    for route in routes() {
        let world = world().await;
        let path = world.fill(route.path);
        for (index, caller) in CALLERS.iter().enumerate() {
            let before = world.snapshot().await;
            let mut request = world
                .app
                .client
                .request(route.method.clone(), world.app.url(&path));
            if let Some(token) = &world.callers[index] {
                request = request.bearer_auth(token);
            }
            if let Some(body) = route.body {
                request = request
                    .header("content-type", "application/json")
                    .body(world.fill(body));
            }
            let status = request.send().await.unwrap().status();
            if status != StatusCode::from_u16(route.expect[index]).unwrap() {
                failures.push(format!(
                    "{} {} as {caller}: got {status}, SPEC says {}",
                    route.method, route.path, route.expect[index]
                ));
            }
            if status.is_client_error() && world.snapshot().await != before {
                failures.push(format!(
                    "{} {} as {caller}: refused ({status}) but something changed",
                    route.method, route.path
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
