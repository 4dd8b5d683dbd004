//! A post's variants made from a JPEG's own planes, for the commonest upload: YCbCr with 4:2:0
//! chroma, what phones and cameras write. The planes are decoded, resized, turned and encoded as
//! they are, never converted to RGB and back: that skips the colour conversion and chroma
//! resampling at both ends, and moves half the bytes of RGB through every step between.
//! Resizing is linear and YCbCr an affine function of RGB, so the variants are the RGB path's up
//! to rounding (a test compares them).

use std::borrow::Cow;

use fast_image_resize::PixelType;
use image::Luma;
use image::metadata::Orientation;

use crate::resize::{Pixels, ROWS_WORTH_TWO_THREADS, Window, centre_square, resize_into, turned};
use crate::{JPEG_QUALITY, MediaError, Rgb, Variant};

/// One 8-bit plane, row-major, no padding.
#[derive(Clone)]
pub(crate) struct Plane<T> {
    pub width: u32,
    pub height: u32,
    pub pixels: T,
}

/// A `width` × `height` image as Y, Cb and Cr planes, chroma half the size both ways, rounded up
/// (4:2:0). The luma plane may be a row and a column larger, as TurboJPEG pads it to even sizes.
#[derive(Clone)]
pub(crate) struct Yuv420<T> {
    pub width: u32,
    pub height: u32,
    pub y: Plane<T>,
    pub cb: Plane<T>,
    pub cr: Plane<T>,
}

/// The planes as TurboJPEG decodes them: one buffer, Y then Cb then Cr, rows unpadded but the
/// luma plane's size padded to even numbers.
pub(crate) struct Yuv420Buffer {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

/// The size of the chroma planes of a `width` × `height` image.
pub(crate) fn chroma_size(width: u32, height: u32) -> (u32, u32) {
    (width.div_ceil(2), height.div_ceil(2))
}

/// The length of TurboJPEG's buffer for a `width` × `height` 4:2:0 image (`Yuv420Buffer`).
pub(crate) fn buffer_len(width: u32, height: u32) -> usize {
    let (chroma_width, chroma_height) = chroma_size(width, height);
    let chroma = chroma_width as usize * chroma_height as usize;
    4 * chroma + 2 * chroma
}

impl Yuv420Buffer {
    pub(crate) fn planes(&self) -> Result<Yuv420<&[u8]>, MediaError> {
        let (chroma_width, chroma_height) = chroma_size(self.width, self.height);
        let chroma = chroma_width as usize * chroma_height as usize;
        if self.pixels.len() != buffer_len(self.width, self.height) {
            return Err(MediaError::Failed);
        }
        let (y, rest) = self.pixels.split_at(4 * chroma);
        let (cb, cr) = rest.split_at(chroma);
        let chroma_plane = |pixels| Plane {
            width: chroma_width,
            height: chroma_height,
            pixels,
        };
        Ok(Yuv420 {
            width: self.width,
            height: self.height,
            y: Plane {
                width: 2 * chroma_width,
                height: 2 * chroma_height,
                pixels: y,
            },
            cb: chroma_plane(cb),
            cr: chroma_plane(cr),
        })
    }
}

impl<T: AsRef<[u8]>> Plane<T> {
    fn view(&self) -> Pixels<'_> {
        Pixels {
            pixels: self.pixels.as_ref(),
            width: self.width,
            height: self.height,
            kind: PixelType::U8,
        }
    }

    /// `window` of this plane, given in luma pixels, scaled to `width` × `height`; `scale` is
    /// this plane's size relative to luma (1 or ½).
    fn resized(
        &self,
        (left, top, window_width, window_height): Window,
        scale: f64,
        (width, height): (u32, u32),
    ) -> Result<Plane<Vec<u8>>, MediaError> {
        let mut pixels = vec![0u8; width as usize * height as usize];
        let window = (
            left * scale,
            top * scale,
            window_width * scale,
            window_height * scale,
        );
        resize_into(self.view(), window, &mut pixels, width, height)?;
        Ok(Plane {
            width,
            height,
            pixels,
        })
    }
}

impl<T: AsRef<[u8]> + Sync> Yuv420<T> {
    /// `window` (in luma pixels) scaled to `width` × `height`, each plane alone; large outputs
    /// on two threads when a core is spare (one does the luma's top half and Cb, the other the
    /// bottom half and Cr).
    fn resized(
        &self,
        window: Window,
        (width, height): (u32, u32),
    ) -> Result<Yuv420<Vec<u8>>, MediaError> {
        let chroma = chroma_size(width, height);
        if height < ROWS_WORTH_TWO_THREADS {
            return Ok(Yuv420 {
                width,
                height,
                y: self.y.resized(window, 1.0, (width, height))?,
                cb: self.cb.resized(window, 0.5, chroma)?,
                cr: self.cr.resized(window, 0.5, chroma)?,
            });
        }
        let (left, top, window_width, window_height) = window;
        let top_rows = height / 2;
        let split = window_height * f64::from(top_rows) / f64::from(height);
        let mut y = vec![0u8; width as usize * height as usize];
        let (upper, lower) = y.split_at_mut(width as usize * top_rows as usize);
        let (first, second) = crate::cores::both(
            || {
                let upper_window = (left, top, window_width, split);
                resize_into(self.y.view(), upper_window, upper, width, top_rows)?;
                self.cb.resized(window, 0.5, chroma)
            },
            || {
                let lower_window = (left, top + split, window_width, window_height - split);
                resize_into(self.y.view(), lower_window, lower, width, height - top_rows)?;
                self.cr.resized(window, 0.5, chroma)
            },
        );
        Ok(Yuv420 {
            width,
            height,
            y: Plane {
                width,
                height,
                pixels: y,
            },
            cb: first?,
            cr: second??,
        })
    }
}

