//! Who may connect, publish and subscribe: passwords, ACLs and the anonymous
//! policy, as pure values the listeners, sessions and the MQTT-SN gateway share.
//!
//! # Layout
//!
//! ```text
//! mod.rs            Auth (one snapshot of the rules), Security (the snapshot
//!                   behind an ArcSwap, replaced on SIGHUP), the anonymous policy
//! password_file.rs  `user:$argon2id$…` lines: parse, verify, edit
//! acl.rs            the ACL file and the pure filter matcher (Grants)
//! ```
//!
//! A connection takes one snapshot ([`Security::current`]) when it arrives
//! and keeps it: a reload applies to connections made after it, so a client
//! never sees its rights change half-way through a session.

pub mod acl;
pub mod password_file;

use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use bytestring::ByteString;
use tokio::sync::Semaphore;
use tracing::debug;

use self::acl::{Acl, Grants};
use self::password_file::PasswordFile;
use crate::settings::auth::AuthSettings;

/// Why the auth files could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// A line of a password or ACL file is wrong.
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: String },
    /// A file could not be read.
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
    /// Hashing failed (no randomness, say).
    #[error("cannot hash the password: {0}")]
    Hash(String),
    /// A user name that the password file cannot hold.
    #[error(
        "invalid user name {0:?}: it must be non-empty, without ':' or line breaks, and not start or end with spaces"
    )]
    BadUserName(String),
}

impl AuthError {
    fn line(line: usize, reason: impl Into<String>) -> Self {
        Self::Line {
            line,
            reason: reason.into(),
        }
    }

    fn in_file(self, path: &Path) -> Self {
        let path = path.display().to_string();
        match self {
            Self::File { .. } => self,
            other => Self::File {
                path,
                reason: other.to_string(),
            },
        }
    }
}

/// Whether a connection without verified credentials may connect.
///
/// `configured` is `[auth] allow_anonymous` (`None` when unset). Unset means:
/// only over loopback, and only while no password file is configured (a
/// password file says the owner wants logins). Set, it applies everywhere.
pub fn anonymous_allowed(configured: Option<bool>, has_passwords: bool, peer: IpAddr) -> bool {
    configured.unwrap_or(!has_passwords && is_loopback(peer))
}

/// Loopback, including IPv4 loopback seen through an IPv6 socket (`::ffff:127.0.0.1`).
pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// The ACL and the user a connection logged in as: turned into [`Grants`]
/// once the client id is final (the broker may assign it).
#[derive(Debug, Clone)]
pub struct Rights {
    acl: Arc<Acl>,
    user: Option<String>,
}

impl Rights {
    /// The ACL applied to `user` (`None`: anonymous).
    pub fn new(acl: Arc<Acl>, user: Option<String>) -> Self {
        Self { acl, user }
    }

    /// What this user may do as `client_id`.
    pub fn grants(&self, client_id: &str) -> Grants {
        self.acl.grants(self.user.as_deref(), client_id)
    }
}

/// One snapshot of the rules: files parsed, ready to check clients against.
#[derive(Debug, Default)]
pub struct Auth {
    passwords: Option<PasswordFile>,
    acl: Option<Arc<Acl>>,
    allow_anonymous: Option<bool>,
    /// Take the verified client certificate's name as the user name (`[tls]`).
    pub use_identity_as_username: bool,
}

/// Who a connection turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// A user whose password (or client certificate) was verified.
    User(String),
    /// No verified credentials; allowed by the anonymous policy.
    Anonymous,
}

/// A CONNECT's credentials and where it came from. Owned (reference-counted
/// buffers), so checking can move to another thread.
#[derive(Clone)]
pub struct Credentials {
    pub username: Option<ByteString>,
    pub password: Option<Bytes>,
    /// The verified name of the TLS client certificate, if any.
    pub certificate: Option<ByteString>,
    pub peer: IpAddr,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the password.
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("certificate", &self.certificate)
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

/// At most this many password checks run at once: each Argon2id check takes
/// 19 MiB and tens of milliseconds, so a burst of logins queues instead of
/// exhausting a Pi's memory.
static HASHING: Semaphore = Semaphore::const_new(2);

/// [`Auth::authenticate`] on tokio's blocking pool, for checks that hash,
/// so the connection's worker thread keeps serving its other connections.
/// A check that cannot start within `max_wait` (a flood of logins ahead of
/// it) is refused as [`Refusal::Busy`] instead of queueing without bound.
pub async fn authenticate_off_thread(
    auth: Arc<Auth>,
    credentials: Credentials,
    max_wait: Duration,
) -> Result<Identity, Refusal> {
    let Ok(Ok(_permit)) = tokio::time::timeout(max_wait, HASHING.acquire()).await else {
        return Err(Refusal::Busy);
    };
    tokio::task::spawn_blocking(move || auth.authenticate(&credentials))
        .await
        .unwrap_or(Err(Refusal::BadCredentials))
}

/// Why a CONNECT is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Wrong user name or password (CONNACK 0x86 / 3.1.1 return code 4).
    BadCredentials,
    /// Anonymous, where the policy does not allow it (0x87 / 5).
    NotAuthorized,
    /// Too many password checks waiting (0x89 / 3).
    Busy,
}

