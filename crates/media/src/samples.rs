//! Real image files made in code, for tests and benchmarks: phone-like JPEGs with EXIF
//! orientation and GPS tags, PNG and WebP files, and a decompression bomb.

use std::io::Cursor;

use image::{ImageEncoder, RgbImage, RgbaImage};
use turbojpeg::{PixelFormat, Subsamp};

/// A picture whose left half is red and right half blue, so orientation is visible in the output.
pub fn split_colours(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, _| {
        if x < width / 2 {
            image::Rgb([220, 20, 20])
        } else {
            image::Rgb([20, 20, 220])
        }
    })
}

/// Smooth gradients with some texture, closer to a photo than flat colour (for benchmarks).
pub fn photo_like(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        let noise = ((x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)) >> 7) as u8 & 15;
        image::Rgb([
            ((x * 255) / width.max(1)) as u8 ^ noise,
            ((y * 255) / height.max(1)) as u8,
            (((x + y) * 127) / (width + height).max(1)) as u8 + noise,
        ])
    })
}

/// Encodes as a baseline JPEG at `quality`, then inserts an EXIF block carrying `orientation`
/// (1–8) and, when `with_gps`, a GPS position.
pub fn jpeg_with_exif(image: &RgbImage, quality: i32, orientation: u16, with_gps: bool) -> Vec<u8> {
    let plain = turbojpeg::compress(
        turbojpeg::Image {
            pixels: image.as_raw().as_slice(),
            width: image.width() as usize,
            pitch: image.width() as usize * 3,
            height: image.height() as usize,
            format: PixelFormat::RGB,
        },
        quality,
        Subsamp::Sub2x2,
    )
    .map(|buf| buf.to_vec())
    .unwrap_or_default();
    let exif = exif_block(orientation, with_gps);
    let mut out = Vec::with_capacity(plain.len() + exif.len() + 4);
    out.extend_from_slice(&plain[..2]); // SOI
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&exif);
    out.extend_from_slice(&plain[2..]);
    out
}

/// "Exif\0\0" + a little-endian TIFF with IFD0 {Orientation, GPS pointer} and a GPS IFD.
fn exif_block(orientation: u16, with_gps: bool) -> Vec<u8> {
    let mut tiff: Vec<u8> = b"II*\0".to_vec();
    tiff.extend_from_slice(&8u32.to_le_bytes());
    let entries: u16 = if with_gps { 2 } else { 1 };
    tiff.extend_from_slice(&entries.to_le_bytes());
    // Orientation: SHORT, count 1, value inline.
    entry(&mut tiff, 0x0112, 3, 1, u32::from(orientation));
    let ifd0_end = 8 + 2 + 12 * u32::from(entries) + 4;
    if with_gps {
        entry(&mut tiff, 0x8825, 4, 1, ifd0_end);
    }
    tiff.extend_from_slice(&0u32.to_le_bytes());
    if with_gps {
        // GPS IFD: LatitudeRef "N", Latitude 3 RATIONALs, LongitudeRef "E", Longitude 3 RATIONALs.
        let gps_entries = 4u32;
        let data_start = ifd0_end + 2 + 12 * gps_entries + 4;
        tiff.extend_from_slice(&(gps_entries as u16).to_le_bytes());
        entry(&mut tiff, 0x0001, 2, 2, u32::from_le_bytes([b'N', 0, 0, 0]));
        entry(&mut tiff, 0x0002, 5, 3, data_start);
        entry(&mut tiff, 0x0003, 2, 2, u32::from_le_bytes([b'E', 0, 0, 0]));
        entry(&mut tiff, 0x0004, 5, 3, data_start + 24);
        tiff.extend_from_slice(&0u32.to_le_bytes());
        for (numerator, denominator) in
            [(52, 1), (31, 1), (1234, 100), (13, 1), (24, 1), (5678, 100)]
        {
            tiff.extend_from_slice(&(numerator as u32).to_le_bytes());
            tiff.extend_from_slice(&(denominator as u32).to_le_bytes());
        }
    }
    let mut block = b"Exif\0\0".to_vec();
    block.extend_from_slice(&tiff);
    block
}

fn entry(out: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: u32) {
    out.extend_from_slice(&tag.to_le_bytes());
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&value.to_le_bytes());
}

