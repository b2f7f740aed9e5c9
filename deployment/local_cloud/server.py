"""Entry point: moto's server with the project's extensions, on 127.0.0.1.

Extensions are modules with an `install(ctx)` function (listed in EXTENSIONS below). Through the
`Context` they can:
- add local-cloud endpoints under /_local_cloud/ (`ctx.endpoint(method, path, handler)`),
- answer AWS operations before moto does (`ctx.operation(target, handler)`, JSON protocols, by the
  X-Amz-Target header such as "AWSCognitoIdentityProviderService.ListUsers"; a handler returning None
  lets moto answer),
- look at every answered AWS call afterwards (`ctx.after(hook)`), e.g. to emit CloudTrail events,
- read and change the switches in `ctx.config` (GET/POST /_local_cloud/config).
"""

from __future__ import annotations

import argparse
import copy
import datetime
import gc
import importlib
import io
import json
import os
import signal
import threading
import traceback
import urllib.parse
from typing import Any, Callable

# Extension modules, installed in this order.
EXTENSIONS = [
    "moto_fixes",
    "lambda_runtime_api",
    "cognito_import_jobs",
    "dynamodb_fidelity", "dynamodb_history", "dynamodb_replicas",
    "cloudformation_gaps",
    "bulk_seed",
    "cognito_subs", "cognito_fast", "cognito_quotas", "cloudtrail_events", "cloudtrail_trails",
    "eventbridge", "stepfunctions_fidelity", "sqs_lambda",
    "fault_injection",
]

# Switches of the local cloud's fidelity features; extensions add their own defaults with
# `ctx.default_config(section, values)`. POST /_local_cloud/config merges a partial document into it.
BASE_CONFIG: dict[str, Any] = {}


class ApiError(Exception):
    """An AWS error answer (JSON protocols): code such as "ResourceNotFoundException"."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class Request:
    """An AWS JSON-protocol call: its operation, region and parsed body."""

    def __init__(self, environ, service: str, operation: str, region: str, body: dict):
        self.environ = environ
        self.service = service
        self.operation = operation
        self.region = region
        self.body = body


def aws_json_value(value):
    # AWS JSON protocols send timestamps as epoch seconds.
    return value.timestamp() if isinstance(value, datetime.datetime) else str(value)


def request_region(environ) -> str:
    # Credential scope: Credential=<key>/<date>/<region>/<service>/aws4_request
    auth = environ.get("HTTP_AUTHORIZATION", "")
    parts = auth.split("Credential=")[-1].split("/")
    return parts[2] if len(parts) > 3 else "us-east-1"


def read_body(environ) -> bytes:
    """Reads the request body and puts it back, so moto can read it again."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(raw)
    return raw


