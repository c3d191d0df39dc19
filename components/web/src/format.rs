//! How numbers and times read on a page.

use maud::{Markup, html};

/// `bytes` in the largest binary unit that keeps it above 1: `512 B`,
/// `50.7 KiB`, `1.2 MiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A `<time>` for `millis` since the Unix epoch, shown to the minute in UTC.
pub fn time(millis: u64) -> Markup {
    let exact = depot_protocol::rfc3339(millis);
    // `2026-11-28T10:03:12.345Z` → `2026-11-28 10:03 UTC`.
    let shown = format!("{} {} UTC", &exact[..10], &exact[11..16]);
    html! { time datetime=(exact) { (shown) } }
}

/// A count with thousands separated: `1,234,567`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_use_binary_units() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(1023), "1023 B");
        assert_eq!(size(51_920), "50.7 KiB");
        assert_eq!(size(100 * 1024 * 1024), "100.0 MiB");
    }

    #[test]
    fn times_are_minutes_in_utc() {
        let markup = time(1_764_324_192_345).into_string();
        assert_eq!(
            markup,
            "<time datetime=\"2025-11-28T10:03:12.345Z\">2025-11-28 10:03 UTC</time>"
        );
    }

    #[test]
    fn counts_group_thousands() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(1_234_567), "1,234,567");
    }
}
