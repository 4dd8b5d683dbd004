//! Access tokens (PASETO v4.public, short-lived, stateless) and refresh tokens (opaque random,
//! stored only as SHA-256 hashes).

use std::io;
use std::path::Path;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pasetors::claims::{Claims, ClaimsValidationRules};
use pasetors::keys::{AsymmetricKeyPair, AsymmetricPublicKey, AsymmetricSecretKey, Generate};
use pasetors::token::UntrustedToken;
use pasetors::version4::V4;
use pasetors::{Public, public};
use picshare_domain::UserId;
use rand::RngCore;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::{AppError, AppResult};

static LOOKUPS: picshare_store::CacheLookups = picshare_store::CacheLookups::new("access_tokens");

/// Bytes of an Ed25519 secret key as pasetors stores it (seed followed by public key).
const SECRET_KEY_LEN: usize = 64;
const REFRESH_TOKEN_BYTES: usize = 32;

pub struct TokenService {
    secret: AsymmetricSecretKey<V4>,
    public: AsymmetricPublicKey<V4>,
    issuer: String,
    audience: String,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    /// Access tokens already verified, with their subject and expiry: a client's repeated
    /// requests skip the signature check (about 50 µs each). An entry is used only until the
    /// token's own expiry, so the cache changes no answer.
    verified: Option<moka::sync::Cache<String, (UserId, OffsetDateTime)>>,
}

/// Verified access tokens kept (one per active session is plenty).
const VERIFIED_TOKENS: u64 = 50_000;

impl TokenService {
    pub fn new(
        secret_key: &[u8],
        issuer: String,
        audience: String,
        access_ttl: Duration,
        refresh_ttl: Duration,
    ) -> AppResult<Self> {
        let secret = AsymmetricSecretKey::<V4>::from(secret_key).map_err(AppError::internal)?;
        let public = AsymmetricPublicKey::<V4>::try_from(&secret).map_err(AppError::internal)?;
        Ok(Self {
            secret,
            public,
            issuer,
            audience,
            access_ttl,
            refresh_ttl,
            verified: Some(
                moka::sync::Cache::builder()
                    .max_capacity(VERIFIED_TOKENS)
                    .time_to_live(access_ttl)
                    .build(),
            ),
        })
    }

    /// A 32-byte key for `purpose`, derived from the signing key, so every instance that shares
    /// the key file derives the same one and no second secret needs distributing.
    pub fn derived_key(&self, purpose: &str) -> [u8; 32] {
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        hasher.update(b"picshare derived key\0");
        hasher.update(purpose.as_bytes());
        hasher.update([0]);
        hasher.update(self.secret.as_bytes());
        hasher.finalize().into()
    }

    /// Checks every access token's signature, remembering none (for measuring cold reads).
    pub fn without_caches(mut self) -> Self {
        self.verified = None;
        self
    }

    pub fn issue_access_token(&self, user: UserId) -> AppResult<String> {
        let mut claims = Claims::new_expires_in(&self.access_ttl).map_err(AppError::internal)?;
        claims.issuer(&self.issuer).map_err(AppError::internal)?;
        claims
            .audience(&self.audience)
            .map_err(AppError::internal)?;
        claims
            .subject(&user.to_string())
            .map_err(AppError::internal)?;
        claims
            .token_identifier(&Uuid::now_v7().to_string())
            .map_err(AppError::internal)?;
        public::sign(&self.secret, &claims, None, None).map_err(AppError::internal)
    }

    /// The user an access token speaks for, if its signature, issuer, audience and expiry hold.
    pub fn verify_access_token(&self, token: &str) -> Option<UserId> {
        self.verify_access_token_expiry(token).map(|(user, _)| user)
    }

    /// `verify_access_token`, with the moment the token expires.
    pub fn verify_access_token_expiry(&self, token: &str) -> Option<(UserId, OffsetDateTime)> {
        let now = OffsetDateTime::now_utc();
        if let Some(verified) = &self.verified {
            let cached = verified.get(token);
            LOOKUPS.count(cached.is_some());
            if let Some((user, expires)) = cached {
                return (now < expires).then_some((user, expires));
            }
        }
        let untrusted = UntrustedToken::<Public, V4>::try_from(token).ok()?;
        let mut rules = ClaimsValidationRules::new();
        rules.validate_issuer_with(&self.issuer);
        rules.validate_audience_with(&self.audience);
        let trusted = public::verify(&self.public, &untrusted, &rules, None, None).ok()?;
        let claims = trusted.payload_claims()?;
        let subject = claims.get_claim("sub")?.as_str()?;
        let user = Uuid::parse_str(subject).ok().map(UserId)?;
        let expires = claims.get_claim("exp")?.as_str()?;
        let expires = OffsetDateTime::parse(expires, &Rfc3339).ok()?;
        if now >= expires {
            return None;
        }
        if let Some(verified) = &self.verified {
            verified.insert(token.to_owned(), (user, expires));
        }
        Some((user, expires))
    }
}

