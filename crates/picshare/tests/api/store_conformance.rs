//! The storage port's contract, run against whichever backend the suite is configured for
//! (SQLite by default, PostgreSQL with PICSHARE_TEST_DATABASE_URL).

use std::sync::Arc;

use picshare_domain::{DisplayName, Email, Handle, NewUser, Role, UserId, UserLookup};
use picshare_store::{JobLane, NewRefreshToken, ProfileUpdate, RefreshRotation, Store, StoreError};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::helpers::spawn_app;

fn new_user(handle: &str, email: &str) -> NewUser {
    NewUser {
        id: UserId::generate(),
        handle: Handle::parse(handle).unwrap(),
        email: Email::parse(email).unwrap(),
        password_hash: "$argon2id$not-a-real-hash".into(),
        display_name: DisplayName::parse("Someone").unwrap(),
        role: Role::User,
        created_at: OffsetDateTime::now_utc(),
    }
}

fn token(user: UserId, family: Uuid, hash: &[u8], expires_in: Duration) -> NewRefreshToken {
    let now = OffsetDateTime::now_utc();
    NewRefreshToken {
        token_hash: hash.to_vec(),
        family_id: family,
        user_id: user,
        issued_at: now,
        expires_at: now + expires_in,
    }
}

async fn store() -> (crate::helpers::TestApp, Arc<dyn Store>) {
    let app = spawn_app().await;
    let store = app.store().clone();
    (app, store)
}

