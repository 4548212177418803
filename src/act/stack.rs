//! Stack actions: change sets (create → wait → execute → wait, streaming every new
//! stack event as one log line), termination protection, rollback recovery.

use super::Effect;
use std::collections::HashSet;
use std::time::Instant;

use aws_sdk_cloudformation::types::{ChangeSetType, StackStatus};

use super::changeset::{self, ChangeSet, ChangeSetSpec};
use crate::aws::{self, Clients};
use crate::context::Context;
use crate::plan::{Action, ActionKind, Plan, history_key};
use crate::{Error, Result};

/// The statuses a finished operation may end in, success first.
fn is_success(status: &str) -> bool {
    matches!(
        status,
        "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "DELETE_COMPLETE"
    )
}

pub(super) async fn execute(
    action: &Action,
    plan: &Plan,
    ctx: &Context,
    clients: &Clients,
) -> Result<Effect> {
    let stack = plan.stack_name.as_str();
    let cfn = &clients.cloudformation;
    match &action.kind {
        ActionKind::CreateStack { parameters, tags } => {
            let spec = ChangeSetSpec {
                stack,
                kind: ChangeSetType::Create,
                parameters,
                tags,
                reason: &action.reason,
            };
            change_set(ctx, clients, plan, &spec, None).await
        }
        ActionKind::UpdateStack {
            parameters,
            tags,
            allow_data_loss,
            digest,
            ..
        } => {
            let spec = ChangeSetSpec {
                stack,
                kind: ChangeSetType::Update,
                parameters,
                tags,
                reason: &action.reason,
            };
            change_set(ctx, clients, plan, &spec, Some((allow_data_loss, digest))).await
        }
        ActionKind::SetStackPolicy { body } => {
            set_policy(clients, stack, body).await?;
            Ok(Effect::Done)
        }
        ActionKind::EnableTerminationProtection => {
            cfn.update_termination_protection()
                .stack_name(stack)
                .enable_termination_protection(true)
                .send()
                .await
                .map_err(|e| {
                    aws::error("CloudFormation", "UpdateTerminationProtection", stack, e)
                })?;
            Ok(Effect::Done)
        }
        ActionKind::ContinueUpdateRollback { attempt } => {
            let mut events = Events::primed(clients, stack).await?;
            // Remembered before the call: if it fails half-way, it is still not retried
            // in a loop; a person decides.
            ctx.update_history(&history_key(&plan.region, &plan.stack_name), |h| {
                h.continue_rollback_tried = Some(attempt.clone());
            });
            let mut req = cfn.continue_update_rollback().stack_name(stack);
            if let Some(role) = &ctx.settings.cfn_role_arn {
                req = req.role_arn(role);
            }
            req.send()
                .await
                .map_err(|e| aws::error("CloudFormation", "ContinueUpdateRollback", stack, e))?;
            let status = wait_stack(ctx, clients, stack, &mut events).await?;
            if status == "UPDATE_ROLLBACK_COMPLETE" {
                Ok(Effect::Done)
            } else {
                Err(failed(stack, &status, &events))
            }
        }
        ActionKind::DeleteFailedStack { stack_id } => {
            let mut events = Events::primed(clients, stack_id).await?;
            let mut req = cfn.delete_stack().stack_name(stack_id);
            if let Some(role) = &ctx.settings.cfn_role_arn {
                req = req.role_arn(role);
            }
            req.send()
                .await
                .map_err(|e| aws::error("CloudFormation", "DeleteStack", stack, e))?;
            // By id, because a deleted stack is no longer found by name.
            let status = wait_stack(ctx, clients, stack_id, &mut events).await?;
            if status == "DELETE_COMPLETE" {
                Ok(Effect::Done)
            } else {
                Err(failed(stack, &status, &events))
            }
        }
        other => Err(super::misrouted(other)),
    }
}

