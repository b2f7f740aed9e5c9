"""Entry point: moto's server with the project's extensions, on 127.0.0.1."""

from __future__ import annotations

import argparse
import atexit
import datetime
import io
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
    from moto.core import DEFAULT_ACCOUNT_ID
    from werkzeug.serving import run_simple

    from . import bulk_seed, cloudformation_gaps, lambda_runtime_api, moto_fixes
    from .cognito_import_jobs import OPERATIONS as IMPORT_JOB_OPERATIONS
    from .cognito_import_jobs import ApiError, ImportJobs
    from .dynamodb_replicas import Replicas
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
    moto_fixes.install()
    import_jobs = ImportJobs(endpoint)
    replicas = Replicas()
    replicas.install()
    cloudformation_gaps.install(replicas, args.host)
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

    def aws_json_value(value):
        # AWS JSON protocols send timestamps as epoch seconds.
        return value.timestamp() if isinstance(value, datetime.datetime) else str(value)

    def aws_json(start_response, status: int, body: dict, error_code: str | None = None) -> list[bytes]:
        data = json.dumps(body, default=aws_json_value).encode()
        headers = [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(data)))]
        if error_code:
            headers.append(("x-amzn-ErrorType", error_code))
        start_response(f"{status} {'OK' if status < 400 else 'ERROR'}", headers)
        return [data]

    def request_region(environ) -> str:
        # Credential scope: Credential=<key>/<date>/<region>/<service>/aws4_request
        auth = environ.get("HTTP_AUTHORIZATION", "")
        parts = auth.split("Credential=")[-1].split("/")
        return parts[2] if len(parts) > 3 else "us-east-1"

    def read_json(environ) -> dict:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        return json.loads(raw or b"{}")

    def extension_of_aws(environ, start_response):
        """AWS operations the local cloud adds to moto; None lets moto answer."""
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        service, _, operation = target.partition(".")
        if service == "AWSCognitoIdentityProviderService" and operation in IMPORT_JOB_OPERATIONS:
            try:
                body = import_jobs.handle(operation, DEFAULT_ACCOUNT_ID, request_region(environ), read_json(environ))
                return aws_json(start_response, 200, body)
            except ApiError as e:
                return aws_json(start_response, 400, {"__type": e.code, "message": e.message}, e.code)
        if service == "DynamoDB_20120810" and operation == "UpdateTable":
            body = read_json(environ)
            creates = [u["Create"]["RegionName"] for u in body.get("ReplicaUpdates", []) if "Create" in u]
            if creates:
                out = {}
                for replica_region in creates:
                    out = replicas.add(DEFAULT_ACCOUNT_ID, request_region(environ), body["TableName"], replica_region)
                return aws_json(start_response, 200, out)
        if service == "DynamoDB_20120810" and operation == "DescribeTable":
            body = read_json(environ)
            region = request_region(environ)
            if replicas.links.get((DEFAULT_ACCOUNT_ID, region, body.get("TableName", ""))):
                return aws_json(start_response, 200, {"Table": replicas.describe(DEFAULT_ACCOUNT_ID, region, body["TableName"])})
        return None

    def app(environ, start_response):
        if environ.get("PATH_INFO", "").startswith("/_local_cloud/"):
            return extensions(environ, start_response)
        if environ.get("PATH_INFO", "").endswith("/cfnresponse") and not environ.get("CONTENT_TYPE"):
            # Custom resources answer with an empty Content-Type (CloudFormation signs its URL that way);
            # moto reads the answer only when it is labelled JSON.
            environ["CONTENT_TYPE"] = "application/json"
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
        answered = extension_of_aws(environ, start_response)
        if answered is not None:
            return answered
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
