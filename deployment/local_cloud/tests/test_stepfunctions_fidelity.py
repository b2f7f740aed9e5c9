"""Step Functions fidelity: generated names, payload and history limits, terminal errors, eventual
consistency, StopExecution, status-change events."""

from __future__ import annotations

import json
import time
import unittest
import uuid

from botocore.exceptions import ClientError

from .script_functions import client, local_cloud, role_arn, script_function, set_config, unique, wait_for

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


def state_machine(definition: dict, prefix: str = "b1-sfn") -> str:
    return client("stepfunctions").create_state_machine(
        name=unique(prefix), roleArn=role_arn(), definition=json.dumps(definition)
    )["stateMachineArn"]


def finished(execution_arn: str, timeout: float = 20) -> dict:
    sfn = client("stepfunctions")

    def done():
        described = sfn.describe_execution(executionArn=execution_arn)
        return described if described["status"] != "RUNNING" else None

    described = wait_for(done, timeout)
    if described is None:
        raise AssertionError(f"{execution_arn} still running after {timeout} s")
    return described


def history(execution_arn: str) -> list[dict]:
    pages = client("stepfunctions").get_paginator("get_execution_history").paginate(executionArn=execution_arn)
    return [event for page in pages for event in page["events"]]


def counting_loop(iterations: int) -> dict:
    """Pass + Choice per iteration: 4 history events each."""
    return {
        "StartAt": "Inc",
        "States": {
            "Inc": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"}, "Next": "Check"},
            "Check": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericLessThan": iterations, "Next": "Inc"}],
                "Default": "Done",
            },
            "Done": {"Type": "Succeed"},
        },
    }


class NamesTest(unittest.TestCase):
    def test_unnamed_executions_get_unique_uuid_names(self):
        sm = state_machine({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"name.$": "$$.Execution.Name"}, "End": True}}})
        sfn = client("stepfunctions")
        first = sfn.start_execution(stateMachineArn=sm)["executionArn"]
        second = sfn.start_execution(stateMachineArn=sm)["executionArn"]
        self.assertNotEqual(first, second)
        for arn in (first, second):
            described = finished(arn)
            name = arn.rsplit(":", 1)[1]
            self.assertEqual(str(uuid.UUID(name)), name)
            self.assertEqual(described["name"], name)
            self.assertEqual(json.loads(described["output"]), {"name": name})

    def test_input_that_is_not_json_is_refused(self):
        with self.assertRaises(ClientError) as caught:
            client("stepfunctions").start_execution(stateMachineArn=state_machine(PASS), input='{"Allow')
        self.assertEqual(caught.exception.response["Error"]["Code"], "InvalidExecutionInput")

    def test_invalid_name_is_refused(self):
        with self.assertRaises(ClientError) as caught:
            client("stepfunctions").start_execution(stateMachineArn=state_machine(PASS), name="bad name")
        self.assertEqual(caught.exception.response["Error"]["Code"], "InvalidName")


