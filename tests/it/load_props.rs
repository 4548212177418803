//! Property tests of desired-state loading, in-process through the library's entry
//! points (`desired::load_bytes`, which `validate`, `plan`, `apply` and the daemon use for
//! every file, and `desired::load` for a directory). Whatever the bytes: loading never
//! panics, and every error it reports is located — `file:line:col` inside the file (a
//! line and column that exist), a message, and the `file:line:col: ` prefix when shown.
//! The one error without a line is a file refused whole for its size.
//!
//! Inputs are arbitrary bytes, YAML-shaped token soup, and structure-aware mutations of
//! `desired-state/example.yaml`: lines deleted, duplicated, swapped, re-indented (with
//! tabs too), truncated; any scalar (key or value) replaced by wrong types, huge numbers,
//! unicode, tags, anchors and aliases; deep nesting; CRLF and lone CR line ends; a
//! byte-order mark; several documents; several files of a directory.
//!
//! Bounded for CI: `CASES` cases per property (the environment's `PROPTEST_CASES`
//! overrides it), a few seconds in all in a debug build. Reproducible: a failing case is
//! shrunk and its seed saved by proptest in `tests/proptest-regressions/load_props.txt`;
//! commit that file with the fix, and every later run replays it before new cases.
//! `PROPTEST_RNG_SEED=<n>` fixes the seed of a whole run. A defect found this way also
//! gets a named test below with its minimal input.

use std::path::Path;
use std::sync::LazyLock;

use bedrock_chat_operator::desired::{self, Diagnostic, MAX_FILE_BYTES};
use proptest::prelude::*;
use proptest::sample::Index;
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::TScalarStyle;

use crate::common::repo_root;

/// Cases per property: ~1000 each keeps the whole file at about ten seconds in a debug
/// build on a busy 2-core machine, while each run still explores new inputs (the seed is
/// random).
const CASES: u32 = 1000;

/// The name diagnostics carry; loading in-process never opens it.
const FILE: &str = "desired-state/input.yaml";

fn config(cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    config
}

/// The lines of a file as an editor shows them, for checking that a position exists:
/// `\r\n`, `\r` and `\n` each end a line (YAML's breaks), columns count characters.
fn line_widths(bytes: &[u8]) -> Vec<usize> {
    let text = String::from_utf8_lossy(bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes));
    let mut widths = vec![0];
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                widths.push(0);
            }
            '\n' => widths.push(0),
            _ => {
                if let Some(w) = widths.last_mut() {
                    *w += 1;
                }
            }
        }
    }
    widths
}

/// The invariants every load must keep, whatever `bytes` holds.
fn check_diagnostics(
    file: &Path,
    bytes: &[u8],
    diagnostics: &[Diagnostic],
) -> Result<(), TestCaseError> {
    let widths = line_widths(bytes);
    for d in diagnostics {
        let shown = d.to_string();
        prop_assert_eq!(&d.file, file, "{}", shown);
        prop_assert!(!d.message.trim().is_empty(), "no message: {}", shown);
        if d.line == 0 {
            // Only a file refused whole, before parsing, has no line to point at.
            prop_assert!(
                bytes.len() as u64 > MAX_FILE_BYTES,
                "position-less error for a {}-byte file: {}",
                bytes.len(),
                shown
            );
            continue;
        }
        let prefix = format!("{}:{}:{}: ", file.display(), d.line, d.col);
        prop_assert!(shown.starts_with(&prefix), "{} lacks {}", shown, prefix);
        prop_assert!(d.col >= 1, "{}", shown);
        // The position exists: a line of the file (or the end of the last one), and a
        // column within that line or just past its end (where a missing token belongs).
        prop_assert!(
            d.line <= widths.len(),
            "line {} beyond the file's {} lines: {}",
            d.line,
            widths.len(),
            shown
        );
        let width = widths[d.line - 1];
        prop_assert!(
            d.col <= width + 1,
            "column {} beyond line {} ({} characters): {}",
            d.col,
            d.line,
            width,
            shown
        );
    }
    Ok(())
}

/// Loads `bytes` as one file and checks the invariants; returns the diagnostics.
fn check(bytes: &[u8]) -> Result<Vec<Diagnostic>, TestCaseError> {
    let file = Path::new(FILE);
    let mut stacks = Vec::new();
    let mut diagnostics = Vec::new();
    desired::load_bytes(file, bytes, &mut stacks, &mut diagnostics);
    prop_assert!(
        !stacks.is_empty() || !diagnostics.is_empty(),
        "neither a stack nor an error"
    );
    check_diagnostics(file, bytes, &diagnostics)?;
    Ok(diagnostics)
}

