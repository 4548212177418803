//! Health: the facts of `observe::health` judged into components, each Healthy,
//! Progressing, Degraded or Unknown with a reason, a message and the remedy a person can
//! act on. Pure. A component is `blocking` when, Degraded, no user can chat (Ready goes
//! False); otherwise it is serving but needs a person (the Degraded condition).

mod ecs;
mod infra;
mod models;

pub use ecs::classify_stopped;

use serde::Serialize;

use crate::observe::health::{HealthFacts, Read};
use infra::{file_system, network, secrets, targets};
use models::{alarms, models};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum HealthStatus {
    Healthy,
    Progressing,
    Degraded,
    Unknown,
}

impl HealthStatus {
    pub fn label(self) -> &'static str {
        match self {
            HealthStatus::Healthy => "Healthy",
            HealthStatus::Progressing => "Progressing",
            HealthStatus::Degraded => "Degraded",
            HealthStatus::Unknown => "Unknown",
        }
    }
}

/// One judged component.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Component {
    /// `openwebui`, `litellm`, `loadBalancer`, `efs`, `secrets`, `network`, `models`, `alarms`.
    pub name: &'static str,
    pub status: HealthStatus,
    pub reason: String,
    pub message: String,
    pub remedy: Option<String>,
    /// Degraded and blocking: users cannot chat.
    pub blocking: bool,
}

impl Component {
    fn new(name: &'static str, status: HealthStatus, reason: &str, message: String) -> Self {
        Component {
            name,
            status,
            reason: reason.to_string(),
            message,
            remedy: None,
            blocking: false,
        }
    }

    fn healthy(name: &'static str, reason: &str, message: String) -> Self {
        Self::new(name, HealthStatus::Healthy, reason, message)
    }

    fn degraded(name: &'static str, reason: &str, message: String, remedy: String) -> Self {
        Component {
            remedy: Some(remedy),
            ..Self::new(name, HealthStatus::Degraded, reason, message)
        }
    }

    fn blocking(mut self) -> Self {
        self.blocking = self.status == HealthStatus::Degraded;
        self
    }
}

/// (component, status, reason) of each component, by name.
pub type Signature = Vec<(&'static str, HealthStatus, String)>;

/// The judged components of one pass (only those read in it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Health {
    pub components: Vec<Component>,
    /// The depth it was read to: which components it speaks for.
    #[serde(skip)]
    pub depth: crate::observe::health::HealthDepth,
}

impl Health {
    /// The first component that keeps users from chatting.
    pub fn blocking(&self) -> Option<&Component> {
        self.components.iter().find(|c| c.blocking)
    }

    pub fn degraded(&self) -> impl Iterator<Item = &Component> {
        self.components
            .iter()
            .filter(|c| c.status == HealthStatus::Degraded)
    }

    /// Whether this reading speaks for `component`: a component the depth covers but the
    /// reading lacks is gone (no target group, no models …) and must not stay shown.
    pub fn covers(&self, component: &str) -> bool {
        use crate::observe::health::HealthDepth;
        match self.depth {
            HealthDepth::Quick => matches!(component, "openwebui" | "litellm"),
            HealthDepth::Infra => component != "models",
            HealthDepth::Full => true,
        }
    }

    /// Whether a component is on its way somewhere (a rollout, tasks starting, first
    /// health checks): worth reading again at once.
    pub fn progressing(&self) -> bool {
        self.components
            .iter()
            .any(|c| c.status == HealthStatus::Progressing)
    }

    /// What a full read concluded, to tell a settled diagnosis from a changing one.
    pub fn signature(&self) -> Signature {
        let mut s: Signature = self
            .components
            .iter()
            .map(|c| (c.name, c.status, c.reason.clone()))
            .collect();
        s.sort_by_key(|c| c.0);
        s
    }
}

/// The components a read that failed makes Unknown, with what AWS said.
fn unread<T>(name: &'static str, read: &Read<T>) -> Option<Component> {
    match read {
        Read::NotRead | Read::Ok { .. } => None,
        Read::Failed {
            message,
            unimplemented,
        } => Some(Component::new(
            name,
            HealthStatus::Unknown,
            if *unimplemented {
                "NotAvailable"
            } else {
                "ReadFailed"
            },
            message.clone(),
        )),
    }
}

/// Judges every component the facts hold. `openwebui_tasks` is how many Open WebUI tasks
/// should be serving (the target count); `pull_through` names the image pull path.
pub fn judge(facts: &HealthFacts, pull_through: bool) -> Health {
    let mut components: Vec<Component> = facts
        .services
        .iter()
        .map(|s| ecs::service(s, pull_through))
        .collect();
    let openwebui_running = facts
        .services
        .first()
        .and_then(|s| s.service.as_ref())
        .map_or(0, |s| s.running);
    let mut add = |_: &'static str, c: Option<Component>| components.extend(c);
    add("loadBalancer", unread("loadBalancer", &facts.targets));
    if let Read::Ok { value } = &facts.targets {
        add("loadBalancer", Some(targets(value, openwebui_running)));
    }
    add("efs", unread("efs", &facts.file_system));
    if let Read::Ok { value } = &facts.file_system {
        add("efs", Some(file_system(value)));
    }
    add("secrets", unread("secrets", &facts.secrets));
    if let Read::Ok { value } = &facts.secrets {
        add("secrets", Some(secrets(value)));
    }
    add("network", unread("network", &facts.network));
    if let Read::Ok { value } = &facts.network {
        add("network", Some(network(value)));
    }
    if !facts.models.is_empty() {
        add("models", Some(models(&facts.models)));
    }
    add("alarms", unread("alarms", &facts.alarms));
    if let Read::Ok { value } = &facts.alarms {
        add("alarms", Some(alarms(value)));
    }
    Health {
        components,
        depth: facts.depth,
    }
}

#[cfg(test)]
mod tests;
