//! Problems found in a show (each located at file:line:col and, where it applies, cue, segment,
//! zone and time) and the crate's error type.

use std::fmt;

/// What kind of problem a [`Problem`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProblemKind {
    /// The file is not valid TOML or does not fit the schema (unknown key, wrong type).
    Syntax,
    /// The show is well-formed but wrong (unknown colour/zone, zero duration, ...).
    Invalid,
    /// The show breaks WCAG 2.3.1 (too many general or red flashes in one second).
    Flash,
}

/// One located problem in a show source file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// What kind of problem.
    pub kind: ProblemKind,
    /// File name as given by the caller.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub col: usize,
    /// Cue name, when the problem is inside a cue.
    pub cue: Option<String>,
    /// 1-based segment number inside the cue.
    pub segment: Option<usize>,
    /// Zone name (flash problems).
    pub zone: Option<String>,
    /// Time from cue start, ms (flash problems).
    pub time_ms: Option<u64>,
    /// Human-readable description.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.col)?;
        let mut parts = Vec::new();
        if let Some(cue) = &self.cue {
            parts.push(format!("cue '{cue}'"));
        }
        if let Some(seg) = self.segment {
            parts.push(format!("segment {seg}"));
        }
        if let Some(zone) = &self.zone {
            parts.push(format!("zone '{zone}'"));
        }
        if let Some(t) = self.time_ms {
            parts.push(format!("at {}.{:03} s", t / 1000, t % 1000));
        }
        if !parts.is_empty() {
            write!(f, "{}: ", parts.join(" "))?;
        }
        f.write_str(&self.message)
    }
}

/// Error of every `shows` operation.
#[derive(Debug, thiserror::Error)]
pub enum ShowError {
    /// The show file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// Path as given.
        path: String,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The show is invalid; `Display` prints one located line per problem.
    #[error("{}", display_problems(.0))]
    Invalid(Vec<Problem>),
    /// The show did not compile within its time budget (the caller's deadline).
    #[error(
        "{file}: compiling took longer than its time budget; the show is refused (split long cues or use fewer zones)"
    )]
    OverBudget {
        /// File name as given.
        file: String,
    },
    /// A compiled JSON show is malformed.
    #[error("invalid compiled show: {0}")]
    Compiled(String),
}

impl ShowError {
    /// The problems, when the show is invalid.
    pub fn problems(&self) -> &[Problem] {
        match self {
            ShowError::Invalid(p) => p,
            _ => &[],
        }
    }
}

fn display_problems(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Maps byte offsets in a source text to 1-based line and column.
#[derive(Debug)]
pub struct Locator<'a> {
    source: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> Locator<'a> {
    /// Indexes the line starts of `source`.
    pub fn new(source: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(source.match_indices('\n').map(|(i, _)| i + 1));
        Locator {
            source,
            line_starts,
        }
    }

    /// 1-based (line, column) of byte offset `at` (clamped to the text).
    pub fn line_col(&self, at: usize) -> (usize, usize) {
        let at = at.min(self.source.len());
        let line = self.line_starts.partition_point(|&s| s <= at).max(1);
        let start = self.line_starts[line - 1];
        let col = self
            .source
            .get(start..at)
            .map_or(at - start, |s| s.chars().count())
            + 1;
        (line, col)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locator_counts_lines_and_characters() {
        let l = Locator::new("ab\ncdé\nx");
        assert_eq!(l.line_col(0), (1, 1));
        assert_eq!(l.line_col(2), (1, 3));
        assert_eq!(l.line_col(3), (2, 1));
        assert_eq!(l.line_col(7), (2, 4)); // after the two-byte é
        assert_eq!(l.line_col(8), (3, 1));
        assert_eq!(l.line_col(100), (3, 2));
    }
}
