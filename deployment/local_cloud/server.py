"""Entry point: moto's server with the project's extensions, on 127.0.0.1."""

from __future__ import annotations

import argparse
import atexit
import json
import os
import signal
import traceback


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
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    from . import bulk_seed, lambda_runtime_api
    from .fault_injection import FaultRules

    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    default_user_config["lambda"] = {"use_docker": False}

    endpoint = f"http://{args.host}:{args.port}"
    runner = lambda_runtime_api.LambdaRunner(
        os.path.abspath(args.lambda_dir), os.path.join(args.state_dir, "logs", "lambda"), endpoint
    )
    lambda_runtime_api.install(runner)
    atexit.register(runner.stop_all)
    faults = FaultRules()
    moto_app = DomainDispatcherApplication(create_backend_app)

    def json_response(start_response, status: int, body) -> list[bytes]:
        data = json.dumps(body).encode()
        start_response(f"{status} {'OK' if status < 400 else 'ERROR'}", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]

    def extensions(environ, start_response):
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.loads(environ["wsgi.input"].read(length) or b"{}") if length else {}
        try:
            if path == "/_local_cloud/health":
                return json_response(start_response, 200, {"status": "running", "endpoint": endpoint})
            if path == "/_local_cloud/faults" and method == "POST":
                return json_response(start_response, 200, faults.add(body))
            if path == "/_local_cloud/faults" and method == "DELETE":
                faults.clear(body.get("id"))
                return json_response(start_response, 200, {"cleared": True})
            if path == "/_local_cloud/faults":
                return json_response(start_response, 200, faults.list())
            if path == "/_local_cloud/cognito/seed" and method == "POST":
                return json_response(start_response, 200, bulk_seed.seed_user_pool(body))
            return json_response(start_response, 404, {"error": f"no local-cloud endpoint {method} {path}"})
        except Exception as e:  # a clear answer for the caller, the trace for the log
            traceback.print_exc()
            return json_response(start_response, 400, {"error": f"{type(e).__name__}: {e}"})

    def app(environ, start_response):
        if environ.get("PATH_INFO", "").startswith("/_local_cloud/"):
            return extensions(environ, start_response)
        fault = faults.intercept(environ)
        if fault:
            status, payload, code = fault
            start_response(
                f"{status} Injected",
                [
                    ("Content-Type", "application/x-amz-json-1.1"),
                    ("x-amzn-ErrorType", code),
                    ("Content-Length", str(len(payload))),
                ],
            )
            return [payload]
        return moto_app(environ, start_response)

    def terminate(*_):
        # Interpreter shutdown would wait for moto's worker threads; nothing here needs flushing.
        runner.stop_all()
        os._exit(0)

    signal.signal(signal.SIGTERM, terminate)
    print(f"local cloud listening on {endpoint}", flush=True)
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
