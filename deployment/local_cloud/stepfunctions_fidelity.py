"""Step Functions as AWS runs it, on moto's ASL interpreter (LocalStack's, in moto/stepfunctions/parser).

- StartExecution without a name (as the console, EventBridge and Scheduler start executions) gets a
  generated UUID name, which `$$.Execution.Name` sees; names given are validated (InvalidName).
- StartExecution with an input that is not JSON is refused with InvalidExecutionInput "Invalid State
  Machine Execution Input: '<parser message>'" (API reference: "The provided JSON input data is not
  valid"; moto answered an unnamed 400).
- Payload limit, config `stepfunctions.payloadLimitBytes` (default 262,144; 0 = off): the UTF-8 bytes
  of the JSON text (API reference: "Length constraints apply to the payload size, and are expressed as
  bytes in UTF-8 encoding", maximum 262144).
  - StartExecution/StartSyncExecution with a larger input is refused with ValidationException "1
    validation error detected: Value at 'input' failed to satisfy constraint: Member must have length
    less than or equal to 262144": the input's length is a constraint of the API model, and Step
    Functions answers model constraint violations that way (e.g. the execution name: "Value '...' at
    'name' failed to satisfy constraint: Member must have length less than or equal to 80",
    wolfeidau/buildkite-serverless-agent#37). Not confirmed for `input` itself.
  - A task result, a state's output (after ResultPath/OutputPath) or a task's input after Parameters
    over the limit fails the execution with States.DataLimitExceeded (developer guide, "Error names").
- Terminal errors: States.DataLimitExceeded and States.Runtime are never retried nor caught ("a
  terminal error that can't be caught by the States.ALL error type"; "A States.Runtime error isn't
  retriable, and will always cause the execution to fail"). moto let a Catch route them.
- History limit, config `stepfunctions.historyLimit` (default 25,000; 0 = off): the event that would
  reach the limit is not recorded and the execution fails with States.Runtime "The execution reached
  the maximum number of history events (25000)." (the error AWS gives, quoted in loads/ardere#86), the
  ExecutionFailed event being the last of exactly `historyLimit` events.
- Speed: parsed JSONPaths are cached (moto re-parsed them on every use, half an execution's time).
- GetExecutionHistory is answered here from the live event list (moto deep-copied the whole history
  on every call): pages of maxResults (default 100, at most 1000), nextToken, reverseOrder,
  includeExecutionData. GET /_local_cloud/stepfunctions/history-counts?executionArn= counts events.
- Eventual consistency, config `stepfunctions.consistencyLagMs` (default 0): ListExecutions omits
  executions started less than the lag ago, and ListExecutions/DescribeExecution still report as
  RUNNING executions that ended less than the lag ago; DescribeExecution of an execution started less
  than the lag ago answers ExecutionDoesNotExist (the API reference calls both operations eventually
  consistent).
- StopExecution ends the execution ABORTED at once (moto left it RUNNING, without a stopDate, until the
  running state finished).
- Status-change events: each start and end of a STANDARD execution puts a "Step Functions Execution
  Status Change" event (source aws.states, detail as in the developer guide's "EventBridge for Step
  Functions execution status changes": executionArn, stateMachineArn, name, status, startDate and
  stopDate in epoch milliseconds, input, inputDetails, output, outputDetails, error, cause; input and
  output are left out when over 248 KB, as that page says) on the Region's default event bus, through
  `ctx.services["eventbridge"]`. Express workflows send none (same page).
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import functools
import json
import threading
import time
import uuid

from .server import ApiError

TERMINAL_ERRORS = frozenset({"States.DataLimitExceeded", "States.Runtime"})
ALWAYS_RECORDED_EVENTS = frozenset(
    {"ExecutionStarted", "ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"}
)
# EventBridge events leave out input/output above this size (developer guide, see the docstring).
EVENT_PAYLOAD_BYTES = 248 * 1024
HISTORY_PAGE_DEFAULT = 100
HISTORY_PAGE_MAX = 1000
LIST_PAGE_DEFAULT = 100
LIST_PAGE_MAX = 1000


def utf8_size(value) -> int:
    """Bytes of the value as compact JSON in UTF-8 (a string is already JSON text)."""
    from moto.stepfunctions.parser.asl.utils.encoding import _DateTimeEncoder

    if not isinstance(value, str):
        value = json.dumps(value, cls=_DateTimeEncoder, separators=(",", ":"), ensure_ascii=False)
    return len(value.encode("utf-8"))


def epoch_ms(moment: datetime.datetime | None) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # moto's utcnow() is naive UTC
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return int(moment.timestamp() * 1000)


def status_of(execution) -> str:
    status = execution.exec_status
    return getattr(status, "value", status)


class StepFunctionsFidelity:
    def __init__(self, ctx):
        self.ctx = ctx
        self.lock = threading.Lock()

    # --- settings ----------------------------------------------------------------------------------
    def payload_limit(self) -> int:
        return int(self.ctx.setting("stepfunctions", "payloadLimitBytes", 262144) or 0)

    def history_limit(self) -> int:
        return int(self.ctx.setting("stepfunctions", "historyLimit", 25000) or 0)

    def lag_seconds(self) -> float:
        return float(self.ctx.setting("stepfunctions", "consistencyLagMs", 0) or 0) / 1000

    def backend(self, region: str):
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        return stepfunctions_parser_backends[self.ctx.account_id][region]

    # --- generated names ---------------------------------------------------------------------------
    def install_generated_names(self) -> None:
        from moto.stepfunctions.parser.models import StepFunctionsParserBackend

        original = StepFunctionsParserBackend.start_execution

        def start_execution(backend, state_machine_arn, name=None, execution_input=None, trace_header=None):
            if name:
                backend._validate_name(name)
            else:
                name = str(uuid.uuid4())
            return original(backend, state_machine_arn, name, execution_input, trace_header)

        StepFunctionsParserBackend.start_execution = start_execution

    # --- speed -------------------------------------------------------------------------------------
    @staticmethod
    def install_parse_cache() -> None:
        """The interpreter parsed every JSONPath on every use (jsonpath_ng builds its parser each
        time): half of an execution's time. Parsed paths are immutable, so they are cached."""
        from moto.stepfunctions.parser.asl.component.common.path import result_path
        from moto.stepfunctions.parser.asl.utils import json_path

        for module in (json_path, result_path):
            module.parse = functools.lru_cache(maxsize=4096)(module.parse)

    # --- payload limit -----------------------------------------------------------------------------
    def within_payload_limit(self, value) -> bool:
        limit = self.payload_limit()
        return limit <= 0 or utf8_size(value) <= limit

    def install_payload_limit(self) -> None:
        from moto.stepfunctions.parser import quotas
        from moto.stepfunctions.parser.asl.component.state import state
        from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task, state_task_lambda
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service

        # Every module bound moto's fixed-limit check by name.
        for module in (quotas, state, state_task_lambda, state_task_service):
            module.is_within_size_quota = self.within_payload_limit

        fidelity = self
        for cls in (state_task.StateTask, state_task_lambda.StateTaskLambda):
            original = cls.__dict__["_eval_parameters"]

            def eval_parameters(task, env, _original=original):
                parameters = _original(task, env)
                payload = parameters.get("Payload", parameters) if isinstance(parameters, dict) else parameters
                if not fidelity.within_payload_limit(payload):
                    raise data_limit_failure(env, task.name, "input")
                return parameters

            cls._eval_parameters = eval_parameters

        def check_start(request):
            try:
                json.loads(request.body.get("input") or "{}")
            except ValueError as e:
                raise ApiError("InvalidExecutionInput", f"Invalid State Machine Execution Input: '{e}'") from e
            if not self.within_payload_limit(request.body.get("input", "{}")):
                raise ApiError(
                    "ValidationException",
                    "1 validation error detected: Value at 'input' failed to satisfy constraint: "
                    f"Member must have length less than or equal to {self.payload_limit()}",
                )
            return None

        self.ctx.operation("AWSStepFunctions.StartExecution", check_start)
        self.ctx.operation("AWSStepFunctions.StartSyncExecution", check_start)

    # --- terminal errors ---------------------------------------------------------------------------
    @staticmethod
    def install_terminal_errors() -> None:
        from moto.stepfunctions.parser.asl.component.common.catch.catch_outcome import CatchOutcome
        from moto.stepfunctions.parser.asl.component.common.retry.retry_outcome import RetryOutcome
        from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState

        original_retry = ExecutionState._handle_retry
        original_catch = ExecutionState._handle_catch

        def is_terminal(failure_event) -> bool:
            name = failure_event.error_name.error_name if failure_event.error_name else None
            return name in TERMINAL_ERRORS

        def handle_retry(state, env, failure_event):
            if is_terminal(failure_event):
                return RetryOutcome.CannotRetry
            return original_retry(state, env, failure_event)

        def handle_catch(state, env, failure_event):
            if is_terminal(failure_event):
                env.stack.append(CatchOutcome.NotCaught)
                return
            original_catch(state, env, failure_event)

        ExecutionState._handle_retry = handle_retry
        ExecutionState._handle_catch = handle_catch

    # --- history limit -----------------------------------------------------------------------------
    def install_history_limit(self) -> None:
        from moto.stepfunctions.parser.api import ExecutionFailedEventDetails
        from moto.stepfunctions.parser.asl.eval.environment import Environment
        from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager

        original_init = Environment.__init__

        def init(env, *args, **kwargs):
            original_init(env, *args, **kwargs)
            # A frame (Map/Parallel branch) replaces its manager by its parent's right after this,
            # so a manager's environment is always the execution's root environment.
            env.event_manager.root_env = env

        Environment.__init__ = init
        original_set_error = Environment.set_error

        def set_error(env, error):
            # Once the history is full, that is the execution's error, whatever the state running
            # then trips over while it stops.
            original_set_error(env, getattr(env, "history_limit_error", None) or error)

        Environment.set_error = set_error
        original_add = EventManager.add_event
        fidelity = self

        def add_event(manager, context, event_type, event_details=None, timestamp=None, update_source_event_id=True):
            limit = fidelity.history_limit()
            if limit > 0 and getattr(event_type, "value", event_type) not in ALWAYS_RECORDED_EVENTS:
                count = len(manager._history_event_list)
                if count >= limit - 1:
                    # Leave room for the ExecutionFailed event the interpreter adds as it stops.
                    root = getattr(manager, "root_env", None)
                    if root is not None and root.is_running():
                        root.history_limit_error = ExecutionFailedEventDetails(
                            error="States.Runtime",
                            cause=f"The execution reached the maximum number of history events ({limit}).",
                        )
                        root.set_error(root.history_limit_error)
                    return count + 1
            return original_add(manager, context, event_type, event_details, timestamp, update_source_event_id)

        EventManager.add_event = add_event

    # --- history API -------------------------------------------------------------------------------
    def execution(self, region: str, execution_arn: str):
        with moto_errors_as_api_errors():
            return self.backend(region).describe_execution(execution_arn)

    @staticmethod
    def history_events(execution) -> list:
        env = execution.exec_worker.env if execution.exec_worker else None
        if env is None:  # not started yet
            return []
        manager = env.event_manager
        with manager._mutex:
            return list(manager._history_event_list)

    def get_execution_history(self, request):
        body = request.body
        execution_arn = body.get("executionArn", "")
        execution = self.execution(request.region, execution_arn)
        events = self.history_events(execution)
        reverse = bool(body.get("reverseOrder", False))
        if reverse:
            events.reverse()
        page_size = int(body.get("maxResults") or HISTORY_PAGE_DEFAULT)
        if page_size > HISTORY_PAGE_MAX or page_size < 0:
            raise ApiError(
                "ValidationException",
                f"1 validation error detected: Value '{page_size}' at 'maxResults' failed to satisfy "
                f"constraint: Member must have value less than or equal to {HISTORY_PAGE_MAX}",
            )
        start = decode_token(body.get("nextToken"), execution_arn, reverse)
        page = events[start : start + page_size]
        include_data = body.get("includeExecutionData", True) is not False
        answer = {"events": [history_event_json(e, include_data) for e in page]}
        if start + page_size < len(events):
            answer["nextToken"] = encode_token(execution_arn, reverse, start + page_size)
        return answer

    def history_counts(self, body: dict) -> dict:
        arn = body.get("executionArn")
        if not arn:
            raise ValueError("give executionArn")
        region = arn.split(":")[3]
        return {"executionArn": arn, "events": len(self.history_events(self.execution(region, arn)))}

    # --- eventual consistency ----------------------------------------------------------------------
    def lagged_status(self, execution, now: float, lag: float) -> str:
        """What an eventually consistent read reports: RUNNING until `lag` after the execution ended."""
        status = status_of(execution)
        stopped = epoch_ms(execution.stop_date)
        if status != "RUNNING" and stopped is not None and now - stopped / 1000 < lag:
            return "RUNNING"
        return status

    def describe_execution(self, request):
        lag = self.lag_seconds()
        if lag <= 0:
            return None
        arn = request.body.get("executionArn", "")
        execution = self.execution(request.region, arn)
        now = time.time()
        if now - epoch_ms(execution.start_date) / 1000 < lag:
            raise ApiError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'")
        if self.lagged_status(execution, now, lag) != "RUNNING" or status_of(execution) == "RUNNING":
            return None
        return {
            "executionArn": arn,
            "stateMachineArn": execution.state_machine_arn,
            "name": execution.name,
            "status": "RUNNING",
            "startDate": execution.start_date,
            "input": execution.execution_input,
            "inputDetails": {"included": True},
        }

    def list_executions(self, request):
        lag = self.lag_seconds()
        if lag <= 0:
            return None
        body = request.body
        with moto_errors_as_api_errors():
            state_machine = self.backend(request.region).describe_state_machine(body.get("stateMachineArn", ""))
        now = time.time()
        items = []
        for execution in sorted(list(state_machine.executions), key=lambda e: e.start_date, reverse=True):
            if now - epoch_ms(execution.start_date) / 1000 < lag:
                continue
            status = self.lagged_status(execution, now, lag)
            if body.get("statusFilter") and body["statusFilter"] != status:
                continue
            item = {
                "executionArn": execution.execution_arn,
                "stateMachineArn": state_machine.arn,
                "name": execution.name,
                "status": status,
                "startDate": execution.start_date,
            }
            if status != "RUNNING" and execution.stop_date is not None:
                item["stopDate"] = execution.stop_date
            items.append(item)
        page_size = int(body.get("maxResults") or LIST_PAGE_DEFAULT)
        page_size = min(page_size, LIST_PAGE_MAX)
        start = decode_token(body.get("nextToken"), state_machine.arn, False)
        answer = {"executions": items[start : start + page_size]}
        if start + page_size < len(items):
            answer["nextToken"] = encode_token(state_machine.arn, False, start + page_size)
        return answer

    # --- StopExecution and status-change events ----------------------------------------------------
    def install_status_events(self) -> None:
        from moto.stepfunctions.parser.api import ExecutionStatus
        from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution

        original_start = Execution.start
        original_stop = Execution.stop
        original_terminated = BaseExecutionWorkerCommunication.terminated
        fidelity = self

        def start(execution):
            fidelity.emit(execution, "RUNNING")
            original_start(execution)

        def stop(execution, stop_date, error, cause):
            with fidelity.lock:
                running = execution.exec_status == ExecutionStatus.RUNNING
                if running:
                    execution.aborted_by_stop = True
                    execution.exec_status = ExecutionStatus.ABORTED
                    execution.stop_date = stop_date or datetime.datetime.now(datetime.timezone.utc)
                    execution.error = error or None
                    execution.cause = cause or None
            original_stop(execution, stop_date, error, cause)
            if running:
                fidelity.emit(execution, "ABORTED")

        def terminated(comm):
            execution = comm.execution
            if getattr(execution, "aborted_by_stop", False):
                return  # StopExecution already ended it ABORTED
            original_terminated(comm)
            fidelity.emit(execution, status_of(execution))

        Execution.start = start
        Execution.stop = stop
        BaseExecutionWorkerCommunication.terminated = terminated

    def stop_execution(self, request):
        """StopExecution with its error and cause (moto's handler drops them)."""
        body = request.body
        execution = self.execution(request.region, body.get("executionArn", ""))
        execution.stop(datetime.datetime.now(datetime.timezone.utc), body.get("error"), body.get("cause"))
        return {"stopDate": execution.stop_date or datetime.datetime.now(datetime.timezone.utc)}

    def emit(self, execution, status: str) -> None:
        engine = self.ctx.services.get("eventbridge")
        if engine is None or getattr(execution.state_machine, "type", "STANDARD") == "EXPRESS":
            return
        engine.put_event(execution.region_name, status_change_event(execution, status))


