//! Peak memory of one image job, measured as this process's resident high-water mark (its own
//! test binary, one test, so nothing else runs beside it).

use picshare_media::{Purpose, process};

fn peak_resident_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib / 1024
}

/// A 16-bit RGBA PNG of `side`², written row by row so the test itself stays small in memory.
fn wide_png(side: u32) -> Vec<u8> {
    let mut out = Vec::new();
    write_png(&mut out, side);
    out
}

fn write_png(out: &mut Vec<u8>, side: u32) {
    let mut encoder = png::Encoder::new(out, side, side);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Sixteen);
    let mut writer = encoder.write_header().unwrap();
    let mut stream = writer.stream_writer().unwrap();
    let row: Vec<u8> = (0..side)
        .flat_map(|x| {
            let level = if x < side / 2 { 0x2000u16 } else { 0xE000 };
            [
                level.to_be_bytes(),
                0x8000u16.to_be_bytes(),
                level.to_be_bytes(),
                0xFFFFu16.to_be_bytes(),
            ]
            .concat()
        })
        .collect();
    for _ in 0..side {
        std::io::Write::write_all(&mut stream, &row).unwrap();
    }
    stream.finish().unwrap();
}

#[test]
fn a_16_bit_7000_square_png_is_processed_within_256_mib() {
    let png = wide_png(7000);
    assert!(png.len() < 2_000_000, "small on disk: {} bytes", png.len());
    let before = peak_resident_mib();
    let processed = process(&png, Purpose::Post).unwrap();
    assert_eq!((processed.width, processed.height), (7000, 7000));
    let peak = peak_resident_mib();
    assert!(
        peak <= 256,
        "peak resident {peak} MiB (before the job: {before} MiB)"
    );
}
