//! Benchmark accounts made straight in the store, with access tokens, and their sockets.

use std::sync::Arc;

use picshare_domain::{DisplayName, Email, Handle, NewUser, Role, UserId};
use picshare_store::Store;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Accounts made straight in the store (no password hashing), with access tokens.
pub(crate) async fn accounts(
    store: &Arc<dyn Store>,
    tokens: &picshare_app::TokenService,
    count: usize,
) -> anyhow::Result<Vec<(UserId, String)>> {
    let run = uuid::Uuid::now_v7().simple().to_string();
    let mut users = Vec::with_capacity(count);
    for i in 0..count {
        let handle = format!("rt{}_{i}", &run[20..]);
        let user = store
            .create_user(&NewUser {
                id: UserId::generate(),
                handle: Handle::parse(&handle).map_err(anyhow::Error::msg)?,
                email: Email::parse(&format!("{handle}@example.com"))
                    .map_err(anyhow::Error::msg)?,
                password_hash: "$argon2id$unused".into(),
                display_name: DisplayName::default(),
                role: Role::User,
                created_at: time::OffsetDateTime::now_utc(),
            })
            .await?;
        users.push((user.id, tokens.issue_access_token(user.id)?));
    }
    Ok(users)
}

/// The HTTP client of the benchmarks that drive many accounts at once.
pub(crate) fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .pool_max_idle_per_host(64)
        .build()?)
}

pub(crate) fn ws_request(
    base: &str,
    token: &str,
) -> anyhow::Result<tokio_tungstenite::tungstenite::handshake::client::Request> {
    let mut request = format!("{}/v1/ws", base.replacen("http", "ws", 1)).into_client_request()?;
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    Ok(request)
}
