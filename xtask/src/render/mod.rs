//! Renderers: pure functions from the validated manifests to the text of each generated file.

pub mod cargo;
pub mod descriptor;
pub mod docs;
pub mod facade;
mod rust;

/// A Rust string literal; `Debug` of `str` escapes exactly what a literal needs.
fn lit(s: &str) -> String {
    format!("{s:?}")
}

/// Collapses whitespace runs so manifest text fits on one doc-comment or table line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
