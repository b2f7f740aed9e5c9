"""Test-only: the Lambda Runtime API loop for script functions (Handler `local-cloud-test:<script>`,
see lambda_runtime_api.py). A script calls `run(handler)`; `handler(event, context)` returns a
JSON-able result, or raises to report a function error (errorType = the exception's class name).
`context` holds the invocation's headers: request_id, deadline_ms, function_arn."""

from __future__ import annotations

import json
import os
import urllib.request


def run(handler) -> None:
    api = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime/invocation"
    while True:
        with urllib.request.urlopen(f"{api}/next") as response:
            event = json.loads(response.read() or b"null")
            context = {
                "request_id": response.headers["Lambda-Runtime-Aws-Request-Id"],
                "deadline_ms": int(response.headers["Lambda-Runtime-Deadline-Ms"]),
                "function_arn": response.headers["Lambda-Runtime-Invoked-Function-Arn"],
            }
        try:
            body, outcome = json.dumps(handler(event, context)).encode(), "response"
        except Exception as e:  # reported to the caller as the function's error, as Lambda runtimes do
            body = json.dumps({"errorType": type(e).__name__, "errorMessage": str(e)}).encode()
            outcome = "error"
        request = urllib.request.Request(f"{api}/{context['request_id']}/{outcome}", data=body, method="POST")
        urllib.request.urlopen(request).read()
