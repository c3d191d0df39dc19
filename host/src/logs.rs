//! Where log lines go: stderr, through a buffer. A busy registry writes a
//! line per request; one `write` per line would cost a system call on the
//! request's path, so lines collect in a buffer that a background thread
//! flushes every [`FLUSH_EVERY`], or sooner when it fills. Warnings and
//! errors are flushed at once, and whatever is buffered when the process
//! ends is flushed by [`Logs::flush`].

use std::io::{BufWriter, Stderr, Write};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// How long a line may wait in the buffer.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// How many bytes the buffer holds before it is written out.
const CAPACITY: usize = 64 * 1024;

/// Buffered stderr, shared by every thread that logs.
#[derive(Clone)]
pub struct Logs {
    out: Arc<Mutex<BufWriter<Stderr>>>,
}

impl std::fmt::Debug for Logs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logs").finish_non_exhaustive()
    }
}

impl Logs {
    /// Buffered stderr, with its flushing thread started.
    pub fn start() -> Self {
        let logs = Self {
            out: Arc::new(Mutex::new(BufWriter::with_capacity(
                CAPACITY,
                std::io::stderr(),
            ))),
        };
        let flushing = logs.clone();
        // Not joined: it ends with the process.
        let _ = std::thread::Builder::new()
            .name("depot-logs".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(FLUSH_EVERY);
                    flushing.flush();
                }
            });
        logs
    }

    /// Writes out what is buffered.
    pub fn flush(&self) {
        let _ = self.lock().flush();
    }

    fn lock(&self) -> MutexGuard<'_, BufWriter<Stderr>> {
        // A panic while holding the lock leaves at worst a partial line.
        self.out.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// How lines are written: text for people, JSON for collectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// As tracing-subscriber writes text.
    Text,
    /// As tracing-subscriber writes JSON: `timestamp`, `level`, `fields`,
    /// `target`.
    Json,
}

/// The logs of this process and their format, once set up.
static LOGS: OnceLock<(Logs, Format)> = OnceLock::new();

/// Makes `logs` the process's, written in `format`, for [`request_line`].
pub fn install(logs: Logs, format: Format) {
    let _ = LOGS.set((logs, format));
}

/// What a request's line says.
#[derive(Debug)]
pub struct RequestLine<'a> {
    pub request_id: &'a str,
    pub method: &'a str,
    pub class: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub duration_ms: f64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// The target of request lines, as `RUST_LOG` filters them.
pub const REQUEST_TARGET: &str = "depot::request";

/// Writes a request's line (`info`, target [`REQUEST_TARGET`]) when
/// `RUST_LOG` lets it through, in the format and layout tracing-subscriber
/// gives other events. A line per request is the busiest log there is, so
/// it is written here directly rather than through tracing-subscriber's
/// formatting, which cost several times as much per line.
pub fn request_line(line: &RequestLine<'_>) {
    if !tracing::enabled!(target: "depot::request", Level::INFO) {
        return;
    }
    let Some((logs, format)) = LOGS.get() else {
        return;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let timestamp = depot_protocol::rfc3339(now);
    let mut out = logs.lock();
    let _ = match format {
        Format::Text => writeln!(
            out,
            "{timestamp}  INFO {REQUEST_TARGET}: request request_id={} method={} class={} \
             path={} status={} duration_ms={:.3} bytes_in={} bytes_out={}",
            line.request_id,
            line.method,
            line.class,
            line.path,
            line.status,
            line.duration_ms,
            line.bytes_in,
            line.bytes_out
        ),
        Format::Json => writeln!(
            out,
            "{{\"timestamp\":\"{timestamp}\",\"level\":\"INFO\",\"fields\":{{\"message\":\"request\",\
             \"request_id\":{},\"method\":\"{}\",\"class\":\"{}\",\"path\":{},\"status\":{},\
             \"duration_ms\":{:.3},\"bytes_in\":{},\"bytes_out\":{}}},\"target\":\"{REQUEST_TARGET}\"}}",
            json_string(line.request_id),
            line.method,
            line.class,
            json_string(line.path),
            line.status,
            line.duration_ms,
            line.bytes_in,
            line.bytes_out
        ),
    };
}

/// `text` as a JSON string.
fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// One event's writer: into the buffer, flushed when dropped if `now`.
pub struct Line<'a> {
    out: MutexGuard<'a, BufWriter<Stderr>>,
    now: bool,
}

impl Write for Line<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.out.write(bytes)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

impl Drop for Line<'_> {
    fn drop(&mut self) {
        if self.now {
            let _ = self.out.flush();
        }
    }
}

impl<'a> MakeWriter<'a> for Logs {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        Line {
            out: self.lock(),
            now: true,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Line<'a> {
        Line {
            out: self.lock(),
            now: *meta.level() <= Level::WARN,
        }
    }
}