pub fn png(image: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = image::codecs::png::PngEncoder::new(Cursor::new(&mut out)).write_image(
        image.as_raw(),
        image.width(),
        image.height(),
        image::ExtendedColorType::Rgb8,
    );
    out
}

/// A PNG with an alpha channel: fully transparent on the left half, opaque green on the right.
pub fn transparent_png(width: u32, height: u32) -> Vec<u8> {
    let image = RgbaImage::from_fn(width, height, |x, _| {
        if x < width / 2 {
            image::Rgba([0, 0, 0, 0])
        } else {
            image::Rgba([20, 200, 20, 255])
        }
    });
    let mut out = Vec::new();
    let _ = image::codecs::png::PngEncoder::new(Cursor::new(&mut out)).write_image(
        image.as_raw(),
        width,
        height,
        image::ExtendedColorType::Rgba8,
    );
    out
}

/// A lossless WebP.
pub fn webp(image: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = image::codecs::webp::WebPEncoder::new_lossless(Cursor::new(&mut out)).write_image(
        image.as_raw(),
        image.width(),
        image.height(),
        image::ExtendedColorType::Rgb8,
    );
    out
}

/// A PNG whose header claims `side`×`side` grey pixels, with a tiny compressed body: the shape
/// of a decompression bomb (a few hundred bytes that would decode to gigabytes).
pub fn pixel_flood_png(side: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit greyscale
    chunk(&mut out, b"IHDR", &ihdr);
    // A zlib stream of one stored block of zero rows; decoders would expect far more.
    let mut idat = vec![0x78, 0x01, 0x01, 0x00, 0x01, 0xFF, 0xFE];
    idat.extend_from_slice(&[0u8; 256]);
    chunk(&mut out, b"IDAT", &idat);
    chunk(&mut out, b"IEND", &[]);
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc_input = kind.to_vec();
    crc_input.extend_from_slice(data);
    out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn compress(
    pixels: &[u8],
    width: u32,
    height: u32,
    format: PixelFormat,
    progressive: bool,
) -> Vec<u8> {
    let Ok(mut compressor) = turbojpeg::Compressor::new() else {
        return Vec::new();
    };
    let _ = compressor.set_quality(90);
    let subsamp = match format {
        PixelFormat::GRAY => Subsamp::Gray,
        PixelFormat::CMYK => Subsamp::None,
        _ => Subsamp::Sub2x2,
    };
    let _ = compressor.set_subsamp(subsamp);
    if format == PixelFormat::CMYK {
        let _ = compressor.set_colorspace(turbojpeg::Colorspace::CMYK);
    }
    let _ = compressor.set_progressive(progressive);
    compressor
        .compress_to_vec(turbojpeg::Image {
            pixels,
            width: width as usize,
            pitch: width as usize * format.size(),
            height: height as usize,
            format,
        })
        .unwrap_or_default()
}

/// A greyscale (single-channel) JPEG: dark on the left half, light on the right.
pub fn grayscale_jpeg(width: u32, height: u32) -> Vec<u8> {
    let pixels: Vec<u8> = (0..height)
        .flat_map(|_| (0..width).map(move |x| if x < width / 2 { 40 } else { 210 }))
        .collect();
    compress(&pixels, width, height, PixelFormat::GRAY, false)
}

/// A progressive JPEG of [`split_colours`].
pub fn progressive_jpeg(width: u32, height: u32) -> Vec<u8> {
    let image = split_colours(width, height);
    compress(image.as_raw(), width, height, PixelFormat::RGB, true)
}

/// A CMYK JPEG as Photoshop writes them (inverted, "Adobe" CMYK) of [`split_colours`].
pub fn cmyk_jpeg(width: u32, height: u32) -> Vec<u8> {
    let image = split_colours(width, height);
    let pixels: Vec<u8> = image
        .as_raw()
        .chunks_exact(3)
        .flat_map(|rgb| [rgb[0], rgb[1], rgb[2], 255])
        .collect();
    compress(&pixels, width, height, PixelFormat::CMYK, false)
}

/// A 16-bit-per-channel PNG of [`split_colours`].
pub fn png_16bit(width: u32, height: u32) -> Vec<u8> {
    let image = split_colours(width, height);
    let wide = image::ImageBuffer::<image::Rgb<u16>, Vec<u16>>::from_fn(width, height, |x, y| {
        let pixel = image.get_pixel(x, y);
        image::Rgb(pixel.0.map(|c| u16::from(c) * 257))
    });
    let mut out = Vec::new();
    let _ = image::DynamicImage::ImageRgb16(wide)
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png);
    out
}

