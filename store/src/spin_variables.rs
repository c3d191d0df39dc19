//! The Spin build's variables (`spin.toml`, `[variables]`) that say where its
//! data is and who its operator is, read in one place: by spin-store, through
//! Spin's `variables` interface, and by native code working on a build's data
//! (`depot serve --spin-app`, a mirror into it), from `SPIN_VARIABLE_*`. So
//! both find the data in the same place, with the same defaults.

use depot_protocol::token;

/// Default `s3_region`.
const DEFAULT_REGION: &str = "us-east-1";

/// Default `s3_prefix`.
const DEFAULT_PREFIX: &str = "spin";

/// What the variables configure; a variable that is undefined or empty is
/// unset.
#[derive(Clone, Default)]
pub struct SpinVariables {
    /// `database_url`: PostgreSQL's address (`postgres://user:password@host/db`)
    /// instead of Spin's SQLite database. A secret.
    pub database_url: Option<String>,
    /// `operator_token`: the operator's token, or its SHA-256. A secret.
    pub operator_token: Option<String>,
    /// `s3_bucket` and the other `s3_` variables: the bucket blobs are kept
    /// in instead of Spin's key-value store.
    pub s3: Option<S3Variables>,
}

/// Where the blobs' bucket is, and the credentials for it.
#[derive(Clone)]
pub struct S3Variables {
    /// `s3_endpoint`; by default AWS's for the region.
    pub endpoint: String,
    /// `s3_bucket`.
    pub bucket: String,
    /// `s3_prefix` (default `spin`): the objects' common prefix, so one
    /// bucket may hold several registries.
    pub prefix: String,
    /// `s3_region` (default `us-east-1`).
    pub region: String,
    /// `s3_access_key_id`.
    pub access_key: String,
    /// `s3_secret_access_key`. A secret.
    pub secret_key: String,
}

impl SpinVariables {
    /// The variables `get` gives (by name, e.g. `database_url`).
    pub fn read(get: impl Fn(&str) -> Option<String>) -> Self {
        Self {
            database_url: Self::database_url(&get),
            operator_token: Self::operator_token(&get),
            s3: Self::s3(&get),
        }
    }

    /// `database_url` alone, as `get` gives it. A Spin request's instance
    /// reads only what it uses: each variable is a call to the host.
    pub fn database_url(get: &impl Fn(&str) -> Option<String>) -> Option<String> {
        let variable = |name: &str| set(get, name);
        variable("database_url")
    }

    /// `operator_token` alone, as `get` gives it.
    pub fn operator_token(get: &impl Fn(&str) -> Option<String>) -> Option<String> {
        let variable = |name: &str| set(get, name);
        variable("operator_token")
    }

    /// The `s3_` variables alone, as `get` gives them: none unless
    /// `s3_bucket` is set.
    pub fn s3(get: &impl Fn(&str) -> Option<String>) -> Option<S3Variables> {
        let variable = |name: &str| set(get, name);
        variable("s3_bucket").map(|bucket| {
            let region = variable("s3_region").unwrap_or_else(|| DEFAULT_REGION.to_string());
            S3Variables {
                endpoint: variable("s3_endpoint")
                    .unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com")),
                bucket,
                prefix: variable("s3_prefix").unwrap_or_else(|| DEFAULT_PREFIX.to_string()),
                access_key: variable("s3_access_key_id").unwrap_or_default(),
                secret_key: variable("s3_secret_access_key").unwrap_or_default(),
                region,
            }
        })
    }

    /// The SHA-256 of the operator's token `operator_token` names, if it
    /// names one; why not, when its value is neither a token nor a hash.
    pub fn operator_hash(&self) -> Result<Option<String>, String> {
        operator_hash(self.operator_token.as_deref())
    }
}

/// The variable `name`, unless undefined or empty. Each reader calls it
/// through a closure named `variable`, with the variable's name in quotes:
/// the spelling tests/e2e/spin_toml.rs looks for to check that spin.toml
/// hands the store every variable it reads.
fn set(get: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    get(name).filter(|value| !value.trim().is_empty())
}

/// The SHA-256 of the operator's token `operator_token` (a token or its
/// hash) names; why not, when it is neither.
pub fn operator_hash(operator_token: Option<&str>) -> Result<Option<String>, String> {
    operator_token.map(token::configured_hash).transpose()
}

impl std::fmt::Debug for SpinVariables {
    /// Which are set, never the secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpinVariables")
            .field("database_url", &self.database_url.is_some())
            .field("operator_token", &self.operator_token.is_some())
            .field("s3", &self.s3)
            .finish()
    }
}

impl std::fmt::Debug for S3Variables {
    /// Where, never the secret key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Variables")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("region", &self.region)
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_or_empty_variables_take_spin_store_s_defaults_and_secrets_stay_out_of_debug() {
        let none = SpinVariables::read(|_| None);
        assert!(none.database_url.is_none() && none.s3.is_none());
        assert_eq!(none.operator_hash(), Ok(None));

        let given = |name: &str| match name {
            "s3_bucket" => Some("depot".to_string()),
            "s3_region" => Some("eu-west-1".to_string()),
            "s3_secret_access_key" => Some("hunter2".to_string()),
            "database_url" => Some("  ".to_string()),
            "operator_token" => Some("not a token".to_string()),
            _ => None,
        };
        let vars = SpinVariables::read(given);
        assert!(vars.database_url.is_none(), "empty means unset");
        let s3 = vars.s3.as_ref().unwrap();
        assert_eq!(s3.endpoint, "https://s3.eu-west-1.amazonaws.com");
        assert_eq!(s3.prefix, "spin");
        assert!(vars.operator_hash().is_err());
        assert!(!format!("{vars:?}").contains("hunter2"));
    }
}
