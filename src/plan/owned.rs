//! Planning the fields the operator owns outside the template, one concern per module:
//! Open WebUI's count and autoscaling (`services`), LiteLLM's config, deployment and
//! count (`litellm`), the EFS backup schedule (`backup`).

use super::Plan;
use crate::observe::{LiveOwned, LiveService};
use crate::render::{Outputs, OwnedDesired};

/// Adds the owned fields' actions, problems and notes to `plan`.
pub fn plan_owned(plan: &mut Plan, desired: &OwnedDesired, outputs: &Outputs, live: &LiveOwned) {
    super::services::plan(plan, desired, outputs, live);
    super::litellm::plan(plan, desired, outputs, live);
    super::backup::plan(plan, desired, live);
}

/// The service when it can be managed; otherwise a problem says why not.
pub(super) fn usable<'a>(
    plan: &mut Plan,
    what: &str,
    name: &str,
    svc: &'a Option<LiveService>,
) -> Option<&'a LiveService> {
    match svc {
        Some(s) if s.status == "ACTIVE" => Some(s),
        Some(s) => {
            plan.problems.push(format!(
                "{what} service {name} is {}; the stack owns it, so the operator does not recreate it (update or recreate the stack)",
                s.status
            ));
            None
        }
        None => {
            plan.problems.push(format!(
                "{what} service {name} does not exist; the stack owns it, so the operator does not recreate it (update or recreate the stack)"
            ));
            None
        }
    }
}
