//! Integration tests, in one binary so that the AWS SDK is linked once, not per file.
//! Tests that need AWS start their own moto server (see `common::Emulator`).

mod charts;
mod chat_path;
mod common;
mod daemon;
mod errors;
mod faults;
mod health;
mod health_mocked;
mod hooks;
mod iam;
mod image_user;
mod litellm_tasks;
mod load_props;
mod openwebui;
mod openwebui_replicas;
mod orphaned;
mod owned;
mod owned_mocked;
mod plan_output;
mod protect;
mod secrets;
mod stack;
mod stack_mocked;
mod validate;
mod wiring;
