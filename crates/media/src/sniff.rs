//! The real format of an upload, from its first bytes (the declared type is never trusted).

use crate::MediaError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Jpeg,
    Png,
    WebP,
}

impl ImageFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Png => "image/png",
            ImageFormat::WebP => "image/webp",
        }
    }
}

/// Recognises JPEG, PNG and WebP; anything else is `None`.
pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageFormat::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageFormat::Png)
    } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(ImageFormat::WebP)
    } else {
        None
    }
}

/// Image containers we recognise but do not decode, for a clearer message than "not an image".
pub(crate) fn unsupported_kind(bytes: &[u8]) -> Option<MediaError> {
    let brand = bytes.get(4..12)?;
    if brand.starts_with(b"ftyp") {
        let kind = match &brand[4..8] {
            b"heic" | b"heix" | b"mif1" | b"msf1" | b"hevc" => "HEIC",
            b"avif" | b"avis" => "AVIF",
            _ => return None,
        };
        return Some(MediaError::Unsupported(kind));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_formats_by_magic_bytes() {
        assert_eq!(
            sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]),
            Some(ImageFormat::Jpeg)
        );
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some(ImageFormat::Png));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(ImageFormat::WebP));
        assert_eq!(sniff(b"hello, I am text"), None);
        assert_eq!(sniff(b""), None);
        assert_eq!(
            unsupported_kind(b"\0\0\0\x18ftypheic\0\0\0\0"),
            Some(MediaError::Unsupported("HEIC"))
        );
    }
}
