"""Test helpers: boto3 clients for the local cloud under test, and test-only Lambda functions that
run a script of tests/functions/ (Handler `local-cloud-test:<script>`, see lambda_runtime_api.py)."""

from __future__ import annotations

import io
import json
import os
import time
import urllib.request
import uuid
import zipfile

import boto3

ENDPOINT = os.environ.get("LOCAL_CLOUD_ENDPOINT", "http://127.0.0.1:4577")
ACCOUNT = "123456789012"
ROLE_NAME = "local-cloud-test-functions"


def client(service: str, region: str = "us-east-1"):
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name=region,
        aws_access_key_id="local-cloud",
        aws_secret_access_key="local-cloud",
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def role_arn() -> str:
    """A role Lambda and Step Functions may assume (moto checks Lambda's)."""
    iam = client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com", "events.amazonaws.com"]},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    try:
        return iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        return iam.get_role(RoleName=ROLE_NAME)["Role"]["Arn"]


def script_function(script: str, region: str = "us-east-1", name: str | None = None, **config) -> dict:
    """Creates a function running tests/functions/<script>; config: MemorySize, Timeout, Environment."""
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("bootstrap", "")
    return client("lambda", region).create_function(
        FunctionName=name or unique(script.split(".")[0].replace("_", "-")),
        Runtime="provided.al2023",
        Role=role_arn(),
        Handler=f"local-cloud-test:{script}",
        Code={"ZipFile": code.getvalue()},
        **config,
    )


def local_cloud(method: str, path: str, body: dict | None = None):
    """Calls a /_local_cloud/ endpoint; a GET passes `body` as query parameters."""
    url = ENDPOINT + path
    data = None
    if method == "GET" and body:
        url += "?" + "&".join(f"{k}={urllib.request.quote(str(v))}" for k, v in body.items())
    elif body is not None:
        data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


def set_config(section: str, values: dict) -> dict:
    """Sets config switches; returns their previous values (for restoring them in tearDown)."""
    previous = local_cloud("GET", "/_local_cloud/config").get(section, {})
    local_cloud("POST", "/_local_cloud/config", {section: values})
    return {k: previous.get(k) for k in values}


def wait_for(check, timeout: float = 10.0, interval: float = 0.1):
    """Polls check() until it returns a truthy value (returned) or the timeout passes (None)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


TERMINAL_SUFFIXES = ("_COMPLETE", "_FAILED")


def wait_stack(cfn, stack_id: str, timeout: float = 60) -> dict:
    """The stack once it reaches a terminal status (…_COMPLETE or …_FAILED)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
        if stack["StackStatus"].endswith(TERMINAL_SUFFIXES):
            return stack
        time.sleep(0.1)
    raise AssertionError(f"stack {stack_id} still in progress after {timeout} s")
