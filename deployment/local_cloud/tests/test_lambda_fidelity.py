"""Lambda fidelity: memory sampling and OOM kills, timeouts, crashed execution environments."""

from __future__ import annotations

import json
import threading
import time
import unittest

from botocore.exceptions import ClientError

from .script_functions import client, local_cloud, script_function, set_config, unique


def invoke(function_name: str, event: dict) -> tuple[str | None, dict]:
    answer = client("lambda").invoke(FunctionName=function_name, Payload=json.dumps(event).encode())
    return answer.get("FunctionError"), json.loads(answer["Payload"].read() or b"null")


def invocations(function_name: str) -> list[dict]:
    return local_cloud("GET", "/_local_cloud/lambda/invocations", {"function": function_name})


class MemoryTest(unittest.TestCase):
    def setUp(self):
        self.previous = set_config("lambda", {"enforceMemory": True})

    def tearDown(self):
        set_config("lambda", self.previous)

    def test_invocation_over_memory_size_is_killed_out_of_memory(self):
        fn = script_function("allocate_memory.py", MemorySize=128, Timeout=10)["FunctionName"]
        error, payload = invoke(fn, {"mb": 200})
        self.assertEqual(error, "Unhandled")
        self.assertEqual(payload["errorType"], "Runtime.OutOfMemory")
        self.assertIn("Runtime exited with error: signal: killed", payload["errorMessage"])
        record = invocations(fn)[-1]
        self.assertEqual(record["outcome"], "oom")
        self.assertGreater(record["peakRssMb"], 128)
        # The next invocation gets a fresh execution environment and succeeds.
        error, payload = invoke(fn, {"mb": 10})
        self.assertIsNone(error)
        self.assertEqual(payload, {"allocatedMb": 10})

    def test_peak_rss_is_recorded_per_invocation_and_function(self):
        fn = script_function("allocate_memory.py", MemorySize=256, Timeout=10)["FunctionName"]
        invoke(fn, {"mb": 5})
        invoke(fn, {"mb": 60})
        records = invocations(fn)
        self.assertEqual([r["outcome"] for r in records], ["success", "success"])
        # Each invocation's peak is its own (the high-water mark is reset in between).
        self.assertGreater(records[1]["peakRssMb"], records[0]["peakRssMb"] + 40)
        self.assertGreater(records[1]["durationMs"], 0)
        peaks = local_cloud("GET", "/_local_cloud/lambda/peak-rss")
        self.assertAlmostEqual(peaks[fn], records[1]["peakRssMb"], delta=0.2)
        local_cloud("POST", "/_local_cloud/lambda/peak-rss/reset", {})
        self.assertNotIn(fn, local_cloud("GET", "/_local_cloud/lambda/peak-rss"))

    def test_memory_not_enforced_when_switched_off(self):
        set_config("lambda", {"enforceMemory": False})
        fn = script_function("allocate_memory.py", MemorySize=128, Timeout=10)["FunctionName"]
        error, payload = invoke(fn, {"mb": 200})
        self.assertIsNone(error, payload)
        self.assertGreater(invocations(fn)[-1]["peakRssMb"], 128)


class TimeoutTest(unittest.TestCase):
    def test_timeout_above_900_seconds_is_refused(self):
        with self.assertRaises(ClientError) as caught:
            script_function("echo.py", Timeout=901)
        self.assertEqual(caught.exception.response["Error"]["Code"], "InvalidParameterValueException")
        fn = script_function("echo.py", Timeout=900)["FunctionName"]
        with self.assertRaises(ClientError) as caught:
            client("lambda").update_function_configuration(FunctionName=fn, Timeout=1000)
        self.assertEqual(caught.exception.response["Error"]["Code"], "InvalidParameterValueException")

    def test_invocation_over_its_timeout_fails_sandbox_timedout(self):
        fn = script_function("sleep.py", Timeout=1)["FunctionName"]
        started = time.monotonic()
        error, payload = invoke(fn, {"seconds": 60})
        self.assertEqual(error, "Unhandled")
        self.assertEqual(payload["errorType"], "Sandbox.Timedout")
        self.assertIn("Task timed out after 1.00 seconds", payload["errorMessage"])
        # Cut short, not run to its end: a wide margin, as a loaded CI machine starts sandboxes slowly.
        self.assertLess(time.monotonic() - started, 30)
        self.assertEqual(invocations(fn)[-1]["outcome"], "timeout")


class KillTest(unittest.TestCase):
    def test_kill_endpoint_crashes_the_running_invocation(self):
        fn = script_function("sleep.py", Timeout=20)["FunctionName"]
        invoke(fn, {"seconds": 0.01})  # a warm worker, so the kill lands mid-invocation
        killed = {}

        def kill_soon():
            time.sleep(0.7)
            killed.update(local_cloud("POST", "/_local_cloud/lambda/kill", {"function": fn}))

        threading.Thread(target=kill_soon).start()
        started = time.monotonic()
        error, payload = invoke(fn, {"seconds": 60})
        self.assertLess(time.monotonic() - started, 30)
        self.assertEqual(killed, {"killed": 1})
        self.assertEqual(error, "Unhandled")
        self.assertEqual(payload["errorType"], "Runtime.ExitError")
        self.assertIn("Runtime exited with error: signal: killed", payload["errorMessage"])
        self.assertEqual(invocations(fn)[-1]["outcome"], "killed")

    def test_kill_without_running_invocation_kills_nothing(self):
        fn = script_function("echo.py")["FunctionName"]
        self.assertEqual(local_cloud("POST", "/_local_cloud/lambda/kill", {"function": fn}), {"killed": 0})
        self.assertEqual(invoke(fn, {"a": 1}), (None, {"event": {"a": 1}, "requestId": invocations(fn)[-1]["requestId"]}))


class TestHandlerTest(unittest.TestCase):
    def test_unknown_test_script_is_an_invalid_entrypoint(self):
        fn = script_function("no_such_script.py", name=unique("missing"))["FunctionName"]
        error, payload = invoke(fn, {})
        self.assertEqual(error, "Unhandled")
        self.assertEqual(payload["errorType"], "Runtime.InvalidEntrypoint")


if __name__ == "__main__":
    unittest.main()


class LoggingConfigTest(unittest.TestCase):
    def test_the_log_format_and_level_reach_the_function_from_its_logging_config(self):
        json_logs = script_function(
            "log_settings.py", LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG"}
        )["FunctionName"]
        self.assertEqual(invoke(json_logs, {}), (None, {"format": "JSON", "level": "DEBUG"}))
        configuration = client("lambda").get_function_configuration(FunctionName=json_logs)
        self.assertEqual(configuration["LoggingConfig"]["LogFormat"], "JSON")
        plain = script_function("log_settings.py")["FunctionName"]
        self.assertEqual(invoke(plain, {}), (None, {"format": "Text", "level": None}))
