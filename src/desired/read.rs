//! Reads a YAML node tree into the typed schema, collecting every structural error
//! (unknown field, wrong type, missing field, out-of-range number) with its position,
//! instead of stopping at the first as serde would.

use std::collections::BTreeMap;

use super::ctx::{Ctx, join};
use super::types::*;
use super::yaml::{Node, NodeKind};

/// Reads one document into the schema. Fields that fail are reported and left at their
/// defaults, so that reading and then validation go on and every error of the document
/// is found in one pass; the caller keeps the result only when there were no findings.
pub fn document(root: &Node, ctx: &mut Ctx) -> Option<(String, Spec)> {
    let top = ctx.fields(root, "", &["apiVersion", "kind", "metadata", "spec"])?;
    for (key, want) in [("apiVersion", API_VERSION), ("kind", KIND)] {
        if let Some(node) = top.require(ctx, key)
            && let Some(v) = ctx.string(node, key)
            && v != want
        {
            ctx.err(node.pos, key, format!("must be {want} (got {v})"));
        }
    }
    let name = top
        .require(ctx, "metadata")
        .and_then(|m| ctx.fields(m, "metadata", &["name"]))
        .and_then(|m| {
            m.require(ctx, "name")
                .and_then(|n| ctx.string(n, "metadata.name"))
        })
        .unwrap_or_default();
    let spec = spec(top.require(ctx, "spec")?, ctx)?;
    Some((name, spec))
}

fn spec(node: &Node, ctx: &mut Ctx) -> Option<Spec> {
    let f = ctx.fields(
        node,
        "spec",
        &[
            "region",
            "stackName",
            "parameters",
            "services",
            "models",
            "imageGeneration",
            "backup",
            "policy",
        ],
    )?;
    let region = f
        .require(ctx, "region")
        .and_then(|n| ctx.string(n, "spec.region"))
        .unwrap_or_default();
    let stack_name = f
        .get("stackName")
        .and_then(|n| ctx.string(n, "spec.stackName"))
        .unwrap_or_default();
    let parameters = f
        .get("parameters")
        .map(|n| parameters(n, ctx))
        .unwrap_or_default();
    let services = services(f.get("services"), ctx);
    let models = match f.require(ctx, "models") {
        Some(n) => models(n, ctx),
        None => {
            ctx.models_incomplete = true;
            Vec::new()
        }
    };
    let image_generation = image_generation(f.get("imageGeneration"), ctx, &models);
    let backup = backup(f.get("backup"), ctx);
    let policy = policy(f.get("policy"), ctx);
    Some(Spec {
        region,
        // Filled with metadata.name by the caller when empty.
        stack_name,
        parameters,
        services,
        models,
        image_generation,
        backup,
        policy,
    })
}

fn parameters(node: &Node, ctx: &mut Ctx) -> BTreeMap<String, String> {
    let path = "spec.parameters";
    ctx.collection_pos(node, path);
    let mut out = BTreeMap::new();
    let NodeKind::Map(entries) = &node.kind else {
        ctx.err(
            node.pos,
            path,
            format!(
                "must be a mapping of parameter names to values (got {})",
                node.describe()
            ),
        );
        return out;
    };
    for (key, _, value) in entries {
        let p = join(path, key);
        // CloudFormation parameters are strings; a plain number or an empty value is
        // taken as its text, as the CloudFormation CLI does.
        let text = if value.is_null() {
            ctx.positions.insert(p.clone(), value.pos);
            Some(String::new())
        } else {
            ctx.string(value, &p)
        };
        if let Some(text) = text {
            out.insert(key.clone(), text);
        }
    }
    out
}

