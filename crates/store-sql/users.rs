//! Accounts: creation (unique handle and email), lookups, profile edits, roles.

use async_trait::async_trait;
use picshare_domain::search::{fold_words, name_words};
use picshare_domain::{NewUser, Role, User, UserId, UserLookup};
use picshare_store::{ProfileUpdate, StoreError, StoreResult, UserStore};
use sqlx::{FromRow, QueryBuilder, Transaction};
use uuid::Uuid;

use super::id_lists::in_ids;
use crate::dialect::{Db, Row, Timestamp, begin_write, from_ts, ts, unique_violation};
use crate::{SqlStore, db_err};

pub(crate) const USER_COLUMNS: &str = "id, handle, email, password_hash, display_name, bio, avatar_media_id, \
     is_private, role, trust_level, followers_count, following_count, posts_count, created_at";

#[derive(FromRow)]
pub(crate) struct UserRow {
    id: Uuid,
    handle: String,
    email: String,
    password_hash: String,
    display_name: String,
    bio: String,
    avatar_media_id: Option<Uuid>,
    is_private: bool,
    role: String,
    trust_level: String,
    followers_count: i64,
    following_count: i64,
    posts_count: i64,
    created_at: Timestamp,
}

/// `u.<column> AS a_<column>` for every user column, to read a post's author in the same row.
pub(crate) fn author_columns() -> String {
    USER_COLUMNS
        .split(", ")
        .map(|c| format!("u.{c} AS a_{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl UserRow {
    /// The user in the `a_` columns of a joined row (see `author_columns`).
    pub(crate) fn from_author_columns(row: &Row) -> sqlx::Result<Self> {
        use sqlx::Row;
        Ok(Self {
            id: row.try_get("a_id")?,
            handle: row.try_get("a_handle")?,
            email: row.try_get("a_email")?,
            password_hash: row.try_get("a_password_hash")?,
            display_name: row.try_get("a_display_name")?,
            bio: row.try_get("a_bio")?,
            avatar_media_id: row.try_get("a_avatar_media_id")?,
            is_private: row.try_get("a_is_private")?,
            role: row.try_get("a_role")?,
            trust_level: row.try_get("a_trust_level")?,
            followers_count: row.try_get("a_followers_count")?,
            following_count: row.try_get("a_following_count")?,
            posts_count: row.try_get("a_posts_count")?,
            created_at: row.try_get("a_created_at")?,
        })
    }

    pub(crate) fn into_user(self) -> StoreResult<User> {
        Ok(User {
            id: UserId(self.id),
            handle: self.handle,
            email: self.email,
            password_hash: self.password_hash,
            display_name: self.display_name,
            bio: self.bio,
            avatar_media_id: self.avatar_media_id,
            is_private: self.is_private,
            role: self.role.parse().map_err(corrupt)?,
            trust_level: self.trust_level.parse().map_err(corrupt)?,
            followers_count: self.followers_count,
            following_count: self.following_count,
            posts_count: self.posts_count,
            created_at: from_ts(self.created_at),
        })
    }
}

fn corrupt(message: String) -> StoreError {
    StoreError::Backend(message.into())
}

fn map_unique(err: sqlx::Error) -> StoreError {
    match err
        .as_database_error()
        .and_then(unique_violation)
        .as_deref()
    {
        Some("users_handle_key") => StoreError::Conflict { field: "handle" },
        Some("users_email_key") => StoreError::Conflict { field: "email" },
        _ => db_err(err),
    }
}

/// Adds words to the dictionary typo-tolerant search looks words up in (`name_words`).
async fn insert_name_words(tx: &mut Transaction<'_, Db>, words: &[String]) -> StoreResult<()> {
    if words.is_empty() {
        return Ok(());
    }
    let now = ts(time::OffsetDateTime::now_utc());
    let mut insert = QueryBuilder::<Db>::new("INSERT INTO name_words (word, added_at) ");
    insert.push_values(words, |mut row, word| {
        row.push_bind(word.clone()).push_bind(now);
    });
    insert.push(" ON CONFLICT DO NOTHING");
    insert.build().execute(&mut **tx).await.map_err(db_err)?;
    Ok(())
}

/// Inserts the account (`invited_by`: who invited it) and the words it is found by; a taken
/// handle or email is a conflict.
pub(crate) async fn insert_user(
    tx: &mut Transaction<'_, Db>,
    user: &NewUser,
    invited_by: Option<UserId>,
) -> StoreResult<User> {
    let now = ts(user.created_at);
    let search_name = fold_words(user.display_name.as_str());
    let created = sqlx::query_as::<_, UserRow>(&format!(
        "INSERT INTO users (id, handle, email, password_hash, display_name, role, invited_by,
                created_at, updated_at, search_name)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9) RETURNING {USER_COLUMNS}"
    ))
    .bind(user.id.0)
    .bind(user.handle.as_str())
    .bind(user.email.as_str())
    .bind(&user.password_hash)
    .bind(user.display_name.as_str())
    .bind(user.role.as_str())
    .bind(invited_by.map(|id| id.0))
    .bind(now)
    .bind(&search_name)
    .fetch_one(&mut **tx)
    .await
    .map_err(map_unique)?
    .into_user()?;
    insert_name_words(tx, &name_words(user.handle.as_str(), &search_name)).await?;
    Ok(created)
}

