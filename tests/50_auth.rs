//! Authentication: the anonymous policy, the password file, `wren passwd`
//! and reloading. CONNACK codes: 0x04/0x05 for MQTT 3.1.1, 0x86/0x87 for 5.0.
//!
//! Every test client connects over loopback, which the default policy
//! trusts. The refusal of *remote* anonymous clients is proven by the unit
//! tests of `auth::anonymous_allowed` (a LAN address, IPv6 link-local) and
//! here by `allow_anonymous = false`, which takes the same refusal path for
//! a loopback client. Reaching wren from a non-loopback address would need
//! traffic to an address other than 127.0.0.1, which these tests never send.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{Broker, Connect, Raw};
use wren::auth::password_file;

/// A password file holding `users` (name, password).
fn password_file(users: &[(&str, &str)]) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    let mut text = String::from("# test users\n");
    for (user, password) in users {
        text.push_str(&format!(
            "{user}:{}\n",
            password_file::hash(password).unwrap()
        ));
    }
    std::fs::write(file.path(), text).unwrap();
    file
}

async fn connack(broker: &Broker, connect: &Connect) -> u8 {
    Raw::connect_any(broker.addr, connect).await.1.code
}

#[tokio::test(flavor = "multi_thread")]
async fn loopback_anonymous_is_allowed_by_default() {
    let broker = Broker::start();
    assert_eq!(connack(&broker, &Connect::v311("anon")).await, 0);
    assert_eq!(connack(&broker, &Connect::v5("anon5")).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn allow_anonymous_false_refuses_with_not_authorized() {
    let broker = Broker::with(|s| s.auth.allow_anonymous = Some(false));
    assert_eq!(connack(&broker, &Connect::v311("anon")).await, 0x05);
    assert_eq!(connack(&broker, &Connect::v5("anon5")).await, 0x87);
    assert_eq!(connack(&broker, &Connect::v31("anon31")).await, 0x05);
    // Without a password file a user name proves nothing: still anonymous.
    let claimed = Connect::v311("claims").login("admin", b"x");
    assert_eq!(connack(&broker, &claimed).await, 0x05);
}

#[tokio::test(flavor = "multi_thread")]
async fn passwords_are_checked_and_the_file_turns_anonymous_off() {
    let file = password_file(&[("alice", "wonderland"), ("bob", "builder")]);
    let path = file.path().to_owned();
    let broker = Broker::with(|s| s.auth.password_file = Some(path));
    let right = Connect::v311("a1").login("alice", b"wonderland");
    assert_eq!(connack(&broker, &right).await, 0);
    let right5 = Connect::v5("a5").login("bob", b"builder");
    assert_eq!(connack(&broker, &right5).await, 0);
    let wrong = Connect::v311("a2").login("alice", b"Wonderland");
    assert_eq!(connack(&broker, &wrong).await, 0x04);
    let wrong5 = Connect::v5("a3").login("alice", b"builder");
    assert_eq!(connack(&broker, &wrong5).await, 0x86);
    let unknown = Connect::v5("a4").login("carol", b"wonderland");
    assert_eq!(connack(&broker, &unknown).await, 0x86);
    // A password file means logins are wanted, even over loopback.
    assert_eq!(connack(&broker, &Connect::v311("anon")).await, 0x05);
    assert_eq!(connack(&broker, &Connect::v5("anon5")).await, 0x87);
}

#[tokio::test(flavor = "multi_thread")]
async fn allow_anonymous_true_keeps_anonymous_beside_a_password_file() {
    let file = password_file(&[("alice", "wonderland")]);
    let path = file.path().to_owned();
    let broker = Broker::with(|s| {
        s.auth.password_file = Some(path);
        s.auth.allow_anonymous = Some(true);
    });
    assert_eq!(connack(&broker, &Connect::v311("anon")).await, 0);
    let wrong = Connect::v311("w").login("alice", b"nope");
    assert_eq!(
        connack(&broker, &wrong).await,
        0x04,
        "a wrong password is never anonymous"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_applies_to_new_connections() {
    let file = password_file(&[("alice", "one")]);
    let path = file.path().to_owned();
    let broker = Broker::with(|s| s.auth.password_file = Some(path.clone()));
    let (_kept, first) =
        Raw::connect_any(broker.addr, &Connect::v311("a").login("alice", b"one")).await;
    assert_eq!(first.code, 0);
    let text = format!("alice:{}\n", password_file::hash("two").unwrap());
    std::fs::write(&path, text).unwrap();
    broker.server.as_ref().unwrap().reload().unwrap();
    assert_eq!(
        connack(&broker, &Connect::v311("b").login("alice", b"one")).await,
        0x04
    );
    assert_eq!(
        connack(&broker, &Connect::v311("c").login("alice", b"two")).await,
        0
    );
    // A broken file is refused and the rules in force stay.
    std::fs::write(&path, "alice:plaintext\n").unwrap();
    let error = broker.server.as_ref().unwrap().reload().unwrap_err();
    assert!(format!("{error:#}").contains("line 1"), "{error:#}");
    assert_eq!(
        connack(&broker, &Connect::v311("d").login("alice", b"two")).await,
        0
    );
}

fn wren_passwd(args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wren"))
        .arg("passwd")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn users_in(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once(':').map(|(u, _)| u.to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn wren_passwd_adds_changes_and_deletes_users() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("passwd");
    let file = path.to_str().unwrap();
    assert!(
        wren_passwd(&["--password-stdin", file, "alice"], "first\n")
            .status
            .success()
    );
    assert!(
        wren_passwd(&["--password-stdin", file, "bob"], "builder\n")
            .status
            .success()
    );
    assert!(
        wren_passwd(&["--password-stdin", file, "alice"], "second\n")
            .status
            .success()
    );
    assert_eq!(users_in(&path), ["alice", "bob"]);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let broker = Broker::with(|s| s.auth.password_file = Some(path.clone()));
    assert_eq!(
        connack(&broker, &Connect::v311("a").login("alice", b"second")).await,
        0
    );
    assert_eq!(
        connack(&broker, &Connect::v311("b").login("alice", b"first")).await,
        0x04
    );

    assert!(wren_passwd(&["-D", file, "alice"], "").status.success());
    assert_eq!(users_in(&path), ["bob"]);
    let missing = wren_passwd(&["-D", file, "alice"], "");
    assert!(!missing.status.success());
    let bad_name = wren_passwd(&["--password-stdin", file, "a:b"], "x\n");
    assert!(!bad_name.status.success());
    assert!(String::from_utf8_lossy(&bad_name.stderr).contains("invalid user name"));
}
