//! C2SP signed notes with Ed25519 signatures, and the key strings of Go's
//! `golang.org/x/mod/sumdb/note`.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::TlogError;

/// The most signature lines [`open_note`] reads; a note with more is refused.
/// The signed-note spec asks verifiers to accept at least 16.
pub const MAX_SIGNATURES: usize = 100;

/// The signature type byte of Ed25519 in key IDs and key strings.
const ED25519: u8 = 0x01;

/// The prefix of a signer key string, which marks it as secret.
const PRIVATE_PREFIX: &str = "PRIVATE+KEY+";

/// The start of every signature line: an em dash and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// The key ID of an Ed25519 key: the first four bytes, big-endian, of
/// `SHA-256(name || 0x0A || 0x01 || public key)`.
pub fn key_id(name: &str, public_key: &[u8; 32]) -> u32 {
    let digest = Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update([b'\n', ED25519])
        .chain_update(public_key)
        .finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// Whether `name` can name a key: non-empty, with no whitespace, `+` or control
/// characters.
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        Err("the key name is empty".into())
    } else if name
        .chars()
        .any(|c| c.is_whitespace() || c == '+' || c.is_control())
    {
        Err(format!(
            "key name `{}` contains whitespace, `+` or a control character",
            name.escape_debug()
        ))
    } else {
        Ok(())
    }
}

/// Splits `<name>+<hex key ID>+<base64 key>` (the key's base64 may itself
/// contain `+`), checks the name and key ID syntax, and decodes an Ed25519 key.
fn split_key(text: &str, what: &str) -> Result<(String, u32, [u8; 32]), TlogError> {
    let malformed = |why: String| TlogError::MalformedKey(format!("{what}: {why}"));
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(malformed(format!(
            "expected `<name>+<8 hex digit key ID>+<base64 key>`, got `{}`",
            text.escape_debug()
        )));
    };
    check_name(name).map_err(malformed)?;
    if id.len() != 8 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(malformed(format!(
            "key ID `{}` is not 8 hex digits",
            id.escape_debug()
        )));
    }
    let id = u32::from_str_radix(id, 16).map_err(|e| malformed(e.to_string()))?;
    let key = BASE64
        .decode(key)
        .map_err(|e| malformed(format!("the key is not standard base64 ({e})")))?;
    let Some((&ED25519, key)) = key.split_first() else {
        return Err(malformed(
            "the key is not an Ed25519 key (its first byte must be 0x01)".into(),
        ));
    };
    let key = <[u8; 32]>::try_from(key).map_err(|_| {
        malformed(format!(
            "an Ed25519 key has 32 bytes after its type byte, this one has {}",
            key.len()
        ))
    })?;
    Ok((name.to_owned(), id, key))
}

fn check_id(name: &str, id: u32, public_key: &[u8; 32], what: &str) -> Result<(), TlogError> {
    let want = key_id(name, public_key);
    if id == want {
        Ok(())
    } else {
        Err(TlogError::MalformedKey(format!(
            "{what}: key ID {id:08x} does not match name `{name}` and its key (expected \
             {want:08x}); the key string was altered or mistyped"
        )))
    }
}

/// The public half of a note key: checks signatures by one named Ed25519 key.
///
/// Its string form is `<name>+<hex key ID>+<base64(0x01 || public key)>`.
#[derive(Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// The verifier for the Ed25519 `public_key` under `name`.
    pub fn new(name: &str, public_key: [u8; 32]) -> Result<Self, TlogError> {
        check_name(name).map_err(TlogError::MalformedKey)?;
        let key = VerifyingKey::from_bytes(&public_key).map_err(|_| {
            TlogError::MalformedKey(format!(
                "key `{name}`: the public key is not a valid Ed25519 point"
            ))
        })?;
        Ok(Self {
            key_id: key_id(name, &public_key),
            name: name.to_owned(),
            key,
        })
    }

    /// The key name, as it appears in signature lines.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID, as it appears at the start of each signature.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }
}

impl FromStr for NoteVerifier {
    type Err = TlogError;

