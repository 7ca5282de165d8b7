//! Marker-delimited regions inside hand-written files, so codegen rewrites only what it owns.

/// A pair of marker lines; matched on trimmed lines so indentation stays the author's choice.
#[derive(Debug, Clone, Copy)]
pub struct Markers {
    pub begin: &'static str,
    pub end: &'static str,
}

/// The markers used in TOML files.
pub const TOML: Markers = Markers { begin: "# BEGIN GENERATED: cargo xtask codegen", end: "# END GENERATED" };

/// The markers used in Markdown files.
pub const MARKDOWN: Markers =
    Markers { begin: "<!-- BEGIN GENERATED: cargo xtask codegen -->", end: "<!-- END GENERATED -->" };

/// Line indices of one region's marker lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub begin: usize,
    pub end: usize,
}

/// Finds every region, in file order; a stray or nested marker is an error.
pub fn find(lines: &[&str], markers: Markers) -> Result<Vec<Region>, String> {
    let mut regions = Vec::new();
    let mut open: Option<usize> = None;
    for (i, line) in lines.iter().enumerate() {
        let line = line.trim();
        if line == markers.begin {
            if let Some(at) = open {
                return Err(format!(
                    "line {}: `{}` opened again before the `{}` of line {}",
                    i + 1,
                    markers.begin,
                    markers.end,
                    at + 1
                ));
            }
            open = Some(i);
        } else if line == markers.end {
            let Some(begin) = open.take() else {
                return Err(format!(
                    "line {}: `{}` without a preceding `{}`",
                    i + 1,
                    markers.end,
                    markers.begin
                ));
            };
            regions.push(Region { begin, end: i });
        }
    }
    if let Some(at) = open {
        return Err(format!("line {}: `{}` is never closed by `{}`", at + 1, markers.begin, markers.end));
    }
    Ok(regions)
}

/// Replaces the body of each region with the matching entry of `bodies`, keeping everything else.
///
/// Bodies are whole lines; an empty body leaves the markers adjacent.
pub fn replace(lines: &[&str], regions: &[Region], bodies: &[String]) -> String {
    assert_eq!(regions.len(), bodies.len(), "one body per region");
    let mut out = String::new();
    let mut next = 0;
    for (region, body) in regions.iter().zip(bodies) {
        for line in &lines[next..=region.begin] {
            out.push_str(line);
            out.push('\n');
        }
        for line in body.lines() {
            out.push_str(line);
            out.push('\n');
        }
        next = region.end;
    }
    for line in &lines[next..] {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Converts CRLF line endings so a checkout with `core.autocrlf` does not look stale.
pub fn normalize(text: &str) -> String {
    text.replace("\r\n", "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
[features]
default = []
  # BEGIN GENERATED: cargo xtask codegen
old = []
# END GENERATED

[dependencies]
# BEGIN GENERATED: cargo xtask codegen
# END GENERATED
tail = 1
";

    #[test]
    fn replaces_only_between_markers() {
        let lines: Vec<&str> = FILE.lines().collect();
        let regions = find(&lines, TOML).unwrap();
        assert_eq!(regions, [Region { begin: 2, end: 4 }, Region { begin: 7, end: 8 }]);
        let out = replace(&lines, &regions, &["a = []\nb = []\n".into(), "x = 1\n".into()]);
        assert_eq!(
            out,
            "[features]\ndefault = []\n  # BEGIN GENERATED: cargo xtask codegen\na = []\nb = []\n# END GENERATED\n\n\
             [dependencies]\n# BEGIN GENERATED: cargo xtask codegen\nx = 1\n# END GENERATED\ntail = 1\n"
        );
        let again: Vec<&str> = out.lines().collect();
        let regions = find(&again, TOML).unwrap();
        assert_eq!(replace(&again, &regions, &["a = []\nb = []\n".into(), "x = 1\n".into()]), out);
    }

    #[test]
    fn empty_bodies_collapse_the_region() {
        let lines: Vec<&str> = FILE.lines().collect();
        let regions = find(&lines, TOML).unwrap();
        let out = replace(&lines, &regions, &[String::new(), String::new()]);
        assert!(!out.contains("old = []"));
        assert!(out.contains("  # BEGIN GENERATED: cargo xtask codegen\n# END GENERATED\n"));
    }

    #[test]
    fn unbalanced_markers_are_errors() {
        assert!(find(&["# END GENERATED"], TOML).is_err());
        assert!(find(&["# BEGIN GENERATED: cargo xtask codegen"], TOML).is_err());
        let nested = [TOML.begin, TOML.begin, TOML.end, TOML.end];
        assert!(find(&nested, TOML).is_err());
    }

    #[test]
    fn crlf_is_normalized() {
        assert_eq!(normalize("a\r\nb\r\n"), "a\nb\n");
    }
}
