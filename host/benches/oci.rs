//! Depot against CNCF distribution (the Debian package `docker-registry`,
//! started here on 127.0.0.1 with filesystem storage), in one run, with the same
//! artifacts: push then pull of 10 components of 64 KB with `oci-client`, and
//! GET of a 32 MiB blob. Prints each figure and the ratio Depot/distribution
//! (lower is better; the target is <= 1.0). The two registries take turns,
//! so load from elsewhere on the machine falls on both alike; each figure is
//! a median. Run with `cargo bench -p depot --bench oci`.
//!
//! A push to Depot is a publish: the content is checked and described, the
//! policy applied and the log entry made durable before the manifest PUT is
//! answered; distribution only stores the bytes.

#[allow(dead_code)]
#[macro_use]
mod common;
use depot_test_support as support;

use std::io::Read;
use std::time::{Duration, Instant};

use common::oci::{Distribution, oci_client, push, version};
use common::*;
use oci_client::Reference;
use oci_client::secrets::RegistryAuth;
use support::*;

const MIB: usize = 1024 * 1024;

fn main() {
    start_figures("oci");
    let depot = Server::start_with(ServerOptions {
        args: vec!["--max-content-size".into(), (64 * MIB).to_string()],
        ..ServerOptions::default()
    });
    let depot_host = depot.url.trim_start_matches("http://").to_string();
    let Some(distribution) = Distribution::start() else {
        return;
    };
    figure!(
        "depot on {depot_host}, distribution ({}) on {}",
        version(),
        distribution.host
    );
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let auth = RegistryAuth::Basic("depot".into(), depot.token.clone());

    let small: Vec<Vec<u8>> = (0..10)
        .map(|i| {
            greeter(&Meta {
                description: Some(&format!("bench component {i}")),
                // The greeter itself is about 2.4 KB.
                padding: 64 * 1024 - 2400,
                ..Meta::default()
            })
        })
        .collect();
    let (mut d, mut r) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        d.push(runtime.block_on(push_pull(&depot_host, &auth, round, &small)));
        r.push(runtime.block_on(push_pull(&distribution.host, &auth, round, &small)));
    }
    report(
        &format!(
            "push+pull of 10 x {} B components (oci-client, median of {ROUNDS})",
            small[0].len()
        ),
        median(d),
        median(r),
    );

    let large = greeter(&Meta {
        padding: 32 * MIB,
        ..Meta::default()
    });
    let digest = runtime.block_on(async {
        push(&depot_host, &auth, "bench/large", "1.0.0", &large).await;
        push(&distribution.host, &auth, "bench/large", "1.0.0", &large).await
    });
    let (mut d, mut r) = (Vec::new(), Vec::new());
    for _ in 0..GETS {
        d.push(get_blob(&depot_host, &digest, large.len()));
        r.push(get_blob(&distribution.host, &digest, large.len()));
    }
    report(
        &format!("GET of a {} MiB blob (median of {GETS})", large.len() / MIB),
        median(d),
        median(r),
    );
}

/// Rounds of push+pull per registry.
const ROUNDS: usize = 5;

/// GETs of the large blob per registry.
const GETS: usize = 21;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn report(what: &str, depot: Duration, distribution: Duration) {
    figure!(
        "{what}: depot {:.1} ms, distribution {:.1} ms, ratio depot/distribution {:.2} \
         (target <= 1.0)",
        ms(depot),
        ms(distribution),
        depot.as_secs_f64() / distribution.as_secs_f64()
    );
}

/// Pushes each component as its own version (of a package per round), then
/// pulls each back (manifest and layer, checked); the wall-clock time of it all.
/// `auth` is Depot's operator token as basic auth; distribution, which asks
/// for no credentials, never sees it.
async fn push_pull(
    host: &str,
    auth: &RegistryAuth,
    round: usize,
    components: &[Vec<u8>],
) -> Duration {
    // Package names are kebab-case words that start with a letter.
    let repository = format!("bench/small-{}", char::from(b'a' + round as u8));
    let start = Instant::now();
    for (i, bytes) in components.iter().enumerate() {
        push(host, auth, &repository, &format!("1.0.{i}"), bytes).await;
    }
    let client = oci_client();
    for (i, bytes) in components.iter().enumerate() {
        let reference: Reference = format!("{host}/{repository}:1.0.{i}").parse().expect("ref");
        let (manifest, _) = client
            .pull_image_manifest(&reference, &RegistryAuth::Anonymous)
            .await
            .expect("pull manifest");
        let mut pulled = Vec::with_capacity(bytes.len());
        client
            .pull_blob(&reference, &manifest.layers[0], &mut pulled)
            .await
            .expect("pull blob");
        assert_eq!(&pulled, bytes);
    }
    start.elapsed()
}

/// The time of one GET of the blob, read to the end.
fn get_blob(host: &str, digest: &str, size: usize) -> Duration {
    let url = format!("http://{host}/v2/bench/large/blobs/{digest}");
    let start = Instant::now();
    let mut response = client().get(&url).send().expect("GET");
    assert_eq!(response.status(), 200, "{url}");
    let mut buffer = vec![0; MIB];
    let mut read = 0;
    loop {
        let n = response.read(&mut buffer).expect("read");
        if n == 0 {
            break;
        }
        read += n;
    }
    assert_eq!(read, size);
    start.elapsed()
}
