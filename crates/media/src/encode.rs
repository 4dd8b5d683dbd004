//! Encoding variants (fresh JPEGs: no EXIF, GPS, XMP or comments; only the colour profile is
//! kept) and blurhashes.

use turbojpeg::{PixelFormat, Subsamp};

use crate::{JPEG_QUALITY, MediaError, Rgb, Variant};

/// A fresh JPEG of `image`, carrying only its colour profile (if any).
pub(crate) fn jpeg(
    name: &'static str,
    image: &Rgb,
    icc_profile: Option<&[u8]>,
) -> Result<Variant, MediaError> {
    let encoded = turbojpeg::compress(
        turbojpeg::Image {
            pixels: image.pixels.as_slice(),
            width: image.width as usize,
            pitch: image.width as usize * 3,
            height: image.height as usize,
            format: PixelFormat::RGB,
        },
        JPEG_QUALITY,
        Subsamp::Sub2x2,
    )
    .map_err(|_| MediaError::Failed)?;
    Ok(variant(
        name,
        image.width,
        image.height,
        encoded.to_vec(),
        icc_profile,
    ))
}

/// A JPEG variant, with the colour profile (if any) embedded.
pub(crate) fn variant(
    name: &'static str,
    width: u32,
    height: u32,
    jpeg: Vec<u8>,
    icc_profile: Option<&[u8]>,
) -> Variant {
    Variant {
        name,
        width,
        height,
        content_type: "image/jpeg",
        bytes: match icc_profile {
            Some(profile) => crate::icc::embed_in_jpeg(jpeg, profile),
            None => jpeg,
        },
    }
}

/// A 4×3-component blurhash of a small image.
pub(crate) fn blurhash(image: &Rgb) -> Result<String, MediaError> {
    let mut rgba = Vec::with_capacity(image.pixels.len() / 3 * 4);
    for pixel in image.pixels.chunks_exact(3) {
        rgba.extend_from_slice(pixel);
        rgba.push(255);
    }
    blurhash::encode(4, 3, image.width, image.height, &rgba).map_err(|_| MediaError::Failed)
}