static EXAMPLE: LazyLock<String> = LazyLock::new(|| {
    std::fs::read_to_string(repo_root().join("desired-state/example.yaml"))
        .expect("read desired-state/example.yaml")
});

/// A scalar of the example: where its source text is, and whether it is a mapping key.
#[derive(Debug, Clone)]
struct Scalar {
    start: usize,
    end: usize,
    line: usize,
    key: bool,
}

/// Every scalar of the example with its byte span, from yaml-rust2's events (the same
/// parser the operator uses). Only spans whose source text is exactly the scalar
/// (plain, or quoted without escapes) are kept, so a replacement lands where intended.
static SCALARS: LazyLock<Vec<Scalar>> = LazyLock::new(|| {
    let src = EXAMPLE.as_str();
    let mut parser = Parser::new_from_str(src);
    // Per open collection: is it a mapping, and is its next scalar a key?
    let mut open: Vec<(bool, bool)> = Vec::new();
    let mut out = Vec::new();
    loop {
        let (event, mark) = parser.next_token().expect("example.yaml parses");
        let is_key = match open.last_mut() {
            Some((true, next_is_key)) => {
                let k = *next_is_key;
                if !matches!(event, Event::MappingEnd) {
                    *next_is_key = !k;
                }
                k
            }
            _ => false,
        };
        match event {
            Event::StreamEnd => break,
            Event::Scalar(text, style, _, _) => {
                let quote = match style {
                    TScalarStyle::Plain => 0,
                    TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => 2,
                    _ => continue,
                };
                let (start, end) = (mark.index(), mark.index() + text.len() + quote);
                let raw = src.get(start..end).unwrap_or_default();
                let exact = if quote == 0 {
                    raw == text
                } else {
                    raw.get(1..raw.len() - 1) == Some(text.as_str())
                };
                if exact {
                    out.push(Scalar {
                        start,
                        end,
                        line: mark.line(),
                        key: is_key,
                    });
                }
            }
            Event::MappingStart(..) => open.push((true, true)),
            Event::SequenceStart(..) => open.push((false, false)),
            Event::MappingEnd | Event::SequenceEnd => {
                open.pop();
            }
            _ => {}
        }
    }
    assert!(
        out.len() > 60,
        "only {} scalars found in example.yaml",
        out.len()
    );
    out
});

fn values() -> Vec<Scalar> {
    SCALARS.iter().filter(|s| !s.key).cloned().collect()
}

/// Any characters (proptest favours the odd ones: controls, surrogates' neighbours,
/// combining marks). Built from `char`s rather than a regex: regex generation is several
/// times slower in a debug build.
fn chars(len: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), len).prop_map(String::from_iter)
}

/// Text put where a scalar was: every kind of thing a hand-edited file might hold.
fn replacement() -> impl Strategy<Value = String> {
    prop_oneof![
        // Wrong types, and YAML's other spellings of null, booleans and numbers.
        prop::sample::select(vec![
            "", "~", "null", "[]", "{}", "[a, b]", "{k: v}", "yes", "no", "on", "True", "FALSE",
            "0x1F", "0o17", "+5", "-0", "1_000", "1e3", ".inf", "-.Inf", ".NaN", "3.5",
        ])
        .prop_map(str::to_string),
        // Quoting, block scalars, tags, anchors and aliases, stray syntax.
        prop::sample::select(vec![
            "\"\"",
            "''",
            "'5'",
            "\"10\"",
            "|\n  text",
            ">-\n  folded",
            "- item",
            "? k",
            ": v",
            "#",
            " # c",
            "!!str 5",
            "!!int x",
            "!!binary aGk=",
            "!custom x",
            "!<tag:yaml.org,2002:str> 5",
            "&a 1",
            "*a",
            "&a [*a]",
            "<<: {x: 1}",
            "%YAML",
            "---",
            "...",
            "@x",
            "`x`",
            "\t5",
            "5\t",
        ])
        .prop_map(str::to_string),
        // Escapes and characters that are odd in YAML or in text.
        prop::sample::select(vec![
            "\"\\u0000\"",
            "\"\\x00\"",
            "\"\\uD800\"",
            "\u{0}",
            "\u{FEFF}",
            "\u{2028}",
            "\u{85}",
            "é",
            "名前",
            "🦀",
            "a\u{301}",
        ])
        .prop_map(str::to_string),
        // Huge, tiny and boundary numbers.
        prop::sample::select(vec![
            "99999999999999999999999999999999",
            "-99999999999999999999999999999999",
            "18446744073709551616",
            "9223372036854775808",
            "-9223372036854775809",
            "4294967296",
            "2147483648",
            "1e309",
            "-1e309",
            "0.1e-400",
        ])
        .prop_map(str::to_string),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| format!("{n}{n}")),
        // Unicode, plain and quoted.
        chars(0..30),
        chars(0..30).prop_map(|s| format!("{s:?}")),
        // Long values.
        (1usize..5000).prop_map(|n| "x".repeat(n)),
    ]
}

