"""Makes chosen AWS calls fail, slow or partly processed, so tests can show what a throttled, denied,
failing or interrupted call does, and benchmarks can give calls the latency they have on AWS.

A rule (POST /_local_cloud/faults; GET lists them with their counters; DELETE {"id"} or {} clears)
matches JSON-protocol calls by their X-Amz-Target operation (e.g. "ListUsersInGroup"), and optionally:
- `match`: a substring of the request body (a pool ID or table name, so parallel tests do not disturb
  each other);
- `bodyHas`: a top-level field the JSON body must have (e.g. "PaginationToken": only follow-up pages);
- `skip`: let that many matching calls through first;
- `every`: only every Nth matching call (after `skip`) fires, e.g. 2 = every second call;
- `durationMs`: the rule is active for that long from its first matching call, then expires;
- `count`: fire at most that many times.
What a firing rule does:
- `errorCode` (default InternalErrorException), `status` (default 500), `message`: the AWS error answer;
- `delayMs` without errorCode: delays the call instead (then it proceeds);
- `killFunction`: "<function name>": kills that Lambda function's workers running an invocation now
  (the invocation fails Runtime.ExitError, as a crashed execution environment) and fails the call;
- `unprocessedShare` (0..1) for BatchWriteItem / BatchGetItem: only the first part of the request is
  processed; the last floor(n x share) write requests / keys come back as UnprocessedItems /
  UnprocessedKeys, so the caller must resubmit them. At least one item is processed (AWS answers
  ProvisionedThroughputExceededException rather than leave everything unprocessed).
Only JSON protocols (X-Amz-Target) are matched.

Examples: a throttling storm {"operation": "ListUsers", "errorCode": "TooManyRequestsException",
"status": 400, "every": 2, "durationMs": 30000}; an expired pagination token {"operation":
"ListUsers", "bodyHas": "PaginationToken", "errorCode": "InvalidParameterException", "status": 400,
"count": 1}; a Lambda killed mid-page {"operation": "ListUsers", "killFunction": "export-users",
"count": 1}.
"""

from __future__ import annotations

import io
import json
import threading
import time
import urllib.error
import urllib.request
import uuid

# Marks the local cloud's own re-sent request (unprocessedShare), which rules must let through.
BYPASS_HEADER = "X-Local-Cloud-Fault-Bypass"
UNPROCESSED_OPERATIONS = {"BatchWriteItem": "UnprocessedItems", "BatchGetItem": "UnprocessedKeys"}


