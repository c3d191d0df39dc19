//! Turns `docs/openapi.yaml`, the description of the `/v1` API, into the JSON
//! the front serves at `GET /v1/openapi.json`.

use std::path::PathBuf;

use serde_json::{Map, Number, Value};
use yaml_rust2::{Yaml, YamlLoader};

fn main() {
    let manifest_dir =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let source = manifest_dir.join("../../docs/openapi.yaml");
    println!("cargo::rerun-if-changed={}", source.display());
    let text = std::fs::read_to_string(&source)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", source.display()));
    let documents = YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not YAML: {e}", source.display()));
    let [document] = documents.as_slice() else {
        panic!("{} must hold exactly one YAML document", source.display());
    };
    let json = to_json(document).unwrap_or_else(|e| panic!("{}: {e}", source.display()));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it"));
    let bytes = serde_json::to_vec(&json).expect("a JSON value serialises");
    std::fs::write(out.join("openapi.json"), bytes).expect("OUT_DIR is writable");
}

/// The JSON value of a YAML node: mappings with string keys, no aliases.
fn to_json(yaml: &Yaml) -> Result<Value, String> {
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Integer(i) => Value::Number((*i).into()),
        Yaml::Real(text) => {
            let number: f64 = text
                .parse()
                .map_err(|_| format!("`{text}` is not a number JSON can hold"))?;
            Value::Number(
                Number::from_f64(number).ok_or_else(|| format!("`{text}` is not finite"))?,
            )
        }
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Array(items) => Value::Array(items.iter().map(to_json).collect::<Result<_, _>>()?),
        Yaml::Hash(entries) => {
            let mut map = Map::new();
            for (key, value) in entries {
                let key = match key {
                    Yaml::String(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    other => return Err(format!("a mapping key that is not a string: {other:?}")),
                };
                map.insert(key, to_json(value)?);
            }
            Value::Object(map)
        }
        Yaml::Alias(_) | Yaml::BadValue => {
            return Err(format!("a node JSON cannot hold: {yaml:?}"));
        }
    })
}
