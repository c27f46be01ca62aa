//! Sans-IO protocol code: pure functions over `bytes`. Nothing here may depend on
//! the actor framework, the async runtime, the logging facade or a clock;
//! `tests/00_sans_io.rs` enforces it (it rejects even their names, comments included).

pub mod http;
pub mod mqtt;
pub mod mqttsn;
pub mod radio;
pub mod topic;
pub mod websocket;