impl Auth {
    /// Reads the files `settings` names.
    pub fn load(
        settings: &AuthSettings,
        use_identity_as_username: bool,
    ) -> Result<Self, AuthError> {
        let passwords = settings
            .password_file
            .as_deref()
            .map(|path| {
                read(path).and_then(|t| PasswordFile::parse(&t).map_err(|e| e.in_file(path)))
            })
            .transpose()?;
        let acl = settings
            .acl_file
            .as_deref()
            .map(|path| read(path).and_then(|t| Acl::parse(&t).map_err(|e| e.in_file(path))))
            .transpose()?
            .map(Arc::new);
        Ok(Self {
            passwords,
            acl,
            allow_anonymous: settings.allow_anonymous,
            use_identity_as_username,
        })
    }

    /// Whether checking these credentials needs the (slow) password hash.
    pub fn needs_hashing(&self, credentials: &Credentials) -> bool {
        self.trusted_certificate(credentials).is_none()
            && credentials.username.is_some()
            && self.passwords.is_some()
    }

    fn trusted_certificate<'a>(&self, credentials: &'a Credentials) -> Option<&'a str> {
        credentials
            .certificate
            .as_deref()
            .filter(|_| self.use_identity_as_username)
    }

    /// Decides who a connection is, or refuses it. Slow when
    /// [`Auth::needs_hashing`]: run it off the connection's thread then.
    pub fn authenticate(&self, credentials: &Credentials) -> Result<Identity, Refusal> {
        if let Some(name) = self.trusted_certificate(credentials) {
            return Ok(Identity::User(name.to_owned()));
        }
        match (&credentials.username, &self.passwords) {
            (Some(user), Some(passwords)) => {
                let password = credentials.password.as_deref().unwrap_or_default();
                if passwords.verify(user, password) {
                    Ok(Identity::User(user.to_string()))
                } else {
                    Err(Refusal::BadCredentials)
                }
            }
            // Without a password file a user name proves nothing: it counts as anonymous.
            _ if self.anonymous_allowed(credentials.peer) => Ok(Identity::Anonymous),
            _ => Err(Refusal::NotAuthorized),
        }
    }

    /// The anonymous policy for a client at `peer`.
    pub fn anonymous_allowed(&self, peer: IpAddr) -> bool {
        anonymous_allowed(self.allow_anonymous, self.passwords.is_some(), peer)
    }

    /// The ACL as it applies to `identity`; `None` when no ACL is configured
    /// (everything is allowed).
    pub fn rights(&self, identity: &Identity) -> Option<Rights> {
        let acl = self.acl.clone()?;
        let user = match identity {
            Identity::User(name) => Some(name.clone()),
            Identity::Anonymous => None,
        };
        Some(Rights { acl, user })
    }

    /// One line for the startup log: the policy a listener applies.
    pub fn describe(&self, listener: &str, loopback_only: bool) -> String {
        let anonymous = match (self.allow_anonymous, self.passwords.is_some()) {
            (Some(true), _) => "anonymous clients allowed",
            (Some(false), _) => "anonymous clients refused",
            (None, true) => "anonymous clients refused (password file set)",
            (None, false) if loopback_only => "anonymous clients allowed (loopback listener)",
            (None, false) => "anonymous clients allowed from loopback only; remote ones refused",
        };
        let passwords = match &self.passwords {
            Some(file) => format!("{} users in the password file", file.len()),
            None => "no password file".to_owned(),
        };
        let acl = if self.acl.is_some() {
            "ACL on"
        } else {
            "no ACL: every topic allowed"
        };
        format!("{listener}: {anonymous}; {passwords}; {acl}")
    }
}

fn read(path: &Path) -> Result<String, AuthError> {
    std::fs::read_to_string(path).map_err(|error| AuthError::File {
        path: path.display().to_string(),
        reason: error.to_string(),
    })
}

/// The rules in force, replaced whole on SIGHUP.
#[derive(Debug)]
pub struct Security {
    auth: ArcSwap<Auth>,
    settings: AuthSettings,
    use_identity_as_username: bool,
}

impl Security {
    /// Loads the files once; an error stops the start.
    pub fn load(
        settings: &AuthSettings,
        use_identity_as_username: bool,
    ) -> Result<Self, AuthError> {
        let auth = Auth::load(settings, use_identity_as_username)?;
        Ok(Self {
            auth: ArcSwap::from_pointee(auth),
            settings: settings.clone(),
            use_identity_as_username,
        })
    }

