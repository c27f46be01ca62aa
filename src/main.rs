//! The `wren` command line.

fn main() {}
