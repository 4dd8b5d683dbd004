//! Benchmark of the media pipeline on a 12-megapixel phone-like JPEG (4000×3000, quality 90,
//! EXIF orientation 6): median time per image in a warm worker, throughput with one worker per
//! core, peak memory, the JPEG decode floor, and `vipsthumbnail` for comparison when installed.
//!
//! Run: `cargo run --release -p picshare-media --example picshare-media-bench [iterations]`

use std::time::{Duration, Instant};

use picshare_media::{Purpose, decode_only, decode_post_only, process, process_in_rgb, samples};

// The allocator of the `picshare` binary, whose worker runs the pipeline.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--memory-probe") {
        return memory_probe(&args[2]);
    }
    let iterations: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(30);
    let original = samples::jpeg_with_exif(&samples::photo_like(4000, 3000), 90, 6, true);
    println!(
        "input: 4000x3000 JPEG q90, EXIF orientation 6 + GPS, {} KiB; {iterations} iterations",
        original.len() / 1024
    );

    // Warm up (allocator, code paths, lazily built tables).
    for _ in 0..3 {
        process(&original, Purpose::Post).expect("pipeline");
    }
    let pipeline = median(iterations, || {
        process(&original, Purpose::Post).expect("pipeline");
    });
    let floor = median(iterations, || {
        decode_only(&original, Purpose::Post).expect("decode");
    });
    let in_rgb = median(iterations, || {
        process_in_rgb(&original, Purpose::Post).expect("pipeline");
    });
    let planes_floor = median(iterations, || {
        decode_post_only(&original).expect("decode");
    });
    let (decoded_w, decoded_h) = decode_only(&original, Purpose::Post).expect("decode");

    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let per_worker = iterations.max(4);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..cores {
            scope.spawn(|| {
                for _ in 0..per_worker {
                    process(&original, Purpose::Post).expect("pipeline");
                }
            });
        }
    });
    let throughput = (cores * per_worker) as f64 / started.elapsed().as_secs_f64();

    println!();
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| pipeline (decode, orient, medium 1080 + thumb 320, encode q82, blurhash), median | {:.1} ms |",
        ms(pipeline)
    );
    println!(
        "| JPEG decode floor (DCT-scaled to {decoded_w}x{decoded_h}), median | {:.1} ms |",
        ms(floor)
    );
    println!(
        "| pipeline / decode floor | {:.2}x |",
        ms(pipeline) / ms(floor)
    );
    println!(
        "| the same through RGB pixels (the path of uploads that are not 4:2:0 JPEGs), median | {:.1} ms |",
        ms(in_rgb)
    );
    println!(
        "| through RGB / decode floor | {:.2}x |",
        ms(in_rgb) / ms(floor)
    );
    println!(
        "| JPEG decode to its own planes (YCbCr 4:2:0, no colour conversion), median | {:.1} ms |",
        ms(planes_floor)
    );
    println!(
        "| pipeline / planes decode | {:.2}x |",
        ms(pipeline) / ms(planes_floor)
    );
    println!("| throughput, {cores} workers (one per core) | {throughput:.1} images/s |");
    match probe_in_child(&original) {
        Some(kib) => println!(
            "| peak memory of one image in flight (fresh process: RSS high-water mark minus RSS before) | {:.1} MiB |",
            kib as f64 / 1024.0
        ),
        None => println!("| peak memory | unavailable on this platform |"),
    }
    match vipsthumbnail(&original, iterations.min(10)) {
        Some(vips) => {
            println!(
                "| vipsthumbnail, medium 1080 + thumb 320 (two runs), median | {:.1} ms |",
                ms(vips)
            );
            println!(
                "| vipsthumbnail / pipeline | {:.2}x |",
                ms(vips) / ms(pipeline)
            );
        }
        None => println!("| vipsthumbnail | not installed (Debian: libvips-tools) |"),
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn median(iterations: usize, mut run: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..iterations.max(1))
        .map(|_| {
            let started = Instant::now();
            run();
            started.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// A field of /proc/self/status in KiB (`VmHWM`: peak resident set; `VmRSS`: current).
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|line| line.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Runs this binary again on the file alone, so the peak is the pipeline's and not the
/// benchmark's own test-image generation.
fn probe_in_child(original: &[u8]) -> Option<u64> {
    let path = std::env::temp_dir().join(format!("picshare-probe-{}.jpg", std::process::id()));
    std::fs::write(&path, original).ok()?;
    let output = std::process::Command::new(std::env::current_exe().ok()?)
        .arg("--memory-probe")
        .arg(&path)
        .output()
        .ok()?;
    let _ = std::fs::remove_file(&path);
    String::from_utf8(output.stdout).ok()?.trim().parse().ok()
}

/// Child side: prints the KiB the pipeline added to the resident set at its peak.
fn memory_probe(path: &str) {
    let original = std::fs::read(path).expect("probe input");
    let before = status_kib("VmRSS:").unwrap_or(0);
    process(&original, Purpose::Post).expect("pipeline");
    let peak = status_kib("VmHWM:").unwrap_or(0);
    println!("{}", peak.saturating_sub(before));
}

/// Both sizes made by `vipsthumbnail` from the same file, timed together.
fn vipsthumbnail(original: &[u8], iterations: usize) -> Option<Duration> {
    let dir = std::env::temp_dir().join(format!("picshare-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let input = dir.join("input.jpg");
    std::fs::write(&input, original).ok()?;
    let run = |args: &[&str]| {
        std::process::Command::new("vipsthumbnail")
            .arg(&input)
            .args(args)
            .status()
            .map(|status| status.success())
            .unwrap_or(false)
    };
    let medium = format!("{}[Q=82,strip]", dir.join("medium.jpg").display());
    let thumb = format!("{}[Q=82,strip]", dir.join("thumb.jpg").display());
    if !run(&["--size", "1080x", "-o", &medium]) {
        return None;
    }
    let time = median(iterations, || {
        run(&["--size", "1080x", "-o", &medium]);
        run(&["--size", "320x320", "--smartcrop", "centre", "-o", &thumb]);
    });
    let _ = std::fs::remove_dir_all(&dir);
    Some(time)
}
