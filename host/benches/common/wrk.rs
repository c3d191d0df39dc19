//! Load from `wrk` (Debian's package `wrk`): requests per second and p99.
#![allow(dead_code)]

use std::time::Duration;

/// What `wrk` measured of one URL.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub requests_per_second: f64,
    /// The 99th percentile of latency.
    pub p99: Duration,
}

/// `wrk -t2 -c16 --latency` on `url` for `seconds`; none when wrk is not
/// installed (Debian's package `wrk`).
pub fn wrk(url: &str, seconds: u32) -> Option<Load> {
    wrk_with(url, seconds, &[])
}

/// [`wrk`] with more of wrk's arguments (`-H "Name: value"`).
pub fn wrk_with(url: &str, seconds: u32, more: &[&str]) -> Option<Load> {
    let out = std::process::Command::new("wrk")
        .args(["-t2", "-c16", "--latency", &format!("-d{seconds}s")])
        .args(more)
        .arg(url)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let requests_per_second = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|n| n.trim().parse().ok())?;
    // In the latency distribution: `     99%    1.23ms`.
    let p99 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))
        .and_then(|v| parse_wrk_time(v.trim()))?;
    Some(Load {
        requests_per_second,
        p99,
    })
}

/// A wrk time: `812.00us`, `1.23ms`, `2.01s`.
fn parse_wrk_time(text: &str) -> Option<Duration> {
    let (number, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 1e-6)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else {
        return None;
    };
    let seconds = number.parse::<f64>().ok()? * scale;
    Some(Duration::from_secs_f64(seconds))
}
