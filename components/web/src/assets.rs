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
            hash: depot_guest::fnv1a(bytes),
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
}