    fn from_str(text: &str) -> Result<Self, TlogError> {
        let (name, id, public_key) = split_key(text, "verifier key")?;
        check_id(&name, id, &public_key, "verifier key")?;
        Self::new(&name, public_key)
    }
}

impl fmt::Display for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut key = [ED25519; 33];
        key[1..].copy_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.key_id,
            BASE64.encode(key)
        )
    }
}

impl fmt::Debug for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("NoteVerifier")
            .field(&format_args!("{self}"))
            .finish()
    }
}

/// The secret half of a note key: signs notes as one named Ed25519 key.
///
/// Its string form is `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>`,
/// given only by [`NoteSigner::to_key_string`]; `Debug` shows the name and key ID
/// and never the seed.
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    key_id: u32,
    key: SigningKey,
}

impl NoteSigner {
    /// The signer for the Ed25519 key with this 32-byte seed, under `name`. The
    /// caller supplies the seed (from the OS random number generator for a new
    /// key), so this crate needs no randomness of its own.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, TlogError> {
        check_name(name).map_err(TlogError::MalformedKey)?;
        let key = SigningKey::from_bytes(&seed);
        Ok(Self {
            key_id: key_id(name, key.verifying_key().as_bytes()),
            name: name.to_owned(),
            key,
        })
    }

    /// The key name, as it appears in signature lines.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID, as it appears at the start of each signature.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The verifier for this signer's signatures.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    /// The secret key string, `PRIVATE+KEY+<name>+<hex key ID>+<base64>`.
    pub fn to_key_string(&self) -> String {
        let mut key = [ED25519; 33];
        key[1..].copy_from_slice(self.key.as_bytes());
        format!(
            "{PRIVATE_PREFIX}{}+{:08x}+{}",
            self.name,
            self.key_id,
            BASE64.encode(key)
        )
    }

    fn sign(&self, message: &[u8]) -> Signature {
        self.key.sign(message)
    }
}

impl FromStr for NoteSigner {
    type Err = TlogError;

    fn from_str(text: &str) -> Result<Self, TlogError> {
        let rest = text.strip_prefix(PRIVATE_PREFIX).ok_or_else(|| {
            TlogError::MalformedKey(format!(
                "signer key: does not start with `{PRIVATE_PREFIX}`"
            ))
        })?;
        let (name, id, seed) = split_key(rest, "signer key")?;
        let signer = Self::from_seed(&name, seed)?;
        check_id(
            &name,
            id,
            signer.key.verifying_key().as_bytes(),
            "signer key",
        )?;
        Ok(signer)
    }
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .finish_non_exhaustive()
    }
}

/// Checks that `text` can be a note's text: non-empty, ending in a newline, with
/// no control characters other than newline.
pub(super) fn check_text(text: &str) -> Result<(), String> {
    if !text.ends_with('\n') {
        return Err("the text must be non-empty and end with a newline".into());
    }
    check_characters(text)
}

fn check_characters(text: &str) -> Result<(), String> {
    match text.char_indices().find(|&(_, c)| c < ' ' && c != '\n') {
        Some((at, c)) => Err(format!(
            "control character {c:?} at byte {at}; only newline is allowed"
        )),
        None => Ok(()),
    }
}

/// Signs `text` with `signer`: the text, a blank line, and one signature line
/// `— <name> <base64(key ID || signature)>`.
pub fn sign_note(text: &str, signer: &NoteSigner) -> Result<String, TlogError> {
    check_text(text).map_err(TlogError::MalformedNote)?;
    let mut signature = Vec::with_capacity(4 + 64);
    signature.extend_from_slice(&signer.key_id.to_be_bytes());
    signature.extend_from_slice(&signer.sign(text.as_bytes()).to_bytes());
    Ok(format!(
        "{text}\n{SIGNATURE_PREFIX}{} {}\n",
        signer.name,
        BASE64.encode(signature)
    ))
}

