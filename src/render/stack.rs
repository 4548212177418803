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
            policy: doc.spec.policy,
        })
    }
}