/// Creates, checks and executes a change set. An update is read before it executes: one
/// that would replace or delete a resource holding data is refused (the change set
/// deleted, the refusal remembered) unless the document allows that resource, and then
/// the stack policy is opened for it during the update only.
async fn change_set(
    ctx: &Context,
    clients: &Clients,
    plan: &Plan,
    spec: &ChangeSetSpec<'_>,
    update: Option<(&Vec<String>, &String)>,
) -> Result<Effect> {
    let stack = spec.stack;
    let kind = spec.kind.clone();
    let Some(ChangeSet { id, name }) = changeset::create(ctx, clients, spec).await? else {
        tracing::info!(
            stack,
            "change set held no changes; deleted it, the stack is in sync"
        );
        return Ok(Effect::NoOp);
    };
    let mut opened = false;
    if let Some((allow, digest)) = update {
        let changes = changeset::read_changes(clients, stack, &id).await?;
        let (refused, allowed) = crate::plan::data_loss(&changes, allow);
        if !refused.is_empty() {
            changeset::delete(clients, stack, &id).await?;
            let why = format!(
                "the update would replace or delete what holds data: {}; nothing was executed (change set {name} deleted). Change the document so that it does not, or list the resource in spec.policy.allowDataLoss for this one change",
                refused.join(", ")
            );
            ctx.update_history(&history_key(&plan.region, &plan.stack_name), |h| {
                h.refused_update = Some((digest.clone(), why.clone()));
            });
            return Err(Error::Blocked {
                stack: stack.to_string(),
                reason: why,
            });
        }
        if !allowed.is_empty() {
            tracing::warn!(stack, resources = %allowed.join(", "), "spec.policy.allowDataLoss: this update replaces or deletes what holds data; the stack policy allows it for this update only");
            let names: Vec<&str> = allow.iter().map(String::as_str).collect();
            set_policy(clients, stack, &crate::render::stack_policy(&names)).await?;
            opened = true;
        }
    }
    let result = execute_change_set(ctx, clients, stack, kind, &id, &name).await;
    if opened {
        // Restored whatever the update did: a policy left open would allow the next
        // replacement without anyone asking for it.
        set_policy(clients, stack, &crate::render::stack_policy(&[])).await?;
        tracing::info!(
            stack,
            "stack policy restored: replacing or deleting what holds data is denied again"
        );
    }
    result
}

async fn set_policy(clients: &Clients, stack: &str, body: &str) -> Result<()> {
    clients
        .cloudformation
        .set_stack_policy()
        .stack_name(stack)
        .stack_policy_body(body)
        .send()
        .await
        .map_err(|e| aws::error("CloudFormation", "SetStackPolicy", stack, e))?;
    Ok(())
}

async fn execute_change_set(
    ctx: &Context,
    clients: &Clients,
    stack: &str,
    kind: ChangeSetType,
    id: &str,
    name: &str,
) -> Result<Effect> {
    let cfn = &clients.cloudformation;
    let mut events = Events::primed(clients, stack).await?;
    let creating = kind == ChangeSetType::Create;
    // A failed create rolls back, and by default keeps what carries DeletionPolicy
    // Retain (the EFS file system): a new, empty file system left behind by every failed
    // attempt. RetainExceptOnCreate: "newly created resources are deleted when the
    // operation rolls back. This includes newly created resources marked with a deletion
    // policy of Retain" (ExecuteChangeSet API reference); updates keep Retain as it is.
    // DisableRollback is said explicitly: the API reference gives its default as True.
    cfn.execute_change_set()
        .change_set_name(id)
        .stack_name(stack)
        .client_request_token(name)
        .set_retain_except_on_create(creating.then_some(true))
        .set_disable_rollback(creating.then_some(false))
        .send()
        .await
        .map_err(|e| aws::error("CloudFormation", "ExecuteChangeSet", stack, e))?;
    let status = wait_stack(ctx, clients, stack, &mut events).await?;
    let want = if kind == ChangeSetType::Create {
        "CREATE_COMPLETE"
    } else {
        "UPDATE_COMPLETE"
    };
    if status == want {
        Ok(Effect::Done)
    } else {
        Err(failed(stack, &status, &events))
    }
}

fn failed(stack: &str, status: &str, events: &Events) -> Error {
    Error::StackFailed {
        stack: stack.to_string(),
        message: match &events.first_failure {
            Some(why) => format!("ended in {status}; first failure: {why}"),
            None => format!("ended in {status}"),
        },
    }
}

