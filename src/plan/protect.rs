//! Data protection: the stack policy that denies replacing or deleting what holds data,
//! and the memory of an update refused for it, so that it is not tried every pass.

use std::collections::BTreeMap;

use super::{Action, ActionKind, History, Plan};
use crate::observe::PolicyRead;
use crate::render::{RenderedStack, sha256_hex, stack_policy};

pub(super) fn set_policy(reason: &str) -> Action {
    Action {
        kind: ActionKind::SetStackPolicy {
            body: stack_policy(&[]),
        },
        reason: reason.to_string(),
    }
}

/// Whether a live policy body is the operator's, compared as JSON (AWS may return it
/// reformatted).
pub fn is_operators_policy(body: Option<&str>) -> bool {
    let want: Option<serde_json::Value> = serde_json::from_str(&stack_policy(&[])).ok();
    body.and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok()) == want
}

/// SetStackPolicy when the policy read in this pass is not the operator's.
pub(super) fn policy(read: &PolicyRead) -> Option<Action> {
    let PolicyRead::Read(live) = read else {
        return None;
    };
    match (live, is_operators_policy(live.as_deref())) {
        (_, true) => None,
        (None, _) => Some(set_policy(
            "the stack has no stack policy; the operator's denies replacing or deleting what holds data",
        )),
        (Some(_), false) => Some(set_policy(
            "the stack policy is not the operator's (changed by someone, or left allowing a change); restoring it",
        )),
    }
}

/// The digest an update is remembered by when it is refused.
pub(super) fn update_digest(
    desired: &RenderedStack,
    tags: &BTreeMap<String, String>,
    allow: &[String],
) -> String {
    let key = serde_json::json!([desired.parameters, tags, desired.template_sha256, allow]);
    sha256_hex(key.to_string().as_bytes())
}

/// An update refused earlier for losing data is not tried again: the stack is blocked
/// with the same reason until the document changes (another digest).
pub(super) fn refused_before(plan: &mut Plan, history: &History) {
    let Some((digest, why)) = &history.refused_update else {
        return;
    };
    let refused = plan
        .actions
        .iter()
        .position(|a| matches!(&a.kind, ActionKind::UpdateStack { digest: d, .. } if d == digest));
    if let Some(i) = refused {
        plan.actions.remove(i);
        plan.blocked = Some(format!(
            "{why} (refused earlier; it is tried again when the document changes)"
        ));
    }
}

/// What in a change set would lose data that the document does not allow, as
/// `logicalId (type, why)`.
pub fn data_loss(
    changes: &[super::changes::ResourceChange],
    allow: &[String],
) -> (Vec<String>, Vec<String>) {
    let mut refused = Vec::new();
    let mut allowed = Vec::new();
    for c in changes.iter().filter(|c| c.stateful && c.destructive()) {
        let what = match c.replacement.as_deref() {
            Some(r) if c.action == "Modify" => format!("Replacement {r}"),
            _ => c.action.clone(),
        };
        let line = format!("{} ({}, {what})", c.logical_id, c.resource_type);
        if allow.contains(&c.logical_id) {
            allowed.push(line);
        } else {
            refused.push(line);
        }
    }
    (refused, allowed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::changes::ResourceChange;

    #[test]
    fn a_missing_or_foreign_policy_is_set_and_the_operators_is_left() {
        assert!(policy(&PolicyRead::NotRead).is_none());
        assert!(policy(&PolicyRead::Read(Some(stack_policy(&[])))).is_none());
        let missing = policy(&PolicyRead::Read(None)).unwrap();
        assert!(missing.reason.contains("no stack policy"));
        let open = policy(&PolicyRead::Read(Some(stack_policy(&["EFSFileSystem"])))).unwrap();
        assert!(open.reason.contains("restoring"));
    }

    #[test]
    fn data_loss_splits_refused_and_allowed() {
        let rc = |id: &str, r: &str| {
            ResourceChange::new("Modify", id, "T", None, Some(r.into()), vec![])
        };
        let changes = [
            rc("EFSFileSystem", "True"),
            rc("LiteLLMMasterKey", "Conditional"),
            rc("LogGroup", "True"),
            rc("BackupVault", "False"),
        ];
        let (refused, allowed) = data_loss(&changes, &["LiteLLMMasterKey".into()]);
        assert_eq!(refused, ["EFSFileSystem (T, Replacement True)"]);
        assert_eq!(allowed, ["LiteLLMMasterKey (T, Replacement Conditional)"]);
    }
}

#[cfg(test)]
mod refused {
    use super::*;
    use crate::plan::Action;

    fn plan_with(digest: &str) -> Plan {
        Plan {
            name: "prod".into(),
            stack_name: "chat".into(),
            region: "us-west-2".into(),
            actions: vec![Action {
                kind: ActionKind::UpdateStack {
                    parameters: BTreeMap::new(),
                    tags: BTreeMap::new(),
                    changes: vec![],
                    allow_data_loss: vec![],
                    digest: digest.into(),
                },
                reason: "parameters differ (ProjectName)".into(),
            }],
            waiting: None,
            blocked: None,
            drift: Default::default(),
            problems: vec![],
            notes: vec![],
            resource_changes: None,
        }
    }

    #[test]
    fn a_refused_update_is_not_tried_again_until_the_document_changes() {
        let history = History {
            refused_update: Some(("abc".into(), "would replace EFSFileSystem".into())),
            ..History::default()
        };
        let mut same = plan_with("abc");
        refused_before(&mut same, &history);
        assert!(same.actions.is_empty());
        assert!(
            same.blocked
                .unwrap()
                .contains("would replace EFSFileSystem")
        );
        let mut other = plan_with("def");
        refused_before(&mut other, &history);
        assert_eq!(other.actions.len(), 1);
        assert!(other.blocked.is_none());
    }
}
