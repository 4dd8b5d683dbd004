/// Failures a store reports; everything unexpected is `Backend`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint rejected the write; `field` names the API field it protects.
    #[error("{field} is already taken")]
    Conflict { field: &'static str },
    /// The database could not be reached or is shutting down or starting: nothing was done,
    /// and the same call may succeed shortly (answered 503, not 500).
    #[error("database unavailable: {0}")]
    Unavailable(Box<dyn std::error::Error + Send + Sync>),
    #[error("database error: {0}")]
    Backend(Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    pub fn backend(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Backend(Box::new(err))
    }
}
