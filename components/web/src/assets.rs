//! The files pages use: one stylesheet, one script, one icon. Each is named by
//! a hash of its bytes, so a page always asks for the version it was rendered
//! with and caches may keep every version for good.

/// A file under `/static/`.
#[derive(Debug, PartialEq, Eq)]
pub struct Asset {
    /// The name before the hash (`depot`), and the extension (`css`).
    stem: &'static str,
    extension: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
    hash: u64,
}

impl Asset {
    const fn new(
        stem: &'static str,
        extension: &'static str,
        content_type: &'static str,
        bytes: &'static [u8],
    ) -> Self {
        Self {
            stem,
            extension,
            content_type,
            bytes,
            hash: fnv1a(bytes),
        }
    }

    /// Its file name, e.g. `depot-0123456789abcdef.css`.
    pub fn file_name(&self) -> String {
        format!("{}-{:016x}.{}", self.stem, self.hash, self.extension)
    }

    /// Its path, for links.
    pub fn path(&self) -> String {
        format!("/static/{}", self.file_name())
    }
}

pub static STYLESHEET: Asset = Asset::new(
    "depot",
    "css",
    "text/css; charset=utf-8",
    include_bytes!("../static/depot.css"),
);

pub static SCRIPT: Asset = Asset::new(
    "depot",
    "js",
    "text/javascript; charset=utf-8",
    include_bytes!("../static/depot.js"),
);

pub static ICON: Asset = Asset::new(
    "icon",
    "svg",
    "image/svg+xml",
    include_bytes!("../static/icon.svg"),
);

static ALL: [&Asset; 3] = [&STYLESHEET, &SCRIPT, &ICON];

/// The asset named `file_name`; none for a name with an old or unknown hash.
pub fn find(file_name: &str) -> Option<&'static Asset> {
    ALL.iter()
        .copied()
        .find(|asset| asset.file_name() == file_name)
}

/// The 64-bit FNV-1a hash: enough to tell versions of a file apart, and
/// computable at compile time.
pub const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_are_found_only_by_their_current_name() {
        let name = STYLESHEET.file_name();
        assert!(
            name.starts_with("depot-") && name.ends_with(".css"),
            "{name}"
        );
        assert_eq!(find(&name), Some(&STYLESHEET));
        assert_eq!(find(&SCRIPT.file_name()), Some(&SCRIPT));
        assert_eq!(find("depot-0000000000000000.css"), None);
        assert_eq!(find("depot.css"), None);
    }

    #[test]
    fn the_hash_is_fnv1a() {
        // Published test vectors of 64-bit FNV-1a.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
