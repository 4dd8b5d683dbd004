//! Object storage for media: a local directory (embedded shape) or an S3-compatible bucket
//! (scaled shape), through the `object_store` crate. Originals live under `originals/` and are
//! never published; variants live under `variants/` and are served from a public base URL.

use std::path::Path as FsPath;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::signer::Signer;
use object_store::{
    ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig, WriteMultipart,
};

const SHORT_CALL: Duration = Duration::from_secs(10);
const TRANSFER: Duration = Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("object storage: {0}")]
    Storage(String),
    #[error("object storage did not answer in time")]
    Timeout,
    #[error("the object is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("no such object")]
    NotFound,
}

pub type ObjectResult<T> = Result<T, ObjectError>;

fn storage(err: impl std::fmt::Display) -> ObjectError {
    ObjectError::Storage(err.to_string())
}

async fn timed<T>(
    limit: Duration,
    call: impl Future<Output = object_store::Result<T>>,
) -> ObjectResult<T> {
    match tokio::time::timeout(limit, call).await {
        Err(_) => Err(ObjectError::Timeout),
        Ok(Err(object_store::Error::NotFound { .. })) => Err(ObjectError::NotFound),
        Ok(Err(err)) => Err(storage(err)),
        Ok(Ok(value)) => Ok(value),
    }
}

/// Connection settings of an S3-compatible bucket.
#[derive(Debug, Clone)]
pub struct S3Settings {
    pub bucket: String,
    pub endpoint: Option<String>,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Where clients fetch public variants from (a CDN); `None`: every variant link is a
    /// presigned `GET`, and the bucket stays private.
    pub public_base_url: Option<String>,
}

#[derive(Clone)]
pub struct Objects {
    store: Arc<dyn ObjectStore>,
    /// Present for S3: clients upload straight to the bucket with presigned URLs.
    signer: Option<Arc<dyn Signer>>,
    /// Base of stable links to public variants; `None` when every link must be presigned.
    public_base_url: Option<String>,
}

impl std::fmt::Debug for Objects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Objects({})", self.store)
    }
}

impl Objects {
    /// A local directory; variants are served by the binary under `public_base_url`.
    pub fn local(dir: &FsPath, public_base_url: String) -> ObjectResult<Self> {
        std::fs::create_dir_all(dir).map_err(storage)?;
        let store = LocalFileSystem::new_with_prefix(dir).map_err(storage)?;
        Ok(Self {
            store: Arc::new(store),
            signer: None,
            public_base_url: Some(trim(public_base_url)),
        })
    }

