//! Semantic rules of a document that read cleanly: ranges across fields, references
//! between fields, identifiers' shapes, and the stack template's parameter constraints.
//! No I/O: validation never touches AWS.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;

use super::Rules;
use super::ctx::Ctx;
use super::schedule;
use super::types::*;
use crate::chart;

/// Parameters that users set through a typed field instead; accepting them in
/// `spec.parameters` too would give one setting two sources.
pub const DERIVED_PARAMETERS: &[(&str, &str)] = &[
    ("ImageGenerationModel", "spec.imageGeneration.model"),
    ("ImageSize", "spec.imageGeneration.size"),
    (
        "OpenWebUIDatabaseUrlSecretArn",
        "spec.services.openwebui.databaseUrlSecretArn",
    ),
    (
        "OpenWebUIRedisUrlSecretArn",
        "spec.services.openwebui.redisUrlSecretArn",
    ),
    (
        chart::CREATE_SERVICES_AT_ZERO,
        "the operator (true on create, so that LiteLLM never starts before its config is in S3)",
    ),
    ("BedrockModelArns", "spec.models (each model in its region)"),
    (
        "BedrockInferenceProfileArns",
        "spec.models (each model in its region)",
    ),
    (
        "BedrockProfileModelArns",
        "spec.models (each model in its region)",
    ),
];

fn re(src: &str) -> Regex {
    // Literals below are covered by tests; an invalid one is a programming error.
    Regex::new(src).unwrap_or_else(|e| panic!("invalid built-in pattern {src}: {e}"))
}

