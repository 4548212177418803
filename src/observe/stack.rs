//! The CloudFormation stack: one DescribeStacks call; its policy, when asked for.

use super::LiveStack;
use crate::Result;
use crate::aws::{self, Clients};

/// The stack named `name`, or `None` when there is none (DescribeStacks by name never
/// returns deleted stacks).
pub async fn describe_stack(clients: &Clients, name: &str) -> Result<Option<LiveStack>> {
    let out = match clients
        .cloudformation
        .describe_stacks()
        .stack_name(name)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) if aws::is_missing_stack(&e) => return Ok(None),
        Err(e) => return Err(aws::error("CloudFormation", "DescribeStacks", name, e)),
    };
    let Some(s) = out.stacks().first() else {
        return Ok(None);
    };
    let pairs = |items: Vec<(Option<&str>, Option<&str>)>| {
        items
            .into_iter()
            .filter_map(|(k, v)| Some((k?.to_string(), v.unwrap_or_default().to_string())))
            .collect()
    };
    let changed = s.last_updated_time().or(s.creation_time());
    Ok(Some(LiveStack {
        id: s.stack_id().unwrap_or_default().to_string(),
        status: s
            .stack_status()
            .map(|st| st.as_str().to_string())
            .unwrap_or_default(),
        status_reason: s.stack_status_reason().map(str::to_string),
        parameters: pairs(
            s.parameters()
                .iter()
                .map(|p| (p.parameter_key(), p.parameter_value()))
                .collect(),
        ),
        outputs: pairs(
            s.outputs()
                .iter()
                .map(|o| (o.output_key(), o.output_value()))
                .collect(),
        ),
        tags: pairs(s.tags().iter().map(|t| (t.key(), t.value())).collect()),
        termination_protection: s.enable_termination_protection().unwrap_or(false),
        last_changed: changed.map(|t| t.to_string()).unwrap_or_default(),
    }))
}

/// The stack's policy body (`None`: it has none).
pub async fn stack_policy(clients: &Clients, name: &str) -> Result<Option<String>> {
    let out = clients
        .cloudformation
        .get_stack_policy()
        .stack_name(name)
        .send()
        .await
        .map_err(|e| aws::error("CloudFormation", "GetStackPolicy", name, e))?;
    Ok(out
        .stack_policy_body()
        .filter(|b| !b.trim().is_empty())
        .map(str::to_string))
}

/// A stack this operator created (its managed-by tag), as a listing sees it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedStack {
    pub stack_name: String,
    /// The desired-state document that last managed it (its name tag).
    pub document: Option<String>,
}

/// Every live stack of the region that carries the operator's managed-by tag (all pages
/// of DescribeStacks, which lists no deleted stack).
pub async fn managed_stacks(clients: &Clients) -> Result<Vec<ManagedStack>> {
    use crate::names::{MANAGED_BY, TAG_MANAGED_BY, TAG_NAME};
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = clients
            .cloudformation
            .describe_stacks()
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| aws::error("CloudFormation", "DescribeStacks", "(all stacks)", e))?;
        for s in page.stacks() {
            let tag = |key: &str| {
                s.tags()
                    .iter()
                    .find(|t| t.key() == Some(key))
                    .and_then(|t| t.value())
            };
            if tag(TAG_MANAGED_BY) == Some(MANAGED_BY) {
                out.push(ManagedStack {
                    stack_name: s.stack_name().unwrap_or_default().to_string(),
                    document: tag(TAG_NAME).map(str::to_string),
                });
            }
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => return Ok(out),
        }
    }
}