class Context:
    def __init__(self, args, account_id: str):
        self.host = args.host
        self.port = args.port
        self.url = f"http://{args.host}:{args.port}"
        self.lambda_dir = os.path.abspath(args.lambda_dir)
        self.state_dir = args.state_dir
        self.account_id = account_id
        self.config: dict[str, Any] = copy.deepcopy(BASE_CONFIG)
        self.config_lock = threading.RLock()
        self.endpoints: dict[tuple[str, str], Callable[[dict], Any]] = {}
        self.operations: dict[str, list[Callable[[Request], Any]]] = {}
        self.before_hooks: list[Callable[[Any], Any]] = []
        self.after_hooks: list[Callable[[Request, int, bytes], None]] = []
        self.shutdown_hooks: list[Callable[[], None]] = []
        # Shared objects extensions publish for each other (e.g. "lambda_runner", "replicas").
        self.services: dict[str, Any] = {}

    # --- registration --------------------------------------------------------------------------
    def endpoint(self, method: str, path: str, handler: Callable[[dict], Any]) -> None:
        """handler(json body) -> JSON-able answer (200), or raises ValueError (400)."""
        self.endpoints[(method, path)] = handler

    def operation(self, target: str, handler: Callable[[Request], Any]) -> None:
        """handler(Request) -> dict answer (200), None to let moto answer, or raises ApiError."""
        self.operations.setdefault(target, []).append(handler)

    def before(self, hook: Callable[[Any], Any]) -> None:
        """hook(WSGI environ) before anything else answers an AWS call: returns None, or a prepared
        answer (status, body bytes, error code) that ends the call there (fault injection)."""
        self.before_hooks.append(hook)

    def after(self, hook: Callable[[Request, int, bytes], None]) -> None:
        """hook(Request, HTTP status, response body) after every JSON-protocol AWS call."""
        self.after_hooks.append(hook)

    def on_shutdown(self, hook: Callable[[], None]) -> None:
        self.shutdown_hooks.append(hook)

    def default_config(self, section: str, values: dict) -> None:
        with self.config_lock:
            merged = dict(values)
            merged.update(self.config.get(section, {}))
            self.config[section] = merged

    def setting(self, section: str, name: str, default=None):
        with self.config_lock:
            return self.config.get(section, {}).get(name, default)

    def merge_config(self, update: dict) -> dict:
        with self.config_lock:
            for section, values in update.items():
                if not isinstance(values, dict):
                    raise ValueError(f"config section {section!r} must be an object")
                self.config.setdefault(section, {}).update(values)
            return copy.deepcopy(self.config)


