//! C2SP checkpoints: the signed statement of a log's size and root.

use super::note::check_text;
use super::{Hash, NoteSigner, NoteVerifier, TlogError, open_note, sign_note};

/// A log's tree head as a [C2SP checkpoint](https://c2sp.org/tlog-checkpoint):
/// the note text `<origin>\n<size>\n<base64 root>\n`, then any extension lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Names the log; by convention a schema-less URL such as
    /// `depot.example/log`, and the name of the key that signs it.
    pub origin: String,
    /// The number of entries in the tree.
    pub size: u64,
    /// The root hash of the tree of the first `size` entries.
    pub root: Hash,
    /// Extra lines after the root, each non-empty and without its newline.
    /// Monitors cannot audit them, so the spec advises against them.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// A checkpoint with no extension lines.
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Self {
        Self {
            origin: origin.into(),
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// The note text. It parses back only if the origin and extension lines are
    /// non-empty and free of newlines and control characters; [`Checkpoint::sign`]
    /// checks that.
    pub fn to_note_body(&self) -> String {
        let mut body = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            self.root.to_base64()
        );
        for line in &self.extensions {
            body.push_str(line);
            body.push('\n');
        }
        body
    }

    /// Parses a checkpoint's note text (an opened note's text, newline included).
    pub fn parse(body: &str) -> Result<Self, TlogError> {
        let malformed = |why: String| TlogError::MalformedCheckpoint(why);
        check_text(body).map_err(malformed)?;
        let mut lines = body[..body.len() - 1].split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(malformed(
                "expected at least three lines: origin, tree size and root hash".into(),
            ));
        };
        if origin.is_empty() {
            return Err(malformed("the origin line is empty".into()));
        }
        let canonical = !size.is_empty()
            && size.bytes().all(|b| b.is_ascii_digit())
            && (size == "0" || !size.starts_with('0'));
        let size = canonical
            .then(|| size.parse::<u64>().ok())
            .flatten()
            .ok_or_else(|| {
                malformed(format!(
                    "tree size `{}` is not a decimal number without leading zeros that fits \
                     in 64 bits",
                    size.escape_debug()
                ))
            })?;
        let root = Hash::from_base64(root).map_err(|_| {
            malformed(format!(
                "root hash `{}` is not 32 bytes in standard base64",
                root.escape_debug()
            ))
        })?;
        let extensions = lines
            .map(|line| {
                if line.is_empty() {
                    Err(malformed("an extension line is empty".into()))
                } else {
                    Ok(line.to_owned())
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// The signed note of this checkpoint.
    pub fn sign(&self, signer: &NoteSigner) -> Result<String, TlogError> {
        let body = self.to_note_body();
        if Self::parse(&body).as_ref() != Ok(self) {
            return Err(TlogError::MalformedCheckpoint(
                "the origin or an extension line is empty or holds a newline or control \
                 character, so the note text would not read back as this checkpoint"
                    .into(),
            ));
        }
        sign_note(&body, signer)
    }

    /// Opens a signed checkpoint note with [`open_note`] and parses its text.
    pub fn open(note: &str, verifier: &NoteVerifier) -> Result<Self, TlogError> {
        Self::parse(open_note(note, verifier)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example in the C2SP checkpoint spec.
    const C2SP_EXAMPLE: &str = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";

    const SUMDB_VKEY: &str = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8";
    const SUMDB_CHECKPOINT: &str = "go.sum database tree\n15368405\n/g9am3I6YWNKaZX/jkne1fqd9zEyjss+JXyPXG0WfkY=\n\n\u{2014} sum.golang.org Az3grqJGUaSGukG9p8nI2vKgiFn7qGHxn0W+mrwyI6Gz3F0t1J3LzmWk/p96Ybf295EjwdSwlzgijq5WA9d1Ded7owM=\n";

    fn signer() -> NoteSigner {
        NoteSigner::from_seed("depot.example/log", [9; 32]).unwrap()
    }

    #[test]
    fn the_c2sp_example_parses_and_prints_back() {
        let body = &C2SP_EXAMPLE[..C2SP_EXAMPLE.find("\n\n").unwrap() + 1];
        let checkpoint = Checkpoint::parse(body).unwrap();
        assert_eq!(checkpoint.origin, "example.com/behind-the-sofa");
        assert_eq!(checkpoint.size, 20852163);
        assert_eq!(
            checkpoint.root.to_base64(),
            "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
        );
        assert!(checkpoint.extensions.is_empty());
        assert_eq!(checkpoint.to_note_body(), body);
        // Its signature is by a key Depot does not know: ignored, so unverified.
        assert!(matches!(
            Checkpoint::open(C2SP_EXAMPLE, &signer().verifier()),
            Err(TlogError::NotSigned { .. })
        ));
    }

    #[test]
    fn a_sum_golang_org_checkpoint_opens() {
        let checkpoint = Checkpoint::open(SUMDB_CHECKPOINT, &SUMDB_VKEY.parse().unwrap()).unwrap();
        assert_eq!(checkpoint.origin, "go.sum database tree");
        assert_eq!(checkpoint.size, 15368405);
        assert_eq!(
            checkpoint.root.to_base64(),
            "/g9am3I6YWNKaZX/jkne1fqd9zEyjss+JXyPXG0WfkY="
        );
    }

    #[test]
    fn a_signed_checkpoint_opens_with_its_key_only() {
        let mut checkpoint = Checkpoint::new("depot.example/log", 5, super::super::leaf_hash(b"x"));
        checkpoint.extensions.push("an extension".into());
        let note = checkpoint.sign(&signer()).unwrap();
        assert!(note.starts_with(&checkpoint.to_note_body()));
        assert_eq!(
            Checkpoint::open(&note, &signer().verifier()).unwrap(),
            checkpoint
        );
        let other = NoteSigner::from_seed("depot.example/log", [10; 32]).unwrap();
        assert!(Checkpoint::open(&note, &other.verifier()).is_err());
    }

    #[test]
    fn the_empty_tree_has_a_checkpoint() {
        let body = format!("log\n0\n{}\n", super::super::empty_root().to_base64());
        assert_eq!(Checkpoint::parse(&body).unwrap().size, 0);
    }

    #[test]
    fn malformed_checkpoints_are_refused() {
        let root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
        for body in [
            String::new(),
            format!("log\n5\n{root}"),
            "log\n5\n".into(),
            format!("\n5\n{root}\n"),
            format!("log\n\n{root}\n"),
            format!("log\n05\n{root}\n"),
            format!("log\n+5\n{root}\n"),
            format!("log\n-5\n{root}\n"),
            format!("log\n5 \n{root}\n"),
            format!("log\n18446744073709551616\n{root}\n"),
            "log\n5\nAAAA\n".into(),
            format!("log\n5\n{}\n", &root[..43]),
            format!("log\n5\n{root}\n\n"),
            format!("log\n5\n{root}\next\n\n"),
            format!("log\t1\n5\n{root}\n"),
        ] {
            assert!(
                matches!(
                    Checkpoint::parse(&body),
                    Err(TlogError::MalformedCheckpoint(_))
                ),
                "{body:?}"
            );
        }
        assert_eq!(
            Checkpoint::parse(&format!("log\n18446744073709551615\n{root}\n"))
                .unwrap()
                .size,
            u64::MAX
        );
    }

    #[test]
    fn a_checkpoint_that_would_not_read_back_is_not_signed() {
        let root = super::super::empty_root();
        for origin in ["", "two\nlines"] {
            assert!(Checkpoint::new(origin, 0, root).sign(&signer()).is_err());
        }
        let mut checkpoint = Checkpoint::new("log", 0, root);
        checkpoint.extensions.push(String::new());
        assert!(checkpoint.sign(&signer()).is_err());
    }
}
