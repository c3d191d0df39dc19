//! What the client prints on stdout, and a reader of stdout that goes away.

/// `println!` that fails instead of panicking when stdout is closed: a reader
/// that stops early (`depot info … | head`) closes the pipe, the write fails
/// with [`StdoutClosed`], and [`stdout_closed`] lets `main` end quietly.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*).map_err($crate::client::output::stdout_error)?
    }};
}

/// Stdout was closed before the client wrote everything (a broken pipe).
#[derive(Debug, thiserror::Error)]
#[error("stdout was closed")]
pub struct StdoutClosed;

/// A write to stdout failed: [`StdoutClosed`] for a broken pipe.
pub(crate) fn stdout_error(error: std::io::Error) -> anyhow::Error {
    if error.kind() == std::io::ErrorKind::BrokenPipe {
        StdoutClosed.into()
    } else {
        anyhow::Error::new(error).context("cannot write to stdout")
    }
}

/// Whether `error` is the reader of stdout going away, which a command-line
/// tool answers by stopping quietly.
pub fn stdout_closed(error: &anyhow::Error) -> bool {
    error.downcast_ref::<StdoutClosed>().is_some()
}