/// A palette (indexed colour) PNG of [`split_colours`].
pub fn palette_png(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Indexed);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_palette(vec![220u8, 20, 20, 20, 20, 220]);
    let indices: Vec<u8> = (0..height)
        .flat_map(|_| (0..width).map(move |x| u8::from(x >= width / 2)))
        .collect();
    if let Ok(mut writer) = encoder.write_header() {
        let _ = writer.write_image_data(&indices);
    }
    out
}

/// A JPEG of [`split_colours`] tagged with an ICC colour profile (a stand-in for Display P3).
pub fn jpeg_with_icc(width: u32, height: u32, profile: &[u8]) -> Vec<u8> {
    let plain = jpeg_with_exif(&split_colours(width, height), 90, 1, false);
    crate::icc::embed_in_jpeg(plain, profile)
}

/// A well-formed ICC profile header ("acsp", display class, RGB, XYZ) with one `desc` tag naming
/// Display P3, for tests.
pub fn display_profile() -> Vec<u8> {
    let mut profile = vec![0u8; 560];
    profile[..4].copy_from_slice(&560u32.to_be_bytes());
    profile[12..16].copy_from_slice(b"mntr");
    profile[16..20].copy_from_slice(b"RGB ");
    profile[20..24].copy_from_slice(b"XYZ ");
    profile[36..40].copy_from_slice(b"acsp");
    profile[128..132].copy_from_slice(&1u32.to_be_bytes());
    profile[132..136].copy_from_slice(b"desc");
    profile[136..140].copy_from_slice(&144u32.to_be_bytes());
    profile[140..144].copy_from_slice(&416u32.to_be_bytes());
    profile[144..148].copy_from_slice(b"desc");
    profile[156..166].copy_from_slice(b"Display P3");
    profile
}

/// A PNG of [`split_colours`] carrying `profile` in its iCCP chunk, whatever the blob is.
pub fn png_with_icc(width: u32, height: u32, profile: &[u8]) -> Vec<u8> {
    let image = split_colours(width, height);
    let mut info = png::Info::with_size(width, height);
    info.color_type = png::ColorType::Rgb;
    info.bit_depth = png::BitDepth::Eight;
    info.icc_profile = Some(profile.to_vec().into());
    let mut out = Vec::new();
    if let Ok(encoder) = png::Encoder::with_info(&mut out, info)
        && let Ok(mut writer) = encoder.write_header()
    {
        let _ = writer.write_image_data(image.as_raw());
    }
    out
}

/// A progressive JPEG whose first scan is repeated until it has `scans` scans: every scan is a
/// pass over the whole image, which is what a scan bomb exploits.
pub fn scan_bomb_jpeg(width: u32, height: u32, scans: usize) -> Vec<u8> {
    let jpeg = progressive_jpeg(width, height);
    let Some((start, end)) = first_scan(&jpeg) else {
        return jpeg;
    };
    let mut out = Vec::with_capacity(jpeg.len() + (end - start) * scans);
    out.extend_from_slice(&jpeg[..end]);
    for _ in 1..scans {
        out.extend_from_slice(&jpeg[start..end]);
    }
    out.extend_from_slice(&jpeg[end..]);
    out
}

/// Where the first scan (its SOS header and entropy-coded data) lies in a JPEG.
fn first_scan(jpeg: &[u8]) -> Option<(usize, usize)> {
    let mut at = 2;
    while at + 4 <= jpeg.len() {
        let marker = jpeg[at + 1];
        let length = usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
        if marker != 0xDA {
            at += 2 + length;
            continue;
        }
        let mut end = at + 2 + length;
        while end + 1 < jpeg.len() {
            let next = jpeg[end + 1];
            if jpeg[end] == 0xFF && next != 0 && !(0xD0..=0xD7).contains(&next) {
                return Some((at, end));
            }
            end += 1;
        }
        return None;
    }
    None
}
