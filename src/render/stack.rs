//! The stack as the operator wants it: name, region, every parameter, the template's
//! hash and the ownership tags. The planner compares this with what it observed.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::chart;
use crate::desired::{ImageChatStack, Policy};
use crate::names::{MANAGED_BY, TAG_MANAGED_BY, TAG_NAME, TAG_TEMPLATE};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RenderedStack {
    /// `metadata.name` of the document.
    pub name: String,
    pub stack_name: String,
    pub region: String,
    pub parameters: BTreeMap<String, String>,
    pub template_sha256: String,
    /// The operator's own tags (other tags on a stack are kept as they are).
    pub tags: BTreeMap<String, String>,
    pub policy: Policy,
}

impl RenderedStack {
    pub fn new(doc: &ImageChatStack) -> Result<Self, chart::BrokenTemplate> {
        let template = chart::stack_template()?;
        Ok(RenderedStack {
            name: doc.name.clone(),
            stack_name: doc.spec.stack_name.clone(),
            region: doc.spec.region.clone(),
            parameters: super::stack_parameters(&doc.spec)?,
            template_sha256: template.sha256.clone(),
            tags: BTreeMap::from([
                (TAG_MANAGED_BY.to_string(), MANAGED_BY.to_string()),
                (TAG_NAME.to_string(), doc.name.clone()),
                (TAG_TEMPLATE.to_string(), template.sha256.clone()),
            ]),
            policy: doc.spec.policy.clone(),
        })
    }
}

/// The stack policy the operator keeps on its stacks: every update allowed, except
/// replacing or deleting a resource that holds data (`chart::STATEFUL_RESOURCES`) other
/// than those in `allow`. Once a stack has a policy, what it does not allow is denied
/// ("Prevent updates to stack resources", AWS CloudFormation User Guide), hence the
/// first statement. Deterministic, so that the live policy compares as text.
pub fn stack_policy(allow: &[&str]) -> String {
    let protected: Vec<String> = chart::STATEFUL_RESOURCES
        .iter()
        .filter(|r| !allow.contains(r))
        .map(|r| format!("LogicalResourceId/{r}"))
        .collect();
    let mut statements = vec![serde_json::json!({
        "Effect": "Allow",
        "Action": "Update:*",
        "Principal": "*",
        "Resource": "*"
    })];
    if !protected.is_empty() {
        statements.push(serde_json::json!({
            "Effect": "Deny",
            "Action": ["Update:Replace", "Update:Delete"],
            "Principal": "*",
            "Resource": protected
        }));
    }
    serde_json::json!({ "Statement": statements }).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_policy_denies_replacing_data_except_what_is_allowed() {
        let full: serde_json::Value = serde_json::from_str(&super::stack_policy(&[])).unwrap();
        let denied = full["Statement"][1]["Resource"].as_array().unwrap();
        assert!(denied.contains(&"LogicalResourceId/EFSFileSystem".into()));
        assert_eq!(full["Statement"][1]["Effect"], "Deny");
        let some: serde_json::Value =
            serde_json::from_str(&super::stack_policy(&["EFSFileSystem"])).unwrap();
        let denied = some["Statement"][1]["Resource"].as_array().unwrap();
        assert!(!denied.contains(&"LogicalResourceId/EFSFileSystem".into()));
        assert!(denied.contains(&"LogicalResourceId/BackupVault".into()));
    }
}