def request_body(environ) -> bytes:
    """Reads the body and puts it back for whoever answers the call."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


class FaultRules:
    def __init__(self, ctx=None):
        self.ctx = ctx
        self.rules: list[dict] = []
        self.lock = threading.Lock()

    def add(self, rule: dict) -> dict:
        if not rule.get("operation"):
            raise ValueError("a rule needs its operation, e.g. {\"operation\": \"ListUsers\"}")
        share = rule.get("unprocessedShare")
        if share is not None and rule["operation"] not in UNPROCESSED_OPERATIONS:
            raise ValueError("unprocessedShare applies to BatchWriteItem and BatchGetItem only")
        quiet = rule.get("delayMs") or share is not None
        rule = {
            "id": rule.get("id") or str(uuid.uuid4()),
            "operation": rule["operation"],
            "match": rule.get("match"),
            "bodyHas": rule.get("bodyHas"),
            "errorCode": rule.get("errorCode", None if quiet else "InternalErrorException"),
            "delayMs": int(rule.get("delayMs") or 0),
            "status": int(rule.get("status", 500)),
            "message": rule.get("message", "fault injected by the local cloud"),
            "count": rule.get("count"),
            "skip": int(rule.get("skip", 0)),
            "every": max(1, int(rule.get("every") or 1)),
            "durationMs": rule.get("durationMs"),
            "killFunction": rule.get("killFunction"),
            "unprocessedShare": float(share) if share is not None else None,
            "matched": 0,
            "hits": 0,
            "firstMatchAt": None,
        }
        with self.lock:
            self.rules.append(rule)
        return rule

    def clear(self, rule_id: str | None = None) -> None:
        with self.lock:
            self.rules = [r for r in self.rules if rule_id and r["id"] != rule_id]

    def list(self) -> list[dict]:
        with self.lock:
            return [dict(r) for r in self.rules]

    @staticmethod
    def _matches(rule: dict, environ, body_cache: dict) -> bool:
        if not (rule["match"] or rule["bodyHas"]):
            return True
        if "raw" not in body_cache:
            body_cache["raw"] = request_body(environ)
        raw = body_cache["raw"]
        if rule["match"] and rule["match"].encode() not in raw:
            return False
        if rule["bodyHas"]:
            if "json" not in body_cache:
                try:
                    body_cache["json"] = json.loads(raw or b"{}")
                except ValueError:
                    body_cache["json"] = {}
            parsed = body_cache["json"]
            return isinstance(parsed, dict) and rule["bodyHas"] in parsed
        return True

    @staticmethod
    def _fires(rule: dict, now: float) -> bool:
        """Counts a matching call against the rule; True when the rule acts on it."""
        if rule["durationMs"] is not None:
            if rule["firstMatchAt"] is None:
                rule["firstMatchAt"] = now
            elif now - rule["firstMatchAt"] > float(rule["durationMs"]) / 1000:
                return False  # expired
        if rule["skip"] > 0:
            rule["skip"] -= 1
            return False
        if rule["count"] is not None and rule["hits"] >= int(rule["count"]):
            return False
        rule["matched"] += 1
        if rule["matched"] % rule["every"]:
            return False
        rule["hits"] += 1
        return True

    def intercept(self, environ) -> tuple[int, bytes, str] | None:
        """Returns (status, body, error code) when a rule answers this request."""
        if not self.rules or environ.get("HTTP_" + BYPASS_HEADER.upper().replace("-", "_")):
            return None
        operation = environ.get("HTTP_X_AMZ_TARGET", "").rsplit(".", 1)[-1]
        if not operation:
            return None
        body_cache: dict = {}
        delay_ms, answer, kill, unprocessed = 0, None, None, None
        now = time.monotonic()
        with self.lock:
            for rule in self.rules:
                if rule["operation"] != operation or not self._matches(rule, environ, body_cache):
                    continue
                if not self._fires(rule, now):
                    continue
                if rule["killFunction"]:
                    kill = rule["killFunction"]
                if rule["unprocessedShare"] is not None and unprocessed is None:
                    unprocessed = rule["unprocessedShare"]
                if rule["errorCode"] is None:
                    delay_ms = max(delay_ms, rule["delayMs"])
                    continue
                payload = json.dumps({"__type": rule["errorCode"], "message": rule["message"]}).encode()
                answer = rule["status"], payload, rule["errorCode"]
                break
        if kill:
            self.ctx.services["lambda_runner"].kill(kill)
        if delay_ms:
            time.sleep(delay_ms / 1000)
        if answer is None and unprocessed is not None:
            if "raw" not in body_cache:
                body_cache["raw"] = request_body(environ)
            return self.partly_processed(environ, operation, body_cache["raw"], unprocessed)
        return answer

    def partly_processed(self, environ, operation: str, raw: bytes, share: float):
        """Sends the first part of a batch request on (through this server, so every extension and
        moto answer it as usual) and adds the rest to the answer as unprocessed."""
        body = json.loads(raw or b"{}")
        processed, unprocessed = split_batch(operation, body.get("RequestItems") or {}, share)
        if not unprocessed:
            return None
        headers = {
            "Content-Type": environ.get("CONTENT_TYPE") or "application/x-amz-json-1.0",
            "X-Amz-Target": environ["HTTP_X_AMZ_TARGET"],
            "Authorization": environ.get("HTTP_AUTHORIZATION", ""),
            BYPASS_HEADER: "1",
        }
        request = urllib.request.Request(
            self.ctx.url + "/", data=json.dumps(dict(body, RequestItems=processed)).encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request) as response:
                status, answer = response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as e:  # the processed part failed: that is the answer
            return e.code, e.read(), e.headers.get("x-amzn-ErrorType")
        key = UNPROCESSED_OPERATIONS[operation]
        merged = answer.get(key) or {}
        for table, requests in unprocessed.items():
            if operation == "BatchWriteItem":
                merged[table] = (merged.get(table) or []) + requests
            else:
                entry = merged.setdefault(table, {k: v for k, v in requests.items() if k != "Keys"})
                entry["Keys"] = (entry.get("Keys") or []) + requests["Keys"]
        answer[key] = merged
        return status, json.dumps(answer).encode(), None


def split_batch(operation: str, items: dict, share: float) -> tuple[dict, dict]:
    """(processed, unprocessed) RequestItems: the last floor(n x share) requests are unprocessed,
    n - 1 at most."""
    flat = []
    for table, requests in items.items():
        entries = requests if operation == "BatchWriteItem" else requests.get("Keys", [])
        flat += [(table, entry) for entry in entries]
    cut = min(int(len(flat) * share), len(flat) - 1)
    if cut <= 0:
        return items, {}
    keep, rest = flat[: len(flat) - cut], flat[len(flat) - cut :]
    return regroup(operation, items, keep), regroup(operation, items, rest)


def regroup(operation: str, items: dict, entries: list) -> dict:
    out: dict = {}
    for table, entry in entries:
        if operation == "BatchWriteItem":
            out.setdefault(table, []).append(entry)
        else:
            group = out.setdefault(table, {k: v for k, v in items[table].items() if k != "Keys"} | {"Keys": []})
            group["Keys"].append(entry)
    return out


def install(ctx) -> None:
    faults = FaultRules(ctx)
    ctx.services["faults"] = faults
    ctx.endpoint("POST", "/_local_cloud/faults", faults.add)
    ctx.endpoint("GET", "/_local_cloud/faults", lambda _body: faults.list())

    def clear(body: dict) -> dict:
        faults.clear(body.get("id"))
        return {"cleared": True}

    ctx.endpoint("DELETE", "/_local_cloud/faults", clear)
    ctx.before(faults.intercept)
