//! Sans-IO protocol code: pure functions over `bytes`. Nothing here may depend on
//! actix, tokio, tracing or a clock; a test enforces it.

pub mod mqtt;
pub mod topic;
