//! The position-aware reader every section of the schema is read with: the findings of
//! a document (each at its `line:col`, at most one per field, so no cascades), and typed
//! accessors that report a wrong shape where it is written.

use std::collections::BTreeMap;
use std::rc::Rc;

use super::yaml::{Node, NodeKind, Pos};

/// An error inside one document, before the file name is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    pub pos: Pos,
    pub path: String,
    pub message: String,
}

/// Collects findings and the position of every field read, so that the semantic checks
/// after reading can point at the right line too.
#[derive(Debug, Default)]
pub(crate) struct Ctx {
    pub findings: Vec<Finding>,
    pub positions: BTreeMap<String, Pos>,
    /// Positions of mapping keys, by path: where a collection or a missing field is shown.
    key_positions: BTreeMap<String, Pos>,
    /// Some model failed to read, so references to model names cannot be checked.
    pub models_incomplete: bool,
}

/// The fields of one mapping, checked against the names the schema knows.
pub(crate) struct Fields<'n> {
    path: String,
    pos: Pos,
    entries: &'n [(String, Pos, Rc<Node>)],
}

pub(super) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl Ctx {
    /// Whether the field at `path`, or a parent of it, already has a finding.
    pub fn failed(&self, path: &str) -> bool {
        self.findings.iter().any(|f| {
            !f.path.is_empty()
                && path.starts_with(&f.path)
                && matches!(path.as_bytes().get(f.path.len()), None | Some(b'.' | b'['))
        })
    }

    /// Records a finding, unless the field (or a parent) already has one: a missing or
    /// mistyped field left at its default must not also fail the checks that follow.
    pub fn err(&mut self, pos: Pos, path: &str, message: impl Into<String>) {
        if self.failed(path) {
            return;
        }
        self.findings.push(Finding {
            pos,
            path: path.to_string(),
            message: message.into(),
        });
    }

    /// A finding at the position recorded for `path` while reading (for the checks that
    /// run after reading).
    pub(crate) fn err_at(&mut self, path: &str, message: impl Into<String>) {
        let pos = self.pos_of(path);
        self.err(pos, path, message);
    }

    /// Position of a field read earlier (or of its nearest parent that was present).
    pub(crate) fn pos_of(&self, path: &str) -> Pos {
        let mut p = path;
        loop {
            if let Some(pos) = self.positions.get(p) {
                return *pos;
            }
            match p.rfind(['.', '[']) {
                Some(i) => p = &p[..i],
                None => return Pos::default(),
            }
        }
    }

    /// Records where a collection is: at its key (`models:`) rather than at its first
    /// item, which for a block collection is on the next line.
    pub(super) fn collection_pos(&mut self, node: &Node, path: &str) -> Pos {
        let pos = self.key_positions.get(path).copied().unwrap_or(node.pos);
        self.positions.insert(path.to_string(), pos);
        pos
    }

    /// Opens a mapping; every key outside `known` is reported as an unknown field.
    pub fn fields<'n>(&mut self, node: &'n Node, path: &str, known: &[&str]) -> Option<Fields<'n>> {
        let mut pos = self.collection_pos(node, path);
        let NodeKind::Map(entries) = &node.kind else {
            self.err(
                node.pos,
                path,
                format!("must be a mapping (got {})", node.describe()),
            );
            return None;
        };
        for (key, key_pos, _) in entries {
            self.key_positions.insert(join(path, key), *key_pos);
            if !known.contains(&key.as_str()) {
                self.err(
                    *key_pos,
                    &join(path, key),
                    format!("unknown field (expected one of: {})", known.join(", ")),
                );
            }
        }
        // The document itself has no key: its first key stands for it.
        if path.is_empty()
            && let Some((_, first, _)) = entries.first()
        {
            pos = *first;
        }
        Some(Fields {
            path: path.to_string(),
            pos,
            entries,
        })
    }

    pub fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        self.positions.insert(path.to_string(), node.pos);
        match &node.kind {
            NodeKind::Scalar { text, .. } => Some(text.clone()),
            _ => {
                self.err(
                    node.pos,
                    path,
                    format!("must be a string (got {})", node.describe()),
                );
                None
            }
        }
    }

    /// An integer within `lo..=hi`; quoted numbers are strings, not integers.
    pub(crate) fn int_in(&mut self, node: &Node, path: &str, lo: u32, hi: u32) -> Option<u32> {
        self.positions.insert(path.to_string(), node.pos);
        let parsed = match &node.kind {
            NodeKind::Scalar { text, plain: true } => text.parse::<i64>().ok(),
            _ => None,
        };
        match parsed {
            Some(n) if n >= i64::from(lo) && n <= i64::from(hi) => u32::try_from(n).ok(),
            Some(n) => {
                self.err(node.pos, path, format!("must be {lo}..{hi} (got {n})"));
                None
            }
            None => {
                self.err(
                    node.pos,
                    path,
                    format!("must be an integer {lo}..{hi} (got {})", node.describe()),
                );
                None
            }
        }
    }

    pub(crate) fn boolean(&mut self, node: &Node, path: &str) -> Option<bool> {
        self.positions.insert(path.to_string(), node.pos);
        if let NodeKind::Scalar { text, plain: true } = &node.kind {
            match text.as_str() {
                "true" | "True" | "TRUE" => return Some(true),
                "false" | "False" | "FALSE" => return Some(false),
                _ => {}
            }
        }
        self.err(
            node.pos,
            path,
            format!("must be true or false (got {})", node.describe()),
        );
        None
    }

    /// One of `names`, returned through `parse`.
    pub(crate) fn choice<T>(
        &mut self,
        node: &Node,
        path: &str,
        names: &[&str],
        parse: fn(&str) -> Option<T>,
    ) -> Option<T> {
        let text = self.string(node, path)?;
        let value = parse(&text);
        if value.is_none() {
            self.err(
                node.pos,
                path,
                format!(
                    "must be one of {} (got {})",
                    names.join(" | "),
                    node.describe()
                ),
            );
        }
        value
    }
}

impl<'n> Fields<'n> {
    pub fn path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// The value of `key`, or `None` when absent or null (null means "use the default").
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, _, v)| v.as_ref())
            .filter(|v| !v.is_null())
    }

    /// Like `get`, but a missing or empty field is reported (at its key when present).
    pub(crate) fn require(&self, ctx: &mut Ctx, key: &str) -> Option<&'n Node> {
        let value = self.get(key);
        if value.is_none() {
            match self.entries.iter().find(|(k, _, _)| k == key) {
                Some((_, key_pos, _)) => {
                    ctx.err(*key_pos, &self.path(key), "required field is empty")
                }
                None => ctx.err(self.pos, &self.path(key), "required field is missing"),
            }
        }
        value
    }
}
