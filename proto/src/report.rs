//! The `validate` report both daemons print (`beacon validate`, `portal validate`): one line
//! per problem naming the option, notes on stdout, the verdict and the exit code.

use std::path::Path;
use std::process::ExitCode;

/// What a `validate` check found (shared by `beacon validate` and `portal validate`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Problems that stop the program from starting (or a show from loading), one line each
    /// naming the option.
    pub problems: Vec<String>,
    /// Things worth knowing that are not errors.
    pub notes: Vec<String>,
}

impl Report {
    /// True when nothing stops the program.
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }

    /// Prints the report of checking `config` as the `validate` commands do (notes on stdout,
    /// each problem on stderr prefixed with the file, then the verdict) and returns the exit
    /// code: 0 valid, 1 invalid.
    pub fn print(&self, config: &Path) -> ExitCode {
        for note in &self.notes {
            println!("note: {note}");
        }
        for problem in &self.problems {
            eprintln!("{}: {problem}", config.display());
        }
        if self.is_valid() {
            println!("{}: valid", config.display());
            ExitCode::SUCCESS
        } else {
            eprintln!(
                "{}: invalid ({} problem{})",
                config.display(),
                self.problems.len(),
                if self.problems.len() == 1 { "" } else { "s" }
            );
            ExitCode::from(1)
        }
    }
}
