//! The broker: one actor owning sessions, the subscription tree and retained messages.

pub mod retained;
pub mod subscriptions;
