//! The plan as a pull-request comment: what replaces or deletes first, then each stack's
//! actions, parameter and owned-field changes, resource changes, drift and health. Kept
//! under GitHub's 65,536-character comment limit, with a note when cut. Every value is
//! escaped: desired-state text and AWS messages are user input to a Markdown renderer.

use std::fmt::Write;

use super::document::{PlanDocument, StackPlan};
use crate::observe::Drift;
use crate::plan::Change;
use crate::plan::changes::ResourceChanges;

/// GitHub's limit on a comment body, in characters.
pub const COMMENT_LIMIT: usize = 65_536;
/// Room kept for the truncation note.
const NOTE_ROOM: usize = 400;

pub fn render(doc: &PlanDocument) -> String {
    render_within(doc, COMMENT_LIMIT)
}

/// The comment, cut at a block boundary so that it stays under `limit` characters.
fn render_within(doc: &PlanDocument, limit: usize) -> String {
    let blocks = blocks(doc);
    let total = blocks.len();
    let mut out = String::new();
    let mut used = 0;
    for (shown, block) in blocks.into_iter().enumerate() {
        let len = block.chars().count();
        if used + len + NOTE_ROOM > limit {
            let _ = write!(
                out,
                "\n> **Truncated**: {} of {total} sections shown, to stay under GitHub's \
                 {COMMENT_LIMIT}-character comment limit. The whole plan: \
                 `bedrock-chat-operator plan --output json`.\n",
                shown
            );
            return out;
        }
        used += len;
        out.push_str(&block);
    }
    out
}

/// The comment's blocks, in order: a header, the destructive changes, then per stack.
fn blocks(doc: &PlanDocument) -> Vec<String> {
    let s = &doc.summary;
    let mut header = String::from("## bedrock-chat-operator plan\n\n");
    let _ = writeln!(
        header,
        "**{} stack{}**: {} with changes, {} in sync, {} waiting, {} drifted, {} blocked, {} failed · exit code {} ({}) · operator {} · planVersion {}\n",
        s.stacks,
        if s.stacks == 1 { "" } else { "s" },
        s.with_changes,
        s.in_sync,
        s.waiting,
        s.drifted,
        s.blocked,
        s.failed,
        doc.exit_code,
        match doc.exit_code {
            0 => "in sync",
            2 => "changes pending",
            _ => "failed or blocked",
        },
        doc.operator_version,
        doc.plan_version,
    );
    let mut blocks = vec![header, destructive(doc)];
    for stack in &doc.stacks {
        blocks.extend(stack_blocks(stack, doc.resource_changes_computed));
    }
    blocks.push(orphans(doc));
    blocks.retain(|b| !b.is_empty());
    blocks
}

/// What would replace or delete something, across stacks: read before anything else.
fn destructive(doc: &PlanDocument) -> String {
    let mut rows = String::new();
    for st in &doc.stacks {
        for a in st.actions.iter().filter(|a| a.destructive) {
            let _ = writeln!(
                rows,
                "| {} | {} | operator action | {} | no |",
                esc(st.name),
                esc(a.kind),
                esc(a.reason)
            );
        }
        let Some(rc) = st.resource_changes else {
            continue;
        };
        for c in rc.changes().iter().filter(|c| c.destructive()) {
            let what = match c.replacement.as_deref() {
                Some(r) if c.action == "Modify" => format!("replacement: {r}"),
                _ => c.action.clone(),
            };
            let _ = writeln!(
                rows,
                "| {} | {} | {} | {} | {} |",
                esc(st.name),
                esc(&c.logical_id),
                esc(&c.resource_type),
                esc(&what),
                if c.stateful { "**yes**" } else { "no" }
            );
        }
    }
    let mut out = String::new();
    if !rows.is_empty() {
        out.push_str("### ⚠️ Replaces or deletes — review first\n\n");
        out.push_str("| Stack | What | Type | Change | Holds data |\n|---|---|---|---|---|\n");
        out.push_str(&rows);
        out.push('\n');
    }
    let updates = doc.stacks.iter().any(StackPlan::updates_stack);
    if updates && !doc.resource_changes_computed {
        out.push_str(
            "> Resource-level replacements were not computed; `plan --changes` lists them \
             (it creates a temporary change set and deletes it).\n\n",
        );
    }
    out
}

