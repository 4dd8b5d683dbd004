//! Resizing (Lanczos3, SIMD via fast_image_resize), centre crops and orientation.

use std::borrow::Cow;

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::metadata::Orientation;
use image::{ImageBuffer, imageops};

use crate::{MediaError, Rgb};

/// Outputs with fewer rows are resized in one pass: a second thread would cost more than it saves.
pub(crate) const ROWS_WORTH_TWO_THREADS: u32 = 256;

/// A part of the source, in source pixels: left, top, width, height.
pub(crate) type Window = (f64, f64, f64, f64);

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
            src.view(),
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
            || {
                let window = (0.0, 0.0, source_width, split);
                resize_into(src.view(), window, top, width, top_rows)
            },
            || {
                let window = (0.0, split, source_width, source_height - split);
                resize_into(src.view(), window, bottom, width, height - top_rows)
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
    let (window, target) = centre_square(src.width, src.height, size);
    let mut pixels = vec![0u8; target as usize * target as usize * 3];
    resize_into(src.view(), window, &mut pixels, target, target)?;
    Ok(Rgb {
        width: target,
        height: target,
        pixels,
    })
}

/// The centre square of a `width` × `height` image, and the side it is scaled to: `size`, or its
/// own side if smaller.
pub(crate) fn centre_square(width: u32, height: u32, size: u32) -> (Window, u32) {
    let side = width.min(height);
    let left = f64::from(width - side) / 2.0;
    let top = f64::from(height - side) / 2.0;
    (
        (left, top, f64::from(side), f64::from(side)),
        size.min(side),
    )
}

/// Pixels to resize: `kind` says how many bytes each has (RGB, or one plane's samples).
#[derive(Clone, Copy)]
pub(crate) struct Pixels<'a> {
    pub pixels: &'a [u8],
    pub width: u32,
    pub height: u32,
    pub kind: PixelType,
}

impl Rgb {
    fn view(&self) -> Pixels<'_> {
        Pixels {
            pixels: &self.pixels,
            width: self.width,
            height: self.height,
            kind: PixelType::U8x3,
        }
    }
}

/// Resizes `window` of `src` into `destination`, `width` × `height` pixels.
pub(crate) fn resize_into(
    src: Pixels<'_>,
    window: Window,
    destination: &mut [u8],
    width: u32,
    height: u32,
) -> Result<(), MediaError> {
    let source = ImageRef::new(src.width, src.height, src.pixels, src.kind)
        .map_err(|_| MediaError::Failed)?;
    let mut destination = Image::from_slice_u8(width, height, destination, src.kind)
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
    match turned::<image::Rgb<u8>>(&src.pixels, src.width, src.height, orientation)? {
        None => Ok(Cow::Borrowed(src)),
        Some((width, height, pixels)) => Ok(Cow::Owned(Rgb {
            width,
            height,
            pixels,
        })),
    }
}

/// `pixels` (`width` × `height` of `P`) turned upright as the EXIF orientation says: the new
/// size and pixels, or `None` when they already are. Read in place: the turned image is the
/// only new buffer.
pub(crate) fn turned<P: image::Pixel<Subpixel = u8> + 'static>(
    pixels: &[u8],
    width: u32,
    height: u32,
    orientation: Orientation,
) -> Result<Option<(u32, u32, Vec<u8>)>, MediaError> {
    let view =
        ImageBuffer::<P, &[u8]>::from_raw(width, height, pixels).ok_or(MediaError::Failed)?;
    let turned = match orientation {
        Orientation::NoTransforms => return Ok(None),
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
    Ok(Some((turned.width(), turned.height(), turned.into_raw())))
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
        resize_into(src.view(), (0.0, 0.0, 700.0, 610.0), &mut whole, 600, 520).unwrap();
        let largest_difference = halves
            .pixels
            .iter()
            .zip(&whole)
            .map(|(a, b)| a.abs_diff(*b))
            .max();
        assert_eq!(largest_difference, Some(0));
    }
}
