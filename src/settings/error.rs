//! Settings errors. Each message names the key, the problem and, where known, the
//! layer the bad value came from, because the reader is someone editing a file or a
//! unit's environment, not someone reading our code.

use std::fmt;
use std::io;
use std::path::PathBuf;

use config::ConfigError;

use super::layers::Merged;

/// Why settings could not be loaded.
///
/// Not `PartialEq`: `Read` keeps the `io::Error` as its source. Tests match on the
/// variant and compare the printed message.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The configuration file that was asked for does not exist.
    #[error("file not found: {}", path.display())]
    FileNotFound {
        /// The path as given.
        path: PathBuf,
    },
    /// The configuration file exists but could not be read (permissions, not UTF-8).
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The path as given.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// A TOML layer is not valid TOML.
    #[error("{origin}: TOML syntax error {detail}")]
    Syntax {
        /// The file (or text) that failed to parse.
        origin: Origin,
        /// The parser's description, with line and column, on one line.
        detail: String,
    },
    /// A key no section defines, usually a typo; rejected rather than ignored so a
    /// misspelt key never silently leaves the default in force.
    #[error("{key}: unknown key (known keys: {}){}", .known.join(", "), suffix(.origin))]
    UnknownKey {
        /// Dotted path of the unknown key, e.g. `limits.max_conections`.
        key: String,
        /// The keys that are valid at that level.
        known: Vec<String>,
        /// The layer that set it.
        origin: Option<Origin>,
    },
    /// A value of the wrong type or form, e.g. text where a number belongs or an
    /// unparsable address.
    #[error("{key}: {problem}{}", suffix(.origin))]
    BadValue {
        /// Dotted path of the key, e.g. `mqtt.tcp`.
        key: String,
        /// What is wrong with the value.
        problem: String,
        /// The layer that set it.
        origin: Option<Origin>,
    },
    /// A well-formed value outside its allowed range.
    #[error("{key}: invalid value {value}: {reason}{}", suffix(.origin))]
    Invalid {
        /// Dotted path of the key, e.g. `limits.max_inflight` or `radio[0].kind`.
        key: String,
        /// The value as found.
        value: String,
        /// The rule it breaks.
        reason: String,
        /// The layer that set it.
        origin: Option<Origin>,
    },
    /// The environment could not be read (a `WREN__*` variable holds non-UTF-8 data).
    #[error("environment: {detail}")]
    Environment {
        /// What went wrong.
        detail: String,
    },
}

/// Where a setting came from, so an error points at the thing to edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `config/wren.toml`, compiled in.
    Embedded,
    /// The user's configuration file, by the path given.
    File(PathBuf),
    /// Text passed to [`Settings::from_toml`](super::Settings::from_toml).
    Text,
    /// An environment variable, by name.
    Env(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Embedded => f.write_str("embedded defaults"),
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Text => f.write_str("TOML text"),
            Self::Env(name) => write!(f, "environment variable {name}"),
        }
    }
}

/// Displays ` (from ORIGIN)`, or nothing when the origin is unknown.
fn suffix(origin: &Option<Origin>) -> impl fmt::Display + '_ {
    struct Suffix<'a>(&'a Option<Origin>);
    impl fmt::Display for Suffix<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self.0 {
                Some(origin) => write!(f, " (from {origin})"),
                None => Ok(()),
            }
        }
    }
    Suffix(origin)
}

/// Turns a deserialization failure into an error naming the key and its layer.
pub(super) fn from_deserialize(
    err: serde_path_to_error::Error<ConfigError>,
    merged: &Merged,
) -> SettingsError {
    let key = err.path().to_string();
    let origin = merged.origin_of(&key);
    let problem = describe(err.into_inner());
    match known_keys(&problem) {
        Some(known) => SettingsError::UnknownKey { key, known, origin },
        None => SettingsError::BadValue {
            key,
            problem,
            origin,
        },
    }
}

/// The problem alone: `config` would append the key and origin, which we print
/// our own way.
fn describe(err: ConfigError) -> String {
    match err {
        ConfigError::Type {
            unexpected,
            expected,
            ..
        } => format!("expected {expected}, found {unexpected}"),
        ConfigError::At { error, .. } => describe(*error),
        ConfigError::Message(message) => match message.split_once(", expected struct ") {
            // serde names the Rust type of a section; users know it as a table.
            Some((head, _)) => format!("{head}, expected a table"),
            None => message,
        },
        other => other.to_string(),
    }
}

/// The valid keys listed in serde's unknown-field message, which reads
/// "unknown field `x`, expected one of `a`, `b`" (or "expected `a`", "expected `a`
/// or `b`", "there are no fields"). `None` for any other message. A test pins the
/// shape, so a serde change shows up there and not as a worse message.
fn known_keys(message: &str) -> Option<Vec<String>> {
    let rest = message.strip_prefix("unknown field `")?;
    let (_, expected) = rest.split_once("`, ")?;
    let names = expected.split('`').skip(1).step_by(2);
    Some(names.map(str::to_owned).collect())
}

/// Puts the TOML parser's message on one line, for logs that keep one line per
/// event: "TOML parse error at line 3, column 8", a source snippet, then the
/// problem becomes "at line 3, column 8: problem".
pub(super) fn one_line(message: &str) -> String {
    let mut lines = message.lines();
    let head = lines.next().unwrap_or_default();
    let head = head.strip_prefix("TOML parse error ").unwrap_or(head);
    let problem: Vec<&str> = lines
        .filter(|line| !is_snippet(line))
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    if problem.is_empty() {
        head.to_owned()
    } else {
        format!("{head}: {}", problem.join("; "))
    }
}

/// A line of the parser's source excerpt: `  |`, `3 | text` or `  |   ^`.
fn is_snippet(line: &str) -> bool {
    line.trim_start()
        .trim_start_matches(|c: char| c.is_ascii_digit())
        .trim_start()
        .starts_with('|')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// serde's unknown-field wording, in each of its shapes; if serde changes it,
    /// this fails before users see a worse message.
    #[test]
    fn known_keys_reads_every_shape_of_serde_message() {
        use serde::de::Error as _;
        let keys = |expected: &'static [&'static str]| {
            known_keys(&ConfigError::unknown_field("x", expected).to_string())
        };
        assert_eq!(keys(&[]), Some(vec![]));
        assert_eq!(keys(&["a"]), Some(vec!["a".to_owned()]));
        assert_eq!(
            keys(&["a", "b"]),
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
        assert_eq!(
            keys(&["a", "b", "c"]),
            Some(vec!["a".to_owned(), "b".to_owned(), "c".to_owned()])
        );
        assert_eq!(known_keys("invalid type: integer `5`"), None);
    }

    #[test]
    fn one_line_keeps_position_and_problem() {
        let toml = "TOML parse error at line 12, column 3\n   |\n12 | x\n   |   ^\nbad thing\n";
        assert_eq!(one_line(toml), "at line 12, column 3: bad thing");
        assert_eq!(one_line("plain"), "plain");
    }
}
