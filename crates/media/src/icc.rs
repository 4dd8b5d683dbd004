//! Colour profiles travel with the pixels: a profile found in the upload is embedded in every
//! variant, so wide-gamut photos (Display P3, Adobe RGB) are not silently shown as sRGB. Only a
//! well-formed RGB profile of bounded size travels: anything else is not a profile a viewer could
//! use, and copying an arbitrary blob into every variant would let a tiny upload make huge ones.

use crate::MediaError;

/// Largest profile carried into variants. Display profiles are a few KiB; calibrated ones with
/// lookup tables reach tens of KiB.
pub const MAX_PROFILE_BYTES: usize = 256 * 1024;
const HEADER_BYTES: usize = 128;

/// The profile to carry into RGB variants: `Ok(None)` when the blob is not a well-formed RGB ICC
/// profile (the pixels are then read as sRGB, as every viewer would), `Err` when it is one but too
/// large to copy into every variant.
pub fn usable_profile(profile: Vec<u8>) -> Result<Option<Vec<u8>>, MediaError> {
    if !is_well_formed_rgb(&profile) {
        return Ok(None);
    }
    if profile.len() > MAX_PROFILE_BYTES {
        return Err(MediaError::ProfileTooLarge);
    }
    Ok(Some(profile))
}

/// ICC.1 header checks: the declared size is the length, the `acsp` signature, an RGB data
/// colour space, and a tag table whose every tag lies inside the profile.
fn is_well_formed_rgb(profile: &[u8]) -> bool {
    let be32 = |at: usize| -> Option<usize> {
        let bytes = profile.get(at..at + 4)?;
        Some(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize)
    };
    if profile.len() < HEADER_BYTES + 4
        || be32(0) != Some(profile.len())
        || profile.get(36..40) != Some(b"acsp".as_slice())
        || profile.get(16..20) != Some(b"RGB ".as_slice())
    {
        return false;
    }
    let Some(tags) = be32(HEADER_BYTES) else {
        return false;
    };
    if tags == 0 || tags > (profile.len() - HEADER_BYTES - 4) / 12 {
        return false;
    }
    (0..tags).all(|index| {
        let entry = HEADER_BYTES + 4 + index * 12;
        match (be32(entry + 4), be32(entry + 8)) {
            (Some(offset), Some(size)) => {
                offset >= HEADER_BYTES && size > 0 && offset.saturating_add(size) <= profile.len()
            }
            _ => false,
        }
    })
}

const ICC_MARKER: &[u8] = b"ICC_PROFILE\0";
/// Profile bytes per APP2 segment: 65535 minus the length field and the 14-byte header.
const CHUNK: usize = 65_535 - 2 - 14;

/// The ICC profile in a JPEG's APP2 segments, reassembled in sequence order.
pub fn from_jpeg(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut chunks: Vec<(u8, &[u8])> = Vec::new();
    let mut at = 2;
    while at + 4 <= bytes.len() && bytes[at] == 0xFF {
        let marker = bytes[at + 1];
        if marker == 0xFF {
            at += 1; // fill byte
            continue;
        }
        if marker == 0xDA || marker == 0xD9 {
            break; // start of scan or end of image: no more headers
        }
        let length = usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
        let data = bytes.get(at + 4..at + 2 + length)?;
        if marker == 0xE2 && data.starts_with(ICC_MARKER) && data.len() > 14 {
            chunks.push((data[12], &data[14..]));
        }
        at += 2 + length;
    }
    if chunks.is_empty() {
        return None;
    }
    chunks.sort_by_key(|(sequence, _)| *sequence);
    Some(
        chunks
            .into_iter()
            .flat_map(|(_, chunk)| chunk.iter().copied())
            .collect(),
    )
}

/// Inserts `profile` as APP2 segments right after the JPEG's start-of-image marker.
pub(crate) fn embed_in_jpeg(jpeg: Vec<u8>, profile: &[u8]) -> Vec<u8> {
    let chunks: Vec<&[u8]> = profile.chunks(CHUNK).collect();
    if chunks.is_empty() || chunks.len() > 255 || jpeg.len() < 2 {
        return jpeg;
    }
    let mut out = Vec::with_capacity(jpeg.len() + profile.len() + 18 * chunks.len());
    out.extend_from_slice(&jpeg[..2]);
    for (index, chunk) in chunks.iter().enumerate() {
        out.extend_from_slice(&[0xFF, 0xE2]);
        out.extend_from_slice(&((chunk.len() + 16) as u16).to_be_bytes());
        out.extend_from_slice(ICC_MARKER);
        out.push(index as u8 + 1);
        out.push(chunks.len() as u8);
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal well-formed RGB profile of `len` bytes with one tag covering its tail.
    pub(crate) fn rgb_profile(len: usize) -> Vec<u8> {
        let mut profile = vec![0u8; len];
        profile[0..4].copy_from_slice(&(len as u32).to_be_bytes());
        profile[16..20].copy_from_slice(b"RGB ");
        profile[36..40].copy_from_slice(b"acsp");
        profile[128..132].copy_from_slice(&1u32.to_be_bytes());
        profile[132..136].copy_from_slice(b"desc");
        profile[136..140].copy_from_slice(&144u32.to_be_bytes());
        profile[140..144].copy_from_slice(&((len - 144) as u32).to_be_bytes());
        profile
    }

    #[test]
    fn only_well_formed_rgb_profiles_of_bounded_size_are_kept() {
        let good = rgb_profile(600);
        assert_eq!(usable_profile(good.clone()), Ok(Some(good)));
        assert_eq!(
            usable_profile(vec![0; 16 << 20]),
            Ok(None),
            "zero-filled blob"
        );
        let mut cmyk = rgb_profile(600);
        cmyk[16..20].copy_from_slice(b"CMYK");
        assert_eq!(usable_profile(cmyk), Ok(None));
        let mut lying = rgb_profile(600);
        lying[140..144].copy_from_slice(&10_000u32.to_be_bytes());
        assert_eq!(usable_profile(lying), Ok(None), "a tag beyond the end");
        assert_eq!(
            usable_profile(rgb_profile(MAX_PROFILE_BYTES + 1)),
            Err(MediaError::ProfileTooLarge)
        );
    }

    #[test]
    fn profiles_round_trip_through_app2_segments_even_when_split() {
        let jpeg = vec![0xFF, 0xD8, 0xFF, 0xDA, 0, 2, 0xFF, 0xD9];
        let small: Vec<u8> = (0..=255).collect();
        assert_eq!(from_jpeg(&embed_in_jpeg(jpeg.clone(), &small)), Some(small));
        let large: Vec<u8> = (0..200_000u32).map(|n| (n % 251) as u8).collect();
        assert_eq!(from_jpeg(&embed_in_jpeg(jpeg.clone(), &large)), Some(large));
        assert_eq!(from_jpeg(&jpeg), None);
    }
}
