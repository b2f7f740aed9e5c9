"""Runs the project's Lambda binaries when moto's Lambda is invoked, with AWS's memory, timeout and
crash behaviour.

Each function gets warm worker processes, like Lambda execution environments: a worker is the
function's executable started with AWS_LAMBDA_RUNTIME_API pointing at a small HTTP server here that
speaks the Lambda Runtime API (next invocation, response, error). The function's `Handler` names the
executable in the lambda directory (on AWS the provided.al2023 runtime ignores Handler and runs
`bootstrap`).

Test-only functions (never used by the product's templates): a Handler of the form
`local-cloud-test:<name>` runs `deployment/local_cloud/tests/functions/<name>` with this server's
Python (`sys.executable <script>`), so tests can deploy tiny functions without building Rust.
`<name>` is a plain file name (no folders). Such a script speaks the Runtime API itself; the helper
`tests/functions/runtime_loop.py` does it for a handler function:

    import os, sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from runtime_loop import run
    run(lambda event, context: {"echo": event})   # raise to report a function error

and `tests/script_functions.py` creates such functions from tests (`script_function("echo.py")`).

Fidelity (what AWS does, and where that was checked):
- Memory: before each invocation the worker's peak RSS is reset (`5` written to
  /proc/<pid>/clear_refs), it is sampled every 50 ms during the invocation, and recorded afterwards
  (GET /_local_cloud/lambda/invocations, /_local_cloud/lambda/peak-rss). With config
  `lambda.enforceMemory` (default true) a worker whose peak RSS exceeds the function's MemorySize (MiB)
  is killed and the invocation fails `Runtime.OutOfMemory`, "RequestId: <id> Error: Runtime exited
  with error: signal: killed" (the errorType and message Lambda reports, as seen in CloudWatch logs
  quoted in public projects).
- Timeout: an invocation running past the function's Timeout fails `Sandbox.Timedout` ("Task timed
  out after N seconds"). CreateFunction/UpdateFunctionConfiguration refuse a Timeout above 900 s
  (InvalidParameterValueException; the API model itself allows up to 5,400 s, for Lambda Managed
  Instances, and above that AWS answers ValidationException "1 validation error detected: Value
  '3000' at 'timeout' failed to satisfy constraint: Member must have value less than or equal to
  ..." as quoted in covidatlas/li#575).
- A crashed execution environment (POST /_local_cloud/lambda/kill, or fault injection's
  `killFunction`) fails the running invocation `Runtime.ExitError`, "RequestId: <id> Error: Runtime
  exited with error: signal: killed".
"""

from __future__ import annotations

import collections
import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_PREFIX = "/2018-06-01/runtime"
IDLE_WORKER_SECONDS = 120
# Test-only Handler form, see the module docstring.
TEST_HANDLER_PREFIX = "local-cloud-test:"
TEST_FUNCTIONS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tests", "functions")
# How often a running invocation's memory is sampled (and its worker checked for a crash).
SAMPLE_SECONDS = 0.05
# Lambda's maximum Timeout for ordinary functions, and the API model's maximum (Managed Instances).
MAX_TIMEOUT_SECONDS = 900
MODEL_MAX_TIMEOUT_SECONDS = 5400
RECENT_INVOCATIONS = 2000
# Lambda's limit for a runtime's initialisation phase.
INIT_SECONDS = 10


@dataclass
class Invocation:
    request_id: str
    event: bytes
    deadline_ms: int
    function_arn: str
    done: threading.Event = field(default_factory=threading.Event)
    payload: bytes = b""
    errored: bool = False
    outcome: str = "success"  # success | error | timeout | oom | killed | exit
    peak_rss_mb: float = 0.0
    # When the runtime took the invocation (GET /next): the function's timeout counts from there.
    picked_up_at: float | None = None