def main() -> None:
    parser = argparse.ArgumentParser(description="The project's local cloud (moto + extensions)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--lambda-dir", required=True, help="folder holding the Lambda binaries (target/debug)")
    parser.add_argument("--state-dir", required=True, help="folder for logs")
    parser.add_argument("--pid-file", help="where to write this process's ID (its session is the local cloud)")
    args = parser.parse_args()
    if args.pid_file:
        with open(args.pid_file, "w") as f:
            f.write(str(os.getpid()))

    # moto's Step Functions engine calls Lambda through this server: it must know the port before import.
    os.environ["MOTO_PORT"] = str(args.port)
    from moto.core.config import default_user_config
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from moto.core import DEFAULT_ACCOUNT_ID
    from werkzeug.serving import run_simple

    QuietRequestHandler = _quiet_request_handler()

    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    default_user_config["lambda"] = {"use_docker": False}

    ctx = Context(args, DEFAULT_ACCOUNT_ID)
    for name in EXTENSIONS:
        importlib.import_module(f"{__package__}.{name}").install(ctx)
    moto_app = DomainDispatcherApplication(create_backend_app)

    def json_response(start_response, status: int, body) -> list[bytes]:
        data = json.dumps(body, default=aws_json_value).encode()
        start_response(f"{status} {'OK' if status < 400 else 'ERROR'}", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]

    def extensions(environ, start_response):
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD")
        raw = read_body(environ)
        try:
            body = json.loads(raw or b"{}")
            if method == "GET" and not raw and environ.get("QUERY_STRING"):
                # GET endpoints take their parameters from the query string (`?function=x`).
                body = dict(urllib.parse.parse_qsl(environ["QUERY_STRING"]))
            if path == "/_local_cloud/health":
                return json_response(start_response, 200, {"status": "running", "endpoint": ctx.url})
            if path == "/_local_cloud/config" and method == "GET":
                return json_response(start_response, 200, ctx.config)
            if path == "/_local_cloud/config" and method == "POST":
                return json_response(start_response, 200, ctx.merge_config(body))
            handler = ctx.endpoints.get((method, path))
            if handler is None:
                return json_response(start_response, 404, {"error": f"no local-cloud endpoint {method} {path}"})
            return json_response(start_response, 200, handler(body))
        except Exception as e:  # a clear answer for the caller, the trace for the log
            traceback.print_exc()
            return json_response(start_response, 400, {"error": f"{type(e).__name__}: {e}"})

    def aws_json(start_response, status: int, body: dict, error_code: str | None = None) -> list[bytes]:
        data = json.dumps(body, default=aws_json_value).encode()
        headers = [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(data)))]
        if error_code:
            headers.append(("x-amzn-ErrorType", error_code))
        start_response(f"{status} {'OK' if status < 400 else 'ERROR'}", headers)
        return [data]

    def prepared_answer(start_response, prepared) -> list[bytes]:
        status, payload, code = prepared
        start_response(
            f"{status} {'OK' if status < 400 else 'ERROR'}",
            [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(payload)))]
            + ([("x-amzn-ErrorType", code)] if code else []),
        )
        return [payload]

    def json_request(environ) -> Request | None:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        service, _, operation = target.rpartition(".")
        if not operation:
            return None
        raw = read_body(environ)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        return Request(environ, service, operation, request_region(environ), body if isinstance(body, dict) else {})

    def app(environ, start_response):
        if environ.get("PATH_INFO", "").startswith("/_local_cloud/"):
            return extensions(environ, start_response)
        if environ.get("PATH_INFO", "").endswith("/cfnresponse") and not environ.get("CONTENT_TYPE"):
            # Custom resources answer with an empty Content-Type (CloudFormation signs its URL that way);
            # moto reads the answer only when it is labelled JSON.
            environ["CONTENT_TYPE"] = "application/json"
        for hook in ctx.before_hooks:
            prepared = hook(environ)
            if prepared is not None:
                return prepared_answer(start_response, prepared)
        request = json_request(environ)
        if request is not None:
            for handler in ctx.operations.get(f"{request.service}.{request.operation}", []):
                try:
                    answer = handler(request)
                except ApiError as e:
                    result = aws_json(start_response, e.status, {"__type": e.code, "message": e.message}, e.code)
                    run_after(request, e.status, result)
                    return result
                if answer is not None:
                    if isinstance(answer, tuple):  # (status, body, error code): a prepared answer
                        return prepared_answer(start_response, answer)
                    result = aws_json(start_response, 200, answer)
                    run_after(request, 200, result)
                    return result
        if request is None or not ctx.after_hooks:
            return moto_app(environ, start_response)
        captured: dict[str, int] = {}

        def capture(status, headers, exc_info=None):
            captured["status"] = int(status.split(" ", 1)[0])
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        result = list(moto_app(environ, capture))
        run_after(request, captured.get("status", 200), result)
        return result

    def run_after(request: Request, status: int, result: list[bytes]) -> None:
        if not ctx.after_hooks:
            return
        body = b"".join(result)
        for hook in ctx.after_hooks:
            try:
                hook(request, status, body)
            except Exception:
                traceback.print_exc()

    def terminate(*_):
        # Interpreter shutdown would wait for moto's worker threads; nothing here needs flushing.
        for hook in ctx.shutdown_hooks:
            try:
                hook()
            except Exception:
                traceback.print_exc()
        os._exit(0)

    signal.signal(signal.SIGTERM, terminate)
    print(f"local cloud listening on {ctx.url}", flush=True)
    _answer_quickly()
    run_simple(args.host, args.port, app, threaded=True, request_handler=QuietRequestHandler)


def _answer_quickly() -> None:
    """Per-request costs of the server, not of the product (profiled with py-spy under 16 concurrent
    PutItems: a sixth of the time in the access log, a fourteenth in listing moto's package folder on disk
    to route each request), and the garbage collector's."""
    from moto import backends

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules
    # Millions of items (tables, replicas, history) make each full collection long: at 20,000 users an
    # export spent 8 s in 7,900 collections by default, 3 s in 88 with these thresholds.
    gc.set_threshold(50_000, 20, 100)


def _quiet_request_handler():
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class Quiet(MotoRequestHandler):
        def log_request(self, code: Any = "-", size: Any = "-") -> None:
            """No access log: errors are still logged, with their tracebacks."""

    return Quiet


if __name__ == "__main__":
    main()
