//! What the desired state wants of Open WebUI's service: a fixed task count, or the
//! autoscaling bounds and CPU target (then the autoscaler owns the count).

use serde::Serialize;

use crate::desired::{Autoscaling, Spec};

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicesDesired {
    pub openwebui_count: u32,
    pub openwebui_autoscaling: Option<Autoscaling>,
}

pub fn services(spec: &Spec) -> ServicesDesired {
    ServicesDesired {
        openwebui_count: spec.services.openwebui.desired_count,
        openwebui_autoscaling: spec.services.openwebui.autoscaling,
    }
}