/// Polls the stack until it leaves every `*_IN_PROGRESS` status; returns the final one.
async fn wait_stack(
    ctx: &Context,
    clients: &Clients,
    stack: &str,
    events: &mut Events,
) -> Result<String> {
    let started = Instant::now();
    loop {
        let polled = match events.poll(clients, stack).await {
            Ok(()) => read_status(clients, stack).await,
            Err(e) => Err(e),
        };
        let status = match polled {
            Ok(status) => status,
            // CloudFormation carries on whatever happens to one poll: a throttled or
            // failed read (after the SDK's own retries) is no reason to abandon the
            // wait, and so the pass, while the deadline still holds.
            Err(e) if e.is_retriable() && started.elapsed() <= ctx.settings.stack_timeout => {
                tracing::warn!(stack, error = %e, "could not read the stack; still waiting");
                tokio::time::sleep(ctx.settings.poll_interval).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        if !status.ends_with("_IN_PROGRESS") {
            if is_success(&status) {
                tracing::info!(stack, %status, secs = started.elapsed().as_secs(), "stack settled");
            } else {
                tracing::warn!(stack, %status, "stack settled in a failed state");
            }
            return Ok(status);
        }
        if started.elapsed() > ctx.settings.stack_timeout {
            return Err(Error::Timeout {
                what: format!("stack {stack}"),
                state: status,
                waited_secs: ctx.settings.stack_timeout.as_secs(),
            });
        }
        tokio::time::sleep(ctx.settings.poll_interval).await;
    }
}

/// The stack's status through observe's one read of it; a stack the endpoint no longer
/// knows reads as DELETE_COMPLETE (some endpoints forget a deleted stack at once).
async fn read_status(clients: &Clients, stack: &str) -> Result<String> {
    Ok(crate::observe::describe_stack(clients, stack)
        .await?
        .map(|s| s.status)
        .unwrap_or_else(|| StackStatus::DeleteComplete.as_str().to_string()))
}

/// New stack events since the operator started watching, logged one line each.
struct Events {
    seen: HashSet<String>,
    first_failure: Option<String>,
}

impl Events {
    /// Marks the events that already exist as seen, so that only this operation's
    /// events are logged.
    async fn primed(clients: &Clients, stack: &str) -> Result<Events> {
        let mut events = Events {
            seen: HashSet::new(),
            first_failure: None,
        };
        events.fetch(clients, stack, false).await?;
        Ok(events)
    }

    async fn poll(&mut self, clients: &Clients, stack: &str) -> Result<()> {
        self.fetch(clients, stack, true).await
    }

    async fn fetch(&mut self, clients: &Clients, stack: &str, log: bool) -> Result<()> {
        // The newest page is enough between two polls; events come newest first.
        let out = match clients
            .cloudformation
            .describe_stack_events()
            .stack_name(stack)
            .send()
            .await
        {
            Ok(o) => o,
            // A stack created by this very change set may not exist yet.
            Err(e) if aws::is_missing_stack(&e) => {
                return Ok(());
            }
            Err(e) => {
                return Err(aws::error(
                    "CloudFormation",
                    "DescribeStackEvents",
                    stack,
                    e,
                ));
            }
        };
        let mut fresh: Vec<_> = out
            .stack_events()
            .iter()
            .filter(|e| !self.seen.contains(e.event_id().unwrap_or_default()))
            .collect();
        fresh.reverse();
        for e in fresh {
            self.seen
                .insert(e.event_id().unwrap_or_default().to_string());
            if !log {
                continue;
            }
            let status = e.resource_status().map(|s| s.as_str()).unwrap_or_default();
            let reason = e.resource_status_reason().unwrap_or_default();
            let resource = e.logical_resource_id().unwrap_or_default();
            if status.ends_with("_FAILED") && self.first_failure.is_none() && !reason.is_empty() {
                self.first_failure = Some(format!("{resource}: {reason}"));
            }
            tracing::info!(
                stack,
                resource,
                resource_type = e.resource_type().unwrap_or_default(),
                status,
                reason,
                "stack event"
            );
        }
        Ok(())
    }
}
