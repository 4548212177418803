//! The stack as the operator wants it: name, region, every parameter, the template's
//! hash and the ownership tags. The planner compares this with what it observed.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::chart;
use crate::desired::{ImageChatStack, Policy};

/// Prefix of every tag the operator writes: its own, to compare and to replace; all
/// other tags on a stack belong to people and are kept.
pub const TAG_PREFIX: &str = "bedrock-chat-operator/";
/// Marks stacks the operator created; it changes no stack without it (unless adopting).
pub const TAG_MANAGED_BY: &str = "bedrock-chat-operator/managed-by";
pub const MANAGED_BY: &str = "bedrock-chat-operator";
/// The desired-state document that manages the stack, so two documents (or two
/// operators' repositories) never fight over one stack.
pub const TAG_NAME: &str = "bedrock-chat-operator/name";
/// sha256 of the template body deployed.
pub const TAG_TEMPLATE: &str = "bedrock-chat-operator/template-sha256";

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
    pub fn new(doc: &ImageChatStack) -> Result<Self, &'static str> {
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
            policy: doc.spec.policy,
        })
    }
}
