//! `fermyon:spin/variables@2.0.0` from the environment, as `spin up`'s
//! environment provider answers it: the variable `database_url` is
//! `SPIN_VARIABLE_DATABASE_URL`. (`spin up` also takes defaults from the
//! manifest, which `depot serve --spin-app` does not read: a variable not in
//! the environment is undefined, which spin-store takes as unset.)

use super::SpinView;
use super::wit_variables::{Error, Host};

/// The environment variable that holds the Spin variable `name`.
pub fn environment_name(name: &str) -> String {
    format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase())
}

/// Whether `name` is a Spin variable name: lowercase letters, digits and
/// underscores, starting with a letter.
fn is_valid(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl Host for SpinView<'_> {
    fn get(&mut self, name: String) -> wasmtime::Result<Result<String, Error>> {
        if !is_valid(&name) {
            return Ok(Err(Error::InvalidName(name)));
        }
        Ok(std::env::var(environment_name(&name)).map_err(|_| Error::Undefined(name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_spin_s_and_map_to_its_environment_variables() {
        assert!(is_valid("operator_token") && is_valid("s3_bucket2"));
        for bad in ["", "Operator", "_x", "1x", "a-b", "a.b"] {
            assert!(!is_valid(bad), "{bad:?}");
        }
        assert_eq!(
            environment_name("database_url"),
            "SPIN_VARIABLE_DATABASE_URL"
        );
    }
}
