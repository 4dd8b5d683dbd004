/// Why an upload could not be processed, in words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    #[error("the file is not an image")]
    NotAnImage,
    #[error("{0} images are not supported; upload a JPEG, PNG or WebP")]
    Unsupported(&'static str),
    #[error("the image is larger than 50 megapixels")]
    TooManyPixels,
    #[error("the image is stored in too many progressive scans to process")]
    TooManyScans,
    #[error(
        "the image needs more memory to decode than is allowed; upload a smaller or baseline image"
    )]
    TooMuchMemory,
    #[error("the image's colour profile is larger than 256 KiB")]
    ProfileTooLarge,
    #[error("the image is damaged or incomplete")]
    Corrupt,
    #[error("the image could not be processed")]
    Failed,
}
