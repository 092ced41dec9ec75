//! Diagnostics for `capsule.toml`: one error = one place in one file, a message and a hint.
//! Owns the `file:line:column` rendering with the offending line and a caret; it does not
//! decide what is an error (that is `load` and `validate`).

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A problem in a capsule file, located at a byte span of its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
    /// The full source line the span starts on, for display.
    pub source_line: String,
    /// Width of the caret underline, in characters (at least 1).
    pub width: usize,
}

impl Diagnostic {
    /// Locates `span` in `source` (1-based line and column, columns counted in characters).
    pub fn at(file: &Path, source: &str, span: Range<usize>, message: impl Into<String>) -> Self {
        let start = span.start.min(source.len());
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[start..].find('\n').map_or(source.len(), |i| start + i);
        let line = source[..start].matches('\n').count() + 1;
        let column = source[line_start..start].chars().count() + 1;
        let end = span.end.clamp(start, line_end);
        let width = source[start..end].chars().count().max(1);
        Diagnostic {
            file: file.to_path_buf(),
            line,
            column,
            message: message.into(),
            hint: None,
            source_line: source[line_start..line_end].trim_end_matches('\r').to_string(),
            width,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The one-line form `file:line:column: message`.
    pub fn headline(&self) -> String {
        format!("{}:{}:{}: {}", self.file.display(), self.line, self.column, self.message)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.headline())?;
        let gutter = self.line.to_string().len();
        let pad = " ".repeat(gutter);
        writeln!(f, "{pad} |")?;
        writeln!(f, "{} | {}", self.line, self.source_line)?;
        let lead: String =
            self.source_line.chars().take(self.column - 1).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
        write!(f, "{pad} | {lead}{}", "^".repeat(self.width))?;
        if let Some(hint) = &self.hint {
            write!(f, "\n{pad} = hint: {hint}")?;
        }
        Ok(())
    }
}

/// All diagnostics of one run, in file order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        if !self.0.contains(&d) {
            self.0.push(d);
        }
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn extend(&mut self, other: Diagnostics) {
        for d in other.0 {
            self.push(d);
        }
    }
    pub fn sort(&mut self) {
        self.0.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            writeln!(f, "{d}\n")?;
        }
        let n = self.0.len();
        write!(f, "{n} error{} found; nothing was sent to AWS", if n == 1 { "" } else { "s" })
    }
}

impl std::error::Error for Diagnostics {}

/// The closest of `candidates` to `word`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_line_and_column_in_characters() {
        let src = "a = 1\n# é comment\nprot = 8080\n";
        let start = src.find("prot").unwrap();
        let d = Diagnostic::at(Path::new("x/capsule.toml"), src, start..start + 4, "unknown key");
        assert_eq!((d.line, d.column, d.width), (3, 1, 4));
        assert_eq!(d.source_line, "prot = 8080");
        assert_eq!(d.headline(), "x/capsule.toml:3:1: unknown key");
    }

    #[test]
    fn renders_source_caret_and_hint() {
        let src = "[services.api]\nprot = 8080\n";
        let start = src.find("prot").unwrap();
        let d = Diagnostic::at(Path::new("c.toml"), src, start..start + 4, "unknown key `prot`")
            .with_hint("did you mean `port`?");
        assert_eq!(
            d.to_string(),
            "c.toml:2:1: unknown key `prot`\n  |\n2 | prot = 8080\n  | ^^^^\n  = hint: did you mean `port`?"
        );
    }

    #[test]
    fn suggests_only_close_words() {
        let keys = ["port", "public", "domain", "memory"];
        assert_eq!(did_you_mean("prot", keys), Some("port"));
        assert_eq!(did_you_mean("memroy", keys), Some("memory"));
        assert_eq!(did_you_mean("zzzzzz", keys), None);
    }
}
