//! Colour profiles travel with the pixels: a profile found in the upload is embedded in every
//! variant, so wide-gamut photos (Display P3, Adobe RGB) are not silently shown as sRGB.

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
