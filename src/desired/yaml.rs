//! A small YAML node tree that keeps the line and column of every node.
//!
//! serde stops at the first error and forgets positions once a value is parsed; the
//! desired-state contract promises every error of a document at once, each at its
//! `file:line:col`. So documents are read from `yaml-rust2`'s event stream into this
//! tree, and `reader` walks it. Aliases share the anchored node (`Rc`), so an alias bomb
//! costs no memory; `reader` only descends into fields it knows, so it costs no time.

use std::collections::HashMap;
use std::rc::Rc;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Deeper nesting than this is refused: no desired-state field is nested more than six
/// levels, and a bounded depth keeps both the walk and the drop of the tree off the stack.
const MAX_DEPTH: usize = 64;

/// One-based line and column of a node in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pos {
    pub line: usize,
    pub col: usize,
}

impl From<Marker> for Pos {
    fn from(m: Marker) -> Self {
        Pos {
            line: m.line(),
            col: m.col() + 1,
        }
    }
}

#[derive(Debug)]
pub(crate) enum NodeKind {
    /// A scalar with its text and whether it was quoted (a quoted `"5"` is a string).
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Rc<Node>>),
    /// Entries in document order; keys are scalars (others are refused while parsing).
    Map(Vec<(String, Pos, Rc<Node>)>),
}

#[derive(Debug)]
pub(crate) struct Node {
    pub pos: Pos,
    pub kind: NodeKind,
}

impl Node {
    /// A plain scalar that YAML's core schema reads as null (`~`, `null`, or nothing).
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar { text, plain: true }
            if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// What a user would call this node in a message ("a mapping", "the string \"x\"").
    pub fn describe(&self) -> String {
        match &self.kind {
            _ if self.is_null() => "null".to_string(),
            NodeKind::Scalar { text, plain } => {
                let shown: String = text.chars().take(40).collect();
                let ellipsis = if text.chars().count() > 40 { "…" } else { "" };
                if *plain {
                    format!("{shown}{ellipsis}")
                } else {
                    format!("\"{shown}{ellipsis}\"")
                }
            }
            NodeKind::Seq(_) => "a list".to_string(),
            NodeKind::Map(_) => "a mapping".to_string(),
        }
    }
}

/// A document of a YAML stream: its root node, or `None` for an empty document.
#[derive(Debug)]
pub(crate) struct Document {
    pub root: Option<Rc<Node>>,
}

/// A syntax error, where the parser stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Rc<Node>>,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<(String, Pos, Rc<Node>)>,
        pending_key: Option<(String, Pos)>,
    },
}

/// Parses every document of `src`. Stops at the first syntax error: after one, YAML
/// parsers cannot say reliably where the next document starts.
pub(crate) fn parse_stream(src: &str) -> Result<Vec<Document>, SyntaxError> {
    let mut parser = Parser::new_from_str(src);
    let mut docs = Vec::new();
    let mut anchors: HashMap<usize, Rc<Node>> = HashMap::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut current: Option<Document> = None;
    let end = end_of(src);

    loop {
        let (event, mark) = parser.next_token().map_err(|e| SyntaxError {
            pos: within(end, Pos::from(*e.marker())),
            // The scanner has its own, higher limit for `[[[[…`; say it the same way.
            message: match e.info() {
                "recursion limit exceeded" => format!("nesting deeper than {MAX_DEPTH} levels"),
                other => other.to_string(),
            },
        })?;
        let pos = within(end, Pos::from(mark));
        let completed: Rc<Node> = match event {
            Event::StreamEnd => break,
            Event::StreamStart | Event::Nothing => continue,
            Event::DocumentStart => {
                anchors.clear();
                current = Some(Document { root: None });
                continue;
            }
            Event::DocumentEnd => {
                docs.extend(current.take());
                continue;
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some(node) => Rc::clone(node),
                None => {
                    return Err(SyntaxError {
                        pos,
                        message: "alias refers to an unknown anchor".to_string(),
                    });
                }
            },
            Event::Scalar(text, style, anchor, _tag) => {
                let node = Rc::new(Node {
                    pos,
                    kind: NodeKind::Scalar {
                        text,
                        plain: style == TScalarStyle::Plain,
                    },
                });
                if anchor > 0 {
                    anchors.insert(anchor, Rc::clone(&node));
                }
                node
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(SyntaxError {
                        pos,
                        message: format!("nesting deeper than {MAX_DEPTH} levels"),
                    });
                }
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq {
                        pos,
                        anchor,
                        items: Vec::new(),
                    }
                } else {
                    Frame::Map {
                        pos,
                        anchor,
                        entries: Vec::new(),
                        pending_key: None,
                    }
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match stack.pop() {
                    Some(Frame::Seq { pos, anchor, items }) => (
                        Node {
                            pos,
                            kind: NodeKind::Seq(items),
                        },
                        anchor,
                    ),
                    Some(Frame::Map {
                        pos,
                        anchor,
                        entries,
                        ..
                    }) => (
                        Node {
                            pos,
                            kind: NodeKind::Map(entries),
                        },
                        anchor,
                    ),
                    None => {
                        return Err(SyntaxError {
                            pos,
                            message: "unbalanced collection end".to_string(),
                        });
                    }
                };
                let node = Rc::new(node);
                if anchor > 0 {
                    anchors.insert(anchor, Rc::clone(&node));
                }
                node
            }
        };
        attach(&mut stack, &mut current, completed)?;
    }
    docs.extend(current.take());
    Ok(docs)
}

