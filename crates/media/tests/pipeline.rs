use std::io::Cursor;

use picshare_media::{ImageFormat, MediaError, Purpose, Variant, process, samples};

fn decode(variant: &Variant) -> image::RgbImage {
    image::load_from_memory(&variant.bytes).unwrap().to_rgb8()
}

fn variant<'a>(variants: &'a [Variant], name: &str) -> &'a Variant {
    variants.iter().find(|v| v.name == name).unwrap()
}

fn is_red(pixel: &image::Rgb<u8>) -> bool {
    pixel[0] > 150 && pixel[2] < 100
}

fn is_blue(pixel: &image::Rgb<u8>) -> bool {
    pixel[2] > 150 && pixel[0] < 100
}

#[test]
fn exif_orientation_is_applied_and_all_metadata_removed() {
    // Stored 400×200 with the left half red; orientation 6 means "rotate 90° clockwise to view".
    let original = samples::jpeg_with_exif(&samples::split_colours(400, 200), 90, 6, true);
    let exif = exif::Reader::new()
        .read_from_container(&mut Cursor::new(&original))
        .expect("the sample carries EXIF");
    assert!(
        exif.get_field(exif::Tag::GPSLatitude, exif::In::PRIMARY)
            .is_some()
    );

    let processed = process(&original, Purpose::Post).unwrap();
    assert_eq!(processed.format, ImageFormat::Jpeg);
    assert_eq!((processed.width, processed.height), (200, 400));
    let medium = variant(&processed.variants, "medium");
    assert_eq!((medium.width, medium.height), (200, 400));
    let pixels = decode(medium);
    assert_eq!(pixels.dimensions(), (200, 400));
    assert!(
        is_red(pixels.get_pixel(100, 20)),
        "top is the former left half"
    );
    assert!(is_blue(pixels.get_pixel(100, 380)));

    for variant in &processed.variants {
        assert_eq!(variant.content_type, "image/jpeg");
        assert!(
            exif::Reader::new()
                .read_from_container(&mut Cursor::new(&variant.bytes))
                .is_err(),
            "{} still has EXIF",
            variant.name
        );
        let has_app1 = variant.bytes.windows(2).any(|w| w == [0xFF, 0xE1]);
        assert!(!has_app1, "{} has an APP1 (EXIF/XMP) segment", variant.name);
    }
}

#[test]
fn large_photos_get_a_1080_medium_and_a_320_square_thumb() {
    let original = samples::jpeg_with_exif(&samples::photo_like(2000, 1500), 90, 1, false);
    let processed = process(&original, Purpose::Post).unwrap();
    assert_eq!((processed.width, processed.height), (2000, 1500));
    let medium = variant(&processed.variants, "medium");
    assert_eq!((medium.width, medium.height), (1080, 810));
    assert_eq!(decode(medium).dimensions(), (1080, 810));
    let thumb = variant(&processed.variants, "thumb");
    assert_eq!((thumb.width, thumb.height), (320, 320));
    assert_eq!(decode(thumb).dimensions(), (320, 320));
    assert_eq!(processed.blurhash.len(), 28, "{}", processed.blurhash);
}

#[test]
fn small_images_are_not_enlarged() {
    let original = samples::png(&samples::split_colours(120, 80));
    let processed = process(&original, Purpose::Post).unwrap();
    assert_eq!(processed.format, ImageFormat::Png);
    let medium = variant(&processed.variants, "medium");
    assert_eq!((medium.width, medium.height), (120, 80));
    let thumb = variant(&processed.variants, "thumb");
    assert_eq!((thumb.width, thumb.height), (80, 80));
}

#[test]
fn png_and_webp_inputs_are_processed() {
    let picture = samples::split_colours(600, 300);
    for (bytes, format) in [
        (samples::png(&picture), ImageFormat::Png),
        (samples::webp(&picture), ImageFormat::WebP),
    ] {
        let processed = process(&bytes, Purpose::Post).unwrap();
        assert_eq!(processed.format, format);
        let medium = decode(variant(&processed.variants, "medium"));
        assert_eq!(medium.dimensions(), (600, 300));
        assert!(is_red(medium.get_pixel(50, 150)) && is_blue(medium.get_pixel(550, 150)));
    }
}

#[test]
fn transparency_is_flattened_onto_white() {
    let processed = process(&samples::transparent_png(200, 100), Purpose::Post).unwrap();
    let medium = decode(variant(&processed.variants, "medium"));
    let left = medium.get_pixel(20, 50);
    assert!(left.0.iter().all(|&c| c > 235), "{left:?}");
    let right = medium.get_pixel(180, 50);
    assert!(right[1] > 150 && right[0] < 80, "{right:?}");
}

#[test]
fn avatars_get_a_400_square() {
    let original = samples::jpeg_with_exif(&samples::photo_like(1200, 900), 90, 1, false);
    let processed = process(&original, Purpose::Avatar).unwrap();
    assert_eq!(processed.variants.len(), 1);
    let avatar = variant(&processed.variants, "avatar");
    assert_eq!((avatar.width, avatar.height), (400, 400));
    assert_eq!(decode(avatar).dimensions(), (400, 400));
}