fn services(node: Option<&Node>, ctx: &mut Ctx) -> Services {
    let mut out = Services {
        openwebui: OpenWebUi {
            desired_count: defaults::DESIRED_COUNT,
            autoscaling: None,
            database_url_secret_arn: String::new(),
            redis_url_secret_arn: String::new(),
        },
        litellm: LiteLlm {
            desired_count: defaults::DESIRED_COUNT,
        },
    };
    let Some(f) = node.and_then(|n| ctx.fields(n, "spec.services", &["openwebui", "litellm"]))
    else {
        return out;
    };
    let ow = &mut out.openwebui;
    let openwebui = f.get("openwebui").and_then(|n| {
        ctx.fields(
            n,
            "spec.services.openwebui",
            &[
                "desiredCount",
                "autoscaling",
                "databaseUrlSecretArn",
                "redisUrlSecretArn",
            ],
        )
    });
    if let Some(o) = openwebui {
        if let Some(v) = o
            .get("desiredCount")
            .and_then(|c| ctx.int_in(c, &o.path("desiredCount"), 0, 10))
        {
            ow.desired_count = v;
        }
        ow.autoscaling = o
            .get("autoscaling")
            .and_then(|a| autoscaling(a, &o.path("autoscaling"), ctx));
        if let Some(v) = o
            .get("databaseUrlSecretArn")
            .and_then(|s| ctx.string(s, &o.path("databaseUrlSecretArn")))
        {
            ow.database_url_secret_arn = v;
        }
        if let Some(v) = o
            .get("redisUrlSecretArn")
            .and_then(|s| ctx.string(s, &o.path("redisUrlSecretArn")))
        {
            ow.redis_url_secret_arn = v;
        }
    }
    let litellm = f
        .get("litellm")
        .and_then(|n| ctx.fields(n, "spec.services.litellm", &["desiredCount"]));
    if let Some(l) = litellm
        && let Some(v) = l
            .get("desiredCount")
            .and_then(|c| ctx.int_in(c, &l.path("desiredCount"), 0, 10))
    {
        out.litellm.desired_count = v;
    }
    out
}

/// `None` when the mapping or its `maxCapacity` is unusable (reported); a failing
/// `minCapacity` or `targetCpuPercent` is reported and left at its default so that the
/// cross-field checks still run.
fn autoscaling(node: &Node, path: &str, ctx: &mut Ctx) -> Option<Autoscaling> {
    let f = ctx.fields(
        node,
        path,
        &["minCapacity", "maxCapacity", "targetCpuPercent"],
    )?;
    let min = f
        .get("minCapacity")
        .map_or(Some(1), |n| ctx.int_in(n, &f.path("minCapacity"), 0, 10));
    let max = f
        .require(ctx, "maxCapacity")
        .and_then(|n| ctx.int_in(n, &f.path("maxCapacity"), 1, 10));
    let target = f.get("targetCpuPercent").map_or(Some(70), |n| {
        ctx.int_in(n, &f.path("targetCpuPercent"), 1, 100)
    });
    Some(Autoscaling {
        min_capacity: min.unwrap_or(1),
        max_capacity: max?,
        target_cpu_percent: target.unwrap_or(70),
    })
}

fn models(node: &Node, ctx: &mut Ctx) -> Vec<Model> {
    let path = "spec.models";
    let pos = ctx.collection_pos(node, path);
    let NodeKind::Seq(items) = &node.kind else {
        ctx.err(
            pos,
            path,
            format!("must be a list of models (got {})", node.describe()),
        );
        ctx.models_incomplete = true;
        return Vec::new();
    };
    if items.is_empty() {
        ctx.err(pos, path, "must list at least one model");
        ctx.models_incomplete = true;
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let Some(f) = ctx.fields(item, &p, &["name", "modelId", "type", "region"]) else {
            ctx.models_incomplete = true;
            continue;
        };
        let name = f
            .require(ctx, "name")
            .and_then(|n| ctx.string(n, &f.path("name")));
        let model_id = f
            .require(ctx, "modelId")
            .and_then(|n| ctx.string(n, &f.path("modelId")));
        let kind = f
            .require(ctx, "type")
            .and_then(|n| ctx.choice(n, &f.path("type"), ModelType::NAMES, ModelType::parse));
        let region = f
            .get("region")
            .and_then(|n| ctx.string(n, &f.path("region")));
        match (name, model_id, kind) {
            (Some(name), Some(model_id), Some(kind)) => out.push(Model {
                name,
                model_id,
                kind,
                region,
            }),
            _ => ctx.models_incomplete = true,
        }
    }
    out
}

