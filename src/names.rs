//! The names the stages share with AWS and with each other: tag keys, object metadata
//! keys, policy and rule names. `render` writes them, `observe` reads them back and
//! `plan` compares, so each is defined once, here.

/// Prefix of every tag the operator writes: its own, to compare and to replace; all
/// other tags on a stack belong to people and are kept.
pub(crate) const TAG_PREFIX: &str = "bedrock-chat-operator/";
/// Marks stacks the operator created; it changes no stack without it (unless adopting).
pub(crate) const TAG_MANAGED_BY: &str = "bedrock-chat-operator/managed-by";
pub(crate) const MANAGED_BY: &str = "bedrock-chat-operator";
/// The desired-state document that manages the stack, so two documents (or two
/// operators' repositories) never fight over one stack.
pub(crate) const TAG_NAME: &str = "bedrock-chat-operator/name";
/// sha256 of the template body deployed.
pub(crate) const TAG_TEMPLATE: &str = "bedrock-chat-operator/template-sha256";
/// Tag on the LiteLLM service: sha256 of the config its running tasks started with.
pub const CONFIG_TAG: &str = "bedrock-chat-operator/config-sha256";
/// Object metadata key holding the sha256 of a config object's body (S3 sends it as
/// `x-amz-meta-sha256`).
pub(crate) const SHA256_METADATA: &str = "sha256";
/// Name of the target-tracking policy the operator puts on Open WebUI.
pub(crate) const CPU_POLICY_NAME: &str = "bedrock-chat-operator-cpu";
/// The one rule of the operator's backup plan.
pub(crate) const BACKUP_RULE_NAME: &str = "efs-scheduled";