/// Where the text ends: the line after its last line break and the column just past its
/// last character, counting line breaks as YAML does (`\r\n`, `\r` and `\n`) and
/// columns in characters, as yaml-rust2's markers do.
pub(crate) fn end_of(text: &str) -> Pos {
    let mut end = Pos { line: 1, col: 1 };
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' && chars.peek() == Some(&'\n') {
            continue;
        }
        if matches!(c, '\r' | '\n') {
            end = Pos {
                line: end.line + 1,
                col: 1,
            };
        } else {
            end.col += 1;
        }
    }
    end
}

/// yaml-rust2 places what it finds at the end of the input (an error, an empty node) one
/// line past the last line, as its scanner reads a virtual line break there: `4:1` for a
/// three-line file whose last line is an unfinished key. A line that is not in the file
/// sends the user to the wrong place, so such a position is moved back to `end`, the end
/// of the text.
fn within(end: Pos, pos: Pos) -> Pos {
    if (pos.line, pos.col) > (end.line, end.col) {
        end
    } else {
        pos
    }
}

/// Hands a finished node to its parent: a list item, a mapping key or value, or the root.
fn attach(
    stack: &mut [Frame],
    current: &mut Option<Document>,
    node: Rc<Node>,
) -> Result<(), SyntaxError> {
    match stack.last_mut() {
        Some(Frame::Seq { items, .. }) => items.push(node),
        Some(Frame::Map {
            entries,
            pending_key,
            ..
        }) => match pending_key.take() {
            None => {
                let NodeKind::Scalar { text, .. } = &node.kind else {
                    return Err(SyntaxError {
                        pos: node.pos,
                        message: "mapping keys must be plain strings".to_string(),
                    });
                };
                if entries.iter().any(|(k, _, _)| k == text) {
                    return Err(SyntaxError {
                        pos: node.pos,
                        message: format!("duplicate key `{text}`"),
                    });
                }
                *pending_key = Some((text.clone(), node.pos));
            }
            Some((key, key_pos)) => entries.push((key, key_pos, node)),
        },
        None => {
            if let Some(doc) = current.as_mut() {
                doc.root = Some(node);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(src: &str) -> Rc<Node> {
        parse_stream(src).unwrap().remove(0).root.unwrap()
    }

    #[test]
    fn positions_are_one_based_line_and_column() {
        let node = root("a: 1\nb:\n  c: x\n");
        let NodeKind::Map(entries) = &node.kind else {
            panic!("not a map")
        };
        assert_eq!(entries[0].1, Pos { line: 1, col: 1 });
        let NodeKind::Map(inner) = &entries[1].2.kind else {
            panic!("not a map")
        };
        assert_eq!(inner[0].1, Pos { line: 3, col: 3 });
        assert_eq!(inner[0].2.pos, Pos { line: 3, col: 6 });
    }

    #[test]
    fn several_documents_and_empty_ones() {
        let docs = parse_stream("a: 1\n---\n---\nb: 2\n").unwrap();
        assert_eq!(docs.len(), 3);
        assert!(docs[1].root.as_ref().is_none_or(|n| n.is_null()));
        assert_eq!(docs[2].root.as_ref().unwrap().pos.line, 4);
    }

    #[test]
    fn duplicate_keys_are_refused_with_their_position() {
        let err = parse_stream("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(err.pos, Pos { line: 3, col: 1 });
        assert!(err.message.contains("duplicate key `a`"));
    }

    #[test]
    fn quoted_scalars_are_not_plain() {
        let node = root("a: \"5\"\nb: 5\n");
        let NodeKind::Map(e) = &node.kind else {
            panic!()
        };
        assert!(matches!(
            &e[0].2.kind,
            NodeKind::Scalar { plain: false, .. }
        ));
        assert!(matches!(&e[1].2.kind, NodeKind::Scalar { plain: true, .. }));
    }

    #[test]
    fn alias_bomb_shares_nodes_instead_of_expanding() {
        let mut src = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..40 {
            let prev = i - 1;
            src.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        let docs = parse_stream(&src).unwrap();
        let root = docs[0].root.as_ref().unwrap();
        let NodeKind::Map(entries) = &root.kind else {
            panic!()
        };
        // 10^40 nodes if expanded: every alias must be the anchored node itself.
        let NodeKind::Seq(items) = &entries[39].2.kind else {
            panic!()
        };
        assert!(Rc::ptr_eq(&items[0], &items[9]));
        assert!(Rc::ptr_eq(&items[0], &entries[38].2));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let src = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let err = parse_stream(&src).unwrap_err();
        assert!(err.message.contains("nesting deeper than 64"), "{err:?}");
        let block: String = (0..100).map(|i| format!("{}k:\n", " ".repeat(i))).collect();
        let err = parse_stream(&block).unwrap_err();
        assert!(err.message.contains("nesting deeper than 64"), "{err:?}");
    }

    #[test]
    fn an_error_at_the_end_of_the_text_stays_on_its_last_line() {
        // yaml-rust2 says 4:1 for this three-line text; the unfinished key is on line 3.
        let err = parse_stream("a: b\nc: d\nx").unwrap_err();
        assert_eq!(err.pos, Pos { line: 3, col: 2 });
        let err = parse_stream("a: b\r\nc: d\r\nx").unwrap_err();
        assert_eq!(err.pos, Pos { line: 3, col: 2 });
        // An empty key at the very end is placed there too, not on a line after it.
        let docs = parse_stream("? ").unwrap();
        let NodeKind::Map(entries) = &docs[0].root.as_ref().unwrap().kind else {
            panic!("not a map")
        };
        assert_eq!(entries[0].1, Pos { line: 1, col: 3 });
        assert_eq!(end_of("a\rb\r\nc\n"), Pos { line: 4, col: 1 });
        assert_eq!(end_of("é🦀"), Pos { line: 1, col: 3 });
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let err = parse_stream("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.pos.line >= 1);
        assert!(!err.message.is_empty());
    }
}
