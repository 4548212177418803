//! What a plan changes, field by field and resource by resource: the owned-field and
//! parameter changes each action carries, CloudFormation's resource-level changes (from a
//! preview change set), and which of them would replace or delete data.

use serde::Serialize;

use super::{ActionKind, App, Change};

pub use crate::chart::STATEFUL_RESOURCES;

/// CloudFormation's verdict on one resource of a change set (`ResourceChange`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceChange {
    /// `Add`, `Modify`, `Remove`, `Import`, `Dynamic` (ChangeAction).
    pub action: String,
    pub logical_id: String,
    pub resource_type: String,
    pub physical_id: Option<String>,
    /// `True`, `False` or `Conditional`; only for `Modify`.
    pub replacement: Option<String>,
    /// What the change touches: `Properties`, `Tags`, … (ResourceAttribute).
    pub scope: Vec<String>,
    /// One of `STATEFUL_RESOURCES`.
    pub stateful: bool,
}

impl ResourceChange {
    pub fn new(
        action: &str,
        logical_id: &str,
        resource_type: &str,
        physical_id: Option<String>,
        replacement: Option<String>,
        scope: Vec<String>,
    ) -> Self {
        ResourceChange {
            action: action.to_string(),
            logical_id: logical_id.to_string(),
            resource_type: resource_type.to_string(),
            physical_id,
            replacement,
            scope,
            stateful: STATEFUL_RESOURCES.contains(&logical_id),
        }
    }

    /// A removal, or a replacement CloudFormation is sure of or may decide on at run
    /// time (`Conditional`): the resource's data does not survive either.
    pub fn destructive(&self) -> bool {
        self.action == "Remove"
            || matches!(self.replacement.as_deref(), Some("True" | "Conditional"))
    }
}

/// Where a plan's resource-level changes come from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "source"
)]
pub enum ResourceChanges {
    /// A change set created to preview the update, then deleted.
    ChangeSet {
        change_set: String,
        changes: Vec<ResourceChange>,
    },
    /// A stack to be created adds every resource of its template. No change set is made
    /// for it: a CREATE change set makes the stack exist (REVIEW_IN_PROGRESS, with no
    /// template) until the stack itself is deleted.
    NewStack { changes: Vec<ResourceChange> },
}

impl ResourceChanges {
    pub fn changes(&self) -> &[ResourceChange] {
        match self {
            ResourceChanges::ChangeSet { changes, .. } | ResourceChanges::NewStack { changes } => {
                changes
            }
        }
    }
}

/// Every resource of a template as an `Add`, in the template's order.
pub fn template_additions(template: &serde_json::Value) -> Vec<ResourceChange> {
    let Some(resources) = template.get("Resources").and_then(|r| r.as_object()) else {
        return Vec::new();
    };
    resources
        .iter()
        .map(|(id, r)| {
            let kind = r.get("Type").and_then(|t| t.as_str()).unwrap_or("?");
            let mut scope = Vec::new();
            // A resource under a condition is added only when the condition holds.
            if let Some(c) = r.get("Condition").and_then(|c| c.as_str()) {
                scope.push(format!("Condition {c}"));
            }
            ResourceChange::new("Add", id, kind, None, None, scope)
        })
        .collect()
}

impl ActionKind {
    /// The parameters of the stack this action changes (all of them for a create).
    pub fn parameter_changes(&self) -> Vec<Change> {
        match self {
            ActionKind::CreateStack { parameters, .. } => parameters
                .iter()
                .map(|(k, v)| Change {
                    key: k.clone(),
                    from: None,
                    to: Some(v.clone()),
                })
                .collect(),
            ActionKind::UpdateStack { changes, .. } => changes.clone(),
            _ => Vec::new(),
        }
    }

