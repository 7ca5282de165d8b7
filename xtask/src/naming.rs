//! Names derived from provider ids and crate directories, and the rules those inputs must follow.

/// Keywords that are still usable as identifiers through the `r#` prefix.
const RAW_IDENT_KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn", "else",
    "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "macro",
    "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return", "static", "struct", "trait",
    "true", "try", "type", "typeof", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Module names the facade cannot take: keywords with no raw form, and names its generated module
/// already uses (`core::fmt`, `loginkit_core`) or that would shadow primitive types there.
const RESERVED_ALIASES: &[&str] = &[
    "crate",
    "self",
    "super",
    "core",
    "std",
    "alloc",
    "fmt",
    "loginkit_core",
    "bool",
    "char",
    "str",
    "f32",
    "f64",
    "i8",
    "i16",
    "i32",
    "i64",
    "i128",
    "isize",
    "u8",
    "u16",
    "u32",
    "u64",
    "u128",
    "usize",
];

/// Cargo package name of a provider crate.
pub fn package_name(dir: &str) -> String {
    format!("loginkit-provider-{dir}")
}

/// Rust crate name of a provider crate, as written in `use` paths.
pub fn crate_ident(dir: &str) -> String {
    format!("loginkit_provider_{}", dir.replace('-', "_"))
}

/// Module alias of a provider crate inside the facade (`loginkit::github`).
pub fn module_alias(dir: &str) -> String {
    let alias = dir.replace('-', "_");
    if RAW_IDENT_KEYWORDS.contains(&alias.as_str()) { format!("r#{alias}") } else { alias }
}

/// `Provider` enum variant of an id: `paypalSandbox` -> `PaypalSandbox`, `mock-unverified` -> `MockUnverified`.
pub fn variant_name(id: &str) -> String {
    id.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// Descriptor constant of an id: `paypalSandbox` -> `PAYPAL_SANDBOX`, `mock-unverified` -> `MOCK_UNVERIFIED`.
///
/// A digit before an uppercase letter also starts a new word, so `auth0Sandbox` reads `AUTH0_SANDBOX`.
pub fn const_name(id: &str) -> String {
    let mut out = String::with_capacity(id.len() + 4);
    let mut prev: Option<char> = None;
    for c in id.chars() {
        if c == '-' {
            out.push('_');
        } else {
            if c.is_ascii_uppercase() && prev.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit()) {
                out.push('_');
            }
            out.push(c.to_ascii_uppercase());
        }
        prev = Some(c);
    }
    out
}

/// Human-readable name guessed from a crate directory, for scaffolding: `acme-id` -> `Acme Id`.
pub fn title_from_dir(dir: &str) -> String {
    dir.split('-').map(variant_name).collect::<Vec<_>>().join(" ")
}

/// Checks an id against `^[a-z][a-zA-Z0-9]*(-[a-z0-9]+)*$`, the shapes Appwrite uses.
pub fn validate_id(id: &str) -> Result<(), String> {
    let mut parts = id.split('-');
    let head = parts.next().unwrap_or_default();
    let head_ok =
        head.starts_with(|c: char| c.is_ascii_lowercase()) && head.chars().all(|c| c.is_ascii_alphanumeric());
    let tail_ok =
        parts.all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    if !(head_ok && tail_ok) {
        return Err(format!(
            "invalid provider id {id:?}: it must match `[a-z][a-zA-Z0-9]*(-[a-z0-9]+)*` \
             (camelCase like `paypalSandbox` or kebab-case like `mock-unverified`)"
        ));
    }
    if variant_name(id) == "Self" {
        return Err(format!("invalid provider id {id:?}: its enum variant would be the keyword `Self`"));
    }
    Ok(())
}

/// Checks a provider crate directory against `[a-z0-9]+(-[a-z0-9]+)*`.
///
/// The directory must also start with a letter, since it becomes a module name in the facade.
pub fn validate_dir(dir: &str) -> Result<(), String> {
    let shape_ok = dir
        .split('-')
        .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    if !shape_ok {
        return Err(format!(
            "invalid provider crate directory {dir:?}: it must match `[a-z0-9]+(-[a-z0-9]+)*`"
        ));
    }
    if !dir.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(format!(
            "invalid provider crate directory {dir:?}: it must start with a letter, \
             because it becomes the module `loginkit::{}`",
            dir.replace('-', "_")
        ));
    }
    let alias = dir.replace('-', "_");
    if RESERVED_ALIASES.contains(&alias.as_str()) {
        return Err(format!(
            "invalid provider crate directory {dir:?}: `{alias}` cannot be a module of the facade crate"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_uppercase_each_dash_separated_part() {
        assert_eq!(variant_name("github"), "Github");
        assert_eq!(variant_name("paypalSandbox"), "PaypalSandbox");
        assert_eq!(variant_name("mock-unverified"), "MockUnverified");
        assert_eq!(variant_name("x"), "X");
        assert_eq!(variant_name("tradeshiftBox"), "TradeshiftBox");
    }

    #[test]
    fn consts_split_on_dashes_and_camel_boundaries() {
        assert_eq!(const_name("github"), "GITHUB");
        assert_eq!(const_name("paypalSandbox"), "PAYPAL_SANDBOX");
        assert_eq!(const_name("mock-unverified"), "MOCK_UNVERIFIED");
        assert_eq!(const_name("x"), "X");
        assert_eq!(const_name("auth0Sandbox"), "AUTH0_SANDBOX");
    }

    #[test]
    fn crate_names_follow_the_directory() {
        assert_eq!(package_name("mock-unverified"), "loginkit-provider-mock-unverified");
        assert_eq!(crate_ident("mock-unverified"), "loginkit_provider_mock_unverified");
        assert_eq!(module_alias("mock-unverified"), "mock_unverified");
        assert_eq!(module_alias("box"), "r#box");
        assert_eq!(title_from_dir("acme-id"), "Acme Id");
    }

    #[test]
    fn ids_follow_appwrite_shapes() {
        for ok in ["github", "paypalSandbox", "mock-unverified", "x", "auth0", "a-b2-c"] {
            assert!(validate_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", "GitHub", "1password", "mock_unverified", "mock-", "-mock", "a--b", "a-B", "self"] {
            assert!(validate_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dirs_are_lowercase_kebab_starting_with_a_letter() {
        for ok in ["github", "mock-unverified", "auth0", "box"] {
            assert!(validate_dir(ok).is_ok(), "{ok}");
        }
        for bad in ["", "GitHub", "1password", "paypal_sandbox", "a--b", "core", "self", "str"] {
            assert!(validate_dir(bad).is_err(), "{bad}");
        }
    }
}