    pub fn s3(settings: S3Settings) -> ObjectResult<Self> {
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region)
            .with_access_key_id(&settings.access_key_id)
            .with_secret_access_key(&settings.secret_access_key)
            // A bucket that is away answers within seconds, not after the client's default
            // three minutes of retries: requests waiting on it get 503, jobs retry later.
            .with_retry(RetryConfig {
                max_retries: 2,
                retry_timeout: Duration::from_secs(3),
                ..RetryConfig::default()
            })
            .with_client_options(ClientOptions::new().with_connect_timeout(Duration::from_secs(2)));
        if let Some(endpoint) = &settings.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        let s3 = Arc::new(builder.build().map_err(storage)?);
        Ok(Self {
            store: s3.clone(),
            signer: Some(s3),
            public_base_url: settings.public_base_url.map(trim),
        })
    }

    /// Whether uploads go through this binary (local directory) rather than to a bucket.
    pub fn is_local(&self) -> bool {
        self.signer.is_none()
    }

    /// A URL the client can `PUT` the object to directly (S3); `None` for local storage.
    pub async fn presigned_put(
        &self,
        key: &str,
        expires_in: Duration,
    ) -> ObjectResult<Option<String>> {
        self.presigned(http::Method::PUT, key, expires_in).await
    }

    /// A URL the client can `GET` the object from for `expires_in` (S3); `None` for local
    /// storage, whose links the binary signs itself.
    pub async fn presigned_get(
        &self,
        key: &str,
        expires_in: Duration,
    ) -> ObjectResult<Option<String>> {
        self.presigned(http::Method::GET, key, expires_in).await
    }

    async fn presigned(
        &self,
        method: http::Method,
        key: &str,
        expires_in: Duration,
    ) -> ObjectResult<Option<String>> {
        let Some(signer) = &self.signer else {
            return Ok(None);
        };
        let url = timed(
            SHORT_CALL,
            signer.signed_url(method, &Path::from(key), expires_in),
        )
        .await?;
        Ok(Some(url.to_string()))
    }

    /// Copies `from` to `to` inside the store (server-side on S3).
    pub async fn copy(&self, from: &str, to: &str) -> ObjectResult<()> {
        timed(
            TRANSFER,
            self.store.copy(&Path::from(from), &Path::from(to)),
        )
        .await
    }

    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> ObjectResult<()> {
        timed(
            TRANSFER,
            self.store.put(&Path::from(key), PutPayload::from(bytes)),
        )
        .await?;
        Ok(())
    }

    /// Streams `body` into `key`, stopping (and storing nothing) once it exceeds `limit` bytes.
    pub async fn put_stream<S, E>(&self, key: &str, mut body: S, limit: u64) -> ObjectResult<u64>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let upload = timed(SHORT_CALL, self.store.put_multipart(&Path::from(key))).await?;
        let mut writer = WriteMultipart::new(upload);
        let mut written = 0u64;
        let outcome = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(storage)?;
                written += chunk.len() as u64;
                if written > limit {
                    return Err(ObjectError::TooLarge { limit });
                }
                timed(TRANSFER, writer.wait_for_capacity(4)).await?;
                writer.put(chunk);
            }
            Ok(())
        }
        .await;
        match outcome {
            Ok(()) => {
                timed(TRANSFER, writer.finish()).await?;
                Ok(written)
            }
            Err(err) => {
                let _ = timed(SHORT_CALL, writer.abort()).await;
                Err(err)
            }
        }
    }

    /// Reads a whole object, refusing objects over `limit` bytes.
    pub async fn get(&self, key: &str, limit: u64) -> ObjectResult<Vec<u8>> {
        let result = timed(SHORT_CALL, self.store.get(&Path::from(key))).await?;
        if result.meta.size > limit {
            return Err(ObjectError::TooLarge { limit });
        }
        let bytes = timed(TRANSFER, result.bytes()).await?;
        Ok(bytes.to_vec())
    }

    /// Reads an object a piece at a time (each piece within `SHORT_CALL`), so memory holds one
    /// piece however large the object; the reader stops at the first error.
    pub async fn get_stream(
        &self,
        key: &str,
    ) -> ObjectResult<BoxStream<'static, ObjectResult<Bytes>>> {
        let result = timed(SHORT_CALL, self.store.get(&Path::from(key))).await?;
        let pieces = result.into_stream();
        Ok(futures::stream::unfold(pieces, |mut pieces| async move {
            match tokio::time::timeout(SHORT_CALL, pieces.next()).await {
                Err(_) => Some((Err(ObjectError::Timeout), pieces)),
                Ok(None) => None,
                Ok(Some(piece)) => Some((piece.map_err(storage), pieces)),
            }
        })
        .boxed())
    }

    /// The object's size, or `None` if it does not exist.
    pub async fn size(&self, key: &str) -> ObjectResult<Option<u64>> {
        match timed(SHORT_CALL, self.store.head(&Path::from(key))).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(ObjectError::NotFound) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Deletes `key`; a missing object is not an error (deletes are retried).
    pub async fn delete(&self, key: &str) -> ObjectResult<()> {
        match timed(SHORT_CALL, self.store.delete(&Path::from(key))).await {
            Ok(()) | Err(ObjectError::NotFound) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Every object under `prefix` with when it was written, as the store lists them (each
    /// page within a short call's time).
    pub fn list(
        &self,
        prefix: &str,
    ) -> impl Stream<Item = ObjectResult<(String, std::time::SystemTime)>> + Send + '_ {
        let prefix = Path::from(prefix);
        let listing = self.store.list(Some(&prefix));
        futures::stream::unfold(listing, |mut listing| async move {
            let next = match tokio::time::timeout(SHORT_CALL, listing.next()).await {
                Err(_) => Some(Err(ObjectError::Timeout)),
                Ok(None) => None,
                Ok(Some(Err(err))) => Some(Err(storage(err))),
                Ok(Some(Ok(meta))) => Some(Ok((
                    meta.location.to_string(),
                    std::time::SystemTime::from(meta.last_modified),
                ))),
            };
            next.map(|item| (item, listing))
        })
    }

    /// Whether the store answers (a listing of one page).
    pub async fn ping(&self) -> bool {
        let prefix = Path::from("variants");
        let probe = self.store.list_with_delimiter(Some(&prefix));
        matches!(tokio::time::timeout(SHORT_CALL, probe).await, Ok(Ok(_)))
    }

    /// The stable public URL of a variant, where public links exist.
    pub fn public_url(&self, key: &str) -> Option<String> {
        self.public_base_url
            .as_ref()
            .map(|base| format!("{base}/{key}"))
    }
}

fn trim(url: String) -> String {
    url.trim_end_matches('/').to_owned()
}

/// Where an upload's original is kept once the upload is complete (never public, and out of
/// reach of the upload URL, so the bytes checked at completion are the bytes processed).
pub fn original_key(media_id: &str) -> String {
    format!("originals/{media_id}")
}

/// Where the client's upload lands, until completion moves it to [`original_key`].
pub fn upload_key(media_id: &str) -> String {
    format!("uploads/{media_id}")
}

/// Where a variant is kept (public).
pub fn variant_key(media_id: &str, name: &str) -> String {
    format!("variants/{media_id}/{name}.jpg")
}
