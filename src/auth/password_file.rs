//! The password file: one `user:hash` line per user, hashes in the PHC string
//! format of Argon2id (`user:$argon2id$v=19$m=19456,t=2,p=1$SALT$HASH`).
//!
//! Lines that are blank or start with `#` are ignored. A user name is any text
//! without `:` or line breaks; the hash is everything after the first `:`.
//! `wren passwd` writes the file; nothing else needs to.
//!
//! Argon2id with the RustCrypto defaults (19 MiB of memory, 2 passes, one
//! lane: the OWASP minimum) is deliberately slow and memory-hard, so a stolen
//! file is expensive to attack. Each salt is random (16 bytes) and kept in the
//! PHC string. Comparison is constant-time inside the `argon2` crate, and an
//! unknown user costs the same as a wrong password (a dummy hash is checked),
//! so answers and timing do not tell which user names exist.

use std::collections::HashMap;
use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use super::AuthError;

/// A hash checked when the user is unknown, so that case costs as much as a
/// wrong password. Hashed once, from a password nobody can send (it contains
/// a NUL and is never compared successfully against anything that matters).
static DUMMY_HASH: LazyLock<Option<String>> = LazyLock::new(|| hash("\0wren-dummy\0").ok());

/// The users and their hashes, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PasswordFile {
    users: HashMap<String, String>,
}

impl PasswordFile {
    /// Parses the text of a password file; an error names the line.
    pub fn parse(text: &str) -> Result<Self, AuthError> {
        let mut users = HashMap::new();
        for (number, line) in text.lines().enumerate() {
            let line_no = number + 1;
            let Some((user, hash)) = parse_line(line, line_no)? else {
                continue;
            };
            if users.insert(user.to_owned(), hash.to_owned()).is_some() {
                return Err(AuthError::line(
                    line_no,
                    format!("user {user:?} listed twice"),
                ));
            }
        }
        Ok(Self { users })
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// True when the file lists nobody.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Whether `password` is `user`'s. Slow on purpose (see the module docs):
    /// call it off any thread that serves other connections.
    pub fn verify(&self, user: &str, password: &[u8]) -> bool {
        let argon2 = Argon2::default();
        match self.users.get(user) {
            Some(hash) => argon2.verify_password(password, hash.as_str()).is_ok(),
            None => {
                if let Some(dummy) = DUMMY_HASH.as_deref() {
                    let _ = argon2.verify_password(password, dummy);
                }
                false
            }
        }
    }
}

/// One line as `(user, hash)`, `None` for blank and comment lines.
fn parse_line(line: &str, line_no: usize) -> Result<Option<(&str, &str)>, AuthError> {
    let trimmed = line.trim();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(None);
    }
    let Some((user, hash)) = trimmed.split_once(':') else {
        return Err(AuthError::line(line_no, "expected user:hash"));
    };
    if user.is_empty() {
        return Err(AuthError::line(line_no, "empty user name"));
    }
    if !hash.starts_with("$argon2id$") {
        return Err(AuthError::line(
            line_no,
            "the hash is not an Argon2id PHC string ($argon2id$…); create users with `wren passwd`",
        ));
    }
    if argon2::password_hash::phc::PasswordHash::new(hash).is_err() {
        return Err(AuthError::line(line_no, "malformed Argon2id hash"));
    }
    Ok(Some((user, hash)))
}

/// Hashes `password` with Argon2id and a fresh random salt, as a PHC string.
pub fn hash(password: &str) -> Result<String, AuthError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|error| AuthError::Hash(error.to_string()))
}

/// Whether `user` can be written to the file.
pub fn check_user_name(user: &str) -> Result<(), AuthError> {
    if user.is_empty() || user.contains([':', '\n', '\r']) || user.trim() != user {
        return Err(AuthError::BadUserName(user.to_owned()));
    }
    Ok(())
}

/// The file's text with `user` set to `hash`: the user's line is replaced in
/// place, or appended; every other line (comments included) is kept.
pub fn with_user(text: &str, user: &str, hash: &str) -> String {
    let mut out = String::with_capacity(text.len() + user.len() + hash.len() + 2);
    let mut replaced = false;
    for line in text.lines() {
        if line_user(line) == Some(user) {
            if !replaced {
                out.push_str(&format!("{user}:{hash}\n"));
                replaced = true;
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    if !replaced {
        out.push_str(&format!("{user}:{hash}\n"));
    }
    out
}

/// The file's text without `user`, and whether the user was there.
pub fn without_user(text: &str, user: &str) -> (String, bool) {
    let mut out = String::with_capacity(text.len());
    let mut found = false;
    for line in text.lines() {
        if line_user(line) == Some(user) {
            found = true;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    (out, found)
}

fn line_user(line: &str) -> Option<&str> {
    let trimmed = line.trim();
    if trimmed.starts_with('#') {
        return None;
    }
    trimmed.split_once(':').map(|(user, _)| user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_salted() {
        let a = hash("secret").unwrap();
        let b = hash("secret").unwrap();
        assert!(a.starts_with("$argon2id$v=19$"));
        assert_ne!(a, b, "each hash has its own salt");
        let file = PasswordFile::parse(&format!("# users\n\nalice:{a}\nbob:{b}\n")).unwrap();
        assert_eq!(file.len(), 2);
        assert!(file.verify("alice", b"secret"));
        assert!(!file.verify("alice", b"Secret"));
        assert!(!file.verify("carol", b"secret"));
    }

    #[test]
    fn parse_errors_name_the_line() {
        let good = hash("x").unwrap();
        let cases = [
            ("nocolon\n", 1, "expected user:hash"),
            (&format!("# c\n:{good}\n") as &str, 2, "empty user name"),
            ("a:plaintext\n", 1, "not an Argon2id"),
            ("\n\na:$argon2id$garbage\n", 3, "malformed"),
            (&format!("a:{good}\na:{good}\n"), 2, "listed twice"),
        ];
        for (text, line, words) in cases {
            let error = PasswordFile::parse(text).unwrap_err();
            let message = error.to_string();
            assert!(message.contains(&format!("line {line}")), "{message}");
            assert!(message.contains(words), "{message}");
        }
    }

    #[test]
    fn editing_keeps_other_lines() {
        let text = "# wren users\nalice:h1\nbob:h2\n";
        assert_eq!(
            with_user(text, "alice", "h3"),
            "# wren users\nalice:h3\nbob:h2\n"
        );
        assert_eq!(
            with_user(text, "carol", "h4"),
            "# wren users\nalice:h1\nbob:h2\ncarol:h4\n"
        );
        assert_eq!(
            without_user(text, "alice"),
            ("# wren users\nbob:h2\n".to_owned(), true)
        );
        assert!(!without_user(text, "dave").1);
    }

    #[test]
    fn user_names_that_cannot_be_written_are_refused() {
        for bad in ["", "a:b", "a\nb", " a"] {
            assert!(check_user_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_user_name("alice@home").is_ok());
    }
}
