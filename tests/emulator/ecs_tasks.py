"""ECS tasks that really start, inside the moto server (tests/emulator/moto_launcher.py).

moto runs no containers: a service "runs" its desired count the moment it is set, so a
task that would crash on AWS (its config object missing, a secret unreadable) never
does, and a deploy that is green on moto fails on AWS. With BCO_ECS_TASKS set, the
launcher does what ECS does at those moments, for the containers the tests name:

- a task is due when a service is created with, or updated to, more tasks than its
  current deployment runs, and when a deployment starts (forceNewDeployment, or a new
  task definition, e.g. from a stack update); tasks beyond the desired count stop, and
  the tasks of an older deployment stop once the new deployment's tasks serve;
- a due task starts the container's real process (LiteLLM from .venv/litellm, ...) with
  the task definition's command and environment, its `secrets` resolved from moto's
  Secrets Manager as ECS resolves them at task start (a secret that cannot be read
  stops the task, as ResourceInitializationError does on ECS);
- the service's runningCount counts the tasks whose process serves (its health path
  answers 200), not the desired count moto would report.

Test-only differences, each needed because a test shares one machine: the container's
port flag gets a free port, the process binds 127.0.0.1, and it reaches AWS through
this moto server (AWS_ENDPOINT_URL, test credentials) rather than through the task role.

Every task is one JSON line in the log file named by the configuration: "start" (with
the config object it could read at that instant, when the container names one through
its environment), then "serving" (with what its probe answered) or "exited" (its exit
code and the end of its output), and "stopped". Tests read that file.

BCO_ECS_TASKS is JSON:
  {"log": PATH, "containers": {NAME: {"command": [EXE, ...], "port_arg": "--port",
   "args": [...], "health": "/path", "env": {...},
   "probe": {"path": "/v1/models", "bearer_env": "LITELLM_MASTER_KEY"},
   "s3_object_env": ["BUCKET_VAR", "KEY_VAR"]}}}
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from typing import Any

_lock = threading.RLock()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Container:
    """One container of a task whose process the runner starts."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.proc: subprocess.Popen[bytes] | None = None
        self.addr = ""
        self.serving = False
        self.done = False
        self.home = tempfile.mkdtemp(prefix=f"ecs-task-{name}-")


class Task:
    """An ECS task: the containers the tests name, started together, serving together."""

    def __init__(self, service_arn: str, deployment: str) -> None:
        self.service_arn = service_arn
        self.deployment = deployment
        self.containers: list[Container] = []

    @property
    def done(self) -> bool:
        return any(c.done for c in self.containers)

    @property
    def serving(self) -> bool:
        return bool(self.containers) and all(c.serving and not c.done for c in self.containers)


