//! `protocol/` is sans-IO: bytes in, values out. This test fails if any of its
//! sources mentions actix, tokio, tracing or a clock, so the codecs stay usable
//! from any runtime, from tests and from fuzzers.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

const FORBIDDEN: [&str; 4] = ["actix", "tokio", "tracing", "std::time"];

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            rust_files(&path, found)?;
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
    Ok(())
}

#[test]
fn protocol_sources_do_no_io_and_read_no_clock() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/protocol");
    let mut files = Vec::new();
    rust_files(&root, &mut files).unwrap();
    assert!(
        files.iter().any(|f| f.ends_with("mqtt/decode.rs")),
        "walked the wrong directory: {}",
        root.display()
    );
    let mut offences = Vec::new();
    for file in &files {
        let source = fs::read_to_string(file).unwrap();
        for (number, line) in source.lines().enumerate() {
            for word in FORBIDDEN {
                if line.contains(word) {
                    offences.push(format!("{}:{}: {word}", file.display(), number + 1));
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "protocol/ must stay sans-IO:\n{}",
        offences.join("\n")
    );
}

/// The broker's routing core, the session's rules and the MQTT-SN client
/// state machine are pure too: testable
/// with time passed in, with no actor runtime.
#[test]
fn routing_core_and_session_rules_do_not_depend_on_the_runtime() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let pure = [
        "broker/router.rs",
        "broker/subscriptions.rs",
        "broker/retained.rs",
        "broker/publication.rs",
        "session/state.rs",
        "session/connect.rs",
        "session/aliases.rs",
        "gateway/client.rs",
        "gateway/client/handlers.rs",
        "gateway/topics.rs",
        "gateway/discovery.rs",
    ];
    let mut offences = Vec::new();
    for file in pure {
        let source = fs::read_to_string(src.join(file)).unwrap();
        for (number, line) in source.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for word in ["actix", "tokio"] {
                if code.contains(word) {
                    offences.push(format!("{file}:{}: {word}", number + 1));
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "pure modules must not use the runtime:\n{}",
        offences.join("\n")
    );
}
