//! Reading dimensions and orientation without decoding, then decoding to 8-bit RGB (or, for a
//! 4:2:0 JPEG, to its own planes).

use std::io::Cursor;

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits};
use turbojpeg::{Colorspace, Decompressor, PixelFormat, ScalingFactor, Subsamp};

use crate::planes::Yuv420Buffer;
use crate::sniff::ImageFormat;
use crate::{MAX_DECODE_BYTES, MAX_JPEG_SCANS, MAX_PIXELS, MediaError, Rgb};

/// Memory the PNG decoder may use beside the image itself (metadata chunks, interlacing).
const PNG_ANCILLARY_BYTES: usize = 24 * 1024 * 1024;

pub(crate) struct Header {
    pub width: u32,
    pub height: u32,
    jpeg: Option<JpegLayout>,
}

/// What decides a JPEG's decoding cost besides its size.
#[derive(Clone, Copy)]
struct JpegLayout {
    colorspace: Colorspace,
    subsamp: Subsamp,
    progressive: bool,
}

/// The stored dimensions, read from the file's header only.
pub(crate) fn header(bytes: &[u8], format: ImageFormat) -> Result<Header, MediaError> {
    match format {
        ImageFormat::Jpeg => {
            let header = turbojpeg::read_header(bytes).map_err(|_| MediaError::Corrupt)?;
            Ok(Header {
                width: u32::try_from(header.width).map_err(|_| MediaError::TooManyPixels)?,
                height: u32::try_from(header.height).map_err(|_| MediaError::TooManyPixels)?,
                jpeg: Some(JpegLayout {
                    colorspace: header.colorspace,
                    subsamp: header.subsamp,
                    progressive: header.is_progressive,
                }),
            })
        }
        ImageFormat::Png | ImageFormat::WebP => {
            let (width, height) = reader(bytes, format)
                .into_dimensions()
                .map_err(|_| MediaError::Corrupt)?;
            Ok(Header {
                width,
                height,
                jpeg: None,
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
        ImageFormat::Png => png(bytes),
        ImageFormat::WebP => {
            let mut reader = reader(bytes, format);
            let mut limits = Limits::default();
            limits.max_alloc = Some(MAX_DECODE_BYTES);
            reader.limits(limits);
            let mut decoder = reader.into_decoder().map_err(|_| MediaError::Corrupt)?;
            let icc_profile = decoder.icc_profile().ok().flatten();
            let image = DynamicImage::from_decoder(decoder).map_err(|_| MediaError::Corrupt)?;
            Ok((flatten(image), icc_profile))
        }
    }
}

/// PNG through the `png` crate, reduced to 8 bits per channel while decoding: a 16-bit RGBA
/// image never exists at full depth, so memory is at most 4 bytes a pixel (200 MB at 50 MP).
fn png(bytes: &[u8]) -> Result<(Rgb, Option<Vec<u8>>), MediaError> {
    let limits = png::Limits {
        bytes: PNG_ANCILLARY_BYTES,
    };
    let mut decoder = png::Decoder::new_with_limits(Cursor::new(bytes), limits);
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(|_| MediaError::Corrupt)?;
    let (width, height) = reader.info().size();
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(MediaError::TooManyPixels);
    }
    let icc_profile = reader.info().icc_profile.as_ref().map(|p| p.to_vec());
    let size = reader
        .output_buffer_size()
        .ok_or(MediaError::TooMuchMemory)?;
    if size as u64 > MAX_DECODE_BYTES {
        return Err(MediaError::TooMuchMemory);
    }
    let mut buffer = vec![0u8; size];
    let frame = reader
        .next_frame(&mut buffer)
        .map_err(|_| MediaError::Corrupt)?;
    buffer.truncate(frame.buffer_size());
    let channels = match frame.color_type {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => return Err(MediaError::Corrupt),
    };
    Ok((
        Rgb {
            width,
            height,
            pixels: to_rgb_in_place(buffer, channels),
        },
        icc_profile,
    ))
}

/// 8-bit grey, grey+alpha, RGB or RGBA pixels as RGB, transparency composited onto white. Pixels
/// with fewer than 3 channels need a larger buffer; the others shrink in place.
fn to_rgb_in_place(mut pixels: Vec<u8>, channels: usize) -> Vec<u8> {
    let blend = |channel: u8, alpha: u8| -> u8 {
        let alpha = u32::from(alpha);
        ((u32::from(channel) * alpha + 255 * (255 - alpha) + 127) / 255) as u8
    };
    match channels {
        3 => pixels,
        4 => {
            let count = pixels.len() / 4;
            for index in 0..count {
                let at = index * 4;
                let alpha = pixels[at + 3];
                let rgb = [
                    blend(pixels[at], alpha),
                    blend(pixels[at + 1], alpha),
                    blend(pixels[at + 2], alpha),
                ];
                pixels[index * 3..index * 3 + 3].copy_from_slice(&rgb);
            }
            pixels.truncate(count * 3);
            pixels
        }
        2 => pixels
            .chunks_exact(2)
            .flat_map(|pixel| [blend(pixel[0], pixel[1]); 3])
            .collect(),
        _ => pixels.iter().flat_map(|&grey| [grey; 3]).collect(),
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

/// RGB, with any transparency composited onto white (in place: no second full-size buffer).
fn flatten(image: DynamicImage) -> Rgb {
    let (width, height) = (image.width(), image.height());
    let pixels = if image.color().has_alpha() {
        to_rgb_in_place(image.into_rgba8().into_raw(), 4)
    } else {
        image.into_rgb8().into_raw()
    };
    Rgb {
        width,
        height,
        pixels,
    }
}

/// Memory libjpeg needs beyond the output: a progressive image is buffered whole as DCT
/// coefficients (2 bytes each, 64 per block) for every component, at full size whatever the scale.
fn jpeg_coefficient_bytes(header: &Header, layout: JpegLayout) -> u64 {
    if !layout.progressive {
        return 0;
    }
    let luma_blocks = u64::from(header.width.div_ceil(8)) * u64::from(header.height.div_ceil(8));
    // Components' blocks relative to the luma plane, in quarters.
    let quarters = match (layout.colorspace, layout.subsamp) {
        (Colorspace::CMYK | Colorspace::YCCK, _) => 16,
        (_, Subsamp::Gray) => 4,
        (_, Subsamp::None) => 12,
        (_, Subsamp::Sub2x1 | Subsamp::Sub1x2) => 8,
        (_, Subsamp::Sub2x2 | Subsamp::Sub4x1 | Subsamp::Sub1x4) => 6,
        _ => 16,
    };
    luma_blocks * 128 * quarters / 4
}

/// A decompressor set for the smallest DCT scale covering `need_width` × `need_height`, and the
/// decoded size, once the decode is known to fit the limits with `bytes_per_pixel` of output.
fn jpeg_decompressor(
    header: &Header,
    layout: JpegLayout,
    need_width: u32,
    need_height: u32,
    bytes_per_pixel: f64,
) -> Result<(Decompressor, usize, usize), MediaError> {
    let mut decompressor = Decompressor::new().map_err(|_| MediaError::Failed)?;
    let factor = scaling_factor(header.width, header.height, need_width, need_height);
    decompressor
        .set_scaling_factor(factor)
        .map_err(|_| MediaError::Failed)?;
    decompressor
        .set_scan_limit(MAX_JPEG_SCANS)
        .map_err(|_| MediaError::Failed)?;
    let width = factor.scale(header.width as usize);
    let height = factor.scale(header.height as usize);
    if (width as u64) * (height as u64) > MAX_PIXELS {
        return Err(MediaError::TooManyPixels);
    }
    let output_bytes = (width as f64 * height as f64 * bytes_per_pixel) as u64;
    if output_bytes + jpeg_coefficient_bytes(header, layout) > MAX_DECODE_BYTES {
        return Err(MediaError::TooMuchMemory);
    }
    Ok((decompressor, width, height))
}

fn decode_error(error: turbojpeg::Error) -> MediaError {
    match error.to_string() {
        message if message.contains("more than") && message.contains("scans") => {
            MediaError::TooManyScans
        }
        _ => MediaError::Corrupt,
    }
}

fn jpeg(
    bytes: &[u8],
    header: &Header,
    need_width: u32,
    need_height: u32,
) -> Result<Rgb, MediaError> {
    let layout = header.jpeg.ok_or(MediaError::Failed)?;
    let cmyk = matches!(layout.colorspace, Colorspace::CMYK | Colorspace::YCCK);
    let format = if cmyk {
        PixelFormat::CMYK
    } else {
        PixelFormat::RGB
    };
    let (mut decompressor, width, height) = jpeg_decompressor(
        header,
        layout,
        need_width,
        need_height,
        format.size() as f64,
    )?;
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
        .map_err(decode_error)?;
    if cmyk {
        pixels = cmyk_to_rgb(&pixels);
    }
    Ok(Rgb {
        width: width as u32,
        height: height as u32,
        pixels,
    })
}

/// Whether the JPEG's own planes can be worked on as they are (`planes`): YCbCr with 4:2:0
/// chroma, what phones and cameras write.
pub(crate) fn has_420_planes(header: &Header) -> bool {
    header.jpeg.is_some_and(|layout| {
        layout.colorspace == Colorspace::YCbCr && layout.subsamp == Subsamp::Sub2x2
    })
}

/// Decodes a JPEG that `has_420_planes` to its Y, Cb and Cr planes (no colour conversion, no
/// chroma upsampling), at the smallest DCT scale covering `need_width` × `need_height`.
pub(crate) fn jpeg_planes(
    bytes: &[u8],
    header: &Header,
    need_width: u32,
    need_height: u32,
) -> Result<Yuv420Buffer, MediaError> {
    let layout = header.jpeg.ok_or(MediaError::Failed)?;
    let (mut decompressor, width, height) =
        jpeg_decompressor(header, layout, need_width, need_height, 1.5)?;
    let length = crate::planes::buffer_len(width as u32, height as u32);
    // TurboJPEG's own count must agree, or it would refuse the buffer by panicking.
    if turbojpeg::yuv_pixels_len(width, 1, height, Subsamp::Sub2x2).ok() != Some(length) {
        return Err(MediaError::Failed);
    }
    let mut pixels = vec![0u8; length];
    decompressor
        .decompress_to_yuv(
            bytes,
            turbojpeg::YuvImage {
                pixels: pixels.as_mut_slice(),
                width,
                align: 1,
                height,
                subsamp: Subsamp::Sub2x2,
            },
        )
        .map_err(decode_error)?;
    Ok(Yuv420Buffer {
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