    /// The rules for a connection arriving now.
    pub fn current(&self) -> Arc<Auth> {
        self.auth.load_full()
    }

    /// Re-reads the password and ACL files; on error the old rules stay.
    pub fn reload(&self) -> Result<(), AuthError> {
        let auth = Auth::load(&self.settings, self.use_identity_as_username)?;
        debug!(
            passwords = self
                .settings
                .password_file
                .as_deref()
                .map(Path::display)
                .map(|p| p.to_string()),
            acl = self
                .settings
                .acl_file
                .as_deref()
                .map(Path::display)
                .map(|p| p.to_string()),
            "auth files reloaded"
        );
        self.auth.store(Arc::new(auth));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    const LAN: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 20));
    const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    #[test]
    fn anonymous_default_is_loopback_only_and_off_with_a_password_file() {
        assert!(anonymous_allowed(None, false, LO));
        assert!(anonymous_allowed(
            None,
            false,
            IpAddr::V6(Ipv6Addr::LOCALHOST)
        ));
        assert!(anonymous_allowed(
            None,
            false,
            IpAddr::V6(Ipv4Addr::new(127, 0, 0, 1).to_ipv6_mapped())
        ));
        assert!(!anonymous_allowed(None, false, LAN));
        assert!(!anonymous_allowed(
            None,
            false,
            IpAddr::V6("fe80::1".parse().unwrap())
        ));
        assert!(!anonymous_allowed(None, true, LO));
        assert!(anonymous_allowed(Some(true), true, LAN));
        assert!(!anonymous_allowed(Some(false), false, LO));
    }

    fn auth(passwords: Option<&str>, allow: Option<bool>) -> Auth {
        Auth {
            passwords: passwords.map(|t| PasswordFile::parse(t).unwrap()),
            acl: None,
            allow_anonymous: allow,
            use_identity_as_username: false,
        }
    }

    fn creds(user: Option<&str>, password: Option<&'static [u8]>, peer: IpAddr) -> Credentials {
        Credentials {
            username: user.map(ByteString::from),
            password: password.map(Bytes::from_static),
            certificate: None,
            peer,
        }
    }

    #[test]
    fn remote_anonymous_is_refused_by_default() {
        let a = auth(None, None);
        assert_eq!(
            a.authenticate(&creds(None, None, LO)),
            Ok(Identity::Anonymous)
        );
        assert_eq!(
            a.authenticate(&creds(None, None, LAN)),
            Err(Refusal::NotAuthorized)
        );
        // A user name without a password file proves nothing.
        assert_eq!(
            a.authenticate(&creds(Some("admin"), Some(b"x"), LAN)),
            Err(Refusal::NotAuthorized)
        );
        assert!(!a.needs_hashing(&creds(Some("admin"), None, LAN)));
    }

    #[test]
    fn passwords_are_checked() {
        let hash = password_file::hash("pw").unwrap();
        let a = auth(Some(&format!("alice:{hash}\n")), None);
        let ok = creds(Some("alice"), Some(b"pw"), LAN);
        assert!(a.needs_hashing(&ok));
        assert_eq!(a.authenticate(&ok), Ok(Identity::User("alice".into())));
        assert_eq!(
            a.authenticate(&creds(Some("alice"), Some(b"nope"), LO)),
            Err(Refusal::BadCredentials)
        );
        assert_eq!(
            a.authenticate(&creds(None, None, LO)),
            Err(Refusal::NotAuthorized)
        );
        let open = auth(Some(&format!("alice:{hash}\n")), Some(true));
        assert_eq!(
            open.authenticate(&creds(None, None, LAN)),
            Ok(Identity::Anonymous)
        );
    }

    #[tokio::test]
    async fn password_checks_queue_boundedly_and_off_thread() {
        let hash = password_file::hash("pw").unwrap();
        let a = Arc::new(auth(Some(&format!("alice:{hash}\n")), None));
        let ok = creds(Some("alice"), Some(b"pw"), LAN);
        let wait = Duration::from_millis(50);
        let all = HASHING.acquire_many(2).await.unwrap();
        let busy = authenticate_off_thread(a.clone(), ok.clone(), wait).await;
        assert_eq!(busy, Err(Refusal::Busy));
        drop(all);
        let done = authenticate_off_thread(a, ok, wait).await;
        assert_eq!(done, Ok(Identity::User("alice".into())));
    }

    #[test]
    fn a_trusted_certificate_names_the_user() {
        let mut a = auth(None, Some(false));
        let mut c = creds(Some("ignored"), None, LAN);
        c.certificate = Some("sensor-7".into());
        assert_eq!(a.authenticate(&c), Err(Refusal::NotAuthorized));
        a.use_identity_as_username = true;
        assert_eq!(a.authenticate(&c), Ok(Identity::User("sensor-7".into())));
    }
}
