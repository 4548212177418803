//! Planning the fields the operator owns outside the template, one concern per module:
//! Open WebUI's count and autoscaling (`services`), LiteLLM's config, deployment and
//! count (`litellm`), the EFS backup schedule (`backup`).

use super::Part;
use crate::observe::{LiveOwned, LiveService};
use crate::render::{Outputs, OwnedDesired};

/// The owned fields' actions, problems and notes, concern by concern.
pub fn plan_owned(desired: &OwnedDesired, outputs: &Outputs, live: &LiveOwned) -> Part {
    let mut part = super::services::plan(&desired.services, outputs, live);
    part.extend(super::litellm::plan(&desired.litellm, outputs, live));
    part.extend(super::backup::plan(&desired.backup, live));
    part
}

/// The service when it can be managed; otherwise a problem says why not.
pub(super) fn usable<'a>(
    part: &mut Part,
    what: &str,
    name: &str,
    svc: &'a Option<LiveService>,
) -> Option<&'a LiveService> {
    match svc {
        Some(s) if s.status == "ACTIVE" => Some(s),
        Some(s) => {
            part.problems.push(format!(
                "{what} service {name} is {}; the stack owns it, so the operator does not recreate it (update or recreate the stack)",
                s.status
            ));
            None
        }
        None => {
            part.problems.push(format!(
                "{what} service {name} does not exist; the stack owns it, so the operator does not recreate it (update or recreate the stack)"
            ));
            None
        }
    }
}