impl TokenService {
    /// A capability to `PUT` one upload's bytes to this server (embedded storage), like a
    /// presigned URL: it names the media and expires.
    pub fn issue_upload_token(&self, media_id: Uuid, ttl: Duration) -> AppResult<String> {
        let mut claims = Claims::new_expires_in(&ttl).map_err(AppError::internal)?;
        claims.issuer(&self.issuer).map_err(AppError::internal)?;
        claims
            .audience(&format!("{}/upload", self.audience))
            .map_err(AppError::internal)?;
        claims
            .subject(&media_id.to_string())
            .map_err(AppError::internal)?;
        public::sign(&self.secret, &claims, None, None).map_err(AppError::internal)
    }

    /// The media an upload token is for, if it is valid.
    pub fn verify_upload_token(&self, token: &str) -> Option<Uuid> {
        let untrusted = UntrustedToken::<Public, V4>::try_from(token).ok()?;
        let mut rules = ClaimsValidationRules::new();
        rules.validate_issuer_with(&self.issuer);
        let audience = format!("{}/upload", self.audience);
        rules.validate_audience_with(&audience);
        let trusted = public::verify(&self.public, &untrusted, &rules, None, None).ok()?;
        let subject = trusted.payload_claims()?.get_claim("sub")?.as_str()?;
        Uuid::parse_str(subject).ok()
    }
}

/// A new opaque refresh token and the hash under which it is stored.
pub fn new_refresh_token() -> (String, Vec<u8>) {
    let mut bytes = [0u8; REFRESH_TOKEN_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_refresh_token(&token);
    (token, hash)
}

pub fn hash_refresh_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Reads the signing key at `path`, creating it (readable by the owner only) on first start.
pub fn load_or_create_signing_key(path: &Path) -> io::Result<Vec<u8>> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let bytes = URL_SAFE_NO_PAD
                .decode(text.trim())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            if bytes.len() != SECRET_KEY_LEN {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("expected a {SECRET_KEY_LEN}-byte key"),
                ));
            }
            Ok(bytes)
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            let pair =
                AsymmetricKeyPair::<V4>::generate().map_err(|e| io::Error::other(e.to_string()))?;
            let bytes = pair.secret.as_bytes().to_vec();
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            write_private_file(path, URL_SAFE_NO_PAD.encode(&bytes).as_bytes())?;
            Ok(bytes)
        }
        Err(err) => Err(err),
    }
}

#[cfg(unix)]
fn write_private_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    std::fs::write(path, contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(key: &[u8], audience: &str, ttl: Duration) -> TokenService {
        TokenService::new(
            key,
            "https://picshare.test".into(),
            audience.into(),
            ttl,
            Duration::from_secs(3600),
        )
        .unwrap()
    }

    fn fresh_key() -> Vec<u8> {
        AsymmetricKeyPair::<V4>::generate()
            .unwrap()
            .secret
            .as_bytes()
            .to_vec()
    }

    #[test]
    fn access_token_round_trips_to_its_user() {
        let tokens = service(&fresh_key(), "picshare", Duration::from_secs(60));
        let user = UserId::generate();
        let token = tokens.issue_access_token(user).unwrap();
        assert!(token.starts_with("v4.public."));
        assert_eq!(tokens.verify_access_token(&token), Some(user));
    }

    #[test]
    fn tokens_of_another_key_or_audience_or_tampered_are_refused() {
        let key = fresh_key();
        let ours = service(&key, "picshare", Duration::from_secs(60));
        let token = ours.issue_access_token(UserId::generate()).unwrap();
        assert_eq!(
            service(&fresh_key(), "picshare", Duration::from_secs(60)).verify_access_token(&token),
            None
        );
        assert_eq!(
            service(&key, "elsewhere", Duration::from_secs(60)).verify_access_token(&token),
            None
        );
        let mut tampered = token.clone().into_bytes();
        let middle = tampered.len() / 2;
        tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            ours.verify_access_token(&String::from_utf8(tampered).unwrap()),
            None
        );
    }

    #[test]
    fn signing_key_is_created_once_and_reused() {
        let dir = std::env::temp_dir().join(format!("picshare-key-{}", Uuid::now_v7()));
        let path = dir.join("token.key");
        let first = load_or_create_signing_key(&path).unwrap();
        let second = load_or_create_signing_key(&path).unwrap();
        assert_eq!(first, second);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn refresh_tokens_are_random_and_stored_hashed() {
        let (a, hash_a) = new_refresh_token();
        let (b, _) = new_refresh_token();
        assert_ne!(a, b);
        assert_eq!(hash_a, hash_refresh_token(&a));
        assert_eq!(hash_a.len(), 32);
    }
}
