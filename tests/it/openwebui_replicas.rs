//! More than one Open WebUI task, as the example's autoscaling runs them: two real Open
//! WebUI processes from the deployed task definition, sharing Debian's PostgreSQL
//! (`databaseUrlSecretArn`) and Redis (`redisUrlSecretArn`), in front of one LiteLLM
//! task. A user signs up on one and works on the other; each answers a chat; and a
//! browser's websocket on one task receives the chat that its HTTP request started on
//! the other (behind the ALB a browser's socket and its requests can land on different
//! tasks), which only a shared websocket manager delivers (open-webui#5075).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use bedrock_chat_operator::desired::ModelType;

use crate::common::bedrock::reply_for;
use crate::common::openwebui::{Api, ChatStack};
use crate::common::servers::{Postgres, Redis};
use crate::common::{Emulator, REGION, repo_root, skip_emulator_tests};
use crate::stack::{example_with_secrets, load_stack};

const PASSWORD: &str = "Corr3ct-horse-battery";

#[tokio::test]
async fn two_open_webui_tasks_share_users_chats_and_websocket_sessions() {
    if skip_emulator_tests() {
        return;
    }
    let postgres = Postgres::start();
    let redis = Redis::start();
    let emu = Emulator::start();
    let doc = example_with_secrets(&emu, &postgres.url(), &redis.url()).await;
    let desired = load_stack(&doc);
    assert!(
        desired
            .spec
            .services
            .openwebui
            .autoscaling
            .is_some_and(|a| a.max_capacity > 1),
        "the example scales Open WebUI out"
    );
    let stack = ChatStack::deploy(&emu, &doc).await;
    let bedrock = &stack.bedrock;
    // Both tasks mount the same EFS access point, hence one data directory.
    let data = tempfile::tempdir().unwrap();
    let env = stack.openwebui_env(data.path()).await;
    assert_eq!(env["DATABASE_URL"], postgres.url());
    assert_eq!(env["WEBSOCKET_REDIS_URL"], redis.url());
    let a = stack.start_openwebui(&env);
    let b = stack.start_openwebui(&env);

    // One user table: the admin signs up on A, a stranger is refused on B, and A's
    // token works on B (one WEBUI_SECRET_KEY).
    let mut on_a = Api::anonymous(&a.addr);
    let (code, me) = on_a.auth("signup", "admin@example.com", PASSWORD);
    assert_eq!((code, &me["role"]), (200, &"admin".into()), "{me}");
    let (code, refused) = Api::anonymous(&b.addr).auth("signup", "stranger@example.com", PASSWORD);
    assert_eq!(code, 403, "{refused}");
    let on_b = Api {
        addr: &b.addr,
        token: on_a.token.clone(),
    };
    let text: Vec<String> = crate::stack::model_names(&doc, ModelType::Text)
        .into_iter()
        .collect();
    assert_eq!(on_a.models(), text);
    assert_eq!(on_b.models(), text);

    // Each task answers a chat.
    let model = desired
        .spec
        .models
        .iter()
        .find(|m| m.kind == ModelType::Text)
        .unwrap();
    let want = reply_for(&model.model_id, model.region_or(REGION));
    for api in [&on_a, &on_b] {
        assert_eq!(api.chat(&model.name, "Say hello.", true), Ok(want.clone()));
    }
    bedrock.take();

    // The browser's socket is on A; its chat request lands on B. B runs the chat as a
    // background task and sends the answer to the user's sockets, through Redis.
    let mut socket = Command::new(repo_root().join(".venv/openwebui/bin/python"))
        .arg(repo_root().join("tests/emulator/openwebui_socket.py"))
        .args([&format!("http://{}", a.addr), &on_a.token, "120"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the socket client");
    let (lines, received) = mpsc::channel::<String>();
    let stdout = socket.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let first = received
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| {
            panic!(
                "the socket client did not connect to A: {}",
                stderr_of(&mut socket)
            )
        });
    let sid = serde_json::from_str::<serde_json::Value>(&first).unwrap()["sid"]
        .as_str()
        .unwrap_or_else(|| panic!("no sid in {first}"))
        .to_string();
    let (code, started) = on_b.call(
        "POST",
        "/api/chat/completions",
        &serde_json::json!({
            "model": model.name, "stream": true,
            "messages": [{"role": "user", "content": "Say hello."}],
            "chat_id": "local:replica-test", "id": "message-1", "session_id": sid,
        }),
    );
    assert_eq!(code, 200, "{started}");
    assert_eq!(
        started["status"], true,
        "B runs the chat as a task: {started}"
    );
    let mut events = Vec::new();
    let delivered = loop {
        match received.recv_timeout(Duration::from_secs(60)) {
            Ok(line) if line.contains(&want) => break true,
            Ok(line) => events.push(line),
            Err(_) => break false,
        }
    };
    drop(socket.stdin.take());
    let _ = socket.wait();
    assert!(
        delivered,
        "the answer of a chat run on B never reached the user's socket on A; events seen:\n{}",
        events.join("\n")
    );
    let calls = bedrock.take();
    assert!(
        calls
            .iter()
            .any(|c| c.model_id == model.model_id && c.operation == "converse-stream"),
        "{calls:?}"
    );
    let seen = stack.outbound.seen();
    assert!(
        seen.is_empty(),
        "Open WebUI reached beyond loopback: {seen:?}"
    );
}

fn stderr_of(child: &mut std::process::Child) -> String {
    let _ = child.kill();
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    err
}
