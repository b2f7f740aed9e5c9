"""EventBridge delivery: PutEvents, pattern matching, targets and input shaping, schedules,
at-least-once delivery."""

from __future__ import annotations

import datetime
import json
import types
import unittest

from botocore.exceptions import ClientError

from local_cloud.eventbridge import CronSchedule, EventBridgeEngine, render_template

from .script_functions import client, local_cloud, role_arn, script_function, unique, wait_for


def queue() -> tuple[str, str]:
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=unique("b1-events"))["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def drain(url: str, expected: int, timeout: float = 8) -> list[str]:
    """Message bodies received from the queue, once `expected` have arrived (or the timeout passed)."""
    sqs, bodies = client("sqs"), []

    def enough():
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(bodies) >= expected

    wait_for(enough, timeout)
    return bodies


def entry(source: str, detail: dict, detail_type: str = "AWS API Call via CloudTrail") -> dict:
    return {"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail)}


def rule_with_targets(pattern: dict, targets: list[dict]) -> str:
    events, name = client("events"), unique("b1-rule")
    events.put_rule(Name=name, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=name, Targets=targets)
    return name


class MatchingTest(unittest.TestCase):
    def test_pattern_on_user_pool_id_matches_only_that_pool(self):
        source, pool = unique("app.cognito"), f"us-east-1_{unique('x')[-10:]}"
        url, arn = queue()
        rule_with_targets(
            {"source": [source], "detail-type": ["AWS API Call via CloudTrail"], "detail": {"requestParameters": {"userPoolId": [pool]}}},
            [{"Id": "q", "Arn": arn}],
        )
        answer = client("events").put_events(
            Entries=[
                entry(source, {"eventName": "AdminCreateUser", "requestParameters": {"userPoolId": pool}}),
                entry(source, {"eventName": "AdminCreateUser", "requestParameters": {"userPoolId": pool + "0"}}),
                entry(source, {"eventName": "AdminCreateUser", "requestParameters": {}}),
            ]
        )
        self.assertEqual(answer["FailedEntryCount"], 0)
        bodies = drain(url, 1, timeout=3)
        self.assertEqual(len(bodies), 1, bodies)
        event = json.loads(bodies[0])
        self.assertEqual(event["id"], answer["Entries"][0]["EventId"])
        self.assertEqual((event["source"], event["account"], event["region"]), (source, "123456789012", "us-east-1"))
        self.assertEqual(event["detail"]["requestParameters"]["userPoolId"], pool)
        datetime.datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ")

    def test_content_filters(self):
        source = unique("app.filters")
        url, arn = queue()
        rule_with_targets(
            {
                "source": [source],
                "detail": {
                    "name": [{"prefix": "user-"}],
                    "status": [{"anything-but": ["DELETED"]}],
                    "sub": [{"exists": True}],
                    "count": [{"numeric": [">", 10, "<=", 20]}],
                },
            },
            [{"Id": "q", "Arn": arn, "InputPath": "$.detail.name"}],
        )
        details = [
            {"name": "user-match", "status": "ACTIVE", "sub": "s", "count": 15},
            {"name": "group-x", "status": "ACTIVE", "sub": "s", "count": 15},
            {"name": "user-deleted", "status": "DELETED", "sub": "s", "count": 15},
            {"name": "user-nosub", "status": "ACTIVE", "count": 15},
            {"name": "user-big", "status": "ACTIVE", "sub": "s", "count": 21},
        ]
        client("events").put_events(Entries=[entry(source, d) for d in details])
        self.assertEqual(drain(url, 1, timeout=3), ['"user-match"'])

    def test_disabled_and_scheduled_rules_get_no_events(self):
        source = unique("app.quiet")
        url, arn = queue()
        disabled = rule_with_targets({"source": [source]}, [{"Id": "q", "Arn": arn}])
        client("events").disable_rule(Name=disabled)
        scheduled = unique("b1-scheduled")
        client("events").put_rule(Name=scheduled, ScheduleExpression="rate(1 day)")
        client("events").put_targets(Rule=scheduled, Targets=[{"Id": "q", "Arn": arn}])
        client("events").put_events(Entries=[entry(source, {"a": 1})])
        self.assertEqual(drain(url, 1, timeout=2), [])


class PutEventsTest(unittest.TestCase):
    def test_entries_are_validated_as_aws_does(self):
        events = client("events")
        answer = events.put_events(
            Entries=[
                entry("aws.cognito-idp", {"a": 1}),
                {"Source": "app.x", "DetailType": "t", "Detail": "not json"},
                entry("app.x", {"a": 1}),
            ]
        )
        self.assertEqual(answer["FailedEntryCount"], 2)
        self.assertEqual(answer["Entries"][0]["ErrorCode"], "NotAuthorizedForSourceException")
        self.assertEqual(answer["Entries"][1]["ErrorCode"], "MalformedDetail")
        self.assertIn("EventId", answer["Entries"][2])
        with self.assertRaises(ClientError) as caught:
            events.put_events(Entries=[entry("app.x", {"a": i}) for i in range(11)])
        self.assertEqual(caught.exception.response["Error"]["Code"], "ValidationException")


class TargetsTest(unittest.TestCase):
    def test_sqs_targets_get_the_event_or_its_transformation(self):
        source = unique("app.shapes")
        whole, whole_arn = queue()
        shaped, shaped_arn = queue()
        constant, constant_arn = queue()
        rule = rule_with_targets(
            {"source": [source]},
            [
                {"Id": "whole", "Arn": whole_arn},
                {
                    "Id": "shaped",
                    "Arn": shaped_arn,
                    "InputTransformer": {
                        "InputPathsMap": {"pool": "$.detail.pool", "n": "$.detail.n"},
                        "InputTemplate": '{"pool": <pool>, "n": <n>, "text": "pool <pool> has <n>", "rule": "<aws.events.rule-name>"}',
                    },
                },
                {"Id": "constant", "Arn": constant_arn, "Input": '{"fixed": true}'},
            ],
        )
        client("events").put_events(Entries=[entry(source, {"pool": "p-1", "n": 3})])
        self.assertEqual(json.loads(drain(whole, 1)[0])["detail"], {"pool": "p-1", "n": 3})
        self.assertEqual(json.loads(drain(shaped, 1)[0]), {"pool": "p-1", "n": 3, "text": "pool p-1 has 3", "rule": rule})
        self.assertEqual(json.loads(drain(constant, 1)[0]), {"fixed": True})
        deliveries = local_cloud("GET", "/_local_cloud/events/deliveries", {"rule": rule})
        self.assertEqual(sorted(d["targetId"] for d in deliveries), ["constant", "shaped", "whole"])
        self.assertTrue(all(d["outcome"] == "delivered" for d in deliveries))

    def test_lambda_step_functions_and_sns_targets(self):
        source = unique("app.targets")
        forwarded, _ = queue()
        via_sns, via_sns_arn = queue()
        fn = script_function("forward_to_sqs.py", Environment={"Variables": {"FORWARD_QUEUE_URL": forwarded}})
        sfn = client("stepfunctions")
        sm = sfn.create_state_machine(
            name=unique("b1-target"), roleArn=role_arn(), definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
        )["stateMachineArn"]
        topic = client("sns").create_topic(Name=unique("b1-topic"))["TopicArn"]
        client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=via_sns_arn, Attributes={"RawMessageDelivery": "true"})
        rule = rule_with_targets(
            {"source": [source]},
            [
                {"Id": "fn", "Arn": fn["FunctionArn"]},
                {"Id": "sm", "Arn": sm, "RoleArn": role_arn(), "InputPath": "$.detail"},
                {"Id": "topic", "Arn": topic},
            ],
        )
        event_id = client("events").put_events(Entries=[entry(source, {"k": "v"})])["Entries"][0]["EventId"]
        # The function forwards the event from its own process: a cold start on a loaded machine takes seconds.
        forwarded_bodies = drain(forwarded, 1, timeout=60)
        deliveries = local_cloud("GET", "/_local_cloud/events/deliveries", {"rule": rule})
        self.assertEqual(len(forwarded_bodies), 1, f"nothing forwarded by the function; deliveries: {deliveries}")
        self.assertEqual(json.loads(forwarded_bodies[0])["id"], event_id)
        self.assertEqual(json.loads(drain(via_sns, 1)[0])["id"], event_id)
        executions = wait_for(lambda: sfn.list_executions(stateMachineArn=sm)["executions"], 5)
        self.assertEqual(len(executions), 1)
        self.assertEqual(json.loads(sfn.describe_execution(executionArn=executions[0]["executionArn"])["input"]), {"k": "v"})
        results = {d["targetId"]: d for d in local_cloud("GET", "/_local_cloud/events/deliveries", {"rule": rule})}
        self.assertEqual(results["sm"]["result"]["executionArn"], executions[0]["executionArn"])

    def test_a_failing_target_is_recorded_not_raised(self):
        source = unique("app.failing")
        url, arn = queue()
        missing = arn + "-missing"
        rule = rule_with_targets({"source": [source]}, [{"Id": "gone", "Arn": missing}, {"Id": "ok", "Arn": arn}])
        client("events").put_events(Entries=[entry(source, {"a": 1})])
        self.assertEqual(len(drain(url, 1)), 1)
        results = {d["targetId"]: d for d in local_cloud("GET", "/_local_cloud/events/deliveries", {"rule": rule})}
        self.assertEqual(results["gone"]["outcome"], "failed")
        self.assertEqual(results["ok"]["outcome"], "delivered")


class ScheduleTest(unittest.TestCase):
    def test_fire_schedule_twice_starts_two_executions_of_one_event(self):
        sfn, events = client("stepfunctions"), client("events")
        sm = sfn.create_state_machine(
            name=unique("b1-scheduled"), roleArn=role_arn(), definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
        )["stateMachineArn"]
        rule = unique("b1-nightly")
        events.put_rule(Name=rule, ScheduleExpression="cron(0 3 * * ? *)")
        events.put_targets(Rule=rule, Targets=[{"Id": "sm", "Arn": sm, "RoleArn": role_arn()}])
        fired = local_cloud("POST", "/_local_cloud/events/fire-schedule", {"region": "us-east-1", "rule": rule, "times": 2})
        self.assertEqual([d["outcome"] for d in fired["deliveries"]], ["delivered", "delivered"])
        executions = sfn.list_executions(stateMachineArn=sm)["executions"]
        self.assertEqual(len(executions), 2)
        self.assertNotEqual(executions[0]["name"], executions[1]["name"])
        inputs = [json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"]) for e in executions]
        self.assertEqual({i["id"] for i in inputs}, {fired["eventId"]})
        self.assertEqual(inputs[0]["detail-type"], "Scheduled Event")
        self.assertEqual(inputs[0]["source"], "aws.events")
        self.assertEqual(inputs[0]["resources"], [f"arn:aws:events:us-east-1:123456789012:rule/{rule}"])

    def test_cron_expressions(self):
        def next_after(expression: str, after: str) -> str:
            moment = datetime.datetime.fromisoformat(after).replace(tzinfo=datetime.timezone.utc).timestamp()
            due = CronSchedule(expression).next_after(moment)
            return datetime.datetime.fromtimestamp(due, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")

        self.assertEqual(next_after("0 3 * * ? *", "2026-01-01T03:00:00"), "2026-01-02 03:00")
        self.assertEqual(next_after("*/15 * * * ? *", "2026-01-01T10:07:00"), "2026-01-01 10:15")
        self.assertEqual(next_after("0 18 ? * MON-FRI *", "2026-01-02T19:00:00"), "2026-01-05 18:00")  # Fri -> Mon
        self.assertEqual(next_after("0 0 L * ? *", "2026-02-10T00:00:00"), "2026-02-28 00:00")
        self.assertEqual(next_after("30 9 ? * 6#2 *", "2026-01-01T00:00:00"), "2026-01-09 09:30")  # 2nd Friday
        self.assertEqual(next_after("0 12 1 JAN,JUL ? 2027", "2026-03-01T00:00:00"), "2027-01-01 12:00")

    def test_rate_schedules_count_from_the_rule_creation(self):
        engine = EventBridgeEngine.__new__(EventBridgeEngine)
        rule = types.SimpleNamespace(scheduled_expression="rate(5 minutes)", schedule_anchor=1000.0)
        self.assertEqual(engine.next_due(rule, 1000.0), 1300.0)
        self.assertEqual(engine.next_due(rule, 1300.0), 1600.0)
        self.assertEqual(engine.next_due(rule, 1450.0), 1600.0)


class DuplicateDeliveryTest(unittest.TestCase):
    """At-least-once delivery, on an engine of its own (the switch is global on the server)."""

    def deliveries(self, share: float) -> int:
        ctx = types.SimpleNamespace(setting=lambda section, name, default=None: share)
        engine = EventBridgeEngine.__new__(EventBridgeEngine)
        engine.ctx = ctx
        sent = []
        engine.deliver = lambda rule, target, event: sent.append(target["Id"]) or {}
        rule = types.SimpleNamespace(targets=[{"Id": str(i)} for i in range(200)])
        engine.deliver_to_targets(rule, {"id": "e"})
        return len(sent)

    def test_share_of_deliveries_made_twice(self):
        self.assertEqual(self.deliveries(0), 200)
        self.assertEqual(self.deliveries(1), 400)
        self.assertTrue(230 < self.deliveries(0.5) < 370)


class TemplateTest(unittest.TestCase):
    def test_placeholders_in_and_out_of_quotes(self):
        values = {"s": 'a"b', "n": 5, "o": {"k": 1}, "none": None}
        rendered = render_template('{"s": <s>, "q": "<s>/<n>", "o": <o>, "none": <none>, "keep": "<other>"}', values)
        self.assertEqual(json.loads(rendered), {"s": 'a"b', "q": 'a"b/5', "o": {"k": 1}, "none": None, "keep": "<other>"})
        self.assertEqual(render_template("pool <s> has <n>", values), 'pool a"b has 5')


if __name__ == "__main__":
    unittest.main()
