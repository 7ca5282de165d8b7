//! A small expression layout for generated Rust.
//!
//! rustfmt leaves a statement exactly as written when a string literal in it cannot fit the line
//! width (long config-key descriptions do that), so the generated text is laid out in rustfmt's
//! style up front; wherever rustfmt can format, it has the last word anyway.

/// Line width the layout aims for; matches `max_width` in the workspace `rustfmt.toml`.
const MAX_WIDTH: usize = 110;
const INDENT: usize = 4;

/// A builder-style Rust expression.
#[derive(Debug, Clone)]
pub enum Expr {
    /// Printed as is: a literal or a path.
    Atom(String),
    /// `head(args, ...)`.
    Call(String, Vec<Expr>),
    /// `receiver.method(args).method(args)...`.
    Chain(Box<Expr>, Vec<(String, Vec<Expr>)>),
    /// `&[items, ...]`.
    SliceRef(Vec<Expr>),
    /// `(items, ...)`.
    Tuple(Vec<Expr>),
}

impl Expr {
    pub fn atom(s: impl Into<String>) -> Self {
        Expr::Atom(s.into())
    }

    pub fn call(head: impl Into<String>, args: Vec<Expr>) -> Self {
        Expr::Call(head.into(), args)
    }

    /// Appends `.method(args)`, turning the expression into a chain if it is not one yet.
    pub fn method(self, name: &str, args: Vec<Expr>) -> Self {
        match self {
            Expr::Chain(receiver, mut calls) => {
                calls.push((name.to_owned(), args));
                Expr::Chain(receiver, calls)
            }
            other => Expr::Chain(Box::new(other), vec![(name.to_owned(), args)]),
        }
    }

    /// The whole expression on one line.
    pub fn flat(&self) -> String {
        let list = |items: &[Expr]| items.iter().map(Expr::flat).collect::<Vec<_>>().join(", ");
        match self {
            Expr::Atom(s) => s.clone(),
            Expr::Call(head, args) => format!("{head}({})", list(args)),
            Expr::Chain(receiver, calls) => {
                let mut s = receiver.flat();
                for (name, args) in calls {
                    s.push_str(&format!(".{name}({})", list(args)));
                }
                s
            }
            Expr::SliceRef(items) => format!("&[{}]", list(items)),
            Expr::Tuple(items) => format!("({})", list(items)),
        }
    }

    /// The expression starting at column `col` of a line indented by `indent`.
    pub fn layout(&self, indent: usize, col: usize) -> String {
        let flat = self.flat();
        if col + flat.len() <= MAX_WIDTH {
            return flat;
        }
        match self {
            Expr::Atom(s) => s.clone(),
            Expr::Call(head, args) => block(&format!("{head}("), args, ")", indent),
            Expr::SliceRef(items) => block("&[", items, "]", indent),
            Expr::Tuple(items) => block("(", items, ")", indent),
            Expr::Chain(receiver, calls) => {
                let mut s = receiver.layout(indent, col);
                let at = if s.contains('\n') { indent } else { indent + INDENT };
                let pad = " ".repeat(at);
                for (name, args) in calls {
                    let head = format!(".{name}(");
                    let one =
                        format!("{head}{})", args.iter().map(Expr::flat).collect::<Vec<_>>().join(", "));
                    s.push('\n');
                    s.push_str(&pad);
                    if at + one.len() < MAX_WIDTH {
                        s.push_str(&one);
                    } else if let [Expr::SliceRef(items)] = args.as_slice() {
                        // rustfmt lets a lone slice argument hug the parentheses.
                        s.push_str(&format!("{head}{})", block("&[", items, "]", at)));
                    } else {
                        s.push_str(&block(&head, args, ")", at));
                    }
                }
                s
            }
        }
    }
}

/// `open` + one item per line + `close`, items indented one level past `indent`.
fn block(open: &str, items: &[Expr], close: &str, indent: usize) -> String {
    let inner = indent + INDENT;
    let pad = " ".repeat(inner);
    let mut s = format!("{open}\n");
    for item in items {
        s.push_str(&pad);
        s.push_str(&item.layout(inner, inner));
        s.push_str(",\n");
    }
    s.push_str(&" ".repeat(indent));
    s.push_str(close);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_expressions_stay_on_one_line() {
        let e = Expr::call("f", vec![Expr::atom("1"), Expr::atom("2")]).method("g", vec![]);
        assert_eq!(e.layout(0, 0), "f(1, 2).g()");
    }

    #[test]
    fn long_expressions_break_into_blocks_and_chains() {
        let long = Expr::atom(format!("{:?}", "x".repeat(120)));
        let e = Expr::call("Key::new", vec![Expr::atom("\"k\""), long.clone()]).method("secret", vec![]);
        let slice = Expr::SliceRef(vec![e]);
        let outer = Expr::call("D::new", vec![Expr::atom("\"id\"")]).method("keys", vec![slice]);
        let text = outer.layout(0, 0);
        let expected = format!(
            "D::new(\"id\")\n    .keys(&[\n        Key::new(\n            \"k\",\n            {}\n        )\n        .secret(),\n    ])",
            long.flat() + ","
        );
        assert_eq!(text, expected);
    }
}
