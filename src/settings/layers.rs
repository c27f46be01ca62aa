//! The configuration layers as `config` sources, and tracing a key back to the
//! layer that supplied it.
//!
//! TOML layers are parsed here rather than through `config::File`, which guesses
//! extensions and rewrites paths relative to the working directory; reading the file
//! ourselves keeps "file not found" distinct and error messages showing the path
//! exactly as the user gave it.

use std::io;
use std::path::Path;

use config::{Config, Environment, FileFormat, Format, Map, Source, Value, ValueKind};
use serde::de::DeserializeOwned;

use super::EMBEDDED_DEFAULTS;
use super::error::{self, Origin, SettingsError};

/// Prefix of the environment variables we read: `WREN__LIMITS__MAX_QUEUED`.
pub(super) const ENV_PREFIX: &str = "WREN";
/// Separates the prefix, section and key in an environment variable name.
pub(super) const ENV_SEPARATOR: &str = "__";
/// Keys whose environment value is a comma-separated list. A new list-valued key is
/// settable from the environment only once it is named here.
const ENV_LIST_KEYS: &[&str] = &[
    "mqtt.tcp",
    "http.listen",
    "http.allowed_origins",
    "mqttsn.udp",
    "mqtt.tls",
    "http.tls_listen",
];

/// The environment layer: `WREN__SECTION__KEY`, numbers and booleans parsed, lists
/// comma-separated. `vars` replaces the process environment (tests inject a map so
/// they can run in parallel).
pub(super) fn environment(vars: Option<Map<String, String>>) -> Environment {
    let env = Environment::with_prefix(ENV_PREFIX)
        .separator(ENV_SEPARATOR)
        .try_parsing(true)
        .list_separator(",")
        // Shells and compose files leave empty variables behind; they mean "unset".
        .ignore_empty(true)
        .source(vars);
    ENV_LIST_KEYS
        .iter()
        .fold(env, |env, key| env.with_list_parse_key(key))
}

/// One parsed TOML document; its values are tagged with `origin` so errors can say
/// which layer a bad value came from.
#[derive(Debug, Clone)]
pub(super) struct TomlLayer {
    origin: Origin,
    table: Map<String, Value>,
}

impl TomlLayer {
    /// Reads and parses the user's file.
    pub(super) fn read(path: &Path) -> Result<Self, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => SettingsError::FileNotFound {
                path: path.to_owned(),
            },
            _ => SettingsError::Read {
                path: path.to_owned(),
                source,
            },
        })?;
        Self::parse(Origin::File(path.to_owned()), &text)
    }

    /// Parses TOML text that came from `origin`.
    pub(super) fn parse(origin: Origin, text: &str) -> Result<Self, SettingsError> {
        let tag = origin.to_string();
        match FileFormat::Toml.parse(Some(&tag), text) {
            Ok(table) => Ok(Self { origin, table }),
            Err(e) => Err(SettingsError::Syntax {
                origin,
                detail: error::one_line(&e.to_string()),
            }),
        }
    }
}

impl Source for TomlLayer {
    fn clone_into_box(&self) -> Box<dyn Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<Map<String, Value>, config::ConfigError> {
        Ok(self.table.clone())
    }
}

/// All layers merged, remembering which origins the TOML layers tagged values with.
#[derive(Debug)]
pub(super) struct Merged {
    config: Config,
    user: Option<Origin>,
}

impl Merged {
    /// Embedded defaults < `user` < `env`.
    pub(super) fn build(
        user: Option<TomlLayer>,
        env: Option<Environment>,
    ) -> Result<Self, SettingsError> {
        let embedded = TomlLayer::parse(Origin::Embedded, EMBEDDED_DEFAULTS)?;
        let user_origin = user.as_ref().map(|layer| layer.origin.clone());
        let mut builder = Config::builder().add_source(embedded);
        if let Some(user) = user {
            builder = builder.add_source(user);
        }
        if let Some(env) = env {
            builder = builder.add_source(env);
        }
        // The TOML layers cannot fail to collect, so a failure here is the
        // environment's (a variable holding non-UTF-8 data).
        let config = builder.build().map_err(|e| SettingsError::Environment {
            detail: e.to_string(),
        })?;
        Ok(Self {
            config,
            user: user_origin,
        })
    }

    /// Deserializes the merged tree, keeping the path of whatever fails.
    pub(super) fn deserialize<T: DeserializeOwned>(&self) -> Result<T, SettingsError> {
        serde_path_to_error::deserialize(self.config.clone())
            .map_err(|e| error::from_deserialize(e, self))
    }

    /// The layer that supplied `key` (a dotted path, `[index]` suffixes ignored), if
    /// the key exists.
    pub(super) fn origin_of(&self, key: &str) -> Option<Origin> {
        let tag = tag_of(self.lookup(key)?)?;
        if let Some(user) = self.user.as_ref().filter(|user| user.to_string() == tag) {
            return Some(user.clone());
        }
        if tag == Origin::Embedded.to_string() {
            return Some(Origin::Embedded);
        }
        // Only the environment layer tags values with a name we did not choose.
        Some(Origin::Env(env_var(key)))
    }

    fn lookup(&self, key: &str) -> Option<&Value> {
        let key = key.split('[').next().unwrap_or(key);
        key.split('.')
            .try_fold(&self.config.cache, |value, segment| match &value.kind {
                ValueKind::Table(table) => table.get(segment),
                _ => None,
            })
    }
}

/// The origin tag of `value`. Merging rebuilds tables without a tag, so a table
/// (e.g. a whole unknown section) takes the tag of its first tagged entry.
fn tag_of(value: &Value) -> Option<&str> {
    match (&value.kind, value.origin()) {
        (_, Some(tag)) => Some(tag),
        (ValueKind::Table(table), None) => table.values().find_map(tag_of),
        _ => None,
    }
}

/// The environment variable that sets `key`: `limits.max_queued` is
/// `WREN__LIMITS__MAX_QUEUED`.
fn env_var(key: &str) -> String {
    let key = key.split('[').next().unwrap_or(key);
    std::iter::once(ENV_PREFIX.to_owned())
        .chain(key.split('.').map(str::to_uppercase))
        .collect::<Vec<_>>()
        .join(ENV_SEPARATOR)
}
