//! Reads a YAML node tree into the typed schema, collecting every structural error
//! (unknown field, wrong type, missing field, out-of-range number) with its position,
//! instead of stopping at the first as serde would.

use std::collections::BTreeMap;
use std::rc::Rc;

use super::types::*;
use super::yaml::{Node, NodeKind, Pos};

/// An error inside one document, before the file name is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    pub pos: Pos,
    pub path: String,
    pub message: String,
}

/// Collects findings and the position of every field read, so that the semantic checks
/// after reading can point at the right line too.
#[derive(Debug, Default)]
pub(crate) struct Ctx {
    pub findings: Vec<Finding>,
    pub positions: BTreeMap<String, Pos>,
    /// Positions of mapping keys, by path: where a collection or a missing field is shown.
    key_positions: BTreeMap<String, Pos>,
    /// Some model failed to read, so references to model names cannot be checked.
    pub models_incomplete: bool,
}

/// The fields of one mapping, checked against the names the schema knows.
pub(crate) struct Fields<'n> {
    path: String,
    pos: Pos,
    entries: &'n [(String, Pos, Rc<Node>)],
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl Ctx {
    /// Whether the field at `path`, or a parent of it, already has a finding.
    pub fn failed(&self, path: &str) -> bool {
        self.findings.iter().any(|f| {
            !f.path.is_empty()
                && path.starts_with(&f.path)
                && matches!(path.as_bytes().get(f.path.len()), None | Some(b'.' | b'['))
        })
    }

    /// Records a finding, unless the field (or a parent) already has one: a missing or
    /// mistyped field left at its default must not also fail the checks that follow.
    pub fn err(&mut self, pos: Pos, path: &str, message: impl Into<String>) {
        if self.failed(path) {
            return;
        }
        self.findings.push(Finding {
            pos,
            path: path.to_string(),
            message: message.into(),
        });
    }

    /// A finding at the position recorded for `path` while reading (for the checks that
    /// run after reading).
    pub(crate) fn err_at(&mut self, path: &str, message: impl Into<String>) {
        let pos = self.pos_of(path);
        self.err(pos, path, message);
    }

    /// Position of a field read earlier (or of its nearest parent that was present).
    pub(crate) fn pos_of(&self, path: &str) -> Pos {
        let mut p = path;
        loop {
            if let Some(pos) = self.positions.get(p) {
                return *pos;
            }
            match p.rfind(['.', '[']) {
                Some(i) => p = &p[..i],
                None => return Pos::default(),
            }
        }
    }

    /// Records where a collection is: at its key (`models:`) rather than at its first
    /// item, which for a block collection is on the next line.
    fn collection_pos(&mut self, node: &Node, path: &str) -> Pos {
        let pos = self.key_positions.get(path).copied().unwrap_or(node.pos);
        self.positions.insert(path.to_string(), pos);
        pos
    }

    /// Opens a mapping; every key outside `known` is reported as an unknown field.
    pub fn fields<'n>(&mut self, node: &'n Node, path: &str, known: &[&str]) -> Option<Fields<'n>> {
        let mut pos = self.collection_pos(node, path);
        let NodeKind::Map(entries) = &node.kind else {
            self.err(
                node.pos,
                path,
                format!("must be a mapping (got {})", node.describe()),
            );
            return None;
        };
        for (key, key_pos, _) in entries {
            self.key_positions.insert(join(path, key), *key_pos);
            if !known.contains(&key.as_str()) {
                self.err(
                    *key_pos,
                    &join(path, key),
                    format!("unknown field (expected one of: {})", known.join(", ")),
                );
            }
        }
        // The document itself has no key: its first key stands for it.
        if path.is_empty()
            && let Some((_, first, _)) = entries.first()
        {
            pos = *first;
        }
        Some(Fields {
            path: path.to_string(),
            pos,
            entries,
        })
    }

    pub fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        self.positions.insert(path.to_string(), node.pos);
        match &node.kind {
            NodeKind::Scalar { text, .. } => Some(text.clone()),
            _ => {
                self.err(
                    node.pos,
                    path,
                    format!("must be a string (got {})", node.describe()),
                );
                None
            }
        }
    }

    /// An integer within `lo..=hi`; quoted numbers are strings, not integers.
    pub(crate) fn int_in(&mut self, node: &Node, path: &str, lo: u32, hi: u32) -> Option<u32> {
        self.positions.insert(path.to_string(), node.pos);
        let parsed = match &node.kind {
            NodeKind::Scalar { text, plain: true } => text.parse::<i64>().ok(),
            _ => None,
        };
        match parsed {
            Some(n) if n >= i64::from(lo) && n <= i64::from(hi) => u32::try_from(n).ok(),
            Some(n) => {
                self.err(node.pos, path, format!("must be {lo}..{hi} (got {n})"));
                None
            }
            None => {
                self.err(
                    node.pos,
                    path,
                    format!("must be an integer {lo}..{hi} (got {})", node.describe()),
                );
                None
            }
        }
    }

    pub(crate) fn boolean(&mut self, node: &Node, path: &str) -> Option<bool> {
        self.positions.insert(path.to_string(), node.pos);
        if let NodeKind::Scalar { text, plain: true } = &node.kind {
            match text.as_str() {
                "true" | "True" | "TRUE" => return Some(true),
                "false" | "False" | "FALSE" => return Some(false),
                _ => {}
            }
        }
        self.err(
            node.pos,
            path,
            format!("must be true or false (got {})", node.describe()),
        );
        None
    }

    /// One of `names`, returned through `parse`.
    pub(crate) fn choice<T>(
        &mut self,
        node: &Node,
        path: &str,
        names: &[&str],
        parse: fn(&str) -> Option<T>,
    ) -> Option<T> {
        let text = self.string(node, path)?;
        let value = parse(&text);
        if value.is_none() {
            self.err(
                node.pos,
                path,
                format!(
                    "must be one of {} (got {})",
                    names.join(" | "),
                    node.describe()
                ),
            );
        }
        value
    }
}

impl<'n> Fields<'n> {
    pub fn path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// The value of `key`, or `None` when absent or null (null means "use the default").
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, _, v)| v.as_ref())
            .filter(|v| !v.is_null())
    }

    /// Like `get`, but a missing or empty field is reported (at its key when present).
    pub(crate) fn require(&self, ctx: &mut Ctx, key: &str) -> Option<&'n Node> {
        let value = self.get(key);
        if value.is_none() {
            match self.entries.iter().find(|(k, _, _)| k == key) {
                Some((_, key_pos, _)) => {
                    ctx.err(*key_pos, &self.path(key), "required field is empty")
                }
                None => ctx.err(self.pos, &self.path(key), "required field is missing"),
            }
        }
        value
    }
}

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
    };
    let known = ["mode", "suspend", "adopt", "recreateFailedStack"];
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
    out
}
