//! Retained messages, indexed by topic for wildcard lookup.
