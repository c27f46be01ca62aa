//! `wren passwd`: add, change or delete a user in a password file.

use std::io::{BufRead, IsTerminal};
use std::path::Path;

use anyhow::{Context as _, bail};
use wren::auth::password_file;

/// Adds or changes `user` (prompting, or from stdin), or deletes it.
pub fn run(file: &Path, user: &str, delete: bool, password_stdin: bool) -> anyhow::Result<()> {
    password_file::check_user_name(user)?;
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && !delete => String::new(),
        Err(error) => return Err(error).with_context(|| format!("{}", file.display())),
    };
    let updated = if delete {
        let (updated, found) = password_file::without_user(&text, user);
        if !found {
            bail!("{}: no user {user:?}", file.display());
        }
        updated
    } else {
        let password = read_password(password_stdin)?;
        let hash = password_file::hash(&password)?;
        password_file::with_user(&text, user, &hash)
    };
    // What a reload will read must parse: check before replacing the file.
    password_file::PasswordFile::parse(&updated)
        .with_context(|| format!("{} would not be valid", file.display()))?;
    write_private(file, &updated)?;
    let done = if delete { "deleted" } else { "set" };
    eprintln!(
        "{}: {user} {done}; send wren SIGHUP to apply",
        file.display()
    );
    Ok(())
}

fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        let password = line.trim_end_matches(['\r', '\n']).to_owned();
        if password.is_empty() {
            bail!("no password on standard input");
        }
        return Ok(password);
    }
    let first = rpassword::prompt_password("Password: ")?;
    let second = rpassword::prompt_password("Reenter password: ")?;
    if first != second {
        bail!("passwords do not match");
    }
    if first.is_empty() {
        bail!("empty password");
    }
    Ok(first)
}

/// Writes through a temporary file renamed over the old one, readable by
/// the owner only (the hashes are slow to attack, not impossible).
fn write_private(file: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let tmp = file.with_extension("tmp");
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("{}", tmp.display()))?;
    out.write_all(text.as_bytes())?;
    out.sync_all()?;
    std::fs::rename(&tmp, file).with_context(|| format!("{}", file.display()))?;
    Ok(())
}