fn image_generation(node: Option<&Node>, ctx: &mut Ctx, models: &[Model]) -> ImageGeneration {
    let (mut model, mut size) = (None, None);
    if let Some(f) = node.and_then(|n| ctx.fields(n, "spec.imageGeneration", &["model", "size"])) {
        model = f.get("model").and_then(|n| ctx.string(n, &f.path("model")));
        size = f.get("size").and_then(|n| ctx.string(n, &f.path("size")));
    }
    // Default: the first image model, so a user with one image model need not repeat it.
    // Without one, `validate` reports the missing image model.
    let model = model.or_else(|| {
        models
            .iter()
            .find(|m| m.kind == ModelType::Image)
            .map(|m| m.name.clone())
    });
    ImageGeneration {
        model: model.unwrap_or_default(),
        size: size.unwrap_or_else(|| defaults::IMAGE_SIZE.to_string()),
    }
}

fn backup(node: Option<&Node>, ctx: &mut Ctx) -> Backup {
    let mut out = Backup {
        schedule: defaults::BACKUP_SCHEDULE.to_string(),
        retention_days: defaults::RETENTION_DAYS,
    };
    let Some(f) = node.and_then(|n| ctx.fields(n, "spec.backup", &["schedule", "retentionDays"]))
    else {
        return out;
    };
    if let Some(s) = f
        .get("schedule")
        .and_then(|n| ctx.string(n, &f.path("schedule")))
    {
        out.schedule = s;
    }
    if let Some(d) = f
        .get("retentionDays")
        .and_then(|n| ctx.int_in(n, &f.path("retentionDays"), 1, 36500))
    {
        out.retention_days = d;
    }
    out
}

fn policy(node: Option<&Node>, ctx: &mut Ctx) -> Policy {
    let mut out = Policy {
        mode: Mode::Enforce,
        suspend: false,
        adopt: false,
        recreate_failed_stack: false,
        allow_data_loss: Vec::new(),
    };
    let known = [
        "mode",
        "suspend",
        "adopt",
        "recreateFailedStack",
        "allowDataLoss",
    ];
    let Some(f) = node.and_then(|n| ctx.fields(n, "spec.policy", &known)) else {
        return out;
    };
    if let Some(m) = f
        .get("mode")
        .and_then(|n| ctx.choice(n, &f.path("mode"), Mode::NAMES, Mode::parse))
    {
        out.mode = m;
    }
    for (key, slot) in [
        ("suspend", &mut out.suspend),
        ("adopt", &mut out.adopt),
        ("recreateFailedStack", &mut out.recreate_failed_stack),
    ] {
        if let Some(b) = f.get(key).and_then(|n| ctx.boolean(n, &f.path(key))) {
            *slot = b;
        }
    }
    if let Some(n) = f.get("allowDataLoss") {
        out.allow_data_loss = allow_data_loss(n, &f.path("allowDataLoss"), ctx);
    }
    out
}

/// `spec.policy.allowDataLoss`: logical ids of the stack's resources that hold data.
fn allow_data_loss(node: &Node, path: &str, ctx: &mut Ctx) -> Vec<&'static str> {
    use crate::chart::STATEFUL_RESOURCES;
    let NodeKind::Seq(items) = &node.kind else {
        ctx.err(
            node.pos,
            path,
            format!(
                "must be a list of resources that hold data, e.g. [EFSFileSystem] (got {})",
                node.describe()
            ),
        );
        return Vec::new();
    };
    let parse = |s: &str| STATEFUL_RESOURCES.iter().find(|r| **r == s).copied();
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| {
            ctx.choice(item, &format!("{path}[{i}]"), STATEFUL_RESOURCES, parse)
        })
        .collect()
}
