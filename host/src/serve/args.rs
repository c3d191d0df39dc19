//! The flags of `depot serve`, and parsers for sizes and durations.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Run the registry: the handler components on wasmtime, with native storage.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on. Port 0 picks a free port; the address actually
    /// bound is printed as `Depot listening on http://ADDR`.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub storage: StorageArgs,

    /// Handler manifest (`handlers.toml`): one line per role (`api`, `publish`,
    /// `web`, `query`, `metadata`, `policy`) set to "builtin" or to the path of a
    /// .wasm component, relative to the manifest. Roles not named, or no
    /// manifest at all, use the built-in handlers.
    #[arg(long, value_name = "FILE")]
    pub handlers: Option<PathBuf>,

    /// Most linear memory one request's handlers may use, summed over all
    /// their memories (e.g. 512MiB, 1GiB). Beyond it the request fails with
    /// 503 `memory-limit-exceeded`.
    #[arg(long, value_name = "SIZE", default_value = "512MiB", value_parser = parse_size)]
    pub memory_limit: u64,

    /// How long one request's handlers may run (e.g. 60s, 500ms, 2m). Beyond
    /// it the request fails with 504 `deadline-exceeded`.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub request_deadline: Duration,

    /// Requests handled at once; further requests wait for a slot. The
    /// instance pool is sized for this many.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 256,
        value_parser = clap::value_parser!(u32).range(1..=100_000)
    )]
    pub max_concurrent_requests: u32,

    /// Memory for answers to repeated reads (e.g. 64MiB; 0 turns it off):
    /// GETs the handlers declare public (`Cache-Control: public` with a
    /// `Surrogate-Key`) are answered from memory until a write purges them.
    /// Not for a Spin build (--spin-app), whose store runs in its component.
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_size_or_off)]
    pub response_cache: u64,

    /// Largest content a release may have (bytes, or e.g. 100MiB). Passed to
    /// the handlers as the environment variable `DEPOT_MAX_CONTENT_SIZE`.
    #[arg(long, value_name = "SIZE", default_value = "104857600", value_parser = parse_size)]
    pub max_content_size: u64,

    /// Serve a Spin build of Depot (what `depot compose` writes and `spin up`
    /// serves) instead of the built-in handlers, with Spin's key-value store
    /// and SQLite database as local files in `<data>/spin`, laid out as
    /// `spin up` keeps them in `.spin/`. For testing the Spin build without Spin.
    #[arg(long, value_name = "FILE", conflicts_with = "handlers")]
    pub spin_app: Option<PathBuf>,

    /// Reads need a token too (any valid one), not only writes. Discovery
    /// (`/.well-known/wasm-pkg/registry.json`) stays public.
    #[arg(long)]
    pub private: bool,

    /// A URL prefix the registry may fetch release content from, for the
    /// `contentSources` of a two-phase publish (repeatable; e.g.
    /// https://github.com/). Default: any https:// URL.
    #[arg(long, value_name = "PREFIX", default_value = "https://")]
    pub content_source: Vec<String>,

    /// How long an unpublished release (POST /v1/releases) waits for its
    /// content and its publish before it expires (e.g. 1h, 30m, 10s).
    #[arg(long, value_name = "DURATION", default_value = "60m", value_parser = parse_duration)]
    pub unpublished_ttl: Duration,

    /// Serve Prometheus metrics at http://ADDR/metrics, on a listener of
    /// their own (e.g. 127.0.0.1:9090). Default: no metrics listener; the
    /// public listener never serves them.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,

    /// On SIGTERM or Ctrl-C, how long the requests in flight may take to
    /// finish once no new connection is accepted (e.g. 30s, 2m); the process
    /// then exits 0.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,

    /// Writes (publishes, yanks, pushes, ...) one token may make, as a rate
    /// with a burst of as many: 10/s, 600/m or 1000/h. Beyond it a write is
    /// answered 429 with Retry-After. Default: no limit.
    #[arg(long, value_name = "RATE", value_parser = super::throttle::Rate::parse)]
    pub write_rate: Option<super::throttle::Rate>,

    /// Collect garbage this often while serving (e.g. 6h), as `depot gc`
    /// does with --gc-grace; what it removed is logged and counted in the
    /// metrics. Default: never (run `depot gc` instead).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub gc_every: Option<Duration>,

    /// The grace period of the periodic collection (--gc-every): anything
    /// written within it is kept.
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_grace)]
    pub gc_grace: Duration,

    /// Uploads (writes with a body) one token may have in flight at once;
    /// one more is answered 429. Default: no limit.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_uploads_per_token: Option<u32>,
}

/// Where a registry's data is: the flags `depot serve` and `depot gc` share.
#[derive(Debug, clap::Args)]
pub struct StorageArgs {
    /// Data directory: the registry database, the blobs and (unless
    /// --compile-cache says otherwise) the compile cache.
    #[arg(long, value_name = "DIR", default_value = "./depot-data")]
    pub data: PathBuf,