class PayloadLimitTest(unittest.TestCase):
    def tearDown(self):
        set_config("stepfunctions", {"payloadLimitBytes": 262144})

    def test_execution_input_over_256_kib_is_refused(self):
        sfn = client("stepfunctions")
        sm = state_machine(PASS)
        # 262,144 bytes of UTF-8 JSON are allowed (the limit counts bytes, not characters: é is 2).
        fits = json.dumps({"x": "a" + "é" * 131067}, ensure_ascii=False)
        self.assertEqual(len(fits.encode()), 262144)
        self.assertEqual(finished(sfn.start_execution(stateMachineArn=sm, input=fits)["executionArn"])["status"], "SUCCEEDED")
        over = json.dumps({"x": "é" * 131068}, ensure_ascii=False)
        self.assertEqual(len(over.encode()), 262145)
        with self.assertRaises(ClientError) as caught:
            sfn.start_execution(stateMachineArn=sm, input=over)
        self.assertEqual(caught.exception.response["Error"]["Code"], "ValidationException")

    def test_large_task_result_fails_the_execution_even_with_a_catch(self):
        fn = script_function("big_output.py", Timeout=10)["FunctionArn"]
        catch_all = [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]
        retry_all = [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2, "IntervalSeconds": 1}]
        definitions = [
            {"Type": "Task", "Resource": fn, "Retry": retry_all, "Catch": catch_all, "End": True},
            {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": fn, "Payload.$": "$"},
                "Catch": catch_all,
                "End": True,
            },
        ]
        for task in definitions:
            sm = state_machine({"StartAt": "T", "States": {"T": task, "Caught": {"Type": "Pass", "End": True}}})
            arn = client("stepfunctions").start_execution(stateMachineArn=sm, input=json.dumps({"bytes": 300_000}))["executionArn"]
            described = finished(arn)
            self.assertEqual(described["status"], "FAILED")
            self.assertEqual(described["error"], "States.DataLimitExceeded")
            types = [e["type"] for e in history(arn)]
            self.assertNotIn("PassStateEntered", types)  # the catcher never ran
            self.assertEqual(sum(t.endswith("Scheduled") for t in types), 1)  # nor did a retry

    def test_state_output_over_the_limit_after_result_path_fails_even_with_a_catch(self):
        fn = script_function("echo.py", Timeout=10)["FunctionArn"]
        task = {"Type": "Task", "Resource": fn, "ResultPath": "$.result", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": True}
        sm = state_machine({"StartAt": "T", "States": {"T": task, "Caught": {"Type": "Pass", "End": True}}})
        # The function's result (~150 KB) fits; the state's output (input + result, ~300 KB) does not.
        arn = client("stepfunctions").start_execution(stateMachineArn=sm, input=json.dumps({"x": "y" * 150_000}))["executionArn"]
        described = finished(arn)
        self.assertEqual((described["status"], described["error"]), ("FAILED", "States.DataLimitExceeded"))
        types = [e["type"] for e in history(arn)]
        self.assertIn("LambdaFunctionSucceeded", types)
        self.assertNotIn("PassStateEntered", types)

    def test_small_results_pass_and_the_limit_is_configurable(self):
        fn = script_function("big_output.py", Timeout=10)["FunctionArn"]
        sm = state_machine({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": fn, "End": True}}})
        sfn = client("stepfunctions")
        ok = finished(sfn.start_execution(stateMachineArn=sm, input=json.dumps({"bytes": 5000}))["executionArn"])
        self.assertEqual(ok["status"], "SUCCEEDED")
        set_config("stepfunctions", {"payloadLimitBytes": 4000})
        failed = finished(sfn.start_execution(stateMachineArn=sm, input=json.dumps({"bytes": 5000}))["executionArn"])
        self.assertEqual(failed["error"], "States.DataLimitExceeded")


class HistoryTest(unittest.TestCase):
    def tearDown(self):
        set_config("stepfunctions", {"historyLimit": 25000})

    def test_execution_fails_when_its_history_reaches_the_limit(self):
        sm = state_machine(counting_loop(1000))
        set_config("stepfunctions", {"historyLimit": 50})
        arn = client("stepfunctions").start_execution(stateMachineArn=sm, input='{"n": 0}')["executionArn"]
        described = finished(arn)
        set_config("stepfunctions", {"historyLimit": 25000})
        self.assertEqual(described["status"], "FAILED")
        self.assertEqual(described["error"], "States.Runtime")
        self.assertEqual(described["cause"], "The execution reached the maximum number of history events (50).")
        events = history(arn)
        self.assertEqual(len(events), 50)
        self.assertEqual(events[-1]["type"], "ExecutionFailed")
        counts = local_cloud("GET", "/_local_cloud/stepfunctions/history-counts", {"executionArn": arn})
        self.assertEqual(counts["events"], 50)

    def test_history_pages_are_complete_and_fast(self):
        sm = state_machine(counting_loop(500))
        arn = client("stepfunctions").start_execution(stateMachineArn=sm, input='{"n": 0}')["executionArn"]
        self.assertEqual(finished(arn)["status"], "SUCCEEDED")
        sfn = client("stepfunctions")
        first = sfn.get_execution_history(executionArn=arn)
        self.assertEqual(len(first["events"]), 100)  # AWS's default page
        started = time.monotonic()
        events = history(arn)
        self.assertLess(time.monotonic() - started, 5)
        self.assertEqual(len(events), 1 + 4 * 500 + 2 + 1)  # started, 4 per iteration, Succeed state, succeeded
        self.assertEqual([e["id"] for e in events], list(range(1, 2005)))
        last = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=1)["events"][0]
        self.assertEqual(last["type"], "ExecutionSucceeded")
        with self.assertRaises(ClientError) as caught:
            sfn.get_execution_history(executionArn=arn, nextToken="not-a-token")
        self.assertEqual(caught.exception.response["Error"]["Code"], "InvalidToken")


class ConsistencyTest(unittest.TestCase):
    def tearDown(self):
        set_config("stepfunctions", {"consistencyLagMs": 0})

    def test_reads_lag_behind_starts_and_ends(self):
        sm = state_machine({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": True}}})
        sfn = client("stepfunctions")
        set_config("stepfunctions", {"consistencyLagMs": 1500})
        started = time.monotonic()
        arn = sfn.start_execution(stateMachineArn=sm)["executionArn"]
        with self.assertRaises(ClientError) as caught:
            sfn.describe_execution(executionArn=arn)
        self.assertEqual(caught.exception.response["Error"]["Code"], "ExecutionDoesNotExist")
        self.assertEqual(sfn.list_executions(stateMachineArn=sm)["executions"], [])
        time.sleep(max(0.0, 1.8 - (time.monotonic() - started)))
        # Visible now, and still RUNNING although it ended about 1 s after its start.
        self.assertEqual(sfn.describe_execution(executionArn=arn)["status"], "RUNNING")
        listed = sfn.list_executions(stateMachineArn=sm)["executions"]
        self.assertEqual([(e["executionArn"], e["status"]) for e in listed], [(arn, "RUNNING")])
        self.assertEqual(sfn.list_executions(stateMachineArn=sm, statusFilter="SUCCEEDED")["executions"], [])
        time.sleep(max(0.0, 3.0 - (time.monotonic() - started)))
        self.assertEqual(sfn.describe_execution(executionArn=arn)["status"], "SUCCEEDED")
        self.assertEqual(sfn.list_executions(stateMachineArn=sm)["executions"][0]["status"], "SUCCEEDED")


class StopTest(unittest.TestCase):
    def test_stop_execution_aborts_at_once(self):
        sm = state_machine({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}})
        sfn = client("stepfunctions")
        arn = sfn.start_execution(stateMachineArn=sm)["executionArn"]
        time.sleep(0.2)
        stopped = sfn.stop_execution(executionArn=arn, error="Operator", cause="stopped by the test")
        self.assertIn("stopDate", stopped)
        described = sfn.describe_execution(executionArn=arn)
        self.assertEqual(described["status"], "ABORTED")
        self.assertEqual((described.get("error"), described.get("cause")), ("Operator", "stopped by the test"))
        self.assertIn("stopDate", described)
        aborted = wait_for(lambda: [e for e in history(arn) if e["type"] == "ExecutionAborted"], 5)
        self.assertEqual(aborted[0]["executionAbortedEventDetails"]["error"], "Operator")


class StatusEventsTest(unittest.TestCase):
    def test_status_changes_reach_a_queue_through_a_rule(self):
        sqs, events, sfn = client("sqs"), client("events"), client("stepfunctions")
        ok = state_machine(PASS)
        failing = state_machine({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Broken", "Cause": "on purpose"}}})
        waiting = state_machine({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}})
        queue = sqs.create_queue(QueueName=unique("b1-status"))["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        rule = unique("b1-status")
        pattern = {
            "source": ["aws.states"],
            "detail-type": ["Step Functions Execution Status Change"],
            "detail": {"stateMachineArn": [ok, failing, waiting]},
        }
        events.put_rule(Name=rule, EventPattern=json.dumps(pattern))
        events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": queue_arn}])

        done = sfn.start_execution(stateMachineArn=ok, input='{"a": 1}')["executionArn"]
        broken = sfn.start_execution(stateMachineArn=failing)["executionArn"]
        stopped = sfn.start_execution(stateMachineArn=waiting)["executionArn"]
        finished(done), finished(broken)
        sfn.stop_execution(executionArn=stopped)

        received: list[dict] = []

        def receive_all():
            for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
                received.append(json.loads(message["Body"]))
            return len(received) >= 6

        self.assertTrue(wait_for(receive_all, 10), received)
        by_status = {(e["detail"]["executionArn"], e["detail"]["status"]): e for e in received}
        self.assertEqual(
            set(by_status),
            {(done, "RUNNING"), (done, "SUCCEEDED"), (broken, "RUNNING"), (broken, "FAILED"), (stopped, "RUNNING"), (stopped, "ABORTED")},
        )
        succeeded = by_status[(done, "SUCCEEDED")]
        self.assertEqual(succeeded["source"], "aws.states")
        self.assertEqual(succeeded["resources"], [done])
        detail = succeeded["detail"]
        self.assertEqual(detail["stateMachineArn"], ok)
        self.assertEqual(detail["name"], done.rsplit(":", 1)[1])
        self.assertEqual((json.loads(detail["input"]), json.loads(detail["output"])), ({"a": 1}, {"a": 1}))
        self.assertIsInstance(detail["startDate"], int)
        self.assertGreaterEqual(detail["stopDate"], detail["startDate"])
        self.assertIsNone(by_status[(done, "RUNNING")]["detail"]["stopDate"])
        failed = by_status[(broken, "FAILED")]["detail"]
        self.assertEqual((failed["error"], failed["cause"], failed["output"]), ("Broken", "on purpose", None))


if __name__ == "__main__":
    unittest.main()