#[async_trait]
impl UserStore for SqlStore {
    async fn create_user(&self, user: &NewUser) -> StoreResult<User> {
        let mut tx = begin_write(&self.pool).await?;
        let created = insert_user(&mut tx, user, None).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(created)
    }

    async fn find_user(&self, lookup: &UserLookup) -> StoreResult<Option<User>> {
        let query = match lookup {
            UserLookup::Id(id) => {
                sqlx::query_as::<_, UserRow>(&format!(
                    "SELECT {USER_COLUMNS} FROM users WHERE id = $1 AND deleted_at IS NULL"
                ))
                .bind(id.0)
                .fetch_optional(&self.pool)
                .await
            }
            UserLookup::Handle(handle) => sqlx::query_as::<_, UserRow>(&format!(
                "SELECT {USER_COLUMNS} FROM users WHERE lower(handle) = $1 AND deleted_at IS NULL"
            ))
            .bind(handle.to_ascii_lowercase())
            .fetch_optional(&self.pool)
            .await,
        };
        query.map_err(db_err)?.map(UserRow::into_user).transpose()
    }

    async fn find_users(&self, ids: &[UserId]) -> StoreResult<Vec<User>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = sqlx::QueryBuilder::new(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE deleted_at IS NULL AND id"
        ));
        in_ids(&mut query, ids.iter().map(|id| id.0));
        query
            .build_query_as::<UserRow>()
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(UserRow::into_user)
            .collect()
    }

    async fn find_user_by_login(&self, login: &str) -> StoreResult<Option<User>> {
        let login = login.trim().to_lowercase();
        sqlx::query_as::<_, UserRow>(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE (email = $1 OR lower(handle) = $1)
               AND deleted_at IS NULL LIMIT 1"
        ))
        .bind(login)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .map(UserRow::into_user)
        .transpose()
    }

    async fn update_profile(
        &self,
        id: UserId,
        update: &ProfileUpdate,
    ) -> StoreResult<Option<User>> {
        let avatar_given = update.avatar_media_id.is_some();
        let avatar = update.avatar_media_id.flatten();
        let search_name = update.display_name.as_ref().map(|d| fold_words(d.as_str()));
        let mut tx = begin_write(&self.pool).await?;
        let updated = sqlx::query_as::<_, UserRow>(&format!(
            "UPDATE users SET
                display_name = coalesce($1, display_name),
                search_name = coalesce($8, search_name),
                bio = coalesce($2, bio),
                avatar_media_id = CASE WHEN $3 THEN $4 ELSE avatar_media_id END,
                is_private = coalesce($5, is_private),
                updated_at = $6
             WHERE id = $7 AND deleted_at IS NULL RETURNING {USER_COLUMNS}"
        ))
        .bind(update.display_name.as_ref().map(|d| d.as_str()))
        .bind(update.bio.as_ref().map(|b| b.as_str()))
        .bind(avatar_given)
        .bind(avatar)
        .bind(update.is_private)
        .bind(ts(time::OffsetDateTime::now_utc()))
        .bind(id.0)
        .bind(&search_name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?
        .map(UserRow::into_user)
        .transpose()?;
        if let (Some(user), Some(search_name)) = (&updated, &search_name) {
            insert_name_words(&mut tx, &name_words(user.handle.as_str(), search_name)).await?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(updated)
    }

    async fn set_role(&self, id: UserId, role: Role) -> StoreResult<bool> {
        let result = sqlx::query("UPDATE users SET role = $1 WHERE id = $2 AND deleted_at IS NULL")
            .bind(role.as_str())
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(result.rows_affected() == 1)
    }
}