#[test]
fn bad_files_fail_with_a_reason_a_user_can_read() {
    assert_eq!(
        process(b"just some text, not a picture", Purpose::Post).unwrap_err(),
        MediaError::NotAnImage
    );
    let jpeg = samples::jpeg_with_exif(&samples::photo_like(800, 600), 90, 1, false);
    let truncated = &jpeg[..jpeg.len() / 2];
    assert_eq!(
        process(truncated, Purpose::Post).unwrap_err(),
        MediaError::Corrupt
    );
    let bomb = samples::pixel_flood_png(30_000);
    assert!(bomb.len() < 4096, "a bomb is small: {} bytes", bomb.len());
    assert_eq!(
        process(&bomb, Purpose::Post).unwrap_err(),
        MediaError::TooManyPixels
    );
    assert_eq!(
        MediaError::TooManyPixels.to_string(),
        "the image is larger than 50 megapixels"
    );
    let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic";
    assert!(matches!(
        process(heic, Purpose::Post).unwrap_err(),
        MediaError::Unsupported("HEIC")
    ));
}

#[test]
fn real_world_variety_processes_with_the_right_colours() {
    let colourful = [
        ("progressive JPEG", samples::progressive_jpeg(600, 300)),
        ("CMYK JPEG", samples::cmyk_jpeg(600, 300)),
        ("16-bit PNG", samples::png_16bit(600, 300)),
        ("palette PNG", samples::palette_png(600, 300)),
    ];
    for (kind, bytes) in colourful {
        let processed = process(&bytes, Purpose::Post).unwrap_or_else(|e| panic!("{kind}: {e}"));
        let medium = decode(variant(&processed.variants, "medium"));
        assert_eq!(medium.dimensions(), (600, 300), "{kind}");
        assert!(
            is_red(medium.get_pixel(50, 150)),
            "{kind}: {:?}",
            medium.get_pixel(50, 150)
        );
        assert!(
            is_blue(medium.get_pixel(550, 150)),
            "{kind}: {:?}",
            medium.get_pixel(550, 150)
        );
    }
    let grey = process(&samples::grayscale_jpeg(600, 300), Purpose::Post).unwrap();
    let medium = decode(variant(&grey.variants, "medium"));
    let (dark, light) = (medium.get_pixel(50, 150), medium.get_pixel(550, 150));
    assert!(
        dark.0.iter().all(|&c| c < 70) && light.0.iter().all(|&c| c > 180),
        "{dark:?} {light:?}"
    );
}

#[test]
fn colour_profiles_are_kept_with_the_pixels() {
    let profile = samples::display_profile();
    let processed = process(&samples::jpeg_with_icc(800, 600, &profile), Purpose::Post).unwrap();
    for variant in &processed.variants {
        assert_eq!(
            picshare_media::icc::from_jpeg(&variant.bytes).as_deref(),
            Some(profile.as_slice()),
            "{} lost the colour profile",
            variant.name
        );
    }
    let mut cmyk_profile = samples::display_profile();
    cmyk_profile[16..20].copy_from_slice(b"CMYK");
    let mismatched = process(
        &samples::jpeg_with_icc(400, 300, &cmyk_profile),
        Purpose::Post,
    )
    .unwrap();
    assert!(
        mismatched
            .variants
            .iter()
            .all(|v| picshare_media::icc::from_jpeg(&v.bytes).is_none()),
        "a CMYK profile does not describe RGB variants"
    );
    let untagged = process(
        &samples::png(&samples::split_colours(100, 100)),
        Purpose::Post,
    )
    .unwrap();
    assert!(
        untagged
            .variants
            .iter()
            .all(|v| picshare_media::icc::from_jpeg(&v.bytes).is_none())
    );
}

#[test]
fn a_progressive_scan_bomb_is_refused_before_it_costs_minutes() {
    let bomb = samples::scan_bomb_jpeg(1000, 1000, 3 * picshare_media::MAX_JPEG_SCANS as usize);
    assert_eq!(
        picshare_media::process(&bomb, Purpose::Post).map(|_| ()),
        Err(MediaError::TooManyScans)
    );
    // An ordinary progressive photo has a handful of scans and is fine.
    let ordinary = samples::scan_bomb_jpeg(400, 300, 1);
    assert!(picshare_media::process(&ordinary, Purpose::Post).is_ok());
}

#[test]
fn a_huge_blob_in_the_colour_profile_never_reaches_the_variants() {
    let blob = vec![0u8; 16 * 1024 * 1024];
    let png = samples::png_with_icc(400, 400, &blob);
    assert!(
        png.len() < 100_000,
        "the blob compresses: {} bytes",
        png.len()
    );
    let processed = picshare_media::process(&png, Purpose::Avatar).unwrap();
    let avatar = &processed.variants[0];
    assert!(avatar.bytes.len() < 100_000, "{} bytes", avatar.bytes.len());
    assert_eq!(picshare_media::icc::from_jpeg(&avatar.bytes), None);
    let processed = picshare_media::process(&png, Purpose::Post).unwrap();
    for variant in &processed.variants {
        assert!(
            variant.bytes.len() <= 1024 * 1024,
            "{}: {} bytes",
            variant.name,
            variant.bytes.len()
        );
    }
    // A real profile in a PNG still travels.
    let profile = samples::display_profile();
    let tagged =
        picshare_media::process(&samples::png_with_icc(64, 48, &profile), Purpose::Post).unwrap();
    assert_eq!(
        picshare_media::icc::from_jpeg(&tagged.variants[0].bytes),
        Some(profile)
    );
}