/// The planes resized to `displayed` (width, height as shown; `swapped` when they are stored
/// rotated), in stored orientation: the `medium` variant before turning, as `resize::fit`.
pub(crate) fn fit<T: AsRef<[u8]> + Sync>(
    src: &Yuv420<T>,
    displayed: (u32, u32),
    swapped: bool,
) -> Result<Yuv420<Vec<u8>>, MediaError> {
    let size = if swapped {
        (displayed.1, displayed.0)
    } else {
        displayed
    };
    let window = (0.0, 0.0, f64::from(src.width), f64::from(src.height));
    src.resized(window, size)
}

/// A centre square of the image, scaled to `size` (or to its own side if smaller).
pub(crate) fn square<T: AsRef<[u8]> + Sync>(
    src: &Yuv420<T>,
    size: u32,
) -> Result<Yuv420<Vec<u8>>, MediaError> {
    let (window, target) = centre_square(src.width, src.height, size);
    src.resized(window, (target, target))
}

/// The planes upright as the EXIF orientation says (borrowed when they already are).
pub(crate) fn orient(
    src: &Yuv420<Vec<u8>>,
    orientation: Orientation,
) -> Result<Cow<'_, Yuv420<Vec<u8>>>, MediaError> {
    if orientation == Orientation::NoTransforms {
        return Ok(Cow::Borrowed(src));
    }
    let y = orient_plane(&src.y, orientation)?;
    Ok(Cow::Owned(Yuv420 {
        width: y.width,
        height: y.height,
        y,
        cb: orient_plane(&src.cb, orientation)?,
        cr: orient_plane(&src.cr, orientation)?,
    }))
}

fn orient_plane(
    plane: &Plane<Vec<u8>>,
    orientation: Orientation,
) -> Result<Plane<Vec<u8>>, MediaError> {
    Ok(
        match turned::<Luma<u8>>(&plane.pixels, plane.width, plane.height, orientation)? {
            None => plane.clone(),
            Some((width, height, pixels)) => Plane {
                width,
                height,
                pixels,
            },
        },
    )
}

/// A fresh 4:2:0 JPEG of the planes (their luma plane exactly the image's size), carrying only
/// the colour profile (if any).
pub(crate) fn jpeg(
    name: &'static str,
    image: &Yuv420<Vec<u8>>,
    icc_profile: Option<&[u8]>,
) -> Result<Variant, MediaError> {
    let luma = padded_to_even(&image.y);
    let encoded = turbojpeg::compress_yuv_planes(
        &turbojpeg::YuvPlanesImage {
            y_plane: luma.pixels.as_ref(),
            u_plane: image.cb.pixels.as_slice(),
            v_plane: image.cr.pixels.as_slice(),
            width: image.width as usize,
            height: image.height as usize,
            y_stride: luma.width as usize,
            u_stride: image.cb.width as usize,
            v_stride: image.cr.width as usize,
            subsamp: turbojpeg::Subsamp::Sub2x2,
        },
        JPEG_QUALITY,
    )
    .map_err(|_| MediaError::Failed)?;
    Ok(crate::encode::variant(
        name,
        image.width,
        image.height,
        encoded.to_vec(),
        icc_profile,
    ))
}

/// The luma plane with its last column and row repeated where its size is odd: TurboJPEG reads
/// 4:2:0 luma planes padded to even sizes.
fn padded_to_even(plane: &Plane<Vec<u8>>) -> Plane<Cow<'_, [u8]>> {
    let (width, height) = (plane.width as usize, plane.height as usize);
    let (even_width, even_height) = (width.next_multiple_of(2), height.next_multiple_of(2));
    if (width, height) == (even_width, even_height) {
        return Plane {
            width: plane.width,
            height: plane.height,
            pixels: Cow::Borrowed(&plane.pixels),
        };
    }
    let mut pixels = Vec::with_capacity(even_width * even_height);
    for row in plane.pixels.chunks_exact(width.max(1)) {
        pixels.extend_from_slice(row);
        if even_width > width {
            pixels.push(row[width - 1]);
        }
    }
    if even_height > height {
        pixels.extend_from_within(pixels.len() - even_width..);
    }
    Plane {
        width: even_width as u32,
        height: even_height as u32,
        pixels: Cow::Owned(pixels),
    }
}

/// RGB pixels of the planes (JPEG's full-range YCbCr), each chroma sample shared by the 2 × 2
/// luma samples it covers: for the blurhash's tiny source.
pub(crate) fn to_rgb(image: &Yuv420<Vec<u8>>) -> Rgb {
    let (width, height) = (image.y.width, image.y.height);
    let mut pixels = Vec::with_capacity(width as usize * height as usize * 3);
    for row in 0..height {
        for column in 0..width {
            let luma = f32::from(image.y.pixels[(row * width + column) as usize]);
            let at = ((row / 2) * image.cb.width + column / 2) as usize;
            let blue = f32::from(image.cb.pixels[at]) - 128.0;
            let red = f32::from(image.cr.pixels[at]) - 128.0;
            for value in [
                luma + 1.402 * red,
                luma - 0.344_136 * blue - 0.714_136 * red,
                luma + 1.772 * blue,
            ] {
                pixels.push(value.round().clamp(0.0, 255.0) as u8);
            }
        }
    }
    Rgb {
        width,
        height,
        pixels,
    }
}
