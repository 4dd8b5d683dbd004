//! Reading dimensions and orientation without decoding, then decoding to 8-bit RGB.

use std::io::Cursor;

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits};
use turbojpeg::{Colorspace, Decompressor, PixelFormat, ScalingFactor};

use crate::sniff::ImageFormat;
use crate::{MAX_PIXELS, MediaError, Rgb};

/// Decoders may allocate at most this much (a 50 MP RGBA16 image is 400 MB; we stay well below
/// by refusing over 50 MP first, this is the second fence).
const MAX_DECODE_ALLOC: u64 = 512 * 1024 * 1024;

pub(crate) struct Header {
    pub width: u32,
    pub height: u32,
    jpeg_colorspace: Option<Colorspace>,
}

/// The stored dimensions, read from the file's header only.
pub(crate) fn header(bytes: &[u8], format: ImageFormat) -> Result<Header, MediaError> {
    match format {
        ImageFormat::Jpeg => {
            let header = turbojpeg::read_header(bytes).map_err(|_| MediaError::Corrupt)?;
            Ok(Header {
                width: u32::try_from(header.width).map_err(|_| MediaError::TooManyPixels)?,
                height: u32::try_from(header.height).map_err(|_| MediaError::TooManyPixels)?,
                jpeg_colorspace: Some(header.colorspace),
            })
        }
        ImageFormat::Png | ImageFormat::WebP => {
            let (width, height) = reader(bytes, format)
                .into_dimensions()
                .map_err(|_| MediaError::Corrupt)?;
            Ok(Header {
                width,
                height,
                jpeg_colorspace: None,
            })
        }
    }
}

/// The EXIF orientation, if the file carries one.
pub(crate) fn orientation(bytes: &[u8]) -> Orientation {
    exif::Reader::new()
        .read_from_container(&mut Cursor::new(bytes))
        .ok()
        .and_then(|exif| {
            exif.get_field(exif::Tag::Orientation, exif::In::PRIMARY)
                .and_then(|field| field.value.get_uint(0))
        })
        .and_then(|value| u8::try_from(value).ok())
        .and_then(Orientation::from_exif)
        .unwrap_or(Orientation::NoTransforms)
}

/// Decodes to RGB, with the file's ICC colour profile if it has one. JPEGs are decoded at the
/// smallest DCT scale whose size is at least `need_width` × `need_height` (stored orientation).
pub(crate) fn pixels(
    bytes: &[u8],
    format: ImageFormat,
    header: &Header,
    need_width: u32,
    need_height: u32,
) -> Result<(Rgb, Option<Vec<u8>>), MediaError> {
    match format {
        ImageFormat::Jpeg => Ok((
            jpeg(bytes, header, need_width, need_height)?,
            crate::icc::from_jpeg(bytes),
        )),
        ImageFormat::Png | ImageFormat::WebP => {
            let mut reader = reader(bytes, format);
            let mut limits = Limits::default();
            limits.max_alloc = Some(MAX_DECODE_ALLOC);
            reader.limits(limits);
            let mut decoder = reader.into_decoder().map_err(|_| MediaError::Corrupt)?;
            let icc_profile = decoder.icc_profile().ok().flatten();
            let image = DynamicImage::from_decoder(decoder).map_err(|_| MediaError::Corrupt)?;
            Ok((flatten(image), icc_profile))
        }
    }
}

fn reader(bytes: &[u8], format: ImageFormat) -> ImageReader<Cursor<&[u8]>> {
    let format = match format {
        ImageFormat::Png => image::ImageFormat::Png,
        ImageFormat::WebP => image::ImageFormat::WebP,
        ImageFormat::Jpeg => image::ImageFormat::Jpeg,
    };
    ImageReader::with_format(Cursor::new(bytes), format)
}

