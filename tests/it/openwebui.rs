//! Open WebUI as users meet it: the operator applies the example (one Open WebUI task,
//! SQLite on its EFS data directory) on moto; both LiteLLM processes and the real Open
//! WebUI at the chart's image version start from the task definitions the stack
//! registered (deviations: `common::openwebui`), in front of the Bedrock stand-in.
//! Through Open WebUI's HTTP API: the first signup makes the admin and closes signup;
//! chat offers exactly the text models (no Arena, no image model) and answers through
//! Converse / ConverseStream in each model's region; image generation answers with
//! `imageGeneration.model`'s image; settings saved in the UI take effect, and after a
//! restart on the same data the environment (Git) wins again, the admin still signs
//! in and a stranger's signup is refused. Nothing reaches beyond loopback.

use bedrock_chat_operator::desired::ModelType;

use crate::common::bedrock::{image_for, reply_for};
use crate::common::openwebui::{Api, ChatStack};
use crate::common::{Emulator, REGION, skip_emulator_tests};
use crate::stack::{example, load_stack, model_names};

const PASSWORD: &str = "Corr3ct-horse-battery";

/// The example with one Open WebUI task on SQLite (no autoscaling, no database or
/// Redis secret): the shape a first deployment has.
pub fn single_task(doc: &str) -> String {
    let out: Vec<&str> = doc
        .lines()
        .filter(|l| {
            !(l.contains("autoscaling:")
                || l.contains("databaseUrlSecretArn:")
                || l.contains("redisUrlSecretArn:"))
        })
        .collect();
    let out = out.join("\n") + "\n";
    assert!(out.contains("openwebui:\n      desiredCount: 1"), "{out}");
    out
}