def status_change_event(execution, status: str) -> dict:
    """A "Step Functions Execution Status Change" event, as the developer guide shows them."""
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    input_text = to_json_str(execution.input_data, separators=(",", ":"))
    output_text = None
    if status == "SUCCEEDED" and execution.output is not None:
        output_text = to_json_str(execution.output, separators=(",", ":"))
    # The escaped (JSON-encoded) sizes are what count against the event quota.
    output_size = len(json.dumps(output_text)) if output_text is not None else 0
    if output_size > EVENT_PAYLOAD_BYTES:
        output_text, output_size = None, 0
        output_details = {"included": False}
    else:
        output_details = {"included": True} if output_text is not None else None
    input_details = {"included": True}
    if len(json.dumps(input_text)) + output_size > EVENT_PAYLOAD_BYTES:
        input_text, input_details = None, {"included": False}
    state_machine = execution.state_machine
    detail = {
        "executionArn": execution.exec_arn,
        "stateMachineArn": getattr(state_machine, "source_arn", None) or state_machine.arn,
        "name": execution.name,
        "status": status,
        "startDate": epoch_ms(execution.start_date),
        "stopDate": epoch_ms(execution.stop_date) if status != "RUNNING" else None,
        "input": input_text,
        "inputDetails": input_details,
        "output": output_text,
        "outputDetails": output_details,
    }
    if status in ("FAILED", "TIMED_OUT", "ABORTED"):
        detail["error"] = execution.error
        detail["cause"] = execution.cause
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": execution.account_id,
        "time": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": execution.region_name,
        "resources": [execution.exec_arn],
        "detail": detail,
    }