/// Nesting `depth` levels deep in flow style (valid anywhere a value may stand).
fn flow_nesting() -> impl Strategy<Value = (usize, String)> {
    (1usize..300, prop::bool::ANY).prop_map(|(depth, seq)| {
        let (open, close) = if seq { ("[", "]") } else { ("{k: ", "}") };
        let inner = if seq { "1" } else { "v" };
        (
            depth,
            format!("{}{inner}{}", open.repeat(depth), close.repeat(depth)),
        )
    })
}

/// One edit of the example's lines.
#[derive(Debug, Clone)]
enum LineEdit {
    Delete(Index),
    Duplicate(Index),
    Swap(Index, Index),
    Insert(Index, String),
    /// Leading whitespace changed: more or fewer spaces, or tabs instead of spaces.
    Reindent(Index, i8, bool),
    /// The line cut at a character.
    Cut(Index, Index),
}

fn line_edit() -> impl Strategy<Value = LineEdit> {
    let any_index = any::<Index>;
    prop_oneof![
        any_index().prop_map(LineEdit::Delete),
        any_index().prop_map(LineEdit::Duplicate),
        (any_index(), any_index()).prop_map(|(a, b)| LineEdit::Swap(a, b)),
        (
            any_index(),
            prop_oneof![
                replacement(),
                Just("---".to_string()),
                Just("...".to_string()),
                Just("%YAML 1.2".to_string()),
                Just("extra: field".to_string()),
                Just("  - {name: x, modelId: y, type: image}".to_string()),
            ]
        )
            .prop_map(|(i, s)| LineEdit::Insert(i, s)),
        (any_index(), -4i8..5, prop::bool::ANY).prop_map(|(i, d, t)| LineEdit::Reindent(i, d, t)),
        (any_index(), any_index()).prop_map(|(i, at)| LineEdit::Cut(i, at)),
    ]
}

