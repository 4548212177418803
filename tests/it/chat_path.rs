//! The chat path at LiteLLM's level: the operator applies the example on moto, then both
//! real LiteLLM processes of the LiteLLM task (pinned, from PyPI, in `.venv/litellm/`)
//! start with exactly the command and environment the stack's task definition gives
//! them, load the model lists the operator put in S3, and answer through a Bedrock
//! runtime stand-in (moto does not emulate bedrock-runtime): chat through Converse,
//! images through InvokeModel, each signed for its model's region. A changed model list
//! is served after the redeployment. (`openwebui.rs` adds Open WebUI in front.)
//!
//! Fails if the operator renders a config LiteLLM cannot load, puts it where the task
//! definition does not point, drops a model, lists an image model for chat, or wires
//! Open WebUI to the wrong process.

use std::collections::BTreeSet;

use bedrock_chat_operator::desired::ModelType;

use crate::common::bedrock::{BedrockRuntime, image_for, reply_for};
use crate::common::deployment::{
    Deployment, LITELLM_CONTAINERS, Process, litellm_launch, start_litellm,
};
use crate::common::{Emulator, REGION, http, skip_emulator_tests};
use crate::stack::{desired_file, example, load_stack, model_names, run};

/// `GET /v1/models` with `key`: (status, model ids).
fn models(proxy: &Process, key: Option<&str>) -> (u16, BTreeSet<String>) {
    let auth = key.map(|k| format!("Bearer {k}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    let (code, body) = http(&proxy.addr, "GET", "/v1/models", &headers, "");
    if code != 200 {
        return (code, BTreeSet::new());
    }
    let v: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("/v1/models answered {body:?}: {e}"));
    let ids = v["data"]
        .as_array()
        .unwrap_or_else(|| panic!("/v1/models without data: {v}"))
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    (code, ids)
}

/// A JSON POST with the master key: (status, JSON or the raw text as a string).
fn post(
    proxy: &Process,
    key: &str,
    path: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    let auth = format!("Bearer {key}");
    let (code, text) = http(
        &proxy.addr,
        "POST",
        path,
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        &body.to_string(),
    );
    let v = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    (code, v)
}

#[tokio::test]
async fn litellm_serves_the_reconciled_models_and_generates_images_through_bedrock() {
    if skip_emulator_tests() {
        return;
    }
    let emu = Emulator::start();
    let doc = example();
    let (dir, file) = desired_file(&doc);
    let applied = run(&emu, &["apply"], &file);
    assert_eq!(applied.code, 0, "{}\n{}", applied.stdout, applied.stderr);
    let desired = load_stack(&doc);
    let deployment = Deployment::read(&emu, "bedrock-image-chat").await;
    let bedrock = BedrockRuntime::start();

    // Open WebUI reaches each LiteLLM process on its container's port, with its key.
    let webui = deployment
        .container("OpenWebUIServiceName", "openwebui")
        .await;
    for (name, var) in LITELLM_CONTAINERS {
        let c = deployment.container("LiteLLMServiceName", name).await;
        let url = &webui.env[var];
        assert!(
            url.ends_with(&format!(":{}/v1", c.arg("--port"))),
            "{var}={url} does not reach {name}'s port {}",
            c.arg("--port")
        );
    }
    let litellm_key_arn = deployment
        .container("LiteLLMServiceName", "litellm")
        .await
        .secret_arns["LITELLM_MASTER_KEY"]
        .clone();
    for var in ["OPENAI_API_KEY", "IMAGES_OPENAI_API_KEY"] {
        assert_eq!(webui.secret_arns[var], litellm_key_arn, "{var}");
    }
    let webui_model = webui.env["IMAGE_GENERATION_MODEL"].clone();
    let webui_size = webui.env["IMAGE_SIZE"].clone();
    assert_eq!(webui_model, desired.spec.image_generation.model);
    assert_eq!(webui_size, desired.spec.image_generation.size);

    let (command, env) = litellm_launch(&deployment, "litellm", &emu, &bedrock).await;
    let key = env["LITELLM_MASTER_KEY"].clone();
    let chat = start_litellm("litellm", &command, &env, dir.path());
    let (command, env) = litellm_launch(&deployment, "litellm-images", &emu, &bedrock).await;
    let images = start_litellm("litellm-images", &command, &env, dir.path());

    // Each process lists its kind of model, and only those; no key, no models.
    assert_eq!(
        models(&chat, Some(&key)),
        (200, model_names(&doc, ModelType::Text))
    );
    assert_eq!(
        models(&images, Some(&key)),
        (200, model_names(&doc, ModelType::Image))
    );
    assert_eq!(models(&chat, None).0, 401);
    // A wrong key is refused too; LiteLLM without a database answers 400 ("no db
    // connected" to look the key up) rather than 401, either way no models.
    let wrong = models(&chat, Some("sk-not-the-master-key"));
    assert!(
        matches!(wrong.0, 400 | 401 | 403),
        "wrong key answered {wrong:?}"
    );

    // Chat: every text model through Converse, signed for its own region.
    for model in desired
        .spec
        .models
        .iter()
        .filter(|m| m.kind == ModelType::Text)
    {
        let (code, response) = post(
            &chat,
            &key,
            "/v1/chat/completions",
            &serde_json::json!({"model": model.name, "messages": [{"role": "user", "content": "Hello"}]}),
        );
        assert_eq!(code, 200, "{}: {response}", model.name);
        let calls = bedrock.take();
        let region = model.region_or(REGION);
        assert_eq!(calls.len(), 1, "{}: {calls:?}", model.name);
        assert_eq!(
            (
                calls[0].operation.as_str(),
                calls[0].model_id.as_str(),
                calls[0].region.as_str()
            ),
            ("converse", model.model_id.as_str(), region),
            "{}",
            model.name
        );
        assert_eq!(
            response["choices"][0]["message"]["content"],
            reply_for(&model.model_id, region).as_str(),
            "{}",
            model.name
        );
    }

    // Images: Open WebUI's model and size first, then every other image model, sent the
    // way Open WebUI's "openai" engine sends them.
    let (w, h) = webui_size.split_once('x').unwrap();
    let (w, h): (u64, u64) = (w.parse().unwrap(), h.parse().unwrap());
    let mut image_models: Vec<_> = desired
        .spec
        .models
        .iter()
        .filter(|m| m.kind == ModelType::Image)
        .collect();
    image_models.sort_by_key(|m| m.name != webui_model);
    assert!(
        image_models.len() >= 2,
        "the example should exercise several image models"
    );
    for model in image_models {
        let prompt = format!("a lighthouse at dusk, drawn for {}", model.name);
        let body = serde_json::json!({
            "model": model.name, "prompt": prompt, "n": 1, "size": webui_size,
            "response_format": "b64_json"
        });
        let (code, response) = post(&images, &key, "/v1/images/generations", &body);
        assert_eq!(code, 200, "{}: {response}", model.name);
        let calls = bedrock.take();
        assert_eq!(
            calls.len(),
            1,
            "{}: one call expected, got {calls:?}",
            model.name
        );
        let call = &calls[0];
        assert_eq!(
            (
                call.operation.as_str(),
                call.model_id.as_str(),
                call.region.as_str()
            ),
            ("invoke", model.model_id.as_str(), model.region_or(REGION)),
            "{}",
            model.name
        );
        let body = &call.body;
        if model.model_id.starts_with("stability.") {
            // LiteLLM 1.80.11 maps no OpenAI parameter for Stability 3.x (SD3.5 takes an
            // aspect_ratio, default 1:1): the prompt is all it sends.
            assert_eq!(body["prompt"], prompt.as_str(), "{body}");
        } else {
            assert_eq!(body["taskType"], "TEXT_IMAGE", "{body}");
            assert_eq!(body["textToImageParams"]["text"], prompt.as_str(), "{body}");
            let config = &body["imageGenerationConfig"];
            assert_eq!(config["width"], w, "{body}");
            assert_eq!(config["height"], h, "{body}");
            assert_eq!(config["numberOfImages"], 1, "{body}");
        }
        let got = response["data"][0]["b64_json"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no b64_json in {response}", model.name));
        assert_eq!(
            aws_smithy_types::base64::decode(got).unwrap(),
            image_for(&model.model_id),
            "{}",
            model.name
        );
    }
    drop((chat, images));

    // A new model list: one image model gone, one text model added.
    let changed = crate::stack::changed_models(&doc);
    std::fs::write(&file, &changed).unwrap();
    let reapplied = run(&emu, &["apply"], &file);
    assert_eq!(
        reapplied.code, 0,
        "{}\n{}",
        reapplied.stdout, reapplied.stderr
    );
    assert!(
        reapplied.stdout.contains("PushModelConfig")
            && reapplied.stdout.contains("RedeployLiteLlm"),
        "{}",
        reapplied.stdout
    );

    // The forced redeployment starts new processes from the same task definition.
    let (command, env) = litellm_launch(&deployment, "litellm", &emu, &bedrock).await;
    let chat = start_litellm("litellm", &command, &env, dir.path());
    let (command, env) = litellm_launch(&deployment, "litellm-images", &emu, &bedrock).await;
    let images = start_litellm("litellm-images", &command, &env, dir.path());
    let text = model_names(&changed, ModelType::Text);
    let image = model_names(&changed, ModelType::Image);
    assert!(text.contains("nova-lite") && !image.contains("stable-image-ultra"));
    assert_eq!(models(&chat, Some(&key)), (200, text));
    assert_eq!(models(&images, Some(&key)), (200, image));
}
