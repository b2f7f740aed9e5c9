"""EventBridge that delivers: rule matching, targets, schedules, at-least-once delivery.

moto stores rules and targets but delivers PutEvents only to SQS and log groups (other targets raise
NotImplementedError), ignores rule state and schedules, and sends every event to scheduled rules.
Here:

- `ctx.services["eventbridge"].put_event(region, event)` takes an already-shaped event (version, id,
  detail-type, source, account, time, region, resources, detail) from other extensions (Step Functions
  status changes, CloudTrail change events) and `AWSEvents.PutEvents` is answered here (Entries with
  EventId or ErrorCode/ErrorMessage, FailedEntryCount; at most 10 entries; sources starting with
  "aws." refused per entry with NotAuthorizedForSourceException "Not authorized for the source.", as
  AWS answers, quoted in aws-samples/serverless-patterns#3089).
- Every ENABLED rule of the event's bus that has an EventPattern matching the event (moto's matcher,
  `moto.events.models.EventPattern`: exact values, prefix, suffix, anything-but, exists, numeric,
  equals-ignore-case, wildcard, cidr, $or) sends it to each of its targets, on a background pool
  (PutEvents returns at once). Targets: SQS (SendMessage; FIFO with SqsParameters.MessageGroupId),
  Lambda (asynchronous invoke through the Lambda runner), Step Functions (StartExecution with a
  generated name), SNS (Publish), another event bus, a CloudWatch Logs group. What a target receives:
  its `Input` (constant JSON), `InputPath` (JSONPath into the event) or `InputTransformer`
  (InputPathsMap + InputTemplate, see `render_template`), else the event. A failing target is logged
  in the delivery records, never raised (AWS counts it in FailedInvocations).
- Schedules: rules with a ScheduleExpression, `rate(N minute(s)|hour(s)|day(s))` (every N units from
  the rule's creation or enabling) or `cron(min hour day-of-month month day-of-week year)` (UTC; `*`,
  `?`, lists, ranges, steps, month/day names, `L`, `#`), fire a "Scheduled Event" (source aws.events)
  at their targets when due, unless config `eventbridge.schedulesEnabled` is false. A scheduler
  thread sleeps until the next due time (at most 5 s, to see new rules).
- At least once: config `eventbridge.duplicateDeliveryShare` (default 0) is the share of deliveries
  made twice (the same event, as EventBridge may redeliver). POST
  /_local_cloud/events/fire-schedule {"region", "rule", "times": 1} fires a scheduled rule's targets
  now with one event, `times` times (so `times: 2` is one scheduled event delivered twice), and
  answers once the deliveries are made.
- GET /_local_cloud/events/deliveries?rule=<name> lists recent deliveries (rule, target, event id,
  outcome, error, e.g. the execution ARN started).
"""

from __future__ import annotations

import calendar
import collections
import concurrent.futures
import datetime
import functools
import json
import random
import threading
import time
import traceback
import uuid

from .server import ApiError

MAX_ENTRIES = 10
# PutEvents: the entries of one request total at most 256 KB (EventBridge quotas).
MAX_REQUEST_ENTRY_BYTES = 256 * 1024
RECENT_DELIVERIES = 2000
SCHEDULER_MAX_SLEEP = 5.0
RATE_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}


