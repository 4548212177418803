//! The plan as a person reads it in a terminal: one line per action, its changes
//! indented, then what blocks, drift and notes.

use std::fmt;

use super::changes::ResourceChanges;
use super::{ActionKind, Plan, PlanStatus};
use crate::observe::Drift;

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.actions.len();
        let status = match self.status() {
            PlanStatus::InSync => "in sync".to_string(),
            PlanStatus::ChangesPending => format!("{n} change{}", if n == 1 { "" } else { "s" }),
            PlanStatus::Waiting => "waiting".to_string(),
            PlanStatus::Drifted => "drifted".to_string(),
            PlanStatus::Blocked => "blocked".to_string(),
        };
        writeln!(
            f,
            "stack {} ({} in {}): {status}",
            self.name, self.stack_name, self.region
        )?;
        for a in &self.actions {
            let sign = match &a.kind {
                ActionKind::CreateStack { .. } | ActionKind::CreateBackupPlan { .. } => "+",
                ActionKind::DeleteFailedStack { .. }
                | ActionKind::DeregisterScalableTarget { .. } => "-",
                _ => "~",
            };
            writeln!(f, "  {sign} {}: {}", a.kind.name(), a.reason)?;
            match &a.kind {
                ActionKind::UpdateStack { changes, .. }
                | ActionKind::UpdateBackupPlan { changes, .. } => {
                    for c in changes {
                        writeln!(f, "      {c}")?;
                    }
                }
                ActionKind::CreateStack { parameters, .. } => {
                    for (k, v) in parameters {
                        writeln!(f, "      {k} = {v:?}")?;
                    }
                }
                _ => {}
            }
        }
        if let Some(rc) = &self.resource_changes {
            write_resource_changes(f, rc)?;
        }
        if let Some(w) = &self.waiting {
            writeln!(f, "  … {w}")?;
        }
        if let Some(b) = &self.blocked {
            writeln!(f, "  ! blocked: {b}")?;
        }
        for p in &self.problems {
            writeln!(f, "  ! {p}")?;
        }
        for n in &self.notes {
            writeln!(f, "  note: {n}")?;
        }
        match &self.drift {
            Drift::NotChecked => {}
            Drift::InSync { .. } => writeln!(f, "  drift: none")?,
            Drift::Unavailable { reason } => writeln!(f, "  drift: not checked ({reason})")?,
            Drift::Incomplete { reason, .. } => writeln!(
                f,
                "  ! drift: not checked in full, some resources could not be read ({reason})"
            )?,
            Drift::Drifted { .. } => {}
        }
        let drifted = self.drift.drifted();
        if !drifted.is_empty() {
            writeln!(
                f,
                "  ! drift: {} resource(s) differ from the template (CloudFormation does not revert drift; recreate or update them):",
                drifted.len()
            )?;
            for r in drifted {
                let props = if r.properties.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", r.properties.join(", "))
                };
                writeln!(
                    f,
                    "      {} {} {}{props}",
                    r.logical_id, r.resource_type, r.status
                )?;
            }
        }
        for i in self.drift.ignored() {
            writeln!(
                f,
                "  drift ignored: {} {}: {}",
                i.logical_id, i.property, i.reason
            )?;
        }
        Ok(())
    }
}

fn write_resource_changes(f: &mut fmt::Formatter<'_>, rc: &ResourceChanges) -> fmt::Result {
    let changes = rc.changes();
    let source = match rc {
        ResourceChanges::ChangeSet { change_set, .. } => {
            format!("change set {change_set}, deleted after reading")
        }
        ResourceChanges::NewStack { .. } => "a new stack: every resource is added".to_string(),
    };
    writeln!(f, "  resource changes ({}; {source}):", changes.len())?;
    // Destructive ones first, so they are not missed in a long list.
    let ordered = changes
        .iter()
        .filter(|c| c.destructive())
        .chain(changes.iter().filter(|c| !c.destructive()));
    for c in ordered {
        let sign = match c.action.as_str() {
            "Add" => "+",
            "Remove" => "-",
            _ => "~",
        };
        let mut extra = Vec::new();
        if let Some(r) = &c.replacement {
            extra.push(format!("replacement: {r}"));
        }
        extra.extend(c.scope.iter().cloned());
        if c.stateful && c.destructive() {
            extra.push("HOLDS DATA".into());
        }
        let extra = if extra.is_empty() {
            String::new()
        } else {
            format!(" ({})", extra.join(", "))
        };
        writeln!(
            f,
            "      {sign} {} {}{extra}",
            c.logical_id, c.resource_type
        )?;
    }
    Ok(())
}
