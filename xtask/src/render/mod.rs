//! Renderers: pure functions from the validated manifests to the text of each generated file.

pub mod cargo;
pub mod descriptor;
pub mod docs;
pub mod facade;

/// A Rust string literal; `Debug` of `str` escapes exactly what a literal needs.
fn lit(s: &str) -> String {
    format!("{s:?}")
}

/// A `&[...]` slice of string literals.
fn str_slice(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| lit(s)).collect();
    format!("&[{}]", items.join(", "))
}

/// A `&[(k, v), ...]` slice of string pairs, in key order.
fn pair_slice(pairs: &std::collections::BTreeMap<String, String>) -> String {
    let items: Vec<String> = pairs.iter().map(|(k, v)| format!("({}, {})", lit(k), lit(v))).collect();
    format!("&[{}]", items.join(", "))
}

/// Collapses whitespace runs so manifest text fits on one doc-comment or table line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
