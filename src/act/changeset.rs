//! Change sets: created, waited for until CloudFormation has computed them, and either
//! executed (`stack`) or read and deleted (`plan --changes`, `preview`).

use std::collections::BTreeMap;
use std::time::Instant;

use aws_sdk_cloudformation::types::{Capability, ChangeSetStatus, ChangeSetType, Parameter, Tag};

use crate::aws::{self, Clients};
use crate::chart;
use crate::context::Context;
use crate::plan::changes::{ResourceChange, ResourceChanges};
use crate::plan::{ActionKind, Plan};
use crate::{Error, Result};

/// What a change set is made of.
pub(super) struct ChangeSetSpec<'a> {
    pub stack: &'a str,
    pub kind: ChangeSetType,
    pub parameters: &'a BTreeMap<String, String>,
    pub tags: &'a BTreeMap<String, String>,
    pub reason: &'a str,
}

/// A computed change set, ready to execute or read.
pub(super) struct ChangeSet {
    pub id: String,
    pub name: String,
}

/// Creates the change set and waits until CloudFormation has computed it. `None`: it
/// held no changes (it is deleted then: the stack is already as desired).
pub(super) async fn create(
    ctx: &Context,
    clients: &Clients,
    spec: &ChangeSetSpec<'_>,
) -> Result<Option<ChangeSet>> {
    let cfn = &clients.cloudformation;
    let stack = spec.stack;
    let template = chart::stack_template()?;
    let name = format!(
        "bco-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default()
    );
    let description: String = format!("bedrock-chat-operator: {}", spec.reason)
        .chars()
        .take(1024)
        .collect();
    // The change set's name doubles as the idempotency token of both calls: when an
    // answer is lost (a reset connection) the SDK's retry repeats the request, and the
    // token lets CloudFormation recognise the repeat instead of refusing it as a
    // duplicate (AlreadyExists, InvalidChangeSetStatus) and failing the pass; see
    // docs/RELIABILITY.md.
    let mut req = cfn
        .create_change_set()
        .stack_name(stack)
        .change_set_name(&name)
        .client_token(&name)
        .change_set_type(spec.kind.clone())
        .template_body(&template.body)
        .capabilities(Capability::CapabilityIam)
        .capabilities(Capability::CapabilityNamedIam)
        .description(description)
        .set_parameters(Some(
            spec.parameters
                .iter()
                .map(|(k, v)| {
                    Parameter::builder()
                        .parameter_key(k)
                        .parameter_value(v)
                        .build()
                })
                .collect(),
        ))
        .set_tags(Some(
            spec.tags
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect(),
        ));
    if let Some(role) = &ctx.settings.cfn_role_arn {
        req = req.role_arn(role);
    }
    let created = req
        .send()
        .await
        .map_err(|e| aws::error("CloudFormation", "CreateChangeSet", stack, e))?;
    let id = created.id().unwrap_or(&name).to_string();

    let started = Instant::now();
    loop {
        let cs = match cfn
            .describe_change_set()
            .change_set_name(&id)
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| aws::error("CloudFormation", "DescribeChangeSet", stack, e))
        {
            Ok(cs) => cs,
            // As for the stack wait: one failed poll does not end the wait.
            Err(e) if e.is_retriable() && started.elapsed() <= ctx.settings.changeset_timeout => {
                tracing::warn!(stack, error = %e, "could not read the change set; still waiting");
                tokio::time::sleep(ctx.settings.poll_interval).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        match cs.status() {
            Some(ChangeSetStatus::CreateComplete) => {
                tracing::info!(stack, change_set = %name, changes = cs.changes().len(), "change set ready");
                return Ok(Some(ChangeSet { id, name }));
            }
            Some(ChangeSetStatus::Failed) => {
                let why = cs.status_reason().unwrap_or("no reason given").to_string();
                // A change set is only refused as empty when nothing differs: then the
                // stack is already as desired.
                let empty = why.contains("didn't contain changes")
                    || why.contains("No updates are to be performed");
                delete(clients, stack, &id).await?;
                if empty {
                    return Ok(None);
                }
                return Err(Error::StackFailed {
                    stack: stack.to_string(),
                    message: format!("change set {name} failed: {why}"),
                });
            }
            other => {
                if started.elapsed() > ctx.settings.changeset_timeout {
                    return Err(Error::Timeout {
                        what: format!("change set {name} of stack {stack}"),
                        state: other.map(|s| s.as_str().to_string()).unwrap_or_default(),
                        waited_secs: ctx.settings.changeset_timeout.as_secs(),
                    });
                }
            }
        }
        tokio::time::sleep(ctx.settings.poll_interval).await;
    }
}

pub(super) async fn delete(clients: &Clients, stack: &str, id: &str) -> Result<()> {
    clients
        .cloudformation
        .delete_change_set()
        .change_set_name(id)
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| aws::error("CloudFormation", "DeleteChangeSet", stack, e))?;
    Ok(())
}

/// Every resource change of a computed change set, all pages.
pub(super) async fn read_changes(
    clients: &Clients,
    stack: &str,
    id: &str,
) -> Result<Vec<ResourceChange>> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = clients
            .cloudformation
            .describe_change_set()
            .change_set_name(id)
            .stack_name(stack)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| aws::error("CloudFormation", "DescribeChangeSet", stack, e))?;
        for rc in page.changes().iter().filter_map(|c| c.resource_change()) {
            out.push(ResourceChange::new(
                rc.action().map(|a| a.as_str()).unwrap_or("Unknown"),
                rc.logical_resource_id().unwrap_or_default(),
                rc.resource_type().unwrap_or_default(),
                rc.physical_resource_id().map(str::to_string),
                rc.replacement().map(|r| r.as_str().to_string()),
                rc.scope().iter().map(|s| s.as_str().to_string()).collect(),
            ));
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => return Ok(out),
        }
    }
}

/// The resource-level changes of the plan's stack action, if it has one: for an update,
/// from a change set created for it and deleted after reading (it is never executed);
/// for a create, the template's resources. `None`: the plan changes no stack.
pub async fn preview(
    plan: &Plan,
    ctx: &Context,
    clients: &Clients,
) -> Result<Option<ResourceChanges>> {
    let stack = plan.stack_name.as_str();
    for action in &plan.actions {
        match &action.kind {
            ActionKind::CreateStack { .. } => {
                let template: serde_json::Value =
                    serde_json::from_str(&chart::stack_template()?.body).map_err(|e| {
                        Error::Internal(format!("the stack template is not JSON: {e}"))
                    })?;
                return Ok(Some(ResourceChanges::NewStack {
                    changes: crate::plan::changes::template_additions(&template),
                }));
            }
            ActionKind::UpdateStack {
                parameters, tags, ..
            } => {
                let spec = ChangeSetSpec {
                    stack,
                    kind: ChangeSetType::Update,
                    parameters,
                    tags,
                    reason: &format!("preview for plan --changes ({})", action.reason),
                };
                let Some(cs) = create(ctx, clients, &spec).await? else {
                    return Ok(Some(ResourceChanges::ChangeSet {
                        change_set: "(empty, deleted)".into(),
                        changes: Vec::new(),
                    }));
                };
                // Deleted whatever the read gives: a preview left behind could be
                // executed by someone by mistake.
                let changes = read_changes(clients, stack, &cs.id).await;
                delete(clients, stack, &cs.id).await?;
                tracing::info!(stack, change_set = %cs.name, "preview change set read and deleted");
                return Ok(Some(ResourceChanges::ChangeSet {
                    change_set: cs.name,
                    changes: changes?,
                }));
            }
            _ => {}
        }
    }
    Ok(None)
}
