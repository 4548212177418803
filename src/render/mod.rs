//! Rendering a validated desired state into what AWS receives: the stack's parameters,
//! and per owned concern (`services`, `litellm`, `backup`) what the operator wants of it. Pure functions: same input, same
//! bytes, so that hashes of the output detect changes without reading AWS twice.

pub(crate) mod backup;
mod litellm;
mod outputs;
mod owned;
mod parameters;
mod services;
mod stack;

pub use backup::{
    BackupDesired, BackupPlan, BackupRule, SelectionSpec, backup_plan, backup_plan_name,
};
pub use litellm::{
    BedrockModel, LITELLM_CONFIG_CONTENT_TYPE, LiteLlmConfig, LiteLlmDesired, litellm_config,
};
pub use outputs::Outputs;
pub use owned::{OwnedDesired, owned};
pub use parameters::stack_parameters;
pub use services::ServicesDesired;
pub use stack::{RenderedStack, stack_policy};

use sha2::{Digest, Sha256};

/// Lowercase hex sha256, the form the operator writes into tags and object metadata.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A desired state with `models` (YAML flow items, one per line), for the renderers' tests.
#[cfg(test)]
pub(crate) fn spec_with_models(models: &str) -> crate::desired::Spec {
    let doc = format!(
        "apiVersion: bedrockchat.dev/v1alpha1\nkind: ImageChatStack\nmetadata: {{name: test-stack}}\nspec:\n  region: us-west-2\n  models:\n{models}"
    );
    let (mut stacks, mut diagnostics) = (Vec::new(), Vec::new());
    crate::desired::load_bytes(
        std::path::Path::new("t.yaml"),
        doc.as_bytes(),
        &mut stacks,
        &mut diagnostics,
    );
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    stacks.remove(0).spec
}
