/// Why an upload could not be processed, in words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    #[error("the file is not an image")]
    NotAnImage,
    #[error("{0} images are not supported; upload a JPEG, PNG or WebP")]
    Unsupported(&'static str),
    #[error("the image is larger than 50 megapixels")]
    TooManyPixels,
    #[error("the image is damaged or incomplete")]
    Corrupt,
    #[error("the image could not be processed")]
    Failed,
}