def iso_time(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def entry_size(entry: dict) -> int:
    """An entry's size as EventBridge counts it ("Calculating PutEvents event entry size")."""
    size = 14 if entry.get("Time") is not None else 0
    for key in ("Source", "DetailType", "Detail"):
        size += len(str(entry.get(key) or "").encode())
    size += sum(len(str(r).encode()) for r in entry.get("Resources") or [])
    return size


class EventBridgeEngine:
    def __init__(self, ctx):
        self.ctx = ctx
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="eventbridge")
        self.deliveries: collections.deque[dict] = collections.deque(maxlen=RECENT_DELIVERIES)
        self.lock = threading.Lock()
        # rule ARN -> (rule object, expression, next due epoch)
        self.schedules: dict[str, tuple] = {}

    # --- putting events ----------------------------------------------------------------------------
    def put_event(self, region: str, event: dict, bus: str = "default") -> None:
        """Delivers an already-shaped event to the matching rules of a bus (in the background)."""
        self.pool.submit(self._route_logged, region, event, bus)

    def _route_logged(self, region: str, event: dict, bus: str) -> None:
        try:
            self.route(region, event, bus)
        except Exception:
            traceback.print_exc()

    def backend(self, account: str, region: str):
        from moto.events.models import events_backends

        return events_backends[account][region]

    def route(self, region: str, event: dict, bus: str) -> None:
        account = event.get("account") or self.ctx.account_id
        event_bus = self.backend(account, region).event_buses.get(bus_name(bus))
        if event_bus is None:
            return
        for rule in list(event_bus.rules.values()):
            if rule.state.startswith("ENABLED") and rule.event_pattern.get_pattern() and rule.event_pattern.matches_event(event):
                self.deliver_to_targets(rule, event)

    def put_events(self, request) -> dict:
        entries = request.body.get("Entries") or []
        if len(entries) > MAX_ENTRIES:
            raise ApiError(
                "ValidationException",
                "1 validation error detected: Value '[PutEventsRequestEntry]' at 'entries' failed to satisfy "
                f"constraint: Member must have length less than or equal to {MAX_ENTRIES}",
            )
        if sum(entry_size(e) for e in entries) > MAX_REQUEST_ENTRY_BYTES:
            # The exact message is not documented; the limit is (EventBridge quotas, 256 KB).
            raise ApiError("ValidationException", "Total size of the entries in the request is over the limit.")
        results, accepted = [], []
        for entry in entries:
            error = entry_error(entry)
            if error:
                results.append({"ErrorCode": error[0], "ErrorMessage": error[1]})
                continue
            bus = bus_name(entry.get("EventBusName") or "default")
            if bus not in self.backend(self.ctx.account_id, request.region).event_buses:
                raise ApiError("ResourceNotFoundException", f"Event bus {bus} does not exist.")
            event = {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": entry["DetailType"],
                "source": entry["Source"],
                "account": self.ctx.account_id,
                "time": iso_time(float(entry["Time"]) if entry.get("Time") is not None else time.time()),
                "region": request.region,
                "resources": list(entry.get("Resources") or []),
                "detail": json.loads(entry["Detail"]),
            }
            accepted.append((event, bus))
            results.append({"EventId": event["id"]})
        for event, bus in accepted:  # only once the whole request is known to be valid
            self.put_event(request.region, event, bus)
        return {"FailedEntryCount": sum(1 for r in results if "ErrorCode" in r), "Entries": results}

    # --- delivering --------------------------------------------------------------------------------
    def deliver_to_targets(self, rule, event: dict, copies: int | None = None) -> list[dict]:
        """Sends the event to each target of the rule (twice for a share of them, at least once)."""
        share = float(self.ctx.setting("eventbridge", "duplicateDeliveryShare", 0) or 0)
        records = []
        for target in list(rule.targets):
            times = copies if copies is not None else (2 if random.random() < share else 1)
            for _ in range(times):
                records.append(self.deliver(rule, target, event))
        return records

    def deliver(self, rule, target: dict, event: dict) -> dict:
        record = {
            "time": time.time(),
            "rule": rule.name,
            "eventBus": rule.event_bus_name,
            "region": rule.region_name,
            "targetId": target.get("Id"),
            "targetArn": target.get("Arn"),
            "eventId": event.get("id"),
            "outcome": "delivered",
        }
        try:
            record["result"] = self.send(rule, target, event)
        except Exception as e:  # a failed target is counted, never raised (FailedInvocations)
            record["outcome"] = "failed"
            record["error"] = f"{type(e).__name__}: {e}"
            print(f"eventbridge: rule {rule.name}: delivery to {target.get('Arn')} failed: {record['error']}", flush=True)
        with self.lock:
            self.deliveries.append(record)
        return record

    def send(self, rule, target: dict, event: dict):
        """Sends the target's input to it; answers what the target made of it (message ID, ...)."""
        arn = target["Arn"]
        service = arn.split(":")[2]
        sender = {
            "sqs": self.send_to_queue,
            "lambda": self.send_to_function,
            "states": self.send_to_state_machine,
            "sns": self.send_to_topic,
            "events": self.send_to_bus,
            "logs": self.send_to_log_group,
        }.get(service)
        if sender is None or (service == "events" and ":event-bus/" not in arn):  # archives, API destinations
            raise NotImplementedError(f"EventBridge target {arn} is not supported by the local cloud")
        return sender(arn, target, event, target_input(rule, target, event))

    @staticmethod
    def send_to_queue(arn: str, target: dict, event: dict, payload: str) -> dict:
        from moto.sqs.models import sqs_backends

        _, _, _, region, account, name = arn.split(":", 5)
        group_id = (target.get("SqsParameters") or {}).get("MessageGroupId")
        message = sqs_backends[account][region].send_message(
            name, payload, group_id=group_id, deduplication_id=event.get("id") if group_id else None
        )
        return {"messageId": message.id}

    def send_to_function(self, arn: str, target: dict, event: dict, payload: str) -> dict:
        from moto.awslambda.utils import get_backend

        region, account = arn.split(":")[3:5]
        fn = get_backend(account, region).get_function(arn)
        # EventBridge invokes asynchronously: the function's outcome does not fail the delivery.
        runner = self.ctx.services["lambda_runner"]
        threading.Thread(target=runner.invoke, args=(fn, payload.encode()), daemon=True).start()
        return {"invoked": fn.function_name}

    @staticmethod
    def send_to_state_machine(arn: str, target: dict, event: dict, payload: str) -> dict:
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        region, account = arn.split(":")[3:5]
        execution = stepfunctions_parser_backends[account][region].start_execution(arn, None, payload)
        return {"executionArn": execution.execution_arn}

    @staticmethod
    def send_to_topic(arn: str, target: dict, event: dict, payload: str) -> dict:
        from moto.sns.models import sns_backends

        region, account = arn.split(":")[3:5]
        return {"messageId": sns_backends[account][region].publish(payload, arn=arn)}

    def send_to_bus(self, arn: str, target: dict, event: dict, payload: str) -> dict:
        region = arn.split(":")[3]
        self.put_event(region, dict(event, region=region), arn.split(":event-bus/", 1)[1])
        return {"eventBus": arn}

    @staticmethod
    def send_to_log_group(arn: str, target: dict, event: dict, payload: str) -> dict:
        from moto.logs import logs_backends

        _, _, _, region, account, _, group = arn.split(":")[:7]
        backend = logs_backends[account][region]
        stream = str(uuid.uuid4())
        backend.create_log_stream(group, stream)
        backend.put_log_events(group, stream, [{"timestamp": int(time.time() * 1000), "message": payload}])
        return {"logStream": stream}

    def recent_deliveries(self, body: dict) -> list[dict]:
        rule = body.get("rule")
        with self.lock:
            return [d for d in self.deliveries if not rule or d["rule"] == rule]

    # --- schedules ---------------------------------------------------------------------------------
    def scheduled_event(self, rule) -> dict:
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": rule.account_id,
            "time": iso_time(time.time()),
            "region": rule.region_name,
            "resources": [rule.arn],
            "detail": {},
        }

    def fire_schedule(self, body: dict) -> dict:
        region = body.get("region") or "us-east-1"
        name = body.get("rule")
        if not name:
            raise ValueError('give the rule: {"region": ..., "rule": ..., "times": 1}')
        bus = self.backend(body.get("accountId") or self.ctx.account_id, region).event_buses.get(
            bus_name(body.get("eventBusName") or "default")
        )
        rule = bus.rules.get(name) if bus else None
        if rule is None:
            raise ValueError(f"no rule {name!r} in {region}")
        event = self.scheduled_event(rule)
        records = self.deliver_to_targets(rule, event, copies=max(1, int(body.get("times", 1))))
        return {"eventId": event["id"], "deliveries": records}

    def scheduled_rules(self):
        from moto.events.models import events_backends

        for account in list(events_backends.values()):
            for backend in list(account.values()):
                bus = backend.event_buses.get("default")
                for rule in list(bus.rules.values()) if bus else []:
                    if rule.scheduled_expression and rule.state.startswith("ENABLED"):
                        yield rule

    def next_due(self, rule, after: float) -> float | None:
        expression = rule.scheduled_expression.strip()
        if expression.startswith("rate("):
            amount, unit = expression[5:-1].split()
            period = int(amount) * RATE_UNITS[unit]
            anchor = getattr(rule, "schedule_anchor", after)
            return anchor + (int((after - anchor) // period) + 1) * period
        return CronSchedule(expression[5:-1]).next_after(after)

    def run_scheduler(self) -> None:
        while True:
            now = time.time()
            wake_at = now + SCHEDULER_MAX_SLEEP
            seen = set()
            for rule in self.scheduled_rules():
                seen.add(rule.arn)
                try:
                    due = self.due_time(rule, now)
                except Exception:  # an expression this scheduler cannot read: say so once, skip it
                    traceback.print_exc()
                    self.schedules[rule.arn] = (rule, rule.scheduled_expression, float("inf"))
                    continue
                if due <= now:
                    if self.ctx.setting("eventbridge", "schedulesEnabled", True):
                        self.pool.submit(self.deliver_to_targets, rule, self.scheduled_event(rule))
                    due = self.next_due(rule, now)
                    self.schedules[rule.arn] = (rule, rule.scheduled_expression, due)
                wake_at = min(wake_at, due)
            for arn in set(self.schedules) - seen:
                del self.schedules[arn]
            time.sleep(max(0.05, wake_at - time.time()))

    def due_time(self, rule, now: float) -> float:
        known = self.schedules.get(rule.arn)
        if known is None or known[0] is not rule or known[1] != rule.scheduled_expression:
            due = self.next_due(rule, getattr(rule, "schedule_anchor", now))
            self.schedules[rule.arn] = (rule, rule.scheduled_expression, due)
            return due
        return known[2]


def bus_name(name_or_arn: str) -> str:
    return name_or_arn.split("event-bus/")[-1] if "event-bus/" in name_or_arn else name_or_arn


def entry_error(entry: dict) -> tuple[str, str] | None:
    """A PutEvents entry's own error (code, message), as EventBridge answers it per entry."""
    for key in ("Source", "DetailType", "Detail"):
        if not entry.get(key):
            return "InvalidArgument", f"Parameter {key} is not valid. Reason: {key} is a required argument."
    try:
        detail = json.loads(entry["Detail"])
    except ValueError:
        detail = None
    if not isinstance(detail, dict):
        return "MalformedDetail", "Detail is malformed."
    if entry["Source"].startswith("aws."):
        return "NotAuthorizedForSourceException", "Not authorized for the source."
    return None


# --- what a target receives ------------------------------------------------------------------------
@functools.lru_cache(maxsize=1024)
def parsed_path(path: str):
    from jsonpath_ng.ext import parse

    return parse(path)


def json_path(event: dict, path: str):
    """The value at a JSONPath in the event (None when absent), e.g. $.detail.requestParameters.x."""
    matches = parsed_path(path).find(event)
    return matches[0].value if matches else None


def target_input(rule, target: dict, event: dict) -> str:
    if target.get("Input") is not None:
        return target["Input"]
    if target.get("InputPath"):
        return json.dumps(json_path(event, target["InputPath"]))
    transformer = target.get("InputTransformer")
    if transformer:
        values = {name: json_path(event, path) for name, path in (transformer.get("InputPathsMap") or {}).items()}
        values.update(
            {
                "aws.events.rule-arn": rule.arn,
                "aws.events.rule-name": rule.name,
                "aws.events.event.ingestion-time": event.get("time"),
                "aws.events.event.json": event,
                "aws.events.event": {k: v for k, v in event.items() if k != "detail"},
            }
        )
        return render_template(transformer["InputTemplate"], values)
    return json.dumps(event)


def render_template(template: str, values: dict) -> str:
    """InputTemplate with its <placeholders> filled: in a JSON template, a value outside quotes is
    inserted as JSON ("<id>" -> "\"abc\"", 5, {...}, null when the path matched nothing) and inside
    quotes as text; a plain-text template gets text. Unknown placeholders stay as written."""
    json_template = template.lstrip().startswith(("{", "["))
    out, i, in_string = [], 0, False
    while i < len(template):
        c = template[i]
        if c == "<":
            end = template.find(">", i)
            name = template[i + 1 : end] if end > 0 else None
            if name in values:
                value = values[name]
                if json_template and not in_string:
                    out.append(json.dumps(value))
                elif isinstance(value, str):
                    out.append(json.dumps(value)[1:-1] if json_template else value)
                else:
                    text = "" if value is None else json.dumps(value)
                    out.append(json.dumps(text)[1:-1] if json_template else text)
                i = end + 1
                continue
        if c == "\\" and in_string:
            out.append(template[i : i + 2])
            i += 2
            continue
        if c == '"':
            in_string = not in_string
        out.append(c)
        i += 1
    return "".join(out)


# --- cron ------------------------------------------------------------------------------------------
MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}


class CronSchedule:
    """EventBridge cron(Minutes Hours Day-of-month Month Day-of-week Year), in UTC; day-of-week 1-7 is
    SUN-SAT. Supported: * ? , - / names, L (last day of month; 5L last Thursday) and # (6#3: third
    Friday). Not supported: W (raises ValueError)."""

    def __init__(self, text: str):
        fields = text.split()
        if len(fields) != 6:
            raise ValueError(f"cron({text}) needs 6 fields")
        self.minutes = sorted(parse_field(fields[0], 0, 59))
        self.hours = sorted(parse_field(fields[1], 0, 23))
        self.dom_text, self.dow_text = fields[2].upper(), fields[4].upper()
        if "W" in self.dom_text:
            raise ValueError("cron W (nearest weekday) is not supported by the local cloud")
        self.months = parse_field(fields[3], 1, 12, MONTHS)
        self.years = parse_field(fields[5], 1970, 2199)

    def day_matches(self, day: datetime.date) -> bool:
        if day.month not in self.months or day.year not in self.years:
            return False
        return self.dom_matches(day) and self.dow_matches(day)

    def dom_matches(self, day: datetime.date) -> bool:
        text = self.dom_text
        if text in ("*", "?"):
            return True
        last = calendar.monthrange(day.year, day.month)[1]
        if text == "L":
            return day.day == last
        return day.day in parse_field(text, 1, 31)

    def dow_matches(self, day: datetime.date) -> bool:
        text = self.dow_text
        if text in ("*", "?"):
            return True
        weekday = (day.isoweekday() % 7) + 1  # SUN=1 .. SAT=7
        if "#" in text:
            wanted, nth = text.split("#")
            return weekday == name_or_int(wanted, DAYS) and (day.day - 1) // 7 + 1 == int(nth)
        if text.endswith("L"):
            last = calendar.monthrange(day.year, day.month)[1]
            return weekday == name_or_int(text[:-1] or "7", DAYS) and day.day + 7 > last
        return weekday in parse_field(text, 1, 7, DAYS)

    def next_after(self, after: float) -> float:
        start = datetime.datetime.fromtimestamp(after, datetime.timezone.utc)
        day = start.date()
        for _ in range(366 * 5):
            if self.day_matches(day):
                for hour in self.hours:
                    for minute in self.minutes:
                        moment = datetime.datetime(day.year, day.month, day.day, hour, minute, tzinfo=datetime.timezone.utc)
                        if moment.timestamp() > after:
                            return moment.timestamp()
            day += datetime.timedelta(days=1)
        return float("inf")


def name_or_int(text: str, names: dict) -> int:
    return names[text] if text in names else int(text)


def parse_field(text: str, low: int, high: int, names: dict | None = None) -> set[int]:
    values: set[int] = set()
    for part in text.upper().split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base in ("*", "?"):
            start, end = low, high
        elif "-" in base:
            first, last = base.split("-")
            start, end = name_or_int(first, names or {}), name_or_int(last, names or {})
        else:
            start = name_or_int(base, names or {})
            end = high if step_text else start
        values.update(range(start, end + 1, step))
    return values


def install_schedule_anchors() -> None:
    """Rules remember when they were created or enabled: rate() schedules count from then."""
    from moto.events.models import Rule

    original_init = Rule.__init__
    original_enable = Rule.enable

    def init(rule, *args, **kwargs):
        original_init(rule, *args, **kwargs)
        rule.schedule_anchor = time.time()

    def enable(rule):
        if not rule.state.startswith("ENABLED"):
            rule.schedule_anchor = time.time()
        original_enable(rule)

    Rule.__init__ = init
    Rule.enable = enable


def install(ctx) -> None:
    ctx.default_config("eventbridge", {"schedulesEnabled": True, "duplicateDeliveryShare": 0})
    engine = EventBridgeEngine(ctx)
    ctx.services["eventbridge"] = engine
    install_schedule_anchors()
    ctx.operation("AWSEvents.PutEvents", engine.put_events)
    ctx.endpoint("POST", "/_local_cloud/events/fire-schedule", engine.fire_schedule)
    ctx.endpoint("GET", "/_local_cloud/events/deliveries", engine.recent_deliveries)
    threading.Thread(target=engine.run_scheduler, name="eventbridge-scheduler", daemon=True).start()
