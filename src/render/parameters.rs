//! The chat stack's CloudFormation parameters for one desired state.

use std::collections::{BTreeMap, BTreeSet};

use crate::chart;
use crate::desired::{Spec, profile_base};

/// The IAM partition of a region (`aws`, `aws-cn`, `aws-us-gov`).
fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The ARNs the LiteLLM task role may invoke, for the template's `BedrockModelArns`,
/// `BedrockInferenceProfileArns` and `BedrockProfileModelArns`: each model in the region
/// it is called in; a profile, and the model it routes to in any region (the account of
/// a profile is the caller's; `*` stands for it, the operator renders before it knows).
pub(crate) fn bedrock_arns(spec: &Spec, bedrock_region: &str) -> [String; 3] {
    let (mut direct, mut profiles, mut behind) =
        (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    for m in &spec.models {
        let region = m.region_or(bedrock_region);
        let p = partition(region);
        match profile_base(&m.model_id) {
            Some(base) => {
                profiles.insert(format!(
                    "arn:{p}:bedrock:{region}:*:inference-profile/{}",
                    m.model_id
                ));
                behind.insert(format!("arn:{p}:bedrock:*::foundation-model/{base}"));
            }
            None => {
                direct.insert(format!(
                    "arn:{p}:bedrock:{region}::foundation-model/{}",
                    m.model_id
                ));
            }
        }
    }
    let join = |s: BTreeSet<String>| s.into_iter().collect::<Vec<_>>().join(",");
    [join(direct), join(profiles), join(behind)]
}

/// Every parameter of `charts/stack.yaml` with its value: the user's, one derived from a
/// typed field, or the template default. Passing all of them (never "use previous
/// value") makes the deployed parameters a pure function of the desired state.
pub fn stack_parameters(spec: &Spec) -> Result<BTreeMap<String, String>, chart::BrokenTemplate> {
    let specs = chart::stack_parameters()?;
    let bedrock_region = spec
        .parameters
        .get("BedrockRegion")
        .cloned()
        .or_else(|| specs.get("BedrockRegion").and_then(|p| p.default.clone()))
        .unwrap_or_else(|| spec.region.clone());
    let [direct, profiles, behind] = bedrock_arns(spec, &bedrock_region);
    let derived = [
        ("ImageGenerationModel", spec.image_generation.model.clone()),
        ("ImageSize", spec.image_generation.size.clone()),
        (
            "OpenWebUIDatabaseUrlSecretArn",
            spec.services.openwebui.database_url_secret_arn.clone(),
        ),
        (
            "OpenWebUIRedisUrlSecretArn",
            spec.services.openwebui.redis_url_secret_arn.clone(),
        ),
        ("ProjectName", spec.stack_name.clone()),
        // The steady value; the planner sends "true" when it creates the stack.
        (chart::CREATE_SERVICES_AT_ZERO, "false".to_string()),
        ("BedrockModelArns", direct),
        ("BedrockInferenceProfileArns", profiles),
        ("BedrockProfileModelArns", behind),
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

#[cfg(test)]
mod tests {
    use super::*;

    use crate::render::spec_with_models as spec;

    #[test]
    fn the_litellm_role_gets_exactly_each_model_in_its_region() {
        let s = spec(
            "    - {name: a, modelId: stability.sd3-5-large-v1:0, type: image}\n    - {name: b, modelId: amazon.nova-pro-v1:0, type: text, region: us-east-1}\n    - {name: c, modelId: us.anthropic.claude-sonnet-4-6, type: text, region: us-west-2}\n    - {name: d, modelId: amazon.nova-pro-v1:0, type: text, region: us-east-1}\n",
        );
        let [direct, profiles, behind] = bedrock_arns(&s, "us-west-2");
        assert_eq!(
            direct,
            "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0,arn:aws:bedrock:us-west-2::foundation-model/stability.sd3-5-large-v1:0"
        );
        assert_eq!(
            profiles,
            "arn:aws:bedrock:us-west-2:*:inference-profile/us.anthropic.claude-sonnet-4-6"
        );
        assert_eq!(
            behind,
            "arn:aws:bedrock:*::foundation-model/anthropic.claude-sonnet-4-6"
        );
        let gov = spec(
            "    - {name: a, modelId: stability.sd3-5-large-v1:0, type: image, region: us-gov-west-1}\n",
        );
        assert!(
            bedrock_arns(&gov, "us-west-2")[0]
                .starts_with("arn:aws-us-gov:bedrock:us-gov-west-1::")
        );
    }
}
