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
