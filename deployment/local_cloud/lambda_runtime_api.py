"""Runs the project's Lambda binaries when moto's Lambda is invoked.

Each function gets warm worker processes, like Lambda execution environments: a worker is the
function's binary started with AWS_LAMBDA_RUNTIME_API pointing at a small HTTP server here that speaks
the Lambda Runtime API (next invocation, response, error). The binary's `Handler` names the executable
in the lambda directory (on AWS the provided.al2023 runtime ignores Handler and runs `bootstrap`).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_PREFIX = "/2018-06-01/runtime"
IDLE_WORKER_SECONDS = 120


@dataclass
class Invocation:
    request_id: str
    event: bytes
    deadline_ms: int
    function_arn: str
    done: threading.Event = field(default_factory=threading.Event)
    payload: bytes = b""
    errored: bool = False


def error_payload(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


class Worker:
    """One execution environment: a running binary and its Runtime API endpoint."""

    def __init__(self, binary: str, env: dict[str, str], log_path: str):
        self.pending: queue.Queue[Invocation] = queue.Queue()
        self.current: Invocation | None = None
        self.last_used = time.monotonic()
        self.init_error: bytes | None = None
        worker = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep the server quiet; the binary's logs are what matter
                pass

            def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None):
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path != f"{API_PREFIX}/invocation/next":
                    return self._reply(404)
                inv = worker.pending.get()
                worker.current = inv
                self._reply(
                    200,
                    inv.event,
                    {
                        "Content-Type": "application/json",
                        "Lambda-Runtime-Aws-Request-Id": inv.request_id,
                        "Lambda-Runtime-Deadline-Ms": str(inv.deadline_ms),
                        "Lambda-Runtime-Invoked-Function-Arn": inv.function_arn,
                        "Lambda-Runtime-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}",
                    },
                )

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.path == f"{API_PREFIX}/init/error":
                    worker.init_error = body or error_payload("Runtime.InitError", "initialisation failed")
                    return self._reply(202, b"{}")
                parts = self.path.split("/")
                inv = worker.current
                if len(parts) >= 6 and inv is not None and parts[4] == inv.request_id:
                    inv.errored = parts[5] == "error"
                    inv.payload = body if (body or not inv.errored) else error_payload("Unhandled", "no details")
                    worker.current = None
                    inv.done.set()
                    return self._reply(202, b"{}")
                return self._reply(400, b'{"errorMessage":"unknown invocation"}')

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        env = dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{self.server.server_address[1]}")
        self.log = open(log_path, "ab", buffering=0)
        self.proc = subprocess.Popen([binary], env=env, stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def invoke(self, inv: Invocation, timeout_s: float) -> Invocation:
        self.pending.put(inv)
        give_up = time.monotonic() + timeout_s
        while not inv.done.wait(0.05):
            if not self.alive():
                detail = (self.init_error or b"").decode(errors="replace")
                inv.payload = error_payload(
                    "Runtime.ExitError",
                    f"the function's process exited with status {self.proc.returncode} {detail}".strip(),
                )
                inv.errored = True
                break
            if time.monotonic() > give_up:
                self.stop()
                inv.payload = error_payload("Sandbox.Timedout", f"Task timed out after {timeout_s:.2f} seconds")
                inv.errored = True
                break
        self.last_used = time.monotonic()
        return inv

    def stop(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait()
        self.server.shutdown()
        self.server.server_close()
        self.log.close()


class LambdaRunner:
    """Keeps warm workers per function configuration and dispatches invocations to them."""

    def __init__(self, lambda_dir: str, log_dir: str, endpoint: str):
        self.lambda_dir = lambda_dir
        self.log_dir = log_dir
        self.endpoint = endpoint
        self.idle: dict[tuple, list[Worker]] = {}
        self.lock = threading.Lock()
        os.makedirs(log_dir, exist_ok=True)
        threading.Thread(target=self._reap_idle, daemon=True).start()

    def _env(self, fn) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AWS_REGION": fn.region,
            "AWS_DEFAULT_REGION": fn.region,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "local-cloud",
            "AWS_SECRET_ACCESS_KEY": "local-cloud",
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.function_name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"local/{fn.function_name}",
        }
        if "RUST_LOG" in os.environ:
            env["RUST_LOG"] = os.environ["RUST_LOG"]
        env.update({k: str(v) for k, v in (fn.environment_vars or {}).items()})
        return env

    def invoke(self, fn, event: bytes) -> tuple[bytes, bool]:
        binary = os.path.join(self.lambda_dir, os.path.basename(fn.handler or ""))
        if not fn.handler or not os.path.isfile(binary):
            return error_payload(
                "Runtime.InvalidEntrypoint",
                f"no binary {binary!r} for handler {fn.handler!r}; build it with `cargo build -p workflow-lambdas`",
            ), True
        env = self._env(fn)
        key = (fn.function_arn, binary, json.dumps(env, sort_keys=True))
        with self.lock:
            pool = self.idle.setdefault(key, [])
            worker = None
            while pool and worker is None:
                candidate = pool.pop()
                if candidate.alive():
                    worker = candidate
                else:
                    candidate.stop()
        if worker is None:
            worker = Worker(binary, env, os.path.join(self.log_dir, f"{fn.function_name}.log"))
        timeout_s = float(fn.timeout or 3)
        inv = Invocation(
            request_id=str(uuid.uuid4()),
            event=event,
            deadline_ms=int(time.time() * 1000 + timeout_s * 1000),
            function_arn=fn.function_arn,
        )
        worker.invoke(inv, timeout_s + 1.0)
        with self.lock:
            if worker.alive():
                self.idle.setdefault(key, []).append(worker)
        return inv.payload, inv.errored

    def _reap_idle(self):
        while True:
            time.sleep(10)
            cutoff = time.monotonic() - IDLE_WORKER_SECONDS
            with self.lock:
                for key, pool in list(self.idle.items()):
                    stale = [w for w in pool if w.last_used < cutoff or not w.alive()]
                    for w in stale:
                        pool.remove(w)
                        w.stop()

    def stop_all(self):
        """At exit: end every worker process (their HTTP servers are daemon threads and end with us)."""
        with self.lock:
            for pool in self.idle.values():
                for w in pool:
                    if w.alive():
                        w.proc.kill()
            self.idle.clear()


def install(ctx) -> None:
    """Routes moto's Lambda invokes to a runner of the real binaries (instead of moto's canned
    Docker-less answers); the runner is `ctx.services["lambda_runner"]`."""
    from moto.awslambda import models

    runner = LambdaRunner(ctx.lambda_dir, os.path.join(ctx.state_dir, "logs", "lambda"), ctx.url)
    ctx.services["lambda_runner"] = runner
    ctx.on_shutdown(runner.stop_all)

    def invoke(self, body, request_headers, response_headers):
        event = body.encode() if isinstance(body, str) else (body or b"{}")
        inv_type = request_headers.get("x-amz-invocation-type") or request_headers.get("X-Amz-Invocation-Type")
        if inv_type == "Event":
            threading.Thread(target=runner.invoke, args=(self, event), daemon=True).start()
            return b""
        payload, errored = runner.invoke(self, event)
        if errored:
            response_headers["x-amz-function-error"] = "Unhandled"
        return payload

    models.LambdaFunction.invoke = invoke

    # Without Docker moto answers invokes from its "simple" backend, which echoes the event: send those
    # invokes to the function instead.
    from moto.awslambda_simple.models import LambdaSimpleBackend

    def backend_invoke(self, function_name, qualifier, body, headers, response_headers):
        fn = self.get_function(function_name, qualifier)
        payload = fn.invoke(body, headers, response_headers)
        response_headers["Content-Length"] = str(len(payload))
        return payload

    LambdaSimpleBackend.invoke = backend_invoke
