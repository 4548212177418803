//! Finding, reading and checking desired-state files: a path is a file or a directory
//! of `*.yaml`/`*.yml` files (not recursive, as Argo CD's directory sources by default),
//! each holding one or more documents separated by `---`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::ctx::Ctx;
use super::read;
use super::types::{ImageChatStack, Source};
use super::yaml::{self, Pos};
use super::{Diagnostic, Invalid, Rules, validate};

/// Larger files are refused before parsing: a desired state is a few kilobytes, and a
/// cap bounds the time and memory a bad commit can cost the daemon.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// Beyond this many errors in one document the rest are counted, not listed.
const MAX_FINDINGS_PER_DOCUMENT: usize = 50;

/// The files a path stands for, sorted so that every run reads them in the same order.
pub fn files(path: &Path) -> Result<Vec<PathBuf>, Diagnostic> {
    let meta =
        std::fs::metadata(path).map_err(|e| Diagnostic::file(path, format!("cannot read: {e}")))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let entries = std::fs::read_dir(path)
        .map_err(|e| Diagnostic::file(path, format!("cannot list directory: {e}")))?;
    let mut out: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    out.sort();
    if out.is_empty() {
        return Err(Diagnostic::file(
            path,
            "directory holds no *.yaml or *.yml file",
        ));
    }
    Ok(out)
}

/// Loads every document under `paths` and checks each, and their uniqueness across all.
/// Either every document is valid, or every error found is returned.
pub fn load(paths: &[PathBuf]) -> Result<Vec<ImageChatStack>, Invalid> {
    load_with(paths, &Rules::default())
}

/// `load`, with the operator's deployment rules (its managed name prefix) checked too.
pub fn load_with(paths: &[PathBuf], rules: &Rules) -> Result<Vec<ImageChatStack>, Invalid> {
    let mut stacks = Vec::new();
    let mut diagnostics = Vec::new();
    for path in paths {
        match files(path) {
            Ok(files) => {
                for file in files {
                    match std::fs::read(&file) {
                        Ok(bytes) => {
                            load_bytes_with(&file, &bytes, rules, &mut stacks, &mut diagnostics)
                        }
                        Err(e) => {
                            diagnostics.push(Diagnostic::file(&file, format!("cannot read: {e}")))
                        }
                    }
                }
            }
            Err(d) => diagnostics.push(d),
        }
    }
    check_unique(&stacks, &mut diagnostics);
    if diagnostics.is_empty() {
        Ok(stacks)
    } else {
        Err(Invalid { diagnostics })
    }
}

/// Reads the documents of one file's contents. Public so that sources other than the
/// local disk (a Git checkout, a test) go through the same checks.
pub fn load_bytes(
    file: &Path,
    bytes: &[u8],
    stacks: &mut Vec<ImageChatStack>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    load_bytes_with(file, bytes, &Rules::default(), stacks, diagnostics);
}

/// `load_bytes` under `rules`.
pub fn load_bytes_with(
    file: &Path,
    bytes: &[u8],
    rules: &Rules,
    stacks: &mut Vec<ImageChatStack>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    if bytes.len() as u64 > MAX_FILE_BYTES {
        diagnostics.push(Diagnostic::file(
            file,
            format!(
                "file is {} bytes; desired-state files are limited to {} bytes",
                bytes.len(),
                MAX_FILE_BYTES
            ),
        ));
        return;
    }
    // Editors on Windows start files with a byte-order mark; it is not part of the YAML.
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            // The first bad byte is where the valid text before it ends (that prefix
            // always decodes; the fallback is never taken). Lines and columns are counted
            // as the YAML reader counts them (`\r` breaks a line too, columns are
            // characters), so that every position in a file means the same.
            let pos = std::str::from_utf8(&bytes[..e.valid_up_to()])
                .map(yaml::end_of)
                .unwrap_or(Pos { line: 1, col: 1 });
            diagnostics.push(Diagnostic::at(
                file,
                pos,
                "",
                "not UTF-8 text: a desired-state file must be YAML",
            ));
            return;
        }
    };
    // yaml-rust2 takes a NUL character for the end of the input: whatever follows one
    // would be dropped without a word, and a file that is cut short (or hides text
    // behind a NUL) would pass as valid. YAML does not allow NUL in a stream anyway.
    if let Some(at) = text.find('\0') {
        diagnostics.push(Diagnostic::at(
            file,
            yaml::end_of(&text[..at]),
            "",
            "NUL character: a desired-state file must be YAML text",
        ));
        return;
    }
    let docs = match yaml::parse_stream(text) {
        Ok(d) => d,
        Err(e) => {
            diagnostics.push(Diagnostic::at(
                file,
                e.pos,
                "",
                format!("invalid YAML: {}", e.message),
            ));
            return;
        }
    };
    let mut found = 0;
    for doc in docs {
        let Some(root) = doc.root.filter(|r| !r.is_null()) else {
            continue;
        };
        found += 1;
        let mut ctx = Ctx::default();
        let read = read::document(&root, &mut ctx);
        if let Some((name, mut spec)) = read {
            if spec.stack_name.is_empty() {
                spec.stack_name = name.clone();
            }
            validate::document(&name, &spec, rules, &mut ctx);
            if ctx.findings.is_empty() {
                stacks.push(ImageChatStack {
                    name,
                    source: Source {
                        file: file.to_path_buf(),
                        line: root.pos.line,
                    },
                    spec,
                });
            }
        }
        let total = ctx.findings.len();
        ctx.findings.sort_by_key(|f| (f.pos.line, f.pos.col));
        for f in ctx.findings.into_iter().take(MAX_FINDINGS_PER_DOCUMENT) {
            diagnostics.push(Diagnostic::at(file, f.pos, &f.path, f.message));
        }
        if total > MAX_FINDINGS_PER_DOCUMENT {
            diagnostics.push(Diagnostic::at(
                file,
                root.pos,
                "",
                format!(
                    "… and {} more errors in this document",
                    total - MAX_FINDINGS_PER_DOCUMENT
                ),
            ));
        }
    }
    if found == 0 {
        diagnostics.push(Diagnostic::at(
            file,
            Pos { line: 1, col: 1 },
            "",
            "no document: expected at least one ImageChatStack",
        ));
    }
}

/// Two documents with one name, or two documents driving one stack, would fight.
fn check_unique(stacks: &[ImageChatStack], diagnostics: &mut Vec<Diagnostic>) {
    let mut names: BTreeMap<&str, &ImageChatStack> = BTreeMap::new();
    let mut targets: BTreeMap<(&str, &str), &ImageChatStack> = BTreeMap::new();
    for s in stacks {
        let pos = Pos {
            line: s.source.line,
            col: 1,
        };
        if let Some(first) = names.insert(&s.name, s) {
            diagnostics.push(Diagnostic::at(
                &s.source.file,
                pos,
                "metadata.name",
                format!("duplicate name {:?}: also used at {}", s.name, first.source),
            ));
        }
        if let Some(first) = targets.insert((&s.spec.region, &s.spec.stack_name), s) {
            diagnostics.push(Diagnostic::at(
                &s.source.file,
                pos,
                "spec.stackName",
                format!(
                    "stack {} in {} is also managed by {:?} at {}: two documents would fight over it",
                    s.spec.stack_name, s.spec.region, first.name, first.source
                ),
            ));
        }
    }
}