/// Stacks no document names any more: said, never touched.
fn orphans(doc: &PlanDocument) -> String {
    let mut out = String::new();
    if !doc.orphaned.is_empty() {
        out.push_str("### Orphaned — left as they are\n\n| Stack | Region | Last document |\n|---|---|---|\n");
        for o in doc.orphaned {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                esc(&o.stack_name),
                esc(&o.region),
                esc(o.document.as_deref().unwrap_or(""))
            );
        }
        out.push('\n');
    }
    for u in doc.orphans_unchecked {
        let _ = writeln!(out, "- note: orphaned stacks not checked in {}", esc(u));
    }
    out
}

fn stack_blocks(st: &StackPlan, computed: bool) -> Vec<String> {
    let mut head = String::new();
    let n = st.actions.len();
    let status = match st.status {
        Some(crate::plan::PlanStatus::ChangesPending) => {
            format!("{n} change{}", if n == 1 { "" } else { "s" })
        }
        _ => format!("{:?}", st.outcome),
    };
    let _ = writeln!(
        head,
        "### `{}` — {} in {}: {}\n",
        code(st.name),
        esc(st.stack_name.unwrap_or("?")),
        esc(st.region.unwrap_or("?")),
        esc(&status)
    );
    if let Some(e) = st.error {
        let _ = writeln!(head, "**Error**: {}\n", esc(e));
    }
    if let Some(b) = st.blocked {
        let _ = writeln!(head, "**Blocked**: {}\n", esc(b));
    }
    for p in st.problems {
        let _ = writeln!(head, "- ❗ {}", esc(p));
    }
    if let Some(w) = st.waiting {
        let _ = writeln!(head, "**Waiting**: {}\n", esc(w));
    }
    if !st.actions.is_empty() {
        head.push_str("| | Action | Why |\n|---|---|---|\n");
        for a in &st.actions {
            let sign = if a.destructive { "−" } else { "~" };
            let _ = writeln!(head, "| {sign} | {} | {} |", esc(a.kind), esc(a.reason));
        }
        head.push('\n');
    }
    let mut blocks = vec![head];
    blocks.push(changes_table("Parameters", &st.parameter_changes));
    blocks.push(changes_table("Owned fields", &st.owned_field_changes));
    if let Some(rc) = st.resource_changes {
        blocks.push(resource_table(rc));
    } else if computed && st.updates_stack() {
        blocks.push("Resource changes: none read.\n\n".into());
    }
    blocks.push(drift_and_health(st));
    blocks
}

fn changes_table(title: &str, changes: &[Change]) -> String {
    if changes.is_empty() {
        return String::new();
    }
    let mut out = format!("**{title}**\n\n| Key | From | To |\n|---|---|---|\n");
    let show = |v: &Option<String>| match v {
        None => "_(none)_".to_string(),
        Some(s) if s.is_empty() => "\"\"".to_string(),
        Some(s) => esc(s),
    };
    for c in changes {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            esc(&c.key),
            show(&c.from),
            show(&c.to)
        );
    }
    out.push('\n');
    out
}

fn resource_table(rc: &ResourceChanges) -> String {
    let changes = rc.changes();
    let source = match rc {
        ResourceChanges::ChangeSet { change_set, .. } => {
            format!("change set {}, deleted after reading", esc(change_set))
        }
        ResourceChanges::NewStack { .. } => "a new stack".to_string(),
    };
    let mut out = format!(
        "<details><summary>Resource changes: {} ({source})</summary>\n\n",
        changes.len()
    );
    out.push_str("| Action | Resource | Type | Replacement | Scope |\n|---|---|---|---|---|\n");
    for c in changes {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            esc(&c.action),
            esc(&c.logical_id),
            esc(&c.resource_type),
            esc(c.replacement.as_deref().unwrap_or("")),
            esc(&c.scope.join(", "))
        );
    }
    out.push_str("\n</details>\n\n");
    out
}

fn drift_and_health(st: &StackPlan) -> String {
    let mut out = String::new();
    match st.drift {
        Some(Drift::InSync { .. }) => out.push_str("**Drift**: none\n\n"),
        Some(Drift::Unavailable { reason }) => {
            let _ = writeln!(out, "**Drift**: not checked ({})\n", esc(reason));
        }
        Some(d @ (Drift::Drifted { .. } | Drift::Incomplete { .. })) => {
            let _ = writeln!(
                out,
                "**Drift**: {} resource(s) differ from the template\n",
                d.drifted().len()
            );
            for r in d.drifted() {
                let _ = writeln!(
                    out,
                    "- {} {} {} {}",
                    esc(&r.logical_id),
                    esc(&r.resource_type),
                    esc(&r.status),
                    esc(&r.properties.join(", "))
                );
            }
            out.push('\n');
        }
        Some(Drift::NotChecked) | None => {}
    }
    if let Some(h) = st.health {
        out.push_str("| Component | Health | Reason | Message |\n|---|---|---|---|\n");
        for c in &h.components {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                esc(c.name),
                c.status.label(),
                esc(&c.reason),
                esc(&c.message)
            );
        }
        out.push('\n');
    }
    for n in st.notes {
        let _ = writeln!(out, "- note: {}", esc(n));
    }
    if !st.notes.is_empty() {
        out.push('\n');
    }
    out
}