static DNS_LABEL: LazyLock<Regex> = LazyLock::new(|| re(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"));
static REGION: LazyLock<Regex> = LazyLock::new(|| re(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$"));
static STACK_NAME: LazyLock<Regex> = LazyLock::new(|| re(r"^[A-Za-z][-A-Za-z0-9]{0,127}$"));
static MODEL_NAME: LazyLock<Regex> = LazyLock::new(|| re(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$"));
/// Provider-qualified Bedrock model ids (`anthropic.claude-…-v2:0`), optionally behind a
/// cross-region inference profile prefix (`us.`, `eu.`, `apac.`, `global.` …).
static MODEL_ID: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^(?:(?:us|eu|apac|global|us-gov|jp|au|ca)\.)?[a-z0-9]+(?:-[a-z0-9]+)*\.[a-z0-9][a-z0-9._-]*(?::[a-z0-9]+)*$",
    )
});
static SIZE: LazyLock<Regex> = LazyLock::new(|| re(r"^([0-9]{2,4})x([0-9]{2,4})$"));
static SECRET_ARN: LazyLock<Regex> = LazyLock::new(|| {
    re(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+$")
});
static ACM_ARN: LazyLock<Regex> =
    LazyLock::new(|| re(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[A-Za-z0-9-]+$"));

/// Ids that look right but are not Bedrock's, with the id that is meant.
const KNOWN_WRONG_MODEL_IDS: &[(&str, &str)] = &[
    (
        "stability.stable-diffusion-3-5-large-v1:0",
        "stability.sd3-5-large-v1:0",
    ),
    (
        "stability.stable-image-ultra-v1:0",
        "stability.stable-image-ultra-v1:1",
    ),
];

/// Image sizes Bedrock's image models accept lie within these bounds.
const MIN_SIDE: u32 = 256;
const MAX_SIDE: u32 = 4096;

pub fn document(name: &str, spec: &Spec, rules: &Rules, ctx: &mut Ctx) {
    if name.is_empty() || name.len() > 40 || !DNS_LABEL.is_match(name) {
        ctx.err_at("metadata.name",
            format!("must be a lowercase DNS label of 1-40 characters: a-z, 0-9 and '-', starting and ending alphanumeric (got {name:?})"),
        );
    }
    if !REGION.is_match(&spec.region) {
        ctx.err_at(
            "spec.region",
            format!(
                "must be an AWS region such as us-west-2 (got {:?})",
                spec.region
            ),
        );
    }
    // A stack name defaulted from metadata.name is reported under metadata.name, so that
    // one bad name is one error.
    let stack_path = if ctx.positions.contains_key("spec.stackName") {
        "spec.stackName"
    } else {
        "metadata.name"
    };
    if !STACK_NAME.is_match(&spec.stack_name) {
        ctx.err_at(stack_path,
            format!("must be a CloudFormation stack name: a letter, then letters, digits and '-', at most 128 (got {:?})", spec.stack_name),
        );
    }
    services(&spec.services, ctx);
    models(spec, ctx);
    backup(&spec.backup, ctx);
    let stack_name_ok = !ctx.failed(stack_path);
    parameters(spec, stack_name_ok, ctx);
    if let Some(prefix) = rules.managed_prefix.as_deref().filter(|p| !p.is_empty()) {
        managed_prefix(spec, prefix, stack_path, ctx);
    }
}

/// The operator's IAM policies scope stacks and their resources by name prefix: a name
/// outside it would pass validation and then fail on AWS with AccessDenied.
fn managed_prefix(spec: &Spec, prefix: &str, stack_path: &str, ctx: &mut Ctx) {
    let why = format!(
        "must start with {prefix:?}, the prefix this operator manages (ManagedStackPrefix of charts/operator.yaml, --managed-prefix): its IAM policies reach only stacks and resources named so"
    );
    if !spec.stack_name.starts_with(prefix) {
        ctx.err_at(stack_path, format!("{why} (got {:?})", spec.stack_name));
    }
    match spec.parameters.get("ProjectName") {
        Some(project) if !project.starts_with(prefix) => ctx.err_at(
            "spec.parameters.ProjectName",
            format!("{why}: cluster, services, secrets and log group are named from it (got {project:?})"),
        ),
        _ => {}
    }
}

fn services(s: &Services, ctx: &mut Ctx) {
    let ow = &s.openwebui;
    if let Some(a) = &ow.autoscaling {
        let path = "spec.services.openwebui.autoscaling";
        if a.min_capacity > a.max_capacity {
            ctx.err_at(
                &format!("{path}.minCapacity"),
                format!(
                    "must not exceed maxCapacity (got {} > {})",
                    a.min_capacity, a.max_capacity
                ),
            );
        }
    }
    let most = ow
        .autoscaling
        .map_or(ow.desired_count, |a| a.max_capacity.max(ow.desired_count));
    // Several tasks need a shared database (SQLite on EFS corrupts under several writers)
    // and a shared Redis (one task refuses another's websocket sessions, open-webui#5075).
    let (path, field) = if ow.autoscaling.is_some_and(|a| a.max_capacity > 1) {
        (
            "spec.services.openwebui.autoscaling.maxCapacity",
            "autoscaling up to",
        )
    } else {
        ("spec.services.openwebui.desiredCount", "desiredCount")
    };
    let secrets = [
        (
            ow.database_url_secret_arn.as_str(),
            "spec.services.openwebui.databaseUrlSecretArn",
            "several tasks on one SQLite file on EFS corrupt it",
        ),
        (
            ow.redis_url_secret_arn.as_str(),
            "spec.services.openwebui.redisUrlSecretArn",
            "without a shared Redis one task refuses the other's websocket sessions (open-webui#5075)",
        ),
    ];
    let missing: Vec<_> = secrets.iter().filter(|(arn, ..)| arn.is_empty()).collect();
    if most > 1 && !missing.is_empty() {
        // One finding for the count: both gaps are said at the line that needs them.
        let names: Vec<_> = missing.iter().map(|(_, p, _)| *p).collect();
        let why: Vec<_> = missing.iter().map(|(.., w)| *w).collect();
        ctx.err_at(
            path,
            format!(
                "{field} {most} Open WebUI tasks needs {}: {}; give the secret(s) or keep 1 task",
                names.join(" and "),
                why.join("; ")
            ),
        );
    }
    for (arn, arn_path, _) in secrets {
        if !arn.is_empty() && !SECRET_ARN.is_match(arn) {
            ctx.err_at(
                arn_path,
                format!("must be a Secrets Manager secret ARN (got {arn:?})"),
            );
        }
    }
}

/// A cross-region inference profile is called from a region of its geography
/// (`us.` from a US region, `eu.` from a European one …; `global.` from any): a model
/// id and region that cannot go together is said here rather than by Bedrock later.
fn profile_region_mismatch(model_id: &str, region: &str) -> Option<String> {
    const GEOGRAPHIES: &[(&str, &[&str])] = &[
        ("us-gov.", &["us-gov-"]),
        ("us.", &["us-east-", "us-west-"]),
        ("eu.", &["eu-"]),
        ("apac.", &["ap-"]),
        ("jp.", &["ap-northeast-"]),
        ("au.", &["ap-southeast-"]),
        ("ca.", &["ca-"]),
    ];
    let (prefix, regions) = GEOGRAPHIES.iter().find(|(p, _)| model_id.starts_with(p))?;
    (!regions.iter().any(|r| region.starts_with(r))).then(|| {
        format!(
            "{region:?} is outside the geography of the inference profile {model_id:?} ({prefix} profiles are called from regions {}); pick a region there, or a global. profile",
            regions
                .iter()
                .map(|r| format!("{r}*"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

fn models(spec: &Spec, ctx: &mut Ctx) {
    let mut seen = BTreeSet::new();
    for (i, m) in spec.models.iter().enumerate() {
        let base = format!("spec.models[{i}]");
        if !MODEL_NAME.is_match(&m.name) {
            let p = format!("{base}.name");
            ctx.err_at(
                &p,
                format!(
                    "must be 1-64 characters: letters, digits and . _ : / - (got {:?})",
                    m.name
                ),
            );
        } else if !seen.insert(m.name.as_str()) {
            let p = format!("{base}.name");
            ctx.err_at(
                &p,
                format!(
                    "duplicate model name {:?}: LiteLLM would route the name to either",
                    m.name
                ),
            );
        }
        let p = format!("{base}.modelId");
        if let Some((_, right)) = KNOWN_WRONG_MODEL_IDS.iter().find(|(w, _)| *w == m.model_id) {
            ctx.err_at(
                &p,
                format!(
                    "{:?} is not a Bedrock model id; did you mean {right:?}?",
                    m.model_id
                ),
            );
        } else if !MODEL_ID.is_match(&m.model_id) {
            ctx.err_at(&p, format!("must be a Bedrock model id such as anthropic.claude-3-5-sonnet-20241022-v2:0 (got {:?})", m.model_id));
        }
        if let Some(region) = &m.region {
            let p = format!("{base}.region");
            if !REGION.is_match(region) {
                ctx.err_at(
                    &p,
                    format!("must be an AWS region such as us-west-2 (got {region:?})"),
                );
            } else if let Some(why) = profile_region_mismatch(&m.model_id, region) {
                ctx.err_at(&p, why);
            }
        }
    }

    let ig = &spec.image_generation;
    let p = "spec.imageGeneration.model";
    if ctx.models_incomplete {
        // Already reported; the model list is partial, so a reference cannot be judged.
    } else if ig.model.is_empty() {
        ctx.err_at("spec.models", "needs at least one model of type image: it serves image generation (spec.imageGeneration.model)");
    } else {
        match spec.models.iter().find(|m| m.name == ig.model) {
            Some(m) if m.kind == ModelType::Image => {}
            Some(_) => {
                ctx.err_at(
                    p,
                    format!(
                        "{:?} is a text model; image generation needs a model of type image",
                        ig.model
                    ),
                );
            }
            None => {
                let names: Vec<&str> = spec.models.iter().map(|m| m.name.as_str()).collect();
                ctx.err_at(
                    p,
                    format!(
                        "{:?} names no model in spec.models (have: {})",
                        ig.model,
                        names.join(", ")
                    ),
                );
            }
        }
    }
    let p = "spec.imageGeneration.size";
    let side_ok = |s: &str| {
        s.parse::<u32>()
            .is_ok_and(|n| (MIN_SIDE..=MAX_SIDE).contains(&n))
    };
    let ok = SIZE
        .captures(&ig.size)
        .is_some_and(|c| side_ok(&c[1]) && side_ok(&c[2]));
    if !ok {
        ctx.err_at(p, format!("must be WIDTHxHEIGHT with each side {MIN_SIDE}..{MAX_SIDE}, e.g. 1024x1024 (got {:?})", ig.size));
    }
}

fn backup(b: &Backup, ctx: &mut Ctx) {
    if let Err(why) = schedule::check(&b.schedule) {
        let p = "spec.backup.schedule";
        ctx.err_at(p, format!("{why} (got {:?})", b.schedule));
    }
}

fn parameters(spec: &Spec, stack_name_ok: bool, ctx: &mut Ctx) {
    let specs = match chart::stack_parameters() {
        Ok(s) => s,
        Err(e) => {
            ctx.err(
                ctx.pos_of("spec.parameters"),
                "spec.parameters",
                format!("cannot check parameters: {e}"),
            );
            return;
        }
    };
    for (name, value) in &spec.parameters {
        let p = format!("spec.parameters.{name}");
        if let Some((_, field)) = DERIVED_PARAMETERS.iter().find(|(n, _)| n == name) {
            let why = if field.starts_with("spec.") {
                format!("is set from {field}; set it there")
            } else {
                format!("is set by {field}; it cannot be set here")
            };
            ctx.err_at(&p, why);
            continue;
        }
        let Some(param) = specs.get(name) else {
            let known: Vec<&str> = specs
                .keys()
                .map(String::as_str)
                .filter(|k| !DERIVED_PARAMETERS.iter().any(|(d, _)| d == k))
                .collect();
            ctx.err_at(
                &p,
                format!(
                    "unknown parameter of {} (expected one of: {})",
                    chart::STACK_TEMPLATE_PATH,
                    known.join(", ")
                ),
            );
            continue;
        };
        if name == "ACMCertificateArn" && !value.is_empty() && !ACM_ARN.is_match(value) {
            ctx.err_at(
                &p,
                format!("must be empty or an ACM certificate ARN (got {value:?})"),
            );
            continue;
        }
        if let Some(why) = param.violation(value) {
            ctx.err_at(&p, why);
        }
    }
    // Without a NAT gateway the tasks reach AWS only through the VPC's endpoints, which
    // serve the stack's own region, and ghcr.io only through ECR with a credential.
    let param = |name: &str| {
        spec.parameters
            .get(name)
            .cloned()
            .or_else(|| specs.get(name).and_then(|s| s.default.clone()))
            .unwrap_or_default()
    };
    if param("ImagePullMode") == "pull-through" {
        let p = "spec.parameters.BedrockRegion";
        if param("BedrockRegion") != spec.region {
            ctx.err_at(p, format!("must equal spec.region ({}) with ImagePullMode pull-through: without a NAT gateway Bedrock is reached only through the VPC endpoint of the stack's region (got {:?})", spec.region, param("BedrockRegion")));
        }
        for (i, m) in spec.models.iter().enumerate() {
            if let Some(region) = m.region.as_ref().filter(|r| **r != spec.region) {
                ctx.err_at(&format!("spec.models[{i}].region"), format!("must equal spec.region ({}) with ImagePullMode pull-through: the stack has no path out of its VPC, and only the stack region's bedrock-runtime endpoint is reachable (got {region:?}); use ImagePullMode nat to call Bedrock in {region}", spec.region));
            }
        }
        let p = "spec.parameters.GhcrCredentialSecretArn";
        if param("GhcrCredentialSecretArn").is_empty() {
            let pos = ctx.pos_of("spec.parameters.ImagePullMode");
            ctx.err(pos, p, "is required with ImagePullMode pull-through: ECR's ghcr.io cache needs a Secrets Manager secret named ecr-pullthroughcache/…");
        }
    }
    // ProjectName defaults to the stack name (so that two stacks never share resource
    // names); that default must satisfy the template's constraint too.
    if stack_name_ok
        && !spec.parameters.contains_key("ProjectName")
        && let Some(why) = specs
            .get("ProjectName")
            .and_then(|s| s.violation(&spec.stack_name))
    {
        let pos = ctx.pos_of("spec.stackName");
        ctx.err(
            pos,
            "spec.parameters.ProjectName",
            format!("defaults to the stack name, which {why}; set spec.parameters.ProjectName"),
        );
    }
    for (name, param) in specs {
        let derived = DERIVED_PARAMETERS.iter().any(|(d, _)| d == name);
        if param.default.is_none()
            && !derived
            && name != "ProjectName"
            && !spec.parameters.contains_key(name)
        {
            let pos = ctx.pos_of("spec.parameters");
            ctx.err(
                pos,
                &format!("spec.parameters.{name}"),
                format!(
                    "required by {} (it has no default)",
                    chart::STACK_TEMPLATE_PATH
                ),
            );
        }
    }
}
