//! CNCF distribution (the Debian package `docker-registry`) to measure
//! against, and pushes to either registry with `oci-client`.
#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use crate::support::*;

/// `docker-registry serve` on a free loopback port, stopped (by its pid) when dropped.
pub struct Distribution {
    child: Child,
    pub host: String,
    _storage: tempfile::TempDir,
}

impl Distribution {
    pub fn start() -> Option<Self> {
        let storage = tempfile::tempdir().expect("temp dir");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let host = format!("127.0.0.1:{port}");
        let config = storage.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    \
                 rootdirectory: {}\nhttp:\n  addr: {host}\n",
                storage.path().join("data").display()
            ),
        )
        .expect("write config");
        let child = match Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(e) => {
                figure!("docker-registry not started ({e}); apt-get install docker-registry");
                return None;
            }
        };
        let registry = Self {
            child,
            host,
            _storage: storage,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let up = client()
                .get(format!("http://{}/v2/", registry.host))
                .send()
                .is_ok_and(|r| r.status() == 200);
            if up {
                return Some(registry);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("docker-registry did not answer on {}", registry.host);
    }
}

impl Drop for Distribution {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// distribution's version.
pub fn version() -> String {
    Command::new("docker-registry")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

pub fn oci_client() -> Client {
    Client::new(ClientConfig {
        protocol: ClientProtocol::Http,
        ..ClientConfig::default()
    })
}

/// Pushes `bytes` as a wasm artifact; returns the layer's digest.
pub async fn push(
    host: &str,
    auth: &RegistryAuth,
    repository: &str,
    tag: &str,
    bytes: &[u8],
) -> String {
    let digest = format!("sha256:{}", sha256_hex(bytes));
    let config = serde_json::json!({
        "created": "2026-11-28T00:00:00Z",
        "architecture": "wasm",
        "os": "wasip2",
        "layerDigests": [digest],
        "component": {"imports": ["example:greet/logger@0.1.0"], "exports": ["example:greet/greeter@0.1.0"]},
    });
    let config = Config {
        data: serde_json::to_vec(&config).expect("config").into(),
        media_type: "application/vnd.wasm.config.v0+json".into(),
        annotations: None,
    };
    let layer = ImageLayer {
        data: bytes.to_vec().into(),
        media_type: "application/wasm".into(),
        annotations: None,
    };
    let reference: Reference = format!("{host}/{repository}:{tag}").parse().expect("ref");
    oci_client()
        .push(&reference, &[layer], config, auth, None)
        .await
        .unwrap_or_else(|e| panic!("push to {host}: {e}"));
    digest
}
