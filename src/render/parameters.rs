//! The chat stack's CloudFormation parameters for one desired state.

use std::collections::BTreeMap;

use crate::chart;
use crate::desired::Spec;

/// Every parameter of `charts/stack.yaml` with its value: the user's, one derived from a
/// typed field, or the template default. Passing all of them (never "use previous
/// value") makes the deployed parameters a pure function of the desired state.
pub fn stack_parameters(spec: &Spec) -> Result<BTreeMap<String, String>, &'static str> {
    let specs = chart::stack_parameters()?;
    let derived = [
        ("ImageGenerationModel", spec.image_generation.model.clone()),
        ("ImageSize", spec.image_generation.size.clone()),
        (
            "OpenWebUIDatabaseUrlSecretArn",
            spec.services.openwebui.database_url_secret_arn.clone(),
        ),
        ("ProjectName", spec.stack_name.clone()),
        // The steady value; the planner sends "true" when it creates the stack.
        (chart::CREATE_SERVICES_AT_ZERO, "false".to_string()),
    ];
    let mut out = BTreeMap::new();
    for (name, param) in specs {
        let value = spec
            .parameters
            .get(name)
            .cloned()
            .or_else(|| {
                derived
                    .iter()
                    .find(|(d, _)| d == name)
                    .map(|(_, v)| v.clone())
            })
            .or_else(|| param.default.clone())
            .unwrap_or_default();
        out.insert(name.clone(), value);
    }
    Ok(out)
}