fn apply_line_edits(src: &str, edits: &[LineEdit]) -> String {
    let mut lines: Vec<String> = src.lines().map(str::to_string).collect();
    for edit in edits {
        if lines.is_empty() {
            lines.push(String::new());
        }
        let n = lines.len();
        match edit {
            LineEdit::Delete(i) => {
                lines.remove(i.index(n));
            }
            LineEdit::Duplicate(i) => {
                let i = i.index(n);
                lines.insert(i, lines[i].clone());
            }
            LineEdit::Swap(a, b) => lines.swap(a.index(n), b.index(n)),
            LineEdit::Insert(i, s) => lines.insert(i.index(n + 1), s.clone()),
            LineEdit::Reindent(i, delta, tabs) => {
                let line = &mut lines[i.index(n)];
                let body = line.trim_start().to_string();
                let indent = (line.len() - body.len()) as i64 + i64::from(*delta);
                let indent = usize::try_from(indent.max(0)).unwrap_or(0);
                let pad = if *tabs { "\t" } else { " " };
                *line = format!("{}{body}", pad.repeat(indent));
            }
            LineEdit::Cut(i, at) => {
                let line = &mut lines[i.index(n)];
                let chars: Vec<char> = line.chars().collect();
                *line = chars[..at.index(chars.len() + 1)].iter().collect();
            }
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// How the whole file is written: line ends, a byte-order mark, more documents.
#[derive(Debug, Clone)]
struct Framing {
    line_end: &'static str,
    bom: bool,
    copies: usize,
    /// Cut the file at a byte (possibly inside a character: then it is not UTF-8).
    truncate: Option<Index>,
}

fn framing() -> impl Strategy<Value = Framing> {
    (
        prop::sample::select(vec!["\n", "\n", "\r\n", "\r"]),
        prop::bool::weighted(0.1),
        prop_oneof![4 => Just(1usize), 1 => 2usize..4],
        prop::option::weighted(0.1, any::<Index>()),
    )
        .prop_map(|(line_end, bom, copies, truncate)| Framing {
            line_end,
            bom,
            copies,
            truncate,
        })
}

fn frame(text: &str, f: &Framing) -> Vec<u8> {
    let body = text.replace('\n', f.line_end);
    let mut docs = vec![body; f.copies];
    // Later copies get their own names, so that they are not refused as duplicates.
    for (i, doc) in docs.iter_mut().enumerate().skip(1) {
        *doc = doc.replace("name: demo", &format!("name: demo{i}"));
    }
    let mut bytes = Vec::new();
    if f.bom {
        bytes.extend_from_slice(b"\xef\xbb\xbf");
    }
    bytes.extend_from_slice(docs.join(&format!("---{}", f.line_end)).as_bytes());
    if let Some(at) = f.truncate {
        bytes.truncate(at.index(bytes.len() + 1));
    }
    bytes
}

/// Replaces the scalars at `picks` (of `pool`) by the texts given, last in the file first
/// so that earlier spans stay valid.
fn replace_scalars(pool: &[Scalar], picks: &[(Index, String)]) -> String {
    let mut chosen: Vec<(&Scalar, &String)> = picks.iter().map(|(i, s)| (i.get(pool), s)).collect();
    chosen.sort_by_key(|(s, _)| std::cmp::Reverse(s.start));
    chosen.dedup_by_key(|(s, _)| s.start);
    let mut text = EXAMPLE.clone();
    for (s, with) in chosen {
        text.replace_range(s.start..s.end, with);
    }
    text
}

proptest! {
    #![proptest_config(config(CASES))]

    #[test]
    fn arbitrary_bytes_never_panic_and_every_error_is_located(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        check(&bytes)?;
    }

    #[test]
    fn yaml_shaped_token_soup_never_panics_and_every_error_is_located(
        tokens in prop::collection::vec(prop_oneof![
            prop::sample::select(vec![
                ":", ": ", "-", "- ", "? ", "[", "]", "{", "}", ",", "&a ", "*a", "&b ", "*b",
                "!", "!!map ", "|", ">", "'", "\"", "%YAML 1.2", "%TAG ! tag:x,2000:", "---",
                "...", "#", "\n", "\r\n", "\r", "\t", " ", "  ", "    ", "\u{FEFF}", "\\",
                "apiVersion", "kind", "metadata", "name", "spec", "models", "region",
                "services", "openwebui", "autoscaling", "bedrockchat.dev/v1alpha1",
                "ImageChatStack", "1", "11", "-1", "true", "null", "~", "é", "🦀", "\u{0}",
            ]).prop_map(str::to_string),
            chars(1..8),
        ], 0..200),
    ) {
        check(tokens.concat().as_bytes())?;
    }

    #[test]
    fn mutated_example_lines_never_panic_and_every_error_is_located(
        edits in prop::collection::vec(line_edit(), 1..8),
        framing in framing(),
    ) {
        check(&frame(&apply_line_edits(&EXAMPLE, &edits), &framing))?;
    }

    #[test]
    fn random_scalars_at_random_keys_and_values_never_panic_and_are_located(
        picks in prop::collection::vec((any::<Index>(), replacement()), 1..6),
        framing in framing(),
    ) {
        let text = replace_scalars(&SCALARS, &picks);
        check(&frame(&text, &framing))?;
    }

    /// Sharper than "located": a value replaced by a collection is always an error, and
    /// one of the errors is on that value's line.
    #[test]
    fn a_value_of_the_wrong_type_is_reported_at_its_line(
        pick in any::<Index>(),
        with in prop::sample::select(vec!["[x]", "{k: v}", "[]", "{}", "[[1]]"]),
    ) {
        let pool = values();
        let target = pick.get(&pool).clone();
        let text = replace_scalars(&pool, &[(pick, with.to_string())]);
        let diagnostics = check(text.as_bytes())?;
        prop_assert!(
            diagnostics.iter().any(|d| d.line == target.line),
            "nothing reported at line {} for {:?} there; got: {:?}",
            target.line,
            with,
            diagnostics.iter().map(ToString::to_string).collect::<Vec<_>>()
        );
    }

    /// Nothing is dropped unseen: yaml-rust2 ends its input at a NUL, so a NUL anywhere
    /// (and whatever follows it) must make the file invalid, at the NUL's position.
    #[test]
    fn a_nul_anywhere_is_refused_at_its_position(
        at in any::<Index>(),
        after in prop_oneof![Just(String::new()), replacement()],
    ) {
        let cut = at.index(EXAMPLE.chars().count() + 1);
        let before: String = EXAMPLE.chars().take(cut).collect();
        let text = format!("{before}\0{after}{}", EXAMPLE.chars().skip(cut).collect::<String>());
        let diagnostics = check(text.as_bytes())?;
        let widths = line_widths(before.as_bytes());
        let want = (widths.len(), widths[widths.len() - 1] + 1);
        prop_assert!(
            diagnostics.iter().any(|d| (d.line, d.col) == want && d.message.contains("NUL")),
            "want the NUL at {:?}; got: {:?}",
            want,
            diagnostics.iter().map(ToString::to_string).collect::<Vec<_>>()
        );
    }

    #[test]
    fn deep_nesting_is_refused_with_a_position_and_never_overflows(
        pick in any::<Index>(),
        (depth, nested) in flow_nesting(),
    ) {
        let pool = values();
        let text = replace_scalars(&pool, &[(pick, nested)]);
        let diagnostics = check(text.as_bytes())?;
        let refused = diagnostics.iter().any(|d| d.message.contains("nesting deeper than"));
        // The example's values sit 2 to 5 levels deep; the limit is 64 levels.
        if depth >= 64 {
            prop_assert!(refused, "depth {} accepted: {:?}", depth, diagnostics);
        } else if depth < 58 {
            prop_assert!(!refused, "depth {} refused", depth);
        }
    }

    #[test]
    fn anchors_and_aliases_anywhere_never_panic_and_are_located(
        anchors in prop::collection::vec((any::<Index>(), 0u8..3, 0u8..3), 1..4),
        aliases in prop::collection::vec((any::<Index>(), 0u8..4), 1..4),
    ) {
        // Anchors on some scalars (keys and values; the scalar itself, or a list or a
        // mapping made of it), aliases in place of others: before or after their anchor,
        // or to no anchor at all.
        let mut picks: Vec<(Index, String)> = Vec::new();
        for (i, name, shape) in &anchors {
            let s = i.get(&SCALARS);
            let text = EXAMPLE.get(s.start..s.end).unwrap_or_default();
            let anchored = match shape {
                0 => text.to_string(),
                1 => format!("[{text}]"),
                _ => format!("{{k: {text}}}"),
            };
            picks.push((*i, format!("&a{name} {anchored}")));
        }
        for (i, name) in &aliases {
            picks.push((*i, format!("*a{name}")));
        }
        let text = replace_scalars(&SCALARS, &picks);
        check(text.as_bytes())?;
    }
}

proptest! {
    // Each case writes two files; fewer cases keep the time in line with the others.
    #![proptest_config(config(CASES / 4))]

    /// Through `desired::load` on a directory: errors from two files (and across them,
    /// duplicate names and stacks) are located in the file they belong to.
    #[test]
    fn a_directory_of_mutated_files_is_located_per_file(
        a in prop::collection::vec(line_edit(), 0..3),
        b in prop::collection::vec(line_edit(), 0..3),
    ) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut written = Vec::new();
        for (name, edits) in [("a.yaml", &a), ("b.yml", &b)] {
            let path = dir.path().join(name);
            let bytes = apply_line_edits(&EXAMPLE, edits).into_bytes();
            std::fs::write(&path, &bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
            written.push((path, bytes));
        }
        match desired::load(&[dir.path().to_path_buf()]) {
            Ok(stacks) => prop_assert!(!stacks.is_empty()),
            Err(invalid) => {
                prop_assert!(!invalid.diagnostics.is_empty());
                for (path, bytes) in &written {
                    let mine: Vec<Diagnostic> = invalid
                        .diagnostics
                        .iter()
                        .filter(|d| &d.file == path)
                        .cloned()
                        .collect();
                    check_diagnostics(path, bytes, &mine)?;
                }
                prop_assert!(
                    invalid.diagnostics.iter().all(|d| written.iter().any(|(p, _)| p == &d.file)),
                    "an error names a file that was not read: {}",
                    invalid
                );
            }
        }
    }
}

#[test]
fn the_example_loads_unchanged_so_mutations_start_from_a_valid_document() {
    let diagnostics = check(EXAMPLE.as_bytes()).map_err(|e| e.to_string());
    assert_eq!(diagnostics, Ok(Vec::new()));
    // Every value of the example is a scalar the mutations can reach.
    assert!(
        values().iter().any(|s| s.line == 24),
        "databaseUrlSecretArn"
    );
}

/// Loading stays fast at the size limit: 1 MiB of valid documents (about 500 of them).
#[test]
fn a_file_at_the_size_limit_loads_in_bounded_time() {
    let mut text = String::new();
    let mut i = 0;
    loop {
        let doc = EXAMPLE
            .replace("name: demo", &format!("name: demo{i}"))
            .replace(
                "stackName: bedrock-image-chat",
                &format!("stackName: chat-{i}"),
            );
        if (text.len() + doc.len() + 4) as u64 > MAX_FILE_BYTES {
            break;
        }
        text.push_str(&doc);
        text.push_str("---\n");
        i += 1;
    }
    let started = std::time::Instant::now();
    let mut stacks = Vec::new();
    let mut diagnostics = Vec::new();
    desired::load_bytes(
        Path::new(FILE),
        text.as_bytes(),
        &mut stacks,
        &mut diagnostics,
    );
    let took = started.elapsed();
    assert_eq!(diagnostics, Vec::new());
    assert_eq!(stacks.len(), i);
    // Generous for a loaded debug build; a quadratic walk would take minutes.
    assert!(took < std::time::Duration::from_secs(20), "took {took:?}");
}

// Defects the properties found, each with its minimal input.

/// Not UTF-8 after a lone `\r`: the position was counted in bytes and `\n`s only, while
/// the YAML reader counts characters and `\r` as a line break (`[13, 128]` was 1:2 and is
/// 2:1); after `é` the column counted its two bytes.
#[test]
fn regression_not_utf8_is_located_as_the_yaml_reader_counts() {
    for (bytes, want) in [
        (
            &b"\r\x80"[..],
            "desired-state/input.yaml:2:1: not UTF-8 text",
        ),
        (
            &b"a: \xc3\xa9\xff"[..],
            "desired-state/input.yaml:1:5: not UTF-8 text",
        ),
    ] {
        let shown: Vec<String> = check(bytes)
            .map_err(|e| e.to_string())
            .iter()
            .flatten()
            .map(ToString::to_string)
            .collect();
        assert!(
            shown.len() == 1 && shown[0].starts_with(want),
            "{bytes:?}: want {want}, got {shown:?}"
        );
    }
}

/// yaml-rust2 places what it meets at the end of the text on a line after the last one:
/// an unfinished last key was reported at `4:1` of a three-line file, an empty key (`? `)
/// at `2:1` of a one-line file.
#[test]
fn regression_the_end_of_the_text_is_on_its_last_line() {
    for (text, want) in [
        (
            "a: b\nc: d\nx",
            "desired-state/input.yaml:3:2: invalid YAML",
        ),
        (
            "a: b\r\nc: d\r\nx",
            "desired-state/input.yaml:3:2: invalid YAML",
        ),
        ("? ", "desired-state/input.yaml:1:3: unknown field"),
    ] {
        let shown: Vec<String> = check(text.as_bytes())
            .map_err(|e| e.to_string())
            .iter()
            .flatten()
            .map(ToString::to_string)
            .collect();
        assert!(
            shown.iter().any(|s| s.starts_with(want)),
            "{text:?}: want {want}, got {shown:?}"
        );
    }
}

/// A NUL ended yaml-rust2's input: the example followed by `\0` and anything at all
/// (here a broken line) was valid, the rest of the file silently ignored.
#[test]
fn regression_text_after_a_nul_is_not_ignored() {
    let text = format!("{}\0unknownField: [[[ broken\n", *EXAMPLE);
    let shown: Vec<String> = check(text.as_bytes())
        .map_err(|e| e.to_string())
        .iter()
        .flatten()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        shown,
        vec![
            "desired-state/input.yaml:36:1: NUL character: a desired-state file must be YAML text"
        ]
    );
}
