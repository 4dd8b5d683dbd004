//! Resizing (Lanczos3, SIMD via fast_image_resize), centre crops and orientation.

use std::borrow::Cow;

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::metadata::Orientation;
use image::{ImageBuffer, imageops};

use crate::{MediaError, Rgb};

/// Outputs with fewer rows are resized in one pass: a second thread would cost more than it saves.
const ROWS_WORTH_TWO_THREADS: u32 = 256;

/// A part of the source, in source pixels: left, top, width, height.
type Window = (f64, f64, f64, f64);

/// Resizes to `displayed` (width, height as shown); `swapped` when the pixels are stored rotated.
/// The top and bottom halves are made apart (at once when a core is spare): each output row is
/// a convolution of source rows only, so the halves are the rows one pass would make.
pub(crate) fn fit(src: Rgb, displayed: (u32, u32), swapped: bool) -> Result<Rgb, MediaError> {
    let (width, height) = if swapped {
        (displayed.1, displayed.0)
    } else {
        displayed
    };
    if (width, height) == (src.width, src.height) {
        return Ok(src);
    }
    let src = &src;
    let (source_width, source_height) = (f64::from(src.width), f64::from(src.height));
    let mut pixels = vec![0u8; width as usize * height as usize * 3];
    if height < ROWS_WORTH_TWO_THREADS {
        resize_into(
            src,
            (0.0, 0.0, source_width, source_height),
            &mut pixels,
            width,
            height,
        )?;
    } else {
        let top_rows = height / 2;
        let (top, bottom) = pixels.split_at_mut(width as usize * top_rows as usize * 3);
        let split = source_height * f64::from(top_rows) / f64::from(height);
        let (upper, lower) = crate::cores::both(
            || resize_into(src, (0.0, 0.0, source_width, split), top, width, top_rows),
            || {
                let window = (0.0, split, source_width, source_height - split);
                resize_into(src, window, bottom, width, height - top_rows)
            },
        );
        upper.and(lower?)?;
    }
    Ok(Rgb {
        width,
        height,
        pixels,
    })
}

/// A centre square of the image, scaled to `size` (or to its own side if smaller).
pub(crate) fn square(src: &Rgb, size: u32) -> Result<Rgb, MediaError> {
    let side = src.width.min(src.height);
    let left = f64::from(src.width - side) / 2.0;
    let top = f64::from(src.height - side) / 2.0;
    let target = size.min(side);
    let window = (left, top, f64::from(side), f64::from(side));
    let mut pixels = vec![0u8; target as usize * target as usize * 3];
    resize_into(src, window, &mut pixels, target, target)?;
    Ok(Rgb {
        width: target,
        height: target,
        pixels,
    })
}

/// Resizes `window` of `src` into `destination`, `width` × `height` pixels.
fn resize_into(
    src: &Rgb,
    window: Window,
    destination: &mut [u8],
    width: u32,
    height: u32,
) -> Result<(), MediaError> {
    let source = ImageRef::new(src.width, src.height, &src.pixels, PixelType::U8x3)
        .map_err(|_| MediaError::Failed)?;
    let mut destination = Image::from_slice_u8(width, height, destination, PixelType::U8x3)
        .map_err(|_| MediaError::Failed)?;
    let (left, top, window_width, window_height) = window;
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
        .crop(left, top, window_width, window_height);
    Resizer::new()
        .resize(&source, &mut destination, &options)
        .map_err(|_| MediaError::Failed)
}

/// The pixels upright as the EXIF orientation says (borrowed when they already are).
pub(crate) fn orient(src: &Rgb, orientation: Orientation) -> Result<Cow<'_, Rgb>, MediaError> {
    // Read in place: the turned image is the only new buffer.
    let view = ImageBuffer::<image::Rgb<u8>, &[u8]>::from_raw(src.width, src.height, &src.pixels)
        .ok_or(MediaError::Failed)?;
    let turned = match orientation {
        Orientation::NoTransforms => return Ok(Cow::Borrowed(src)),
        Orientation::Rotate90 => imageops::rotate90(&view),
        Orientation::Rotate180 => imageops::rotate180(&view),
        Orientation::Rotate270 => imageops::rotate270(&view),
        Orientation::FlipHorizontal => imageops::flip_horizontal(&view),
        Orientation::FlipVertical => imageops::flip_vertical(&view),
        Orientation::Rotate90FlipH => {
            let mut turned = imageops::rotate90(&view);
            imageops::flip_horizontal_in_place(&mut turned);
            turned
        }
        Orientation::Rotate270FlipH => {
            let mut turned = imageops::rotate270(&view);
            imageops::flip_horizontal_in_place(&mut turned);
            turned
        }
    };
    Ok(Cow::Owned(Rgb {
        width: turned.width(),
        height: turned.height(),
        pixels: turned.into_raw(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An image whose every pixel differs from its neighbours.
    fn noise(width: u32, height: u32) -> Rgb {
        let mut state = 0x2545_f491_u32;
        let pixels = (0..width * height * 3)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state >> 24) as u8
            })
            .collect();
        Rgb {
            width,
            height,
            pixels,
        }
    }

    #[test]
    fn a_resize_in_two_halves_is_the_resize_in_one_pass() {
        let src = noise(700, 610);
        let halves = fit(src.clone(), (600, 520), false).unwrap();
        let mut whole = vec![0u8; 600 * 520 * 3];
        resize_into(&src, (0.0, 0.0, 700.0, 610.0), &mut whole, 600, 520).unwrap();
        let largest_difference = halves
            .pixels
            .iter()
            .zip(&whole)
            .map(|(a, b)| a.abs_diff(*b))
            .max();
        assert_eq!(largest_difference, Some(0));
    }
}
