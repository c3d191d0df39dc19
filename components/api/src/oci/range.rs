//! The `Range` header of a blob GET: one range of bytes (RFC 9110 §14.1.2).

/// The first and last byte (inclusive) of `range` in a blob of `size` bytes;
/// none when the header is malformed, asks for several ranges, or does not fit.
pub fn parse(range: &str, size: u64) -> Option<(u64, u64)> {
    let spec = range.trim().strip_prefix("bytes=")?;
    let (first, last) = spec.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        // `bytes=-N`: the last N bytes.
        let suffix: u64 = last.parse().ok()?;
        if suffix == 0 || size == 0 {
            return None;
        }
        return Some((size.saturating_sub(suffix), size - 1));
    }
    let first: u64 = first.parse().ok()?;
    let last = if last.is_empty() {
        size.checked_sub(1)?
    } else {
        last.parse::<u64>().ok()?.min(size.checked_sub(1)?)
    };
    (first <= last).then_some((first, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_range_is_clamped_to_the_blob() {
        assert_eq!(parse("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(parse("bytes=90-", 100), Some((90, 99)));
        assert_eq!(parse("bytes=90-200", 100), Some((90, 99)));
        assert_eq!(parse("bytes=-10", 100), Some((90, 99)));
        assert_eq!(parse("bytes=-200", 100), Some((0, 99)));
    }

    #[test]
    fn ranges_that_do_not_fit_or_parse_are_refused() {
        for bad in [
            "bytes=100-",
            "bytes=5-1",
            "bytes=-0",
            "items=0-1",
            "bytes=0-1,5-6",
            "bytes=x-1",
        ] {
            assert_eq!(parse(bad, 100), None, "{bad}");
        }
        assert_eq!(parse("bytes=0-", 0), None);
    }
}
