//! What the benches share: percentiles, milliseconds, resident memory, and
//! the figures each run prints and keeps under `target/bench-figures/`.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// Prints a line of figures and keeps it in this run's file (see
/// [`start_figures`]).
macro_rules! figure {
    ($($arg:tt)*) => {
        $crate::common::record(&format!($($arg)*))
    };
}

pub mod oci;
pub mod wrk;

/// The file this run's figures go to.
static FIGURES: Mutex<Option<std::fs::File>> = Mutex::new(None);

/// Starts `target/bench-figures/<bench>.txt` for this run's figures; the last
/// run's become `<bench>.previous.txt`, to compare with. Returns the path.
pub fn start_figures(bench: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("../bench-figures");
    std::fs::create_dir_all(&dir).expect("a folder for the figures");
    let path = dir.join(format!("{bench}.txt"));
    if path.exists() {
        std::fs::rename(&path, dir.join(format!("{bench}.previous.txt")))
            .expect("keep the last run's figures");
    }
    let file = std::fs::File::create(&path).expect("a file for the figures");
    *FIGURES.lock().expect("figures") = Some(file);
    println!("figures also go to {}", path.display());
    path
}

/// Prints `line` and appends it to this run's figures file.
pub fn record(line: &str) {
    println!("{line}");
    if let Some(file) = FIGURES.lock().expect("figures").as_mut() {
        writeln!(file, "{line}").expect("write a figure");
    }
}

/// The 50th and 99th percentiles of `samples` (sorted in place).
pub fn percentiles(samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    (at(0.5), at(0.99))
}

/// `d` in milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The resident memory of process `pid`, in KiB (0 when unknown).
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// 200 sequential publishes of distinct 52 KB components to `server` over one
/// connection: the component's size and each publish's time.
#[allow(dead_code)]
pub fn sequential_publishes(server: &crate::support::Server) -> (usize, Vec<Duration>) {
    use crate::support::{Meta, greeter, status_json};
    let n = 200;
    let http = server.http();
    let mut samples = Vec::with_capacity(n);
    let mut size = 0;
    for i in 0..n {
        let bytes = greeter(&Meta {
            description: Some(&format!("bench component {i}")),
            padding: 50_000,
            ..Meta::default()
        });
        size = bytes.len();
        let url = server.at(&format!("/v1/packages/bench:publish/versions/1.0.{i}"));
        let start = std::time::Instant::now();
        let response = http.put(url).body(bytes).send().expect("PUT");
        let (status, body) = status_json(response);
        samples.push(start.elapsed());
        assert_eq!(status, 201, "{body}");
    }
    (size, samples)
}
