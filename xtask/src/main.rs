//! Workspace automation entry point.
fn main() {}