class Runner:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.endpoint = ""
        self.tasks: dict[str, list[Task]] = {}

    # ------------------------------------------------------------------ records
    def record(self, event: str, task: Task, c: Container, **fields: Any) -> None:
        line = {"event": event, "time": time.time(), "service": task.service_arn,
                "deployment": task.deployment, "container": c.name, "addr": c.addr, **fields}
        with _lock, open(self.config["log"], "a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")

    # ------------------------------------------------------------------ ECS's view
    def reconcile(self, backend: Any, service: Any) -> None:
        """Makes the started tasks match the service's desired count and deployment."""
        with _lock:
            td = backend.describe_task_definition(service.task_definition)
            deployment = f"{service.deployments[0]['id']}|{td.arn}" if service.deployments else td.arn
            tasks = [t for t in self.tasks.get(service.arn, []) if not t.done]
            current = [t for t in tasks if t.deployment == deployment]
            desired = int(service.desired_count or 0)
            if service.status != "ACTIVE":
                desired = 0
            for extra in current[desired:]:
                self.stop(extra, "desired count lowered")
            for _ in range(desired - len(current)):
                self.start(backend, service, td, deployment)
            if desired == 0:
                for old in tasks:
                    if old.deployment != deployment:
                        self.stop(old, "the service has no tasks")
            self.tasks[service.arn] = [t for t in self.tasks.get(service.arn, []) if not t.done]
            self.count(service)

    def count(self, service: Any) -> None:
        """runningCount as ECS reports it: tasks that run, of any deployment."""
        tasks = [t for t in self.tasks.get(service.arn, []) if t.serving]
        desired = int(service.desired_count or 0)
        service.running_count = len(tasks)
        service.pending_count = max(0, desired - len(tasks))
        if service.deployments:
            primary = service.deployments[0]
            mine = sum(1 for t in tasks if t.deployment.startswith(f"{primary['id']}|"))
            primary["desiredCount"] = desired
            primary["runningCount"] = mine
            primary["rolloutState"] = "COMPLETED" if mine >= desired else "IN_PROGRESS"

    def start(self, backend: Any, service: Any, td: Any, deployment: str) -> None:
        named = [c for c in td.container_definitions if c.get("name", "") in self.config["containers"]]
        if not named:
            return
        task = Task(service.arn, deployment)
        self.tasks.setdefault(service.arn, []).append(task)
        region = service.arn.split(":")[3]
        account = service.arn.split(":")[4]
        for definition in named:
            c = Container(definition["name"])
            task.containers.append(c)
            spec = self.config["containers"][c.name]
            env = {e["name"]: e.get("value", "") for e in definition.get("environment", [])}
            secrets, failed = self.secrets(definition, account, region)
            seen = self.s3_object(spec, env, account)
            if failed:
                # ECS fails the whole task when a secret cannot be read.
                c.done = True
                self.record("start", task, c, taskDefinition=td.arn, s3Object=seen)
                self.record("exited", task, c, code=None, reason=f"ResourceInitializationError: {failed}")
                self.stop(task, "a container could not start")
                return
            port = _free_port()
            c.addr = f"127.0.0.1:{port}"
            command = list(definition.get("command") or [])
            flag = spec.get("port_arg")
            if flag and flag in command:
                command[command.index(flag) + 1] = str(port)
            argv = [*spec["command"], *command, *spec.get("args", [])]
            proc_env = {"PATH": os.environ.get("PATH", ""), "HOME": c.home, **env, **secrets,
                        "AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", **spec.get("env", {})}
            out = open(os.path.join(c.home, "output.log"), "wb")  # noqa: SIM115 - the child owns it
            c.proc = subprocess.Popen(argv, env=proc_env, cwd=c.home, stdout=out,
                                      stderr=subprocess.STDOUT, start_new_session=True)
            self.record("start", task, c, taskDefinition=td.arn, s3Object=seen, argv=argv[1:])
            threading.Thread(target=self.watch, args=(service, task, c, spec, proc_env),
                             daemon=True).start()

    def secrets(self, container: dict[str, Any], account: str, region: str) -> tuple[dict[str, str], str]:
        from moto.secretsmanager.models import secretsmanager_backends

        backend = secretsmanager_backends[account][region]
        values = {}
        for s in container.get("secrets", []):
            try:
                values[s["name"]] = backend.get_secret_value(s["valueFrom"], None, None)["SecretString"]
            except Exception as e:  # noqa: BLE001 - any failure stops the task, as on ECS
                return {}, f"unable to retrieve secret {s['valueFrom']}: {type(e).__name__}"
        return values, ""

    def s3_object(self, spec: dict[str, Any], env: dict[str, str], account: str) -> dict[str, Any] | None:
        names = spec.get("s3_object_env")
        if not names:
            return None
        from moto.s3.models import s3_backends

        bucket, key = env.get(names[0], ""), env.get(names[1], "")
        try:
            obj = s3_backends[account]["aws"].get_object(bucket, key)
        except Exception:  # noqa: BLE001 - a missing bucket is a missing object
            obj = None
        return {"bucket": bucket, "key": key, "present": obj is not None,
                "sha256": (obj.metadata.get("x-amz-meta-sha256") if obj is not None else None)}

    # ------------------------------------------------------------------ a task's life
    def watch(self, service: Any, task: Task, c: Container, spec: dict[str, Any],
              env: dict[str, str]) -> None:
        deadline = time.monotonic() + 240
        assert c.proc is not None
        while time.monotonic() < deadline:
            code = c.proc.poll()
            if code is not None:
                self.exited(service, task, c, code)
                return
            if self.get(c, spec.get("health", "/"))[0] == 200:
                break
            time.sleep(0.25)
        else:
            self.stop(task, f"{c.name} not serving within 240 s")
            return
        probe = spec.get("probe")
        answer: Any = None
        if probe:
            token = env.get(probe.get("bearer_env", ""), "")
            status, body = self.get(c, probe["path"], token)
            try:
                answer = {"status": status, "body": json.loads(body)}
            except ValueError:
                answer = {"status": status, "body": body[:2000]}
        with _lock:
            c.serving = True
            self.record("serving", task, c, probe=answer)
            if task.serving:
                # The new deployment serves: the older one's tasks are drained.
                for old in self.tasks.get(service.arn, []):
                    if old.deployment != task.deployment and not old.done:
                        self.stop(old, "replaced by a newer deployment")
            self.count(service)

    def get(self, c: Container, path: str, token: str = "") -> tuple[int, str]:
        req = urllib.request.Request(f"http://{c.addr}{path}")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=5) as r:  # noqa: S310 - loopback only
                return r.status, r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return e.code, ""
        except OSError:
            return 0, ""

    def exited(self, service: Any, task: Task, c: Container, code: int) -> None:
        with _lock:
            if c.done:
                return
            c.done = True
            c.serving = False
            tail = ""
            try:
                with open(os.path.join(c.home, "output.log"), "rb") as f:
                    tail = f.read()[-4000:].decode("utf-8", "replace")
            except OSError:
                pass
            self.record("exited", task, c, code=code, output=tail)
        # An essential container's exit stops its task, as on ECS.
        self.stop(task, f"essential container {c.name} exited")
        self.count(service)

    def stop(self, task: Task, why: str) -> None:
        for c in task.containers:
            with _lock:
                if c.done and c.proc is None:
                    continue
                was_done = c.done
                c.done = True
                c.serving = False
            proc, c.proc = c.proc, None
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
            if not was_done:
                self.record("stopped", task, c, reason=why)

    def stop_all(self) -> None:
        for tasks in list(self.tasks.values()):
            for t in tasks:
                self.stop(t, "the emulator stops")