def data_limit_failure(env, state_name: str, what: str):
    """The FailureEventException of a state whose `what` ("input") is over the payload limit."""
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    error_type = StatesErrorNameType.StatesStatesDataLimitExceeded
    # AWS's wording for an oversized input is not documented; modelled on its result message.
    cause = f"The state/task '{state_name}' has an {what} with a size exceeding the maximum number of bytes service limit."
    return FailureEventException(
        failure_event=FailureEvent(
            env=env,
            error_name=StatesErrorName(typ=error_type),
            event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(
                taskFailedEventDetails=TaskFailedEventDetails(error=error_type.to_name(), cause=cause)
            ),
        )
    )


def history_event_json(event: dict, include_data: bool) -> dict:
    """A history event as the JSON protocol sends it (timestamps as epoch seconds)."""
    out = dict(event)
    stamp = out.get("timestamp")
    if isinstance(stamp, str):
        out["timestamp"] = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if not include_data:
        for key, details in list(out.items()):
            if key.endswith("EventDetails") and isinstance(details, dict):
                out[key] = {k: v for k, v in details.items() if k not in ("input", "output")}
    return out


@contextlib.contextmanager
def moto_errors_as_api_errors():
    """moto's service errors raised inside an operation handler, answered as the AWS errors they are."""
    from moto.core.exceptions import ServiceException, _RESTError

    try:
        yield
    except _RESTError as e:
        # The parser's exceptions name their code only in the class name.
        code = e.error_type or type(e).__name__
        raise ApiError(code, e.message, e.code if isinstance(e.code, int) else 400) from e
    except ServiceException as e:
        raise ApiError(e.code, e.message) from e