#[tokio::test]
async fn open_webui_serves_text_chat_and_images_and_keeps_signup_closed_across_restarts() {
    if skip_emulator_tests() {
        return;
    }
    let emu = Emulator::start();
    let doc = single_task(&example());
    let desired = load_stack(&doc);
    let stack = ChatStack::deploy(&emu, &doc).await;
    let bedrock = &stack.bedrock;
    let data = tempfile::tempdir().unwrap();
    let env = stack.openwebui_env(data.path()).await;
    let webui = stack.start_openwebui(&env);

    // The first signup on an empty database is the admin; signup is closed after it.
    let mut admin = Api::anonymous(&webui.addr);
    let (code, me) = admin.auth("signup", "admin@example.com", PASSWORD);
    assert_eq!(code, 200, "the first user must be able to sign up: {me}");
    assert_eq!(me["role"], "admin", "{me}");
    let (code, refused) =
        Api::anonymous(&webui.addr).auth("signup", "stranger@example.com", PASSWORD);
    assert_eq!(code, 403, "a second signup must be refused: {refused}");

    // Chat offers exactly the text models: no "Arena Model", no image model.
    let text: Vec<String> = model_names(&doc, ModelType::Text).into_iter().collect();
    assert_eq!(admin.models(), text);
    let (code, body) = admin.call(
        "POST",
        "/api/chat/completions",
        &serde_json::json!({"model": desired.spec.image_generation.model, "messages": [{"role": "user", "content": "hi"}]}),
    );
    assert_eq!(code, 400, "an image model is not a chat model: {body}");
    assert!(bedrock.take().is_empty(), "nothing reached Bedrock for it");

    // Each text model answers, streamed and not, through its own region.
    for model in desired
        .spec
        .models
        .iter()
        .filter(|m| m.kind == ModelType::Text)
    {
        let region = model.region_or(REGION);
        let want = reply_for(&model.model_id, region);
        for (stream, operation) in [(false, "converse"), (true, "converse-stream")] {
            let got = admin
                .chat(&model.name, "Say hello.", stream)
                .unwrap_or_else(|e| panic!("{} (stream {stream}): {e:?}", model.name));
            assert_eq!(got, want, "{} (stream {stream})", model.name);
            let calls = bedrock.take();
            assert_eq!(
                calls.len(),
                1,
                "{} (stream {stream}): {calls:?}",
                model.name
            );
            assert_eq!(
                (
                    calls[0].operation.as_str(),
                    calls[0].model_id.as_str(),
                    calls[0].region.as_str()
                ),
                (operation, model.model_id.as_str(), region),
                "{} (stream {stream})",
                model.name
            );
        }
    }

    // Image generation: imageGeneration.model, from its region.
    let image_model = |name: &str| {
        desired
            .spec
            .models
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("no model {name}"))
            .clone()
    };
    let assert_image = |api: &Api, name: &str| {
        let m = image_model(name);
        let got = api
            .generate_image("a lighthouse at dusk")
            .unwrap_or_else(|e| panic!("image generation ({name}): {e:?}"));
        assert_eq!(got, image_for(&m.model_id), "{name}");
        let calls = bedrock.take();
        assert_eq!(calls.len(), 1, "{name}: {calls:?}");
        assert_eq!(
            (
                calls[0].operation.as_str(),
                calls[0].model_id.as_str(),
                calls[0].region.as_str()
            ),
            ("invoke", m.model_id.as_str(), m.region_or(REGION)),
            "{name}"
        );
    };
    let env_model = desired.spec.image_generation.model.clone();
    assert_image(&admin, &env_model);

    // Settings saved in the UI take effect at once: signup opened, another image model.
    let other_model = desired
        .spec
        .models
        .iter()
        .find(|m| m.kind == ModelType::Image && m.name != env_model)
        .expect("the example has a second image model")
        .name
        .clone();
    let save_ui_settings = |api: &Api| {
        let (code, mut auth_config) = api.call(
            "GET",
            "/api/v1/auths/admin/config",
            &serde_json::Value::Null,
        );
        assert_eq!(code, 200, "{auth_config}");
        auth_config["ENABLE_SIGNUP"] = true.into();
        let (code, saved) = api.call("POST", "/api/v1/auths/admin/config", &auth_config);
        assert_eq!(code, 200, "{saved}");
        let (code, mut images) = api.call("GET", "/api/v1/images/config", &serde_json::Value::Null);
        assert_eq!(code, 200);
        images["IMAGE_GENERATION_MODEL"] = other_model.as_str().into();
        // The answer echoes the image API key: only its status is looked at.
        let (code, _) = api.call("POST", "/api/v1/images/config/update", &images);
        assert_eq!(code, 200, "saving the image settings");
    };
    save_ui_settings(&admin);
    let (code, opened) = Api::anonymous(&webui.addr).auth("signup", "early@example.com", PASSWORD);
    assert_eq!(
        code, 200,
        "the UI's setting holds until a restart: {opened}"
    );
    assert_eq!(opened["role"], "pending", "{opened}");
    assert_image(&admin, &other_model);

    // A restart on the same data directory: the environment wins again.
    webui.stop();
    let webui = stack.start_openwebui(&env);
    let mut admin = Api::anonymous(&webui.addr);
    let (code, me) = admin.auth("signin", "admin@example.com", PASSWORD);
    assert_eq!(code, 200, "the admin signs in after a restart: {me}");
    assert_eq!(me["role"], "admin");
    let (code, refused) =
        Api::anonymous(&webui.addr).auth("signup", "stranger@example.com", PASSWORD);
    assert_eq!(code, 403, "signup reopened after a restart: {refused}");
    let (code, auth_config) = admin.call(
        "GET",
        "/api/v1/auths/admin/config",
        &serde_json::Value::Null,
    );
    assert_eq!((code, &auth_config["ENABLE_SIGNUP"]), (200, &false.into()));
    assert_image(&admin, &env_model);
    assert_eq!(admin.models(), text, "still exactly the text models");

    let seen = stack.outbound.seen();
    assert!(
        seen.is_empty(),
        "Open WebUI reached beyond loopback (pull-through mode has no internet): {seen:?}"
    );
}
