//! Image processing for PicShare: pure CPU, no async, no I/O. Called by the worker on a blocking
//! pool. Detects the real format from the bytes, refuses decompression bombs before decoding
//! pixels, applies EXIF orientation and writes variants that carry no metadata at all.

mod cores;
mod decode;
mod encode;
mod error;
pub mod icc;
mod planes;
mod resize;
pub mod samples;
mod sniff;

use image::metadata::Orientation;

pub use error::MediaError;
pub use sniff::{ImageFormat, sniff};

/// Images above this many pixels are refused before their pixels are decoded.
pub const MAX_PIXELS: u64 = 50_000_000;
/// Progressive JPEGs with more scans are refused: every scan is a pass over the whole image, so a
/// few hundred kilobytes of tiny scans could cost minutes of CPU. Encoders write about ten.
pub const MAX_JPEG_SCANS: u32 = 100;
/// Memory a decode may need for its pixels and intermediate buffers; larger inputs are refused
/// before decoding, so one job stays well under 256 MiB whatever the file.
pub const MAX_DECODE_BYTES: u64 = 200 * 1024 * 1024;
/// Longest edge of the `medium` variant's width.
pub const MEDIUM_MAX_WIDTH: u32 = 1080;
pub const THUMB_SIZE: u32 = 320;
pub const AVATAR_SIZE: u32 = 400;
pub const JPEG_QUALITY: i32 = 82;

/// What an upload is for; decides which variants are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// `thumb` (320×320 centre crop) and `medium` (at most 1080 wide).
    Post,
    /// `avatar` (400×400 centre crop).
    Avatar,
}