    /// The owned fields (outside the template) this action changes, named as in the
    /// desired-state document.
    pub fn owned_field_changes(&self) -> Vec<Change> {
        use ActionKind::*;
        let change = |key: &str, from: Option<String>, to: Option<String>| Change {
            key: key.to_string(),
            from,
            to,
        };
        let app_name = |app: &App| match app {
            App::OpenWebUi => "openWebUI",
            App::LiteLlm => "liteLLM",
        };
        match self {
            SetDesiredCount { app, from, to, .. } => vec![change(
                &format!("{}.desiredCount", app_name(app)),
                Some(from.to_string()),
                Some(to.to_string()),
            )],
            RegisterScalableTarget {
                resource_id,
                min,
                max,
                from,
            } => vec![change(
                &format!("autoscaling[{resource_id}].minMax"),
                from.map(|(a, b)| format!("{a}..{b}")),
                Some(format!("{min}..{max}")),
            )],
            PutCpuScalingPolicy {
                resource_id,
                target,
                from,
            } => vec![change(
                &format!("autoscaling[{resource_id}].cpuTarget"),
                from.map(|f| f.to_string()),
                Some(target.to_string()),
            )],
            DeregisterScalableTarget { resource_id } => vec![change(
                &format!("autoscaling[{resource_id}]"),
                Some("registered".into()),
                None,
            )],
            PushModelConfig(p) | RestoreModelConfig(p) => vec![change(
                "models (LiteLLM config sha256)",
                p.from.clone(),
                Some(p.sha256.clone()),
            )],
            RedeployLiteLlm { sha256, from, .. } => vec![change(
                "liteLLM.loadedConfig",
                from.clone(),
                Some(sha256.clone()),
            )],
            CreateBackupPlan { plan_sha256, .. } => {
                vec![change("backup.plan", None, Some(plan_sha256.clone()))]
            }
            UpdateBackupPlan { changes, .. } => changes
                .iter()
                .map(|c| Change {
                    key: format!("backup.{}", c.key),
                    ..c.clone()
                })
                .collect(),
            ReplaceBackupSelections { delete, create, .. } => vec![change(
                "backup.selection",
                (!delete.is_empty()).then(|| format!("{} selection(s)", delete.len())),
                create
                    .as_ref()
                    .map(|_| "the stack's file system".to_string()),
            )],
            CreateStack { .. }
            | UpdateStack { .. }
            | EnableTerminationProtection
            | SetStackPolicy { .. }
            | ContinueUpdateRollback { .. }
            | DeleteFailedStack { .. } => Vec::new(),
        }
    }

    /// Deletes something (a failed stack, a scaling registration): listed first in a
    /// review.
    pub fn destructive(&self) -> bool {
        matches!(
            self,
            ActionKind::DeleteFailedStack { .. } | ActionKind::DeregisterScalableTarget { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removals_and_possible_replacements_are_destructive() {
        let rc = |action: &str, replacement: Option<&str>| {
            ResourceChange::new(
                action,
                "EFSFileSystem",
                "AWS::EFS::FileSystem",
                None,
                replacement.map(str::to_string),
                vec![],
            )
        };
        assert!(rc("Remove", None).destructive());
        assert!(rc("Modify", Some("True")).destructive());
        assert!(rc("Modify", Some("Conditional")).destructive());
        assert!(!rc("Modify", Some("False")).destructive());
        assert!(!rc("Add", None).destructive());
        assert!(rc("Modify", None).stateful);
    }

    #[test]
    fn a_new_stack_adds_each_template_resource_and_says_which_are_conditional() {
        let t = serde_json::json!({"Resources": {
            "NatGateway": {"Type": "AWS::EC2::NatGateway", "Condition": "UseNat"},
            "EFSFileSystem": {"Type": "AWS::EFS::FileSystem"}
        }});
        let added = template_additions(&t);
        assert_eq!(added.len(), 2);
        let nat = added.iter().find(|c| c.logical_id == "NatGateway").unwrap();
        assert_eq!(nat.scope, ["Condition UseNat"]);
        assert!(added.iter().all(|c| c.action == "Add" && !c.destructive()));
        assert!(added.iter().any(|c| c.stateful));
    }

    #[test]
    fn owned_field_changes_name_the_document_field() {
        let a = ActionKind::SetDesiredCount {
            cluster: "c".into(),
            service: "s".into(),
            app: App::OpenWebUi,
            from: 1,
            to: 3,
        };
        assert_eq!(
            a.owned_field_changes()[0].to_string(),
            "openWebUI.desiredCount: 1 → 3"
        );
        assert!(a.parameter_changes().is_empty());
    }
}
