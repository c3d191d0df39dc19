//! Replays every seed (`seeds/<target>/`) and, when present, every corpus entry
//! and crash artifact `cargo fuzz` kept (`corpus/<target>/`,
//! `artifacts/<target>/`) through the fuzz targets' properties, on stable.

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut replayed = 0;
    for folder in ["seeds", "corpus", "artifacts"] {
        let Ok(entries) = std::fs::read_dir(root.join(folder).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("readable folder").path();
            let data = std::fs::read(&path).expect("readable input");
            eprintln!("{}", path.display());
            check(&data);
            replayed += 1;
        }
    }
    assert!(replayed > 0, "no seeds for {target}");
}

#[test]
fn parsers_hold_their_properties_on_every_kept_input() {
    replay("parsers", depot_fuzz::parsers);
}

#[test]
fn metadata_describes_or_refuses_every_kept_input() {
    replay("metadata", depot_fuzz::metadata);
}