/// Text safe in a table cell and in running text: HTML's special characters as entities
/// (GitHub renders inline HTML), Markdown's as backslash escapes, lines joined.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' | '\r' => out.push(' '),
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '~' => {
                out.push('\\');
                out.push(ch);
            }
            c => out.push(c),
        }
    }
    out
}

/// Text inside a code span: backticks cannot be escaped there, so they go.
fn code(s: &str) -> String {
    s.replace('`', "'")
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::document::{ActionPlan, Summary};
    use crate::controller::Outcome;
    use crate::plan::PlanStatus;
    use crate::plan::changes::ResourceChange;

    fn stack<'a>(name: &'a str, rc: Option<&'a ResourceChanges>) -> StackPlan<'a> {
        StackPlan {
            name,
            stack_name: Some("chat"),
            region: Some("us-west-2"),
            outcome: Outcome::Pending,
            status: Some(PlanStatus::ChangesPending),
            actions: vec![ActionPlan {
                kind: "UpdateStack",
                concern: "stack",
                reason: "parameters differ (DeploymentSize)",
                destructive: false,
            }],
            parameter_changes: vec![Change {
                key: "DeploymentSize".into(),
                from: Some("small".into()),
                to: Some("medium".into()),
            }],
            owned_field_changes: vec![],
            resource_changes: rc,
            drift: None,
            health: None,
            waiting: None,
            blocked: None,
            problems: &[],
            notes: &[],
            error: None,
        }
    }

    fn doc<'a>(stacks: Vec<StackPlan<'a>>) -> PlanDocument<'a> {
        PlanDocument {
            plan_version: 1,
            operator_version: "0.1.0",
            generated_at: "2026-12-01T00:00:00Z".into(),
            exit_code: 2,
            resource_changes_computed: true,
            summary: Summary {
                stacks: stacks.len(),
                ..Summary::default()
            },
            stacks,
            orphaned: &[],
            orphans_unchecked: &[],
        }
    }

    #[test]
    fn replacing_a_stateful_resource_comes_before_everything_else() {
        let rc = ResourceChanges::ChangeSet {
            change_set: "bco-1".into(),
            changes: vec![
                ResourceChange::new(
                    "Modify",
                    "LogGroup",
                    "AWS::Logs::LogGroup",
                    None,
                    Some("False".into()),
                    vec![],
                ),
                ResourceChange::new(
                    "Modify",
                    "EFSFileSystem",
                    "AWS::EFS::FileSystem",
                    None,
                    Some("True".into()),
                    vec!["Properties".into()],
                ),
            ],
        };
        let text = render(&doc(vec![stack("demo", Some(&rc))]));
        let warn = text
            .find("Replaces or deletes")
            .expect("a destructive section");
        let stack_at = text.find("### `demo`").unwrap();
        assert!(warn < stack_at, "{text}");
        assert!(
            text.contains(
                "| demo | EFSFileSystem | AWS::EFS::FileSystem | replacement: True | **yes** |"
            ),
            "{text}"
        );
        assert!(!text[..stack_at].contains("LogGroup"), "{text}");
        assert!(text.contains("| DeploymentSize | small | medium |"));
    }

    #[test]
    fn a_long_plan_is_cut_under_the_limit_with_a_note() {
        let names: Vec<String> = (0..400).map(|i| format!("stack-{i}")).collect();
        let d = doc(names.iter().map(|n| stack(n, None)).collect());
        let full = render_within(&d, usize::MAX);
        assert!(full.chars().count() > 20_000);
        let cut = render_within(&d, 20_000);
        assert!(cut.chars().count() <= 20_000);
        assert!(cut.contains("**Truncated**"), "{cut}");
        assert!(cut.contains("stack-0") && !cut.contains("stack-399"));
        // The real limit holds for the same plan too.
        assert!(render(&d).chars().count() <= COMMENT_LIMIT);
    }

    #[test]
    fn escapes_html_and_markdown() {
        assert_eq!(
            esc("<script>alert(1)</script> a|b *x*"),
            "&lt;script&gt;alert(1)&lt;/script&gt; a\\|b \\*x\\*"
        );
        assert_eq!(esc("two\nlines"), "two lines");
    }
}
