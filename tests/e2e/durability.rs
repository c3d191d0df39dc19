//! A publish is acknowledged only once it is durable. Killing the server
//! cannot show that (the kernel keeps unsynced writes of a killed process),
//! so `depot serve` is traced with `strace` (Debian package `strace`): for
//! every acknowledged publish, the fsync of its blob, the fsync of the
//! folder the blob was renamed into, and the fsync of the database's commit
//! all come before the `201` is written to the socket.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::*;

/// A completed system call of the trace, in the order they completed.
#[derive(Debug)]
struct Call {
    name: String,
    /// The arguments and result, with `-y` paths (`12</path/to/file>`).
    text: String,
}

/// Reads an `strace -f -y` output file into completed calls, joining
/// `<unfinished ...>` calls to their `resumed` halves (a call counts where it
/// completed).
fn read_trace(path: &Path) -> Vec<Call> {
    let trace = std::fs::read_to_string(path).expect("the trace");
    let mut pending: HashMap<String, (String, String)> = HashMap::new();
    let mut calls = Vec::new();
    for line in trace.lines() {
        let Some((pid, rest)) = line.split_once(' ') else {
            continue;
        };
        let rest = rest.trim_start();
        if let Some(start) = rest.strip_suffix(" <unfinished ...>") {
            if let Some((name, args)) = start.split_once('(') {
                pending.insert(pid.to_string(), (name.to_string(), args.to_string()));
            }
        } else if let Some(resumed) = rest.strip_prefix("<... ") {
            let Some((name, tail)) = resumed.split_once(" resumed>") else {
                continue;
            };
            let (_, args) = pending.remove(pid).unwrap_or_default();
            calls.push(Call {
                name: name.to_string(),
                text: format!("{args}{tail}"),
            });
        } else if let Some((name, args)) = rest.split_once('(') {
            calls.push(Call {
                name: name.to_string(),
                text: args.to_string(),
            });
        }
    }
    calls
}

impl Call {
    fn succeeded(&self) -> bool {
        self.text.trim_end().ends_with("= 0")
    }

    /// Whether this is a successful fsync or fdatasync of the file at a path
    /// `matches` accepts.
    fn syncs(&self, matches: impl Fn(&str) -> bool) -> bool {
        (self.name == "fsync" || self.name == "fdatasync")
            && self.succeeded()
            && self
                .text
                .split_once('<')
                .and_then(|(_, rest)| rest.split_once('>'))
                .is_some_and(|(path, _)| matches(path))
    }

    /// The paths of a successful rename: (from, to).
    fn renamed(&self) -> Option<(String, String)> {
        if !self.name.starts_with("rename") || !self.succeeded() {
            return None;
        }
        let quoted: Vec<&str> = self.text.split('"').skip(1).step_by(2).collect();
        match quoted[..] {
            [from, to] => Some((from.to_string(), to.to_string())),
            _ => None,
        }
    }

    /// Whether this is a write to a socket that starts a `201` response.
    fn acknowledges(&self) -> bool {
        ["write", "writev", "sendto", "sendmsg"].contains(&self.name.as_str())
            && self.text.contains("socket:[")
            && self.text.contains("HTTP/1.1 201")
    }
}

#[test]
fn every_acknowledged_publish_was_fsynced_before_its_response() {
    assert!(
        Command::new("strace").arg("-V").output().is_ok(),
        "strace is missing: this test traces depot serve's fsyncs (apt-get install strace)"
    );
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace");
    // Attach to the running server (every thread, and the ones it starts).
    let mut strace = Command::new("strace")
        .args(["-f", "-y", "-s", "256", "-o"])
        .arg(&trace)
        .args([
            "-e",
            "trace=fsync,fdatasync,rename,renameat,renameat2,write,writev,sendto,sendmsg",
            "-p",
        ])
        .arg(server.pid().to_string())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start strace");
    // strace says on stderr once it is attached.
    let stderr = strace.stderr.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    let said = lines
        .next()
        .expect("strace to say it attached")
        .expect("strace's stderr");
    assert!(said.contains("attached"), "{said}");
    std::thread::spawn(move || lines.for_each(drop));

    // Content over 16 KiB: kept as a file in the blob folder, not inline.
    let data = server.data.clone();
    let mut digests = Vec::new();
    for i in 0..3 {
        let bytes = greeter(&Meta {
            description: Some(&format!("durable {i}")),
            padding: 64 * 1024,
            ..Meta::default()
        });
        let (status, body) = server.publish("example:durable", &format!("1.{i}.0"), &bytes);
        assert_eq!(status, 201, "{body}");
        digests.push(sha256_hex(&bytes));
    }
    // Stop tracing (strace detaches), then read what it saw.
    let _ = Command::new("kill")
        .args(["-INT", &strace.id().to_string()])
        .status();
    strace.wait().unwrap();
    let calls = read_trace(&trace);

    let acks: Vec<usize> = (0..calls.len())
        .filter(|&i| calls[i].acknowledges())
        .collect();
    assert_eq!(acks.len(), digests.len(), "one 201 per publish");
    let database = data.join("registry.db");
    let database = database.to_str().unwrap();
    let is_database = |path: &str| path == database || path == format!("{database}-wal");
    for (n, hex) in digests.iter().enumerate() {
        // This publish's calls: after the previous acknowledgement, up to its own.
        let from = if n == 0 { 0 } else { acks[n - 1] + 1 };
        let calls = &calls[from..acks[n]];
        let (placed, (temp, blob)) = calls
            .iter()
            .enumerate()
            .find_map(|(i, call)| {
                call.renamed()
                    .filter(|(_, to)| to.ends_with(&format!("/{hex}")))
                    .map(|paths| (i, paths))
            })
            .unwrap_or_else(|| panic!("publish {n}: its blob was not renamed into place"));
        assert!(
            blob.starts_with(data.to_str().unwrap()),
            "publish {n}: {blob}"
        );
        assert!(
            calls[..placed].iter().any(|call| call.syncs(|p| p == temp)),
            "publish {n}: the blob {temp} was not fsynced before it was renamed to {blob}"
        );
        let folder = Path::new(&blob).parent().unwrap().to_str().unwrap();
        assert!(
            calls[placed..]
                .iter()
                .any(|call| call.syncs(|p| p == folder)),
            "publish {n}: the folder {folder} was not fsynced after the rename, before the 201"
        );
        assert!(
            calls[placed..].iter().any(|call| call.syncs(is_database)),
            "publish {n}: the database ({database}) was not fsynced after the blob was placed, \
             before the 201"
        );
    }
}