def encode_token(scope: str, reverse: bool, offset: int) -> str:
    raw = json.dumps({"scope": scope, "reverse": reverse, "offset": offset}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_token(token: str | None, scope: str, reverse: bool) -> int:
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        if data["scope"] == scope and data["reverse"] == reverse:
            return int(data["offset"])
    except (ValueError, KeyError, TypeError):
        pass
    raise ApiError("InvalidToken", f"Invalid Token: '{token}'")


def install(ctx) -> None:
    ctx.default_config(
        "stepfunctions", {"payloadLimitBytes": 262144, "historyLimit": 25000, "consistencyLagMs": 0}
    )
    fidelity = StepFunctionsFidelity(ctx)
    fidelity.install_parse_cache()
    fidelity.install_generated_names()
    fidelity.install_payload_limit()
    fidelity.install_terminal_errors()
    fidelity.install_history_limit()
    fidelity.install_status_events()
    ctx.operation("AWSStepFunctions.GetExecutionHistory", fidelity.get_execution_history)
    ctx.operation("AWSStepFunctions.DescribeExecution", fidelity.describe_execution)
    ctx.operation("AWSStepFunctions.ListExecutions", fidelity.list_executions)
    ctx.operation("AWSStepFunctions.StopExecution", fidelity.stop_execution)
    ctx.endpoint("GET", "/_local_cloud/stepfunctions/history-counts", fidelity.history_counts)
