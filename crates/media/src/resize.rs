//! Resizing (Lanczos3, SIMD via fast_image_resize), centre crops and orientation.

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::metadata::Orientation;
use image::{DynamicImage, RgbImage};

use crate::{MediaError, Rgb};

/// Resizes to `displayed` (width, height as shown); `swapped` when the pixels are stored rotated.
pub(crate) fn fit(src: &Rgb, displayed: (u32, u32), swapped: bool) -> Result<Rgb, MediaError> {
    let (width, height) = if swapped {
        (displayed.1, displayed.0)
    } else {
        displayed
    };
    resize(src, width, height, None)
}

/// A centre square of the image, scaled to `size` (or to its own side if smaller).
pub(crate) fn square(src: &Rgb, size: u32) -> Result<Rgb, MediaError> {
    let side = src.width.min(src.height);
    let left = f64::from(src.width - side) / 2.0;
    let top = f64::from(src.height - side) / 2.0;
    let target = size.min(side);
    resize(src, target, target, Some((left, top, f64::from(side))))
}

fn resize(
    src: &Rgb,
    width: u32,
    height: u32,
    crop: Option<(f64, f64, f64)>,
) -> Result<Rgb, MediaError> {
    if crop.is_none() && (width, height) == (src.width, src.height) {
        return Ok(Rgb {
            width,
            height,
            pixels: src.pixels.clone(),
        });
    }
    let source = ImageRef::new(src.width, src.height, &src.pixels, PixelType::U8x3)
        .map_err(|_| MediaError::Failed)?;
    let mut destination = Image::new(width, height, PixelType::U8x3);
    let mut options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    if let Some((left, top, side)) = crop {
        options = options.crop(left, top, side, side);
    }
    Resizer::new()
        .resize(&source, &mut destination, &options)
        .map_err(|_| MediaError::Failed)?;
    Ok(Rgb {
        width,
        height,
        pixels: destination.into_vec(),
    })
}

/// Turns stored pixels upright as the EXIF orientation says.
pub(crate) fn orient(src: Rgb, orientation: Orientation) -> Result<Rgb, MediaError> {
    if orientation == Orientation::NoTransforms {
        return Ok(src);
    }
    let buffer = RgbImage::from_raw(src.width, src.height, src.pixels).ok_or(MediaError::Failed)?;
    let mut image = DynamicImage::ImageRgb8(buffer);
    image.apply_orientation(orientation);
    let (width, height) = (image.width(), image.height());
    Ok(Rgb {
        width,
        height,
        pixels: image.into_rgb8().into_raw(),
    })
}