#[tokio::test]
async fn users_round_trip_and_are_found_by_id_handle_and_login() {
    let (_app, store) = store().await;
    let created = store
        .create_user(&new_user("Jane", "jane@example.com"))
        .await
        .unwrap();
    assert_eq!(created.handle, "Jane");
    assert_eq!(created.role, Role::User);
    // Timestamps survive with at least millisecond precision.
    let found = store
        .find_user(&UserLookup::Id(created.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, created);
    let by_handle = store
        .find_user(&UserLookup::Handle("jane".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_handle.id, created.id);
    for login in ["JANE", "jane@example.com", " Jane@Example.com "] {
        let user = store.find_user_by_login(login).await.unwrap();
        assert_eq!(user.map(|u| u.id), Some(created.id), "{login}");
    }
    assert!(store.find_user_by_login("john").await.unwrap().is_none());
    assert!(
        store
            .find_user(&UserLookup::Id(UserId::generate()))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn unique_handle_and_email_are_reported_as_conflicts() {
    let (_app, store) = store().await;
    store
        .create_user(&new_user("jane", "jane@example.com"))
        .await
        .unwrap();
    let handle = store.create_user(&new_user("JANE", "x@example.com")).await;
    assert!(
        matches!(handle, Err(StoreError::Conflict { field: "handle" })),
        "{handle:?}"
    );
    let email = store
        .create_user(&new_user("other", "jane@example.com"))
        .await;
    assert!(
        matches!(email, Err(StoreError::Conflict { field: "email" })),
        "{email:?}"
    );
}

#[tokio::test]
async fn profile_updates_change_only_given_fields() {
    let (_app, store) = store().await;
    let user = store
        .create_user(&new_user("jane", "jane@example.com"))
        .await
        .unwrap();
    let avatar = Uuid::now_v7();
    let updated = store
        .update_profile(
            user.id,
            &ProfileUpdate {
                bio: Some(picshare_domain::Bio::parse("hello").unwrap()),
                avatar_media_id: Some(Some(avatar)),
                ..ProfileUpdate::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.bio, "hello");
    assert_eq!(updated.display_name, "Someone");
    assert_eq!(updated.avatar_media_id, Some(avatar));
    let cleared = store
        .update_profile(
            user.id,
            &ProfileUpdate {
                avatar_media_id: Some(None),
                is_private: Some(true),
                ..ProfileUpdate::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cleared.avatar_media_id, None);
    assert!(cleared.is_private);
    assert_eq!(cleared.bio, "hello");
    assert!(
        store
            .update_profile(UserId::generate(), &ProfileUpdate::default())
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.set_role(user.id, Role::Moderator).await.unwrap());
    let found = store
        .find_user(&UserLookup::Id(user.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.role, Role::Moderator);
}

#[tokio::test]
async fn refresh_tokens_rotate_once_and_reuse_revokes_the_family() {
    let (_app, store) = store().await;
    let user = store
        .create_user(&new_user("jane", "jane@example.com"))
        .await
        .unwrap();
    let family = Uuid::now_v7();
    let issued = token(user.id, family, b"first", Duration::days(30));
    store.insert_refresh_token(&issued).await.unwrap();
    let now = OffsetDateTime::now_utc();

    let rotated = store
        .rotate_refresh_token(b"first", b"second", now)
        .await
        .unwrap();
    let RefreshRotation::Rotated {
        user_id,
        expires_at,
    } = rotated
    else {
        panic!("expected rotation, got {rotated:?}");
    };
    assert_eq!(user_id, user.id);
    assert!(
        (expires_at - issued.expires_at).abs() < Duration::milliseconds(1),
        "family expiry kept"
    );

    let replay = store
        .rotate_refresh_token(b"first", b"third", now)
        .await
        .unwrap();
    assert_eq!(replay, RefreshRotation::ReuseDetected);
    let after = store
        .rotate_refresh_token(b"second", b"fourth", now)
        .await
        .unwrap();
    assert!(
        !matches!(after, RefreshRotation::Rotated { .. }),
        "{after:?}"
    );
    assert_eq!(
        store
            .rotate_refresh_token(b"unknown", b"x", now)
            .await
            .unwrap(),
        RefreshRotation::Invalid
    );
}

#[tokio::test]
async fn concurrent_rotations_of_one_token_succeed_once() {
    let (_app, store) = store().await;
    let user = store
        .create_user(&new_user("jane", "jane@example.com"))
        .await
        .unwrap();
    store
        .insert_refresh_token(&token(
            user.id,
            Uuid::now_v7(),
            b"shared",
            Duration::days(1),
        ))
        .await
        .unwrap();
    let now = OffsetDateTime::now_utc();
    let attempts = (0..8u8).map(|n| {
        let store = store.clone();
        tokio::spawn(async move { store.rotate_refresh_token(b"shared", &[b'r', n], now).await })
    });
    let mut rotated = 0;
    for attempt in futures::future::join_all(attempts).await {
        if matches!(attempt.unwrap().unwrap(), RefreshRotation::Rotated { .. }) {
            rotated += 1;
        }
    }
    assert_eq!(rotated, 1);
}

#[tokio::test]
async fn expired_tokens_do_not_rotate_and_are_cleaned_up() {
    let (_app, store) = store().await;
    let user = store
        .create_user(&new_user("jane", "jane@example.com"))
        .await
        .unwrap();
    store
        .insert_refresh_token(&token(
            user.id,
            Uuid::now_v7(),
            b"old",
            Duration::seconds(-1),
        ))
        .await
        .unwrap();
    store
        .insert_refresh_token(&token(user.id, Uuid::now_v7(), b"live", Duration::days(1)))
        .await
        .unwrap();
    let now = OffsetDateTime::now_utc();
    assert_eq!(
        store
            .rotate_refresh_token(b"old", b"new", now)
            .await
            .unwrap(),
        RefreshRotation::Invalid
    );
    assert_eq!(store.delete_expired_refresh_tokens(now).await.unwrap(), 1);
    assert!(matches!(
        store
            .rotate_refresh_token(b"live", b"next", now)
            .await
            .unwrap(),
        RefreshRotation::Rotated { .. }
    ));
}

#[tokio::test]
async fn revoking_a_token_revokes_its_family_only() {
    let (_app, store) = store().await;
    let user = store
        .create_user(&new_user("jane", "jane@example.com"))
        .await
        .unwrap();
    let family = Uuid::now_v7();
    store
        .insert_refresh_token(&token(user.id, family, b"a1", Duration::days(1)))
        .await
        .unwrap();
    store
        .insert_refresh_token(&token(user.id, Uuid::now_v7(), b"b1", Duration::days(1)))
        .await
        .unwrap();
    let now = OffsetDateTime::now_utc();
    store.rotate_refresh_token(b"a1", b"a2", now).await.unwrap();
    store.revoke_refresh_family(b"a1", now).await.unwrap();
    assert!(!matches!(
        store.rotate_refresh_token(b"a2", b"a3", now).await.unwrap(),
        RefreshRotation::Rotated { .. }
    ));
    assert!(matches!(
        store.rotate_refresh_token(b"b1", b"b2", now).await.unwrap(),
        RefreshRotation::Rotated { .. }
    ));
    store
        .revoke_refresh_family(b"never-issued", now)
        .await
        .unwrap();
}

#[tokio::test]
async fn concurrent_workers_never_claim_the_same_job() {
    let (_app, store) = store().await;
    for n in 0..60 {
        store
            .enqueue(&test_job(format!("{{\"n\": {n}}}")))
            .await
            .unwrap();
    }
    let workers = (0..4).map(|w| {
        let store = store.clone();
        tokio::spawn(async move {
            let name = format!("worker-{w}");
            let mut mine = Vec::new();
            loop {
                let claimed = store
                    .claim_jobs(
                        &name,
                        OffsetDateTime::now_utc(),
                        std::time::Duration::from_secs(60),
                        3,
                        JobLane::Light,
                    )
                    .await
                    .unwrap();
                if claimed.is_empty() {
                    return mine;
                }
                for job in claimed {
                    assert_eq!(job.attempt, 1);
                    mine.push(job.id);
                    store.complete_job(job.id, &name).await.unwrap();
                }
            }
        })
    });
    let mut all: Vec<Uuid> = Vec::new();
    for claimed in futures::future::join_all(workers).await {
        all.extend(claimed.unwrap());
    }
    let total = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), total, "a job was claimed twice");
    assert_eq!(total, 60, "every job was claimed");
    assert!(store.job_counts().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_job_is_held_by_its_worker_until_the_lease_expires() {
    let (_app, store) = store().await;
    let job = test_job("{}".into());
    let id = job.id;
    store.enqueue(&job).await.unwrap();
    let now = OffsetDateTime::now_utc();
    let lease = std::time::Duration::from_secs(30);
    assert_eq!(
        store
            .claim_jobs("a", now, lease, 10, JobLane::Light)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        store
            .claim_jobs("b", now, lease, 10, JobLane::Light)
            .await
            .unwrap()
            .is_empty()
    );
    // Only the holder can finish it.
    store.complete_job(id, "b").await.unwrap();
    let later = now + Duration::seconds(31);
    let taken_over = store
        .claim_jobs("b", later, lease, 10, JobLane::Light)
        .await
        .unwrap();
    assert_eq!(taken_over.len(), 1);
    assert_eq!(taken_over[0].attempt, 2);
    store.complete_job(id, "a").await.unwrap();
    assert_eq!(
        store.job_counts().await.unwrap().len(),
        1,
        "a stale worker cannot finish it"
    );
    store.complete_job(id, "b").await.unwrap();
    assert!(store.job_counts().await.unwrap().is_empty());
}

fn test_job(payload: String) -> picshare_store::NewJob {
    picshare_store::NewJob {
        id: Uuid::now_v7(),
        kind: "test".into(),
        payload,
        run_at: OffsetDateTime::now_utc(),
        max_attempts: 3,
        priority: 5,
    }
}

const CAPS: picshare_domain::FollowCaps = picshare_domain::FollowCaps {
    max_following: 2000,
    max_followers: 2000,
};

#[tokio::test]
async fn a_follow_racing_a_block_never_survives_it() {
    let (_app, store) = store().await;
    for round in 0..12 {
        let a = store
            .create_user(&new_user(
                &format!("fan{round}"),
                &format!("fan{round}@example.com"),
            ))
            .await
            .unwrap();
        let b = store
            .create_user(&new_user(
                &format!("idol{round}"),
                &format!("idol{round}@example.com"),
            ))
            .await
            .unwrap();
        let notify = test_job("{}".into());
        let (follow, block) = tokio::join!(
            store.follow(a.id, b.id, CAPS, &notify),
            store.block(b.id, a.id)
        );
        follow.unwrap();
        block.unwrap();
        // Whichever ran first, the block stands and no follow is left either way, with the
        // counters agreeing.
        let seen = store.relationship(a.id, b.id).await.unwrap();
        assert!(
            seen.blocked_by && !seen.following,
            "round {round}: {seen:?}"
        );
        let b_now = store
            .find_user(&UserLookup::Id(b.id))
            .await
            .unwrap()
            .unwrap();
        let a_now = store
            .find_user(&UserLookup::Id(a.id))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (b_now.followers_count, a_now.following_count),
            (0, 0),
            "round {round}"
        );
        let again = store
            .follow(a.id, b.id, CAPS, &test_job("{}".into()))
            .await
            .unwrap();
        assert_eq!(again, picshare_store::FollowOutcome::Blocked);
    }
}

#[tokio::test]
async fn one_image_goes_on_one_post_however_many_race_for_it() {
    let (_app, store) = store().await;
    let author = store
        .create_user(&new_user("jane", "jane@example.com"))
        .await
        .unwrap();
    let media = ready_media(&store, author.id).await;
    let attempts = (0..8).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            let post = picshare_store::NewPost {
                id: Uuid::now_v7(),
                author_id: author.id,
                caption: String::new(),
                visibility: picshare_domain::Visibility::Public,
                location: None,
                media_ids: vec![media],
                hashtags: Vec::new(),
                mentions: Vec::new(),
                created_at: OffsetDateTime::now_utc(),
            };
            store
                .create_post(&post, &[test_job("{}".into())])
                .await
                .unwrap()
        })
    });
    let outcomes: Vec<_> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let published = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
    assert_eq!(published, 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .filter_map(|outcome| outcome.as_ref().err())
            .all(|refusal| *refusal == picshare_store::PostRefusal::MediaUnavailable)
    );
    let author_now = store
        .find_user(&UserLookup::Id(author.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        author_now.posts_count, 1,
        "only the published post is counted"
    );
}

/// A ready post image of `owner`'s, made through the store's own steps.
async fn ready_media(store: &Arc<dyn Store>, owner: UserId) -> Uuid {
    let id = Uuid::now_v7();
    let now = OffsetDateTime::now_utc();
    store
        .create_media(&picshare_domain::NewMedia {
            id,
            owner_id: owner,
            purpose: picshare_domain::MediaPurpose::Post,
            content_type: "image/png".into(),
            size_bytes: 100,
            upload_expires_at: now + Duration::hours(1),
            created_at: now,
        })
        .await
        .unwrap();
    assert!(
        store
            .mark_uploaded(id, owner, now, &test_job("{}".into()))
            .await
            .unwrap()
    );
    store.start_processing(id).await.unwrap().unwrap();
    let processed = picshare_domain::ProcessedMedia {
        width: 10,
        height: 10,
        blurhash: "LEHV6nWB2yk8pyo0adR*.7kCMdnj".into(),
        variants: Vec::new(),
    };
    assert!(store.finish_processing(id, &processed).await.unwrap());
    id
}