/// RGB, with any transparency composited onto white.
fn flatten(image: DynamicImage) -> Rgb {
    let (width, height) = (image.width(), image.height());
    if !image.color().has_alpha() {
        return Rgb {
            width,
            height,
            pixels: image.into_rgb8().into_raw(),
        };
    }
    let rgba = image.into_rgba8().into_raw();
    let mut pixels = Vec::with_capacity(rgba.len() / 4 * 3);
    for pixel in rgba.chunks_exact(4) {
        let alpha = u32::from(pixel[3]);
        for &channel in &pixel[..3] {
            let blended = (u32::from(channel) * alpha + 255 * (255 - alpha) + 127) / 255;
            pixels.push(blended as u8);
        }
    }
    Rgb {
        width,
        height,
        pixels,
    }
}

fn jpeg(
    bytes: &[u8],
    header: &Header,
    need_width: u32,
    need_height: u32,
) -> Result<Rgb, MediaError> {
    let mut decompressor = Decompressor::new().map_err(|_| MediaError::Failed)?;
    let factor = scaling_factor(header.width, header.height, need_width, need_height);
    decompressor
        .set_scaling_factor(factor)
        .map_err(|_| MediaError::Failed)?;
    let width = factor.scale(header.width as usize);
    let height = factor.scale(header.height as usize);
    if (width as u64) * (height as u64) > MAX_PIXELS {
        return Err(MediaError::TooManyPixels);
    }
    let cmyk = matches!(
        header.jpeg_colorspace,
        Some(Colorspace::CMYK | Colorspace::YCCK)
    );
    let format = if cmyk {
        PixelFormat::CMYK
    } else {
        PixelFormat::RGB
    };
    let mut pixels = vec![0u8; width * height * format.size()];
    decompressor
        .decompress(
            bytes,
            turbojpeg::Image {
                pixels: pixels.as_mut_slice(),
                width,
                pitch: width * format.size(),
                height,
                format,
            },
        )
        .map_err(|_| MediaError::Corrupt)?;
    if cmyk {
        pixels = cmyk_to_rgb(&pixels);
    }
    Ok(Rgb {
        width: width as u32,
        height: height as u32,
        pixels,
    })
}

/// The smallest supported scale (≤ 1) that keeps the image at least `need` in both axes.
fn scaling_factor(width: u32, height: u32, need_width: u32, need_height: u32) -> ScalingFactor {
    let mut factors: Vec<ScalingFactor> = Decompressor::supported_scaling_factors()
        .into_iter()
        .filter(|f| f.num() <= f.denom())
        .collect();
    factors.sort_by(|a, b| (a.num() * b.denom()).cmp(&(b.num() * a.denom())));
    factors
        .into_iter()
        .find(|f| {
            f.scale(width as usize) >= need_width as usize
                && f.scale(height as usize) >= need_height as usize
        })
        .unwrap_or(ScalingFactor::ONE)
}

/// Adobe-style (inverted) CMYK, as libjpeg delivers it, to RGB.
fn cmyk_to_rgb(cmyk: &[u8]) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(cmyk.len() / 4 * 3);
    for pixel in cmyk.chunks_exact(4) {
        let k = u32::from(pixel[3]);
        for &channel in &pixel[..3] {
            rgb.push(((u32::from(channel) * k + 127) / 255) as u8);
        }
    }
    rgb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_smallest_dct_scale_that_covers_the_target() {
        let half = scaling_factor(4000, 3000, 1080, 810);
        assert_eq!((half.num(), half.denom()), (3, 8));
        let full = scaling_factor(1000, 800, 1000, 800);
        assert_eq!((full.num(), full.denom()), (1, 1));
    }

    #[test]
    fn transparent_pixels_become_white() {
        let image = DynamicImage::ImageRgba8(
            image::RgbaImage::from_raw(2, 1, vec![0, 0, 0, 0, 10, 20, 30, 255]).unwrap(),
        );
        assert_eq!(flatten(image).pixels, vec![255, 255, 255, 10, 20, 30]);
    }
}
