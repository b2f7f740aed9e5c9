"""Makes chosen AWS calls fail or slow, so tests can show what a throttled, denied or failing call does
and benchmarks can give calls the latency they have on AWS.

A rule matches JSON-protocol calls by their X-Amz-Target operation (e.g. "ListUsersInGroup") and, if
given, a substring of the request body (a pool ID or table name, so parallel tests do not disturb each
other). It answers with the given AWS error `count` times (or until cleared), after letting `skip`
matching calls through. A rule with `delayMs` and no `errorCode` delays matching calls instead.
"""

from __future__ import annotations

import io
import json
import threading
import time
import uuid


class FaultRules:
    def __init__(self):
        self.rules: list[dict] = []
        self.lock = threading.Lock()

    def add(self, rule: dict) -> dict:
        rule = {
            "id": rule.get("id") or str(uuid.uuid4()),
            "operation": rule["operation"],
            "match": rule.get("match"),
            "errorCode": rule.get("errorCode", None if rule.get("delayMs") else "InternalErrorException"),
            "delayMs": int(rule.get("delayMs") or 0),
            "status": int(rule.get("status", 500)),
            "message": rule.get("message", "fault injected by the local cloud"),
            "count": rule.get("count"),
            "skip": int(rule.get("skip", 0)),
            "hits": 0,
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

    def intercept(self, environ) -> tuple[int, bytes, str] | None:
        """Returns (status, body, error code) when a rule fires for this request."""
        if not self.rules:
            return None
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        operation = target.rsplit(".", 1)[-1]
        if not operation:
            return None
        body = None
        delay_ms = 0
        answer = None
        with self.lock:
            for rule in self.rules:
                if rule["operation"] != operation:
                    continue
                if rule["match"]:
                    if body is None:
                        length = int(environ.get("CONTENT_LENGTH") or 0)
                        body = environ["wsgi.input"].read(length) if length else b""
                        environ["wsgi.input"] = io.BytesIO(body)
                    if rule["match"].encode() not in body:
                        continue
                if rule["skip"] > 0:
                    rule["skip"] -= 1
                    continue
                if rule["count"] is not None and rule["hits"] >= int(rule["count"]):
                    continue
                rule["hits"] += 1
                if rule["errorCode"] is None:
                    delay_ms = max(delay_ms, rule["delayMs"])
                    continue
                payload = json.dumps({"__type": rule["errorCode"], "message": rule["message"]}).encode()
                answer = rule["status"], payload, rule["errorCode"]
                break
        if delay_ms:
            time.sleep(delay_ms / 1000)
        return answer


def install(ctx) -> None:
    faults = FaultRules()
    ctx.services["faults"] = faults
    ctx.endpoint("POST", "/_local_cloud/faults", faults.add)
    ctx.endpoint("GET", "/_local_cloud/faults", lambda _body: faults.list())

    def clear(body: dict) -> dict:
        faults.clear(body.get("id"))
        return {"cleared": True}

    ctx.endpoint("DELETE", "/_local_cloud/faults", clear)
    ctx.before(faults.intercept)