    /// The registry database on PostgreSQL (postgres://USER@HOST:PORT/DB),
    /// which any number of instances share. Default: SQLite in the data
    /// directory. Give a password through DEPOT_DATABASE_URL rather than on
    /// the command line.
    #[arg(
        long,
        value_name = "URL",
        env = "DEPOT_DATABASE_URL",
        hide_env_values = true
    )]
    pub database: Option<String>,

    /// Where content is kept: an S3 bucket the instances share,
    /// s3://BUCKET?endpoint=URL&region=REGION (credentials from the usual
    /// AWS_* variables; needs --database). Default: files in the data
    /// directory.
    #[arg(long, value_name = "URL", env = "DEPOT_BLOBS", requires = "database")]
    pub blobs: Option<String>,

    /// Where compiled handlers are cached between runs (default: `cache` in
    /// the data directory). Several registries may share one.
    #[arg(long, value_name = "DIR")]
    pub compile_cache: Option<PathBuf>,
}

impl StorageArgs {
    /// The compile cache: `--compile-cache`, else `cache` in the data directory.
    pub fn compile_cache(&self) -> PathBuf {
        self.compile_cache
            .clone()
            .unwrap_or_else(|| self.data.join("cache"))
    }
}

/// The flags of `depot mirror`.
#[derive(Debug, clap::Args)]
pub struct MirrorArgs {
    /// The registry to copy, e.g. `http://registry.example:8080`.
    #[arg(long, value_name = "URL")]
    pub from: String,

    /// Entries asked for per feed request.
    #[arg(long, value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub batch: u32,

    #[command(flatten)]
    pub serve: ServeArgs,
}

/// Compose the handlers with a store component into one component that
/// serves the whole registry on a runtime providing only WASI and what the
/// store component imports: the app `spin.toml` serves, with spin-store.
#[derive(Debug, clap::Args)]
pub struct ComposeArgs {
    /// Handler manifest (`handlers.toml`): which .wasm fills each role, as for
    /// `depot serve`, and a `store` line naming the store component.
    #[arg(long, value_name = "FILE")]
    pub handlers: Option<PathBuf>,

    /// The store component (exports every store interface of wit/store.wit, e.g. the
    /// spin-store crate's `spin_store.wasm`); overrides the manifest's `store`.
    #[arg(long, value_name = "FILE")]
    pub store: Option<PathBuf>,

    /// Where to write the composed component.
    #[arg(long, short, value_name = "FILE")]
    pub output: PathBuf,
}

/// A size as [`parse_size`] reads it, or `0` for off.
fn parse_size_or_off(text: &str) -> Result<u64, String> {
    if text.trim() == "0" {
        Ok(0)
    } else {
        parse_size(text)
    }
}

/// Parses a byte size: a number with an optional unit, `KiB`/`MiB`/`GiB`
/// (or `K`/`M`/`G`) for powers of 1024, `KB`/`MB`/`GB` for powers of 1000.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let invalid = || {
        format!(
            "invalid size `{text}`: expected a number of bytes with an optional unit, \
             such as 104857600, 512MiB or 1GiB"
        )
    };
    let (number, unit) = number_and_unit(text).ok_or_else(invalid)?;
    let scale: u64 = match unit {
        "" | "B" => 1,
        "K" | "KiB" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return Err(invalid()),
    };
    match number.checked_mul(scale) {
        None => Err(invalid()),
        Some(0) => Err(format!("invalid size `{text}`: it must be more than 0")),
        Some(size) => Ok(size),
    }
}

use depot_protocol::number_and_unit;
pub use depot_protocol::parse_duration;

/// Parses a grace period: a duration as [`parse_duration`], or 0 for none.
pub fn parse_grace(text: &str) -> Result<Duration, String> {
    match text
        .trim()
        .trim_end_matches(|c: char| c.is_ascii_alphabetic())
    {
        "0" => Ok(Duration::ZERO),
        _ => parse_duration(text),
    }
}

/// A byte count for messages: `512 MiB`, `1.5 GiB`, `300 bytes`.
pub fn show_size(bytes: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, scale) in UNITS {
        if bytes >= scale {
            let value = bytes as f64 / scale as f64;
            return if bytes.is_multiple_of(scale) {
                format!("{} {unit}", bytes / scale)
            } else {
                format!("{value:.1} {unit}")
            };
        }
    }
    format!("{bytes} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_and_decimal_units() {
        assert_eq!(parse_size("104857600"), Ok(104_857_600));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("100 KB"), Ok(100_000));
        for bad in [
            "",
            "MiB",
            "12XB",
            "-1",
            "0",
            "1.5GiB",
            "99999999999999999999G",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn durations_take_ms_s_m_h_and_d() {
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("60"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        for bad in ["", "s", "0s", "1w", "1.5s", "99999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn a_grace_period_may_be_zero() {
        assert_eq!(parse_grace("0"), Ok(Duration::ZERO));
        assert_eq!(parse_grace("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_grace("24h"), Ok(Duration::from_secs(86_400)));
        for bad in ["", "soon", "-1h", "0.5h"] {
            assert!(parse_grace(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn sizes_show_in_the_largest_whole_unit() {
        assert_eq!(show_size(512 << 20), "512 MiB");
        assert_eq!(show_size(1536 << 20), "1.5 GiB");
        assert_eq!(show_size(300), "300 bytes");
    }
}