def error_payload(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


def function_command(lambda_dir: str, handler: str | None) -> list[str] | None:
    """The command a worker runs for a Handler, or None when there is nothing to run."""
    if not handler:
        return None
    if handler.startswith(TEST_HANDLER_PREFIX):
        name = handler[len(TEST_HANDLER_PREFIX):]
        script = os.path.join(TEST_FUNCTIONS_DIR, name)
        if name != os.path.basename(name) or not os.path.isfile(script):
            return None
        return [sys.executable, script]
    binary = os.path.join(lambda_dir, os.path.basename(handler))
    return [binary] if os.path.isfile(binary) else None


def read_proc_kb(pid: int, key: str) -> int | None:
    """A `key:  N kB` line of /proc/<pid>/status (VmHWM: peak RSS, VmRSS: current RSS)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def reset_peak_rss(pid: int) -> None:
    # Linux: writing 5 to clear_refs resets VmHWM to the current RSS (proc(5)).
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


class Worker:
    """One execution environment: a running process and its Runtime API endpoint."""

    def __init__(self, command: list[str], env: dict[str, str], log_path: str):
        self.pending: queue.Queue[Invocation] = queue.Queue()
        self.current: Invocation | None = None
        self.last_used = time.monotonic()
        self.init_error: bytes | None = None
        # Why the runner killed the process (set before killing): "oom" or "killed".
        self.kill_reason: str | None = None
        worker = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep the server quiet; the function's logs are what matter
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
                inv.picked_up_at = time.monotonic()
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
                    inv.outcome = "error" if inv.errored else "success"
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
        self.proc = subprocess.Popen(command, env=env, stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self, reason: str) -> None:
        """Ends the process as a crashed execution environment ("oom" or "killed")."""
        if self.alive():
            self.kill_reason = self.kill_reason or reason
            self.proc.kill()

    def invoke(self, inv: Invocation, timeout_s: float, memory_mb: int | None) -> Invocation:
        """Runs one invocation; memory_mb (None: not enforced) is the RSS above which it is killed."""
        reset_peak_rss(self.proc.pid)
        self.pending.put(inv)
        queued_at = time.monotonic()
        limit_kb = memory_mb * 1024 if memory_mb else None
        while not inv.done.wait(SAMPLE_SECONDS):
            peak_kb = read_proc_kb(self.proc.pid, "VmHWM")
            if peak_kb is not None:
                inv.peak_rss_mb = max(inv.peak_rss_mb, peak_kb / 1024)
                if limit_kb is not None and peak_kb > limit_kb:
                    self.kill("oom")
            if not self.alive():
                self._fail_exited(inv)
                break
            if self._timed_out(inv, queued_at, timeout_s):
                self.stop()
                inv.payload = error_payload(
                    "Sandbox.Timedout", f"RequestId: {inv.request_id} Error: Task timed out after {timeout_s:.2f} seconds"
                )
                inv.errored, inv.outcome = True, "timeout"
                break
        peak_kb = read_proc_kb(self.proc.pid, "VmHWM")
        if peak_kb is not None:
            inv.peak_rss_mb = max(inv.peak_rss_mb, peak_kb / 1024)
            if limit_kb is not None and peak_kb > limit_kb and inv.outcome in ("success", "error"):
                # A spike between two samples: Lambda would have killed the function during it.
                self.kill("oom")
                self._fail_exited(inv)
        self.last_used = time.monotonic()
        return inv

    @staticmethod
    def _timed_out(inv: Invocation, queued_at: float, timeout_s: float) -> bool:
        # The timeout runs from when the runtime takes the invocation; a process still starting has
        # Lambda's init phase limit (10 s) on top.
        if inv.picked_up_at is None:
            return time.monotonic() > queued_at + INIT_SECONDS + timeout_s
        return time.monotonic() > inv.picked_up_at + timeout_s

    def _fail_exited(self, inv: Invocation) -> None:
        self.proc.wait()
        code = self.proc.returncode
        exit_text = f"signal: {signal_name(-code)}" if code < 0 else f"exit status {code}"
        message = f"RequestId: {inv.request_id} Error: Runtime exited with error: {exit_text}"
        if self.kill_reason == "oom":
            inv.payload, inv.outcome = error_payload("Runtime.OutOfMemory", message), "oom"
        else:
            detail = (self.init_error or b"").decode(errors="replace")
            inv.payload = error_payload("Runtime.ExitError", f"{message} {detail}".strip())
            inv.outcome = "killed" if self.kill_reason == "killed" else "exit"
        inv.errored = True

    def stop(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait()
        self.server.shutdown()
        self.server.server_close()
        self.log.close()


def signal_name(number: int) -> str:
    # Lambda prints Go's signal names ("signal: killed").
    return {9: "killed", 15: "terminated", 6: "aborted", 11: "segmentation fault"}.get(number, f"signal {number}")


class InvocationLog:
    """Recent invocation records and each function's peak RSS (since start or the last reset)."""

    def __init__(self):
        self.records: collections.deque[dict] = collections.deque(maxlen=RECENT_INVOCATIONS)
        self.peaks: dict[str, float] = {}
        self.lock = threading.Lock()

    def add(self, function_name: str, memory_size: int, inv: Invocation, started: float, duration_ms: float) -> None:
        record = {
            "function": function_name,
            "requestId": inv.request_id,
            "startTime": started,
            "durationMs": round(duration_ms, 1),
            "peakRssMb": round(inv.peak_rss_mb, 1),
            "memorySizeMb": memory_size,
            "outcome": inv.outcome,
        }
        if inv.errored:
            try:
                record["errorType"] = json.loads(inv.payload).get("errorType")
            except (ValueError, AttributeError):
                record["errorType"] = None
        with self.lock:
            self.records.append(record)
            self.peaks[function_name] = max(self.peaks.get(function_name, 0.0), record["peakRssMb"])

    def recent(self, function_name: str | None) -> list[dict]:
        with self.lock:
            return [r for r in self.records if not function_name or r["function"] == function_name]

    def peak_rss(self) -> dict[str, float]:
        with self.lock:
            return dict(self.peaks)

    def reset(self) -> None:
        with self.lock:
            self.peaks.clear()


class LambdaRunner:
    """Keeps warm workers per function configuration and dispatches invocations to them."""

    def __init__(self, lambda_dir: str, log_dir: str, endpoint: str, enforce_memory=lambda: True):
        self.lambda_dir = lambda_dir
        self.log_dir = log_dir
        self.endpoint = endpoint
        self.enforce_memory = enforce_memory
        self.idle: dict[tuple, list[Worker]] = {}
        # function name -> workers running an invocation of it now (what /lambda/kill ends)
        self.busy: dict[str, set[Worker]] = {}
        self.log = InvocationLog()
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
        # Lambda derives these from the function's LoggingConfig (JSON logs, and their level).
        logging = getattr(fn, "logging_config", None) or {}
        env["AWS_LAMBDA_LOG_FORMAT"] = logging.get("LogFormat", "Text")
        if logging.get("LogFormat") == "JSON" and logging.get("ApplicationLogLevel"):
            env["AWS_LAMBDA_LOG_LEVEL"] = logging["ApplicationLogLevel"]
        if "RUST_LOG" in os.environ:
            env["RUST_LOG"] = os.environ["RUST_LOG"]
        env.update({k: str(v) for k, v in (fn.environment_vars or {}).items()})
        return env

    def _take_worker(self, key: tuple) -> Worker | None:
        with self.lock:
            pool = self.idle.setdefault(key, [])
            while pool:
                candidate = pool.pop()
                if candidate.alive():
                    return candidate
                candidate.stop()
        return None

    def invoke(self, fn, event: bytes) -> tuple[bytes, bool]:
        command = function_command(self.lambda_dir, fn.handler)
        if command is None:
            return error_payload(
                "Runtime.InvalidEntrypoint",
                f"nothing to run for handler {fn.handler!r} (looked in {self.lambda_dir} and, for "
                f"{TEST_HANDLER_PREFIX}<name>, in {TEST_FUNCTIONS_DIR}); build it with `cargo build -p workflow-lambdas`",
            ), True
        env = self._env(fn)
        key = (fn.function_arn, tuple(command), json.dumps(env, sort_keys=True))
        worker = self._take_worker(key) or Worker(command, env, os.path.join(self.log_dir, f"{fn.function_name}.log"))
        timeout_s = float(fn.timeout or 3)
        inv = Invocation(
            request_id=str(uuid.uuid4()),
            event=event,
            deadline_ms=int(time.time() * 1000 + timeout_s * 1000),
            function_arn=fn.function_arn,
        )
        memory_mb = int(fn.memory_size or 128) if self.enforce_memory() else None
        with self.lock:
            self.busy.setdefault(fn.function_name, set()).add(worker)
        started = time.time()
        try:
            worker.invoke(inv, timeout_s, memory_mb)
        finally:
            with self.lock:
                self.busy[fn.function_name].discard(worker)
        self.log.add(fn.function_name, int(fn.memory_size or 128), inv, started, (time.time() - started) * 1000)
        with self.lock:
            if worker.alive():
                self.idle.setdefault(key, []).append(worker)
            else:
                worker.stop()
        return inv.payload, inv.errored

    def kill(self, function_name: str, reason: str = "killed") -> int:
        """Kills the workers running an invocation of the function now; returns how many."""
        with self.lock:
            workers = list(self.busy.get(function_name, ()))
        for worker in workers:
            worker.kill(reason)
        return len(workers)

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
            workers = [w for pool in self.idle.values() for w in pool]
            workers += [w for busy in self.busy.values() for w in busy]
            for w in workers:
                if w.alive():
                    w.proc.kill()
            self.idle.clear()


def check_timeout(timeout) -> None:
    """CreateFunction/UpdateFunctionConfiguration: AWS's Timeout limits (see the module docstring)."""
    from moto.awslambda.exceptions import InvalidParameterValueException
    from moto.core.exceptions import JsonRESTError

    if timeout is None:
        return
    timeout = int(timeout)
    if timeout > MODEL_MAX_TIMEOUT_SECONDS:
        raise JsonRESTError(
            "ValidationException",
            f"1 validation error detected: Value '{timeout}' at 'timeout' failed to satisfy constraint: "
            f"Member must have value less than or equal to {MODEL_MAX_TIMEOUT_SECONDS}",
        )
    if timeout > MAX_TIMEOUT_SECONDS:
        # The exact message is not documented; the error type is Lambda's for out-of-range settings.
        raise InvalidParameterValueException(
            f"Timeout value {timeout} is greater than the maximum of {MAX_TIMEOUT_SECONDS} seconds."
        )


def install(ctx) -> None:
    """Routes moto's Lambda invokes to a runner of the real binaries (instead of moto's canned
    Docker-less answers); the runner is `ctx.services["lambda_runner"]`."""
    from moto.awslambda import models

    ctx.default_config("lambda", {"enforceMemory": True})
    runner = LambdaRunner(
        ctx.lambda_dir,
        os.path.join(ctx.state_dir, "logs", "lambda"),
        ctx.url,
        enforce_memory=lambda: bool(ctx.setting("lambda", "enforceMemory", True)),
    )
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
    install_timeout_checks()

    ctx.endpoint("GET", "/_local_cloud/lambda/invocations", lambda body: runner.log.recent(body.get("function")))
    ctx.endpoint("GET", "/_local_cloud/lambda/peak-rss", lambda _body: runner.log.peak_rss())

    def reset_peaks(_body: dict) -> dict:
        runner.log.reset()
        return {"reset": True}

    def kill(body: dict) -> dict:
        if not body.get("function"):
            raise ValueError("give the function's name: {\"function\": \"<name>\"}")
        return {"killed": runner.kill(body["function"])}

    ctx.endpoint("POST", "/_local_cloud/lambda/peak-rss/reset", reset_peaks)
    ctx.endpoint("POST", "/_local_cloud/lambda/kill", kill)


def install_timeout_checks() -> None:
    from moto.awslambda.models import LambdaBackend, LambdaFunction

    original_create = LambdaBackend.create_function
    original_update = LambdaFunction.update_configuration

    def create_function(self, spec, *args, **kwargs):
        check_timeout(spec.get("Timeout"))
        return original_create(self, spec, *args, **kwargs)

    def update_configuration(self, config_updates, *args, **kwargs):
        check_timeout(config_updates.get("Timeout"))
        return original_update(self, config_updates, *args, **kwargs)

    LambdaBackend.create_function = create_function
    LambdaFunction.update_configuration = update_configuration
