//! Syntax highlighting for WIT, on the server: each keyword, built-in type,
//! comment and version becomes a `<span>` the stylesheet colours. The text is
//! escaped as it is copied, so a WIT document is shown exactly as written.

use std::fmt::Write as _;

use maud::{Escaper, Markup, PreEscaped};

const KEYWORDS: &[&str] = &[
    "package",
    "world",
    "interface",
    "import",
    "export",
    "use",
    "func",
    "record",
    "variant",
    "enum",
    "flags",
    "resource",
    "type",
    "include",
    "with",
    "as",
    "from",
    "constructor",
    "static",
    "async",
];

const TYPES: &[&str] = &[
    "u8",
    "u16",
    "u32",
    "u64",
    "s8",
    "s16",
    "s32",
    "s64",
    "f32",
    "f64",
    "bool",
    "char",
    "string",
    "list",
    "option",
    "result",
    "tuple",
    "borrow",
    "own",
    "future",
    "stream",
    "error-context",
];

/// `wit` as highlighted markup, for inside a `<pre><code>`.
pub fn wit(wit: &str) -> Markup {
    let mut out = String::with_capacity(wit.len() * 2);
    let mut rest = wit;
    while let Some(c) = rest.chars().next() {
        let (class, len) = if rest.starts_with("//") {
            ("c", rest.find('\n').unwrap_or(rest.len()))
        } else if rest.starts_with("/*") {
            ("c", rest.find("*/").map_or(rest.len(), |end| end + 2))
        } else if c == '@' {
            let len = 1 + rest[1..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || "._+-".contains(c)))
                .unwrap_or(rest.len() - 1);
            ("v", len)
        } else if c.is_ascii_alphanumeric() || c == '%' || c == '_' {
            let len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || "%-_".contains(c)))
                .unwrap_or(rest.len());
            let word = &rest[..len];
            let class = if KEYWORDS.contains(&word) {
                "k"
            } else if TYPES.contains(&word) {
                "t"
            } else {
                ""
            };
            (class, len)
        } else {
            ("", c.len_utf8())
        };
        let (token, after) = rest.split_at(len);
        if class.is_empty() {
            escape(&mut out, token);
        } else {
            let _ = write!(out, "<span class=\"{class}\">");
            escape(&mut out, token);
            out.push_str("</span>");
        }
        rest = after;
    }
    PreEscaped(out)
}

fn escape(out: &mut String, text: &str) {
    // Writing to a String cannot fail.
    let _ = Escaper::new(out).write_str(text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_types_comments_and_versions_are_marked() {
        let html = wit("/// Greets.\nworld greeter {\n  export greet: func(name: string) -> list<u8>;\n  import wasi:cli/stdout@0.2.0;\n}\n")
            .into_string();
        assert!(
            html.contains("<span class=\"c\">/// Greets.</span>"),
            "{html}"
        );
        assert!(
            html.contains("<span class=\"k\">world</span> greeter"),
            "{html}"
        );
        assert!(html.contains("<span class=\"k\">func</span>"), "{html}");
        assert!(html.contains("<span class=\"t\">string</span>"), "{html}");
        assert!(
            html.contains("-&gt; <span class=\"t\">list</span>&lt;<span class=\"t\">u8</span>&gt;"),
            "{html}"
        );
        assert!(
            html.contains("wasi:cli/stdout<span class=\"v\">@0.2.0</span>;"),
            "{html}"
        );
    }

    #[test]
    fn names_that_contain_keywords_and_escaped_keywords_stay_plain() {
        let html = wit("record worldly { %type: u32, type-name: string }").into_string();
        assert!(html.contains(" worldly "), "{html}");
        assert!(html.contains(" %type:"), "{html}");
        assert!(html.contains(" type-name:"), "{html}");
    }

    #[test]
    fn markup_in_the_text_is_escaped() {
        let html = wit("// <script>alert(1)</script> & more\ninterface x {}").into_string();
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"),
            "{html}"
        );
    }

    #[test]
    fn the_text_survives_highlighting_unchanged() {
        let source = "package a:b@1.0.0-rc.1;\n\ninterface é { f: func(); }\n/* x */";
        let html = wit(source).into_string();
        let text = html
            .split('<')
            .map(|part| part.split_once('>').map_or(part, |(_, text)| text))
            .collect::<String>()
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&");
        assert_eq!(text, source);
    }
}