_runner: Runner | None = None


def install(endpoint_holder: list[str]) -> bool:
    """Hooks moto's ECS backend when BCO_ECS_TASKS is set; returns whether it did."""
    raw = os.environ.get("BCO_ECS_TASKS")
    if not raw:
        return False
    global _runner
    _runner = Runner(json.loads(raw))
    runner = _runner
    from moto.ecs.models import EC2ContainerServiceBackend

    create = EC2ContainerServiceBackend.create_service
    update = EC2ContainerServiceBackend.update_service
    delete = EC2ContainerServiceBackend.delete_service

    def create_service(self: Any, *args: Any, **kwargs: Any) -> Any:
        service = create(self, *args, **kwargs)
        runner.endpoint = endpoint_holder[0]
        runner.reconcile(self, service)
        return service

    def update_service(self: Any, service_properties: dict[str, Any]) -> Any:
        service = update(self, dict(service_properties))
        runner.endpoint = endpoint_holder[0]
        runner.reconcile(self, service)
        return service

    def delete_service(self: Any, *args: Any, **kwargs: Any) -> Any:
        service = delete(self, *args, **kwargs)
        with _lock:
            for t in runner.tasks.get(service.arn, []):
                runner.stop(t, "service deleted")
        return service

    EC2ContainerServiceBackend.create_service = create_service
    EC2ContainerServiceBackend.update_service = update_service
    EC2ContainerServiceBackend.delete_service = delete_service
    return True


def stop_all() -> None:
    if _runner is not None:
        _runner.stop_all()