/// Opens a signed note: checks its syntax and that it carries a valid signature
/// by `verifier`'s key, and returns its text (with the final newline).
///
/// Signatures by other keys (another name or key ID) are ignored, as the spec
/// requires, so witnesses can cosign and keys can rotate. A signature by
/// `verifier`'s key that does not verify refuses the whole note.
pub fn open_note<'a>(note: &'a str, verifier: &NoteVerifier) -> Result<&'a str, TlogError> {
    let malformed = |why: String| TlogError::MalformedNote(why);
    check_characters(note).map_err(malformed)?;
    let split = note.rfind("\n\n").ok_or_else(|| {
        malformed("no blank line separates the text from the signature lines".into())
    })?;
    let (text, signatures) = (&note[..=split], &note[split + 2..]);
    let Some(signatures) = signatures.strip_suffix('\n') else {
        return Err(malformed(if signatures.is_empty() {
            "there are no signature lines after the blank line".into()
        } else {
            "the last signature line does not end with a newline".into()
        }));
    };
    let mut verified = false;
    for (n, line) in signatures.split('\n').enumerate() {
        if n == MAX_SIGNATURES {
            return Err(malformed(format!(
                "more than {MAX_SIGNATURES} signature lines"
            )));
        }
        let bad_line = |why: &str| {
            malformed(format!(
                "signature line `{}` {why}; expected `\u{2014} <key name> <base64 signature>`",
                line.escape_debug()
            ))
        };
        let rest = line
            .strip_prefix(SIGNATURE_PREFIX)
            .ok_or_else(|| bad_line("does not start with an em dash and a space"))?;
        let (name, signature) = rest
            .split_once(' ')
            .ok_or_else(|| bad_line("has no space between key name and signature"))?;
        check_name(name).map_err(|why| bad_line(&why))?;
        let signature = BASE64
            .decode(signature)
            .map_err(|_| bad_line("has a signature that is not standard base64"))?;
        let Some((id, signature)) = signature.split_first_chunk::<4>() else {
            return Err(bad_line("has a signature shorter than its 4-byte key ID"));
        };
        if signature.is_empty() {
            return Err(bad_line("has a key ID but no signature"));
        }
        if name != verifier.name || u32::from_be_bytes(*id) != verifier.key_id {
            continue;
        }
        let bad_signature = || TlogError::BadSignature {
            name: verifier.name.clone(),
            key_id: verifier.key_id,
        };
        let signature = Signature::from_slice(signature).map_err(|_| bad_signature())?;
        verifier
            .key
            .verify_strict(text.as_bytes(), &signature)
            .map_err(|_| bad_signature())?;
        verified = true;
    }
    if verified {
        Ok(text)
    } else {
        Err(TlogError::NotSigned {
            name: verifier.name.clone(),
            key_id: verifier.key_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Known answers from the tests of Go's golang.org/x/mod/sumdb/note.
    const PETER_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
    const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                        then you don't know what your problem is.\n";
    const PETER_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    const ENOCH_SIG: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

    // The key of sum.golang.org and checkpoints it signed, as published.
    const SUMDB_VKEY: &str = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8";
    const SUMDB_NOTES: [&str; 2] = [
        "go.sum database tree\n15368405\n/g9am3I6YWNKaZX/jkne1fqd9zEyjss+JXyPXG0WfkY=\n\n\u{2014} sum.golang.org Az3grqJGUaSGukG9p8nI2vKgiFn7qGHxn0W+mrwyI6Gz3F0t1J3LzmWk/p96Ybf295EjwdSwlzgijq5WA9d1Ded7owM=\n",
        "go.sum database tree\n63096908\n8lHrQPRYe4KT4WQ9/Qk8/taKnD6IRHbFgfN7vQE2Y54=\n\n\u{2014} sum.golang.org Az3gri/oVBN1jAhNZ/iS+W31psFAWRT20/GyrhpU6taFwulQGetBkH5S7wpGXdS935jiIGiUUAXBVHzT/P6fYhqAmAk=\n",
    ];

    fn peter() -> NoteVerifier {
        PETER_VKEY.parse().unwrap()
    }

    fn enoch() -> NoteVerifier {
        ENOCH_VKEY.parse().unwrap()
    }

    /// Inserts `ABCD` into a signature line's base64, as Go's tests do.
    fn mangled(line: &str) -> String {
        let at = line.char_indices().nth(60).unwrap().0;
        format!("{}ABCD{}", &line[..at], &line[at..])
    }

    #[test]
    fn go_key_strings_parse_and_print_back() {
        let signer: NoteSigner = PETER_SKEY.parse().unwrap();
        assert_eq!(signer.name(), "PeterNeumann");
        assert_eq!(signer.key_id(), 0xc74f20a3);
        assert_eq!(signer.to_key_string(), PETER_SKEY);
        assert_eq!(signer.verifier().to_string(), PETER_VKEY);
        assert_eq!(peter(), signer.verifier());
        assert_eq!(key_id("PeterNeumann", &peter().public_key()), 0xc74f20a3);
        assert_eq!(enoch().key_id(), 0xaf0cfe78);
        assert_eq!(enoch().to_string(), ENOCH_VKEY);
    }

    #[test]
    fn signing_matches_go_byte_for_byte() {
        let signer: NoteSigner = PETER_SKEY.parse().unwrap();
        let note = sign_note(TEXT, &signer).unwrap();
        assert_eq!(note, format!("{TEXT}\n{PETER_SIG}"));
        assert_eq!(open_note(&note, &peter()).unwrap(), TEXT);
    }

    #[test]
    fn a_seeded_signer_round_trips_through_its_key_string() {
        let signer = NoteSigner::from_seed("depot.example/log", [42; 32]).unwrap();
        let again: NoteSigner = signer.to_key_string().parse().unwrap();
        assert_eq!(again.verifier(), signer.verifier());
        let verifier: NoteVerifier = signer.verifier().to_string().parse().unwrap();
        let note = sign_note("hello\n", &again).unwrap();
        assert_eq!(open_note(&note, &verifier).unwrap(), "hello\n");
    }

    #[test]
    fn signer_debug_hides_the_seed() {
        let signer: NoteSigner = PETER_SKEY.parse().unwrap();
        let debug = format!("{signer:?}");
        assert!(
            debug.contains("PeterNeumann") && debug.contains("c74f20a3"),
            "{debug}"
        );
        assert!(!debug.contains("AYEKFALV"), "{debug}");
    }

    #[test]
    fn other_signers_are_ignored_and_each_known_one_verifies() {
        let note = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
        assert_eq!(open_note(&note, &peter()).unwrap(), TEXT);
        assert_eq!(open_note(&note, &enoch()).unwrap(), TEXT);
        // Repeated and altered signatures by keys other than the verifier's.
        let note = format!(
            "{TEXT}\n{PETER_SIG}{PETER_SIG}{ENOCH_SIG}{ENOCH_SIG}{}",
            mangled(ENOCH_SIG)
        );
        assert_eq!(open_note(&note, &peter()).unwrap(), TEXT);
    }

    #[test]
    fn a_note_without_the_verifiers_signature_is_refused() {
        let note = format!("{TEXT}\n{ENOCH_SIG}");
        assert_eq!(
            open_note(&note, &peter()),
            Err(TlogError::NotSigned {
                name: "PeterNeumann".into(),
                key_id: 0xc74f20a3
            })
        );
        // Same name, other key ID: someone else's key.
        let other = NoteSigner::from_seed("PeterNeumann", [1; 32]).unwrap();
        let note = sign_note(TEXT, &other).unwrap();
        assert!(matches!(
            open_note(&note, &peter()),
            Err(TlogError::NotSigned { .. })
        ));
    }

    #[test]
    fn altered_signatures_and_texts_are_refused() {
        let bad = Err(TlogError::BadSignature {
            name: "PeterNeumann".into(),
            key_id: 0xc74f20a3,
        });
        let note = format!("{TEXT}\n{}", mangled(PETER_SIG));
        assert_eq!(open_note(&note, &peter()), bad);
        let note = format!("{}\n{PETER_SIG}", TEXT.replace("don't", "do"));
        assert_eq!(open_note(&note, &peter()), bad);
        // The verifier's key ID and a one-byte signature.
        let note = format!("{TEXT}\n\u{2014} PeterNeumann x08go/Y=\n");
        assert_eq!(open_note(&note, &peter()), bad);
        // One good signature does not excuse a bad one by the same key.
        let note = format!("{TEXT}\n{PETER_SIG}{}", mangled(PETER_SIG));
        assert_eq!(open_note(&note, &peter()), bad);
    }

    #[test]
    fn malformed_notes_are_refused() {
        let bad_messages = [
            TEXT.to_owned(),
            format!("{TEXT}\n"),
            format!("{TEXT}\n{}", PETER_SIG.trim_end_matches('\n')),
            format!("\x01{TEXT}\n{PETER_SIG}"),
            format!(
                "{TEXT}\n\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
            ),
            format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"),
            format!("{TEXT}\n{}", PETER_SIG.replace('\u{2014}', "-")),
            format!("{TEXT}\n\u{2014} PeterNeumann\n"),
            format!("{TEXT}\n\u{2014} PeterNeumann !!!!\n"),
            format!("{TEXT}\n\u{2014} PeterNeumann x08g\n"),
            format!("{TEXT}\n{}", PETER_SIG.repeat(MAX_SIGNATURES + 1)),
        ];
        for note in bad_messages {
            assert!(
                matches!(open_note(&note, &peter()), Err(TlogError::MalformedNote(_))),
                "{note:?} was not refused as malformed: {:?}",
                open_note(&note, &peter())
            );
        }
        assert_eq!(
            open_note(
                &format!("{TEXT}\n{}", PETER_SIG.repeat(MAX_SIGNATURES)),
                &peter()
            ),
            Ok(TEXT)
        );
    }

    #[test]
    fn unsignable_texts_and_names_are_refused() {
        let signer: NoteSigner = PETER_SKEY.parse().unwrap();
        for text in ["", "abc", "a\tb\n", "\r\n"] {
            assert!(
                matches!(sign_note(text, &signer), Err(TlogError::MalformedNote(_))),
                "{text:?}"
            );
        }
        for name in [
            "",
            "a+b",
            "bad name",
            "tab\tname",
            "nbsp\u{a0}name",
            "bell\x07",
        ] {
            assert!(NoteSigner::from_seed(name, [0; 32]).is_err(), "{name:?}");
        }
    }

    #[test]
    fn mangled_key_strings_are_refused() {
        for (key, parse) in [
            (
                PETER_VKEY,
                (|k: &str| k.parse::<NoteVerifier>().is_ok()) as fn(&str) -> bool,
            ),
            (PETER_SKEY, |k: &str| k.parse::<NoteSigner>().is_ok()),
        ] {
            assert!(parse(key));
            let bytes = key.as_bytes();
            for i in 0..=bytes.len() {
                for j in i + 1..=bytes.len() {
                    if (i, j) != (0, bytes.len()) {
                        assert!(!parse(&key[i..j]), "substring {:?}", &key[i..j]);
                    }
                }
            }
            for i in 0..bytes.len() {
                let mut changed = bytes.to_vec();
                changed[i] += 1;
                let changed = String::from_utf8(changed).unwrap();
                assert!(!parse(&changed), "changed {changed:?}");
            }
        }
        // A key of the wrong length and a key of an unknown algorithm, each
        // with a key ID that matches it.
        for key in [
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
            "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        ] {
            assert!(matches!(
                key.parse::<NoteVerifier>(),
                Err(TlogError::MalformedKey(_))
            ));
        }
    }

    #[test]
    fn sum_golang_org_checkpoints_verify() {
        let sumdb: NoteVerifier = SUMDB_VKEY.parse().unwrap();
        assert_eq!(sumdb.to_string(), SUMDB_VKEY);
        for note in SUMDB_NOTES {
            let text = open_note(note, &sumdb).unwrap();
            assert!(text.starts_with("go.sum database tree\n"));
            let altered = note.replacen("tree\n", "tree\n1", 1);
            assert!(matches!(
                open_note(&altered, &sumdb),
                Err(TlogError::BadSignature { .. })
            ));
        }
    }
}