/// One encoded output image.
#[derive(Debug, Clone)]
pub struct Variant {
    pub name: &'static str,
    pub width: u32,
    pub height: u32,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// The result of processing one upload.
#[derive(Debug, Clone)]
pub struct Processed {
    pub format: ImageFormat,
    /// Size of the original as displayed (after orientation).
    pub width: u32,
    pub height: u32,
    pub blurhash: String,
    pub variants: Vec<Variant>,
}

/// Decoded pixels, 8-bit RGB, row-major, no padding.
#[derive(Clone)]
pub(crate) struct Rgb {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

/// Runs the whole pipeline on an uploaded file.
pub fn process(bytes: &[u8], purpose: Purpose) -> Result<Processed, MediaError> {
    process_with(bytes, purpose, purpose == Purpose::Post)
}

/// [`process`] as it runs for uploads that are not 4:2:0 JPEGs: through RGB pixels whatever the
/// file. For benchmarks, beside [`process`].
pub fn process_in_rgb(bytes: &[u8], purpose: Purpose) -> Result<Processed, MediaError> {
    process_with(bytes, purpose, false)
}

/// `process`; `planes_allowed`: a post from a 4:2:0 JPEG is made from its planes (`planes`).
fn process_with(
    bytes: &[u8],
    purpose: Purpose,
    planes_allowed: bool,
) -> Result<Processed, MediaError> {
    let _in_flight = cores::InFlight::enter();
    let Decoded {
        format,
        width,
        height,
        orientation,
        plan,
        pixels,
        icc_profile,
    } = decode(bytes, purpose, planes_allowed)?;
    // Variants are RGB: a CMYK or greyscale profile would misdescribe them.
    let icc_profile = match icc_profile {
        Some(profile) => icc::usable_profile(profile)?,
        None => None,
    };
    let icc_profile = icc_profile.as_deref();
    let (variants, blurhash_source) = match (purpose, pixels) {
        (Purpose::Post, DecodedPixels::Yuv420(buffer)) => {
            post_from_planes(&buffer, &plan, orientation, icc_profile)?
        }
        (Purpose::Post, DecodedPixels::Rgb(pixels)) => {
            let stored = resize::fit(pixels, plan.main_size, orientation_swaps_axes(orientation))?;
            // The thumb (from the medium, as stored: a centre crop turns with the image) is made
            // beside the turn and encoding of the medium, on both cores.
            let (medium, thumb) = cores::both(
                || {
                    resize::orient(&stored, orientation)
                        .and_then(|medium| encode::jpeg("medium", &medium, icc_profile))
                },
                || {
                    let thumb = resize::square(&stored, THUMB_SIZE)?;
                    let thumb = resize::orient(&thumb, orientation)?;
                    let blurhash_source = resize::square(&thumb, 32)?;
                    Ok::<_, MediaError>((
                        encode::jpeg("thumb", &thumb, icc_profile)?,
                        blurhash_source,
                    ))
                },
            );
            let (thumb, blurhash_source) = thumb??;
            (vec![thumb, medium?], blurhash_source)
        }
        (Purpose::Avatar, pixels) => {
            let DecodedPixels::Rgb(pixels) = pixels else {
                return Err(MediaError::Failed);
            };
            let oriented = resize::orient(&pixels, orientation)?;
            let avatar = resize::square(&oriented, AVATAR_SIZE)?;
            let blurhash_source = resize::square(&avatar, 32)?;
            (
                vec![encode::jpeg("avatar", &avatar, icc_profile)?],
                blurhash_source,
            )
        }
    };
    Ok(Processed {
        format,
        width,
        height,
        blurhash: encode::blurhash(&blurhash_source)?,
        variants,
    })
}

/// A post's variants and blurhash source from a 4:2:0 JPEG's planes (`planes`), made as the
/// RGB path makes them: the medium, then the thumb from it beside the medium's turn and encoding.
fn post_from_planes(
    buffer: &planes::Yuv420Buffer,
    plan: &Plan,
    orientation: Orientation,
    icc_profile: Option<&[u8]>,
) -> Result<(Vec<Variant>, Rgb), MediaError> {
    let swapped = orientation_swaps_axes(orientation);
    let stored = planes::fit(&buffer.planes()?, plan.main_size, swapped)?;
    let (medium, thumb) = cores::both(
        || {
            planes::orient(&stored, orientation)
                .and_then(|medium| planes::jpeg("medium", &medium, icc_profile))
        },
        || {
            let thumb = planes::square(&stored, THUMB_SIZE)?;
            let thumb = planes::orient(&thumb, orientation)?;
            let blurhash_source = planes::to_rgb(&planes::square(&*thumb, 32)?);
            Ok::<_, MediaError>((planes::jpeg("thumb", &thumb, icc_profile)?, blurhash_source))
        },
    );
    let (thumb, blurhash_source) = thumb??;
    Ok((vec![thumb, medium?], blurhash_source))
}

/// Only the decode step of [`process`] to RGB pixels, at the scale it would use: the floor any
/// pipeline working in RGB pays. Returns the decoded size. For benchmarks.
pub fn decode_only(bytes: &[u8], purpose: Purpose) -> Result<(u32, u32), MediaError> {
    Ok(decode(bytes, purpose, false)?.pixels.size())
}

/// The decode step [`process`] takes for a post: to the JPEG's own planes when it is a 4:2:0
/// JPEG (else to RGB), at the scale it would use. Returns the decoded size. For benchmarks.
pub fn decode_post_only(bytes: &[u8]) -> Result<(u32, u32), MediaError> {
    Ok(decode(bytes, Purpose::Post, true)?.pixels.size())
}

/// Pixels as decoded, in stored orientation, at the smallest DCT scale that covers every
/// variant (JPEG only).
enum DecodedPixels {
    Rgb(Rgb),
    /// A 4:2:0 JPEG's own planes (`planes`).
    Yuv420(planes::Yuv420Buffer),
}

impl DecodedPixels {
    fn size(&self) -> (u32, u32) {
        match self {
            Self::Rgb(pixels) => (pixels.width, pixels.height),
            Self::Yuv420(buffer) => (buffer.width, buffer.height),
        }
    }
}

struct Decoded {
    format: ImageFormat,
    /// Displayed size of the original.
    width: u32,
    height: u32,
    orientation: Orientation,
    plan: Plan,
    pixels: DecodedPixels,
    /// The upload's colour profile, carried into the variants.
    icc_profile: Option<Vec<u8>>,
}

/// `planes_allowed`: a 4:2:0 JPEG may be decoded to its planes.
fn decode(bytes: &[u8], purpose: Purpose, planes_allowed: bool) -> Result<Decoded, MediaError> {
    let Some(format) = sniff(bytes) else {
        return Err(sniff::unsupported_kind(bytes).unwrap_or(MediaError::NotAnImage));
    };
    let header = decode::header(bytes, format)?;
    if u64::from(header.width) * u64::from(header.height) > MAX_PIXELS {
        return Err(MediaError::TooManyPixels);
    }
    let orientation = decode::orientation(bytes);
    let swaps_axes = orientation_swaps_axes(orientation);
    let (width, height) = if swaps_axes {
        (header.height, header.width)
    } else {
        (header.width, header.height)
    };
    let plan = Plan::new(purpose, width, height);
    let (need_w, need_h) = if swaps_axes {
        (plan.min_source_height, plan.min_source_width)
    } else {
        (plan.min_source_width, plan.min_source_height)
    };
    let (pixels, icc_profile) = if planes_allowed && decode::has_420_planes(&header) {
        (
            DecodedPixels::Yuv420(decode::jpeg_planes(bytes, &header, need_w, need_h)?),
            icc::from_jpeg(bytes),
        )
    } else {
        let (pixels, icc_profile) = decode::pixels(bytes, format, &header, need_w, need_h)?;
        (DecodedPixels::Rgb(pixels), icc_profile)
    };
    Ok(Decoded {
        format,
        width,
        height,
        orientation,
        plan,
        pixels,
        icc_profile,
    })
}

fn orientation_swaps_axes(orientation: Orientation) -> bool {
    matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

/// Target sizes, in displayed orientation.
struct Plan {
    /// `medium` size for posts.
    main_size: (u32, u32),
    min_source_width: u32,
    min_source_height: u32,
}

impl Plan {
    fn new(purpose: Purpose, width: u32, height: u32) -> Self {
        match purpose {
            Purpose::Post => {
                let medium_w = width.min(MEDIUM_MAX_WIDTH);
                let medium_h = scaled(height, medium_w, width);
                Self {
                    main_size: (medium_w, medium_h),
                    min_source_width: medium_w,
                    min_source_height: medium_h,
                }
            }
            Purpose::Avatar => {
                let side = width.min(height).min(AVATAR_SIZE);
                Self {
                    main_size: (side, side),
                    min_source_width: side,
                    min_source_height: side,
                }
            }
        }
    }
}

/// `value * numerator / denominator`, rounded, at least 1.
pub(crate) fn scaled(value: u32, numerator: u32, denominator: u32) -> u32 {
    let result = (u64::from(value) * u64::from(numerator) + u64::from(denominator) / 2)
        / u64::from(denominator.max(1));
    (result as u32).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(variant: &Variant) -> image::RgbImage {
        image::load_from_memory(&variant.bytes).unwrap().to_rgb8()
    }

    /// The mean and the largest difference of two images' samples.
    fn differences(a: &image::RgbImage, b: &image::RgbImage) -> (f64, u8) {
        let pairs = a.as_raw().iter().zip(b.as_raw());
        let total: f64 = pairs.clone().map(|(x, y)| f64::from(x.abs_diff(*y))).sum();
        let largest = pairs.map(|(x, y)| x.abs_diff(*y)).max().unwrap_or(0);
        (total / a.as_raw().len() as f64, largest)
    }

    /// The sRGB colour a blurhash's characters 2–5 hold (base 83).
    fn average_colour(hash: &str) -> [u8; 3] {
        const DIGITS: &str =
            "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~";
        let value = hash[2..6].chars().fold(0, |value, digit| {
            value * 83 + DIGITS.find(digit).unwrap() as u32
        });
        [(value >> 16) as u8, (value >> 8) as u8, value as u8]
    }

    #[test]
    fn a_post_made_from_the_jpeg_s_planes_looks_like_the_one_made_in_rgb() {
        // Odd sizes (odd chroma planes); every orientation at full DCT scale, a transposing
        // one and its mirror at a reduced scale.
        for (width, height, orientations) in [(1001, 757, 1..=8), (2601, 1999, 5..=6)] {
            let image = samples::photo_like(width, height);
            for orientation in orientations {
                let jpeg = samples::jpeg_with_exif(&image, 90, orientation, false);
                let planes = process_with(&jpeg, Purpose::Post, true).unwrap();
                let rgb = process_in_rgb(&jpeg, Purpose::Post).unwrap();
                assert_eq!((planes.width, planes.height), (rgb.width, rgb.height));
                for (from_planes, from_rgb) in planes.variants.iter().zip(&rgb.variants) {
                    assert_eq!(from_planes.name, from_rgb.name);
                    let (a, b) = (decoded(from_planes), decoded(from_rgb));
                    assert_eq!(a.dimensions(), b.dimensions(), "{}", from_planes.name);
                    assert_eq!(
                        (a.width(), a.height()),
                        (from_planes.width, from_planes.height)
                    );
                    let (mean, largest) = differences(&a, &b);
                    assert!(
                        mean < 2.0 && largest < 64,
                        "{width}x{height}, orientation {orientation}, {}: mean {mean:.2}, largest {largest}",
                        from_planes.name
                    );
                }
                // The same average colour, up to rounding.
                let (a, b) = (
                    average_colour(&planes.blurhash),
                    average_colour(&rgb.blurhash),
                );
                assert!(
                    a.iter().zip(&b).all(|(x, y)| x.abs_diff(*y) <= 2),
                    "orientation {orientation}: {a:?} against {b:?}"
                );
            }
        }
    }
}
