//! The desired state: the schema users commit, and its loading and validation.
//! No I/O beyond reading the files; nothing here talks to AWS.

mod ctx;
mod load;
mod read;
mod schedule;
mod types;
mod validate;
mod yaml;

use std::fmt;
use std::path::{Path, PathBuf};

pub use load::{MAX_FILE_BYTES, files, load, load_bytes, load_bytes_with, load_with};
pub use types::*;
pub use validate::DERIVED_PARAMETERS;

/// Rules of the operator's deployment, beyond the schema: they come from how the
/// operator runs (its command line), not from the documents.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rules {
    /// Every stack name and ProjectName must start with this: the operator's IAM
    /// policies (charts/operator.yaml, ManagedStackPrefix) reach only those names.
    pub managed_prefix: Option<String>,
}

/// One error, at `file:line:col`, about the field at `path` (empty for the whole file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
    pub path: String,
    pub message: String,
}

impl Diagnostic {
    fn at(file: &Path, pos: yaml::Pos, path: &str, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_path_buf(),
            line: pos.line.max(1),
            col: pos.col.max(1),
            path: path.to_string(),
            message: message.into(),
        }
    }

    fn file(file: &Path, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_path_buf(),
            line: 0,
            col: 0,
            path: String::new(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.col)?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A desired state that was refused, with every error found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Invalid {
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.diagnostics.len();
        write!(
            f,
            "invalid desired state ({n} error{}):",
            if n == 1 { "" } else { "s" }
        )?;
        for d in &self.diagnostics {
            write!(f, "\n  {d}")?;
        }
        Ok(())
    }
}
