"""CloudFormation stack operations as AWS runs them (installed by cloudformation_gaps).

moto creates a stack synchronously, updates it by re-running resource constructors, never tells a
custom resource about an update or a deletion, ignores a custom resource's FAILED answer (the stack
waits forever) and has no rollback. Here, following the CloudFormation User Guide ("Custom resources",
"Custom resource request objects", "Update behaviors of stack resources", "Monitor the progress of a
stack update", "Continue rolling back an update"):

- Custom resources get `Create`, `Update` (ResourceProperties = new, OldResourceProperties = old, the
  same PhysicalResourceId) and `Delete` requests; their answers (SUCCESS/FAILED, Reason,
  PhysicalResourceId, Data) drive the stack. The resource's Ref is the PhysicalResourceId it answered,
  Fn::GetAtt reads its Data. An answer that never comes fails the request after
  `cloudformation.customResourceTimeoutSeconds` (default 60; AWS waits up to an hour) with AWS's reason.
  A FAILED answer shows in DescribeStackEvents as AWS words it: "Received response status [FAILED] from
  custom resource. Message returned: <Reason> (RequestId: <id>)".
- CreateStack: a resource that fails (a custom resource's FAILED or timeout, or an error creating a
  resource) fails the stack: CREATE_FAILED, then ROLLBACK_IN_PROGRESS deletes what was created (custom
  resources get a `Delete`, the failed one too), ROLLBACK_COMPLETE (or ROLLBACK_FAILED).
- UpdateStack returns at once; the update runs in the background (UPDATE_IN_PROGRESS), resources in
  dependency order. On success: UPDATE_COMPLETE_CLEANUP_IN_PROGRESS removes the resources the template
  dropped (and custom resources replaced by a new PhysicalResourceId), then UPDATE_COMPLETE with the new
  template, parameters and outputs. On a failure: UPDATE_ROLLBACK_IN_PROGRESS sends every resource
  already updated, the failed one included, back to its old properties (a custom resource gets another
  `Update` with old and new swapped), deletes the resources the update added, and ends
  UPDATE_ROLLBACK_COMPLETE with the previous template and parameters, or UPDATE_ROLLBACK_FAILED if a
  rollback step fails (ContinueUpdateRollback, with ResourcesToSkip, resumes it). A stack in a
  *_IN_PROGRESS or UPDATE_ROLLBACK_FAILED state refuses UpdateStack.
- DeleteStack returns at once; DELETE_IN_PROGRESS deletes the resources in reverse dependency order
  (custom resources get `Delete`, `DeletionPolicy: Retain` is kept), then DELETE_COMPLETE, or
  DELETE_FAILED with the failed resources (e.g. a table with deletion protection).
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
import traceback
import uuid

TIMEOUT_REASON = (
    "CloudFormation did not receive a response from your Custom Resource. Please check your logs for requestId "
    "[{request_id}]. If you are using the Python cfn-response module, you may need to update your Lambda "
    "function code so that CloudFormation can attach the updated version."
)
FAILED_REASON = "Received response status [FAILED] from custom resource. Message returned: {reason} (RequestId: {request_id})"

# States in which AWS refuses UpdateStack (besides any *_IN_PROGRESS, and moto's ROLLBACK_COMPLETE check).
NOT_UPDATABLE = {"CREATE_FAILED", "ROLLBACK_FAILED", "DELETE_FAILED", "UPDATE_ROLLBACK_FAILED"}
CREATION_STATES = {"CREATE_PENDING", "CREATE_IN_PROGRESS", "CREATE_FAILED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED"}

_LOCAL = threading.local()  # .synchronous: custom resource requests wait for their answer


class ResourceFailed(Exception):
    def __init__(self, logical_id: str, reason: str):
        super().__init__(reason)
        self.logical_id = logical_id
        self.reason = reason


# --- template dependencies -----------------------------------------------------------------------


def references(node, names: set[str]) -> set[str]:
    """The resources a template fragment refers to (Ref, Fn::GetAtt, Fn::Sub ${X} / ${X.Attr})."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) else str(value).split(".")[0]
                found.add(target)
            elif key == "Fn::Sub":
                text, variables = (value[0], value[1]) if isinstance(value, list) else (value, {})
                found |= {m.split(".")[0] for m in re.findall(r"\$\{([^!}][^}]*)\}", text)} - set(variables)
                found |= references(variables, names)
            else:
                found |= references(value, names)
    elif isinstance(node, list):
        for value in node:
            found |= references(value, names)
    return found & names


def dependency_order(resources: dict) -> list[str]:
    """Logical IDs so that each comes after what it depends on (template order otherwise)."""
    names = set(resources)
    depends = {}
    for name, body in resources.items():
        explicit = body.get("DependsOn", [])
        explicit = [explicit] if isinstance(explicit, str) else explicit
        depends[name] = (references(body.get("Properties", {}), names) | set(explicit)) & names - {name}
    ordered, done = [], set()
    while len(ordered) < len(resources):
        ready = [n for n in resources if n not in done and depends[n] <= done]
        if not ready:  # a cycle: take the rest in template order
            ready = [n for n in resources if n not in done]
        for name in ready:
            ordered.append(name)
            done.add(name)
    return ordered


# --- events and statuses -------------------------------------------------------------------------


def resource_event(stack, logical_id: str, status: str, reason: str | None = None, physical_id: str | None = None) -> None:
    from moto.cloudformation.models import Event

    body = stack.resource_map._resource_json_map.get(logical_id, {})
    resource = stack.resource_map._parsed_resources.get(logical_id)
    if physical_id is None:
        physical_id = getattr(resource, "physical_resource_id", "") or ""
    stack.events.append(Event(
        stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=logical_id,
        physical_resource_id=physical_id, resource_type=body.get("Type", ""), resource_status=status,
        resource_status_reason=reason, resource_properties=None,
    ))


def stack_status(stack, status: str, reason: str | None = None) -> None:
    stack.status = status
    stack.status_reason = reason
    stack._add_stack_event(status, resource_status_reason=reason)


def stack_lock(stack) -> threading.RLock:
    lock = stack.__dict__.get("_lc_lock")
    if lock is None:
        lock = stack.__dict__.setdefault("_lc_lock", threading.RLock())
    return lock


def is_custom(resource_json: dict) -> bool:
    kind = resource_json.get("Type", "")
    return kind.startswith("Custom::") or kind == "AWS::CloudFormation::CustomResource"


def resolved_properties(rmap, resource_json: dict) -> dict:
    from moto.cloudformation.parsing import clean_json

    return clean_json(copy.deepcopy(resource_json.get("Properties", {})), rmap)


def load_template(rmap, template: dict, parameters: dict) -> None:
    """Points moto's resource map at a template and its parameters (as moto's own update does)."""
    rmap._template = template
    rmap.input_parameters = parameters
    rmap.resolved_parameters = {}
    rmap.load_mapping()
    rmap.load_parameters()
    rmap.load_conditions()
    rmap._resource_json_map = template["Resources"]


def condition_holds(rmap, resource_json: dict) -> bool:
    condition = resource_json.get("Condition")
    return not condition or bool(rmap.lazy_condition_map[condition])


# --- custom resource requests --------------------------------------------------------------------


class Call:
    """One request to a custom resource, and its answer."""

    def __init__(self, request_id: str, deadline: float, on_answer):
        self.request_id = request_id
        self.deadline = deadline
        self.on_answer = on_answer
        self.done = threading.Event()
        self.status: str | None = None
        self.reason = ""
        self.physical_id: str | None = None
        self.data: dict = {}

    @property
    def failed(self) -> bool:
        return self.status != "SUCCESS"

    def event_reason(self) -> str:
        if self.status == "TIMEOUT":
            return TIMEOUT_REASON.format(request_id=self.request_id)
        return FAILED_REASON.format(reason=self.reason, request_id=self.request_id)


class CustomResourceCalls:
    def __init__(self, ctx):
        self.ctx = ctx
        self.lock = threading.Lock()
        self.pending: dict[str, Call] = {}
        threading.Thread(target=self._expire, name="custom-resource-timeouts", daemon=True).start()

    def timeout(self) -> float:
        return float(self.ctx.setting("cloudformation", "customResourceTimeoutSeconds", 60))

    def send(self, stack, logical_id: str, request_type: str, properties: dict, old_properties: dict | None = None,
             physical_id: str | None = None, on_answer=None) -> Call:
        """Invokes the custom resource's function (ServiceToken) with a CloudFormation request."""
        from moto.awslambda.utils import get_backend

        request_id = str(uuid.uuid4())
        call = Call(request_id, time.monotonic() + self.timeout(), on_answer)
        region = stack.region_name
        event = {
            "RequestType": request_type,
            "ServiceToken": properties.get("ServiceToken"),
            "ResponseURL": f"{self.ctx.url}/cloudformation_{region}/cfnresponse?stack={stack.stack_id}&request={request_id}",
            "StackId": stack.stack_id,
            "RequestId": request_id,
            "LogicalResourceId": logical_id,
            "ResourceType": stack.resource_map._resource_json_map.get(logical_id, {}).get("Type", "Custom::Resource"),
            "ResourceProperties": properties,
        }
        if old_properties is not None:
            event["OldResourceProperties"] = old_properties
        if physical_id is not None:
            event["PhysicalResourceId"] = physical_id
        with self.lock:
            self.pending[request_id] = call
        try:
            function = get_backend(stack.account_id, region).get_function(properties.get("ServiceToken"))
        except Exception as e:  # no such function: CloudFormation cannot deliver the request
            self._finish(call, "FAILED", f"Invalid service token: {e}", None, {})
            return call
        threading.Thread(target=function.invoke, args=(json.dumps(event), {}, {}), daemon=True).start()
        return call

    def wait(self, call: Call) -> Call:
        call.done.wait()
        return call

    def answer(self, body: dict) -> bool:
        """A response PUT to the ResponseURL; False when no request waits for it."""
        with self.lock:
            call = self.pending.get(body.get("RequestId", ""))
        if call is None:
            return False
        self._finish(call, body.get("Status"), body.get("Reason") or "", body.get("PhysicalResourceId"), body.get("Data") or {})
        return True

    def _finish(self, call: Call, status, reason: str, physical_id, data: dict) -> None:
        with self.lock:
            if self.pending.pop(call.request_id, None) is None:
                return  # answered already (or expired)
        call.status, call.reason, call.physical_id, call.data = status, reason, physical_id, data
        call.done.set()
        if call.on_answer is not None:
            threading.Thread(target=call.on_answer, args=(call,), daemon=True).start()

    def _expire(self) -> None:
        while True:
            time.sleep(0.2)
            now = time.monotonic()
            with self.lock:
                late = [c for c in self.pending.values() if c.deadline < now]
            for call in late:
                self._finish(call, "TIMEOUT", "", None, {})


# --- the stack operations ------------------------------------------------------------------------


class Stacks:
    def __init__(self, ctx):
        self.ctx = ctx
        self.calls = CustomResourceCalls(ctx)

    # --- custom resources as moto models ---
    def create_custom(self, model_class, resource_name: str, cloudformation_json: dict, account_id: str,
                      region_name: str, **kwargs):
        from moto.cloudformation import cloudformation_backends

        stack = cloudformation_backends[account_id][region_name].get_stack(kwargs["StackId"])
        logical_id = kwargs["LogicalId"]
        resource = model_class(region_name, "", logical_id, resource_name)
        resource.properties = cloudformation_json["Properties"]
        resource.cf_resource_type = kwargs["ResourceType"]
        resource.logical_resource_id = logical_id
        stack.add_custom_resource(resource)
        resource_event(stack, logical_id, "CREATE_IN_PROGRESS", physical_id="")
        if getattr(_LOCAL, "synchronous", False):
            call = self.calls.wait(self.calls.send(stack, logical_id, "Create", resource.properties))
            self._apply(stack, resource, call, "CREATE")
            if call.failed:
                # Kept in the stack so the rollback sends it a Delete, as CloudFormation does.
                stack.resource_map._parsed_resources[logical_id] = resource
                raise ResourceFailed(logical_id, call.event_reason())
        else:
            self.calls.send(stack, logical_id, "Create", resource.properties,
                            on_answer=lambda call: self._created(stack, resource, call))
        return resource

    def _apply(self, stack, resource, call: Call, action: str, properties: dict | None = None) -> None:
        if call.failed:
            resource_event(stack, resource.logical_resource_id, f"{action}_FAILED", call.event_reason())
            return
        if call.physical_id:
            resource._lc_physical_id = call.physical_id
        resource.data = call.data
        resource._finished = True
        if properties is not None:
            resource.properties = properties
        resource_event(stack, resource.logical_resource_id, f"{action}_COMPLETE")

    def _created(self, stack, resource, call: Call) -> None:
        """A custom resource answered the Create sent while CreateStack ran."""
        with stack_lock(stack):
            if stack.status != "CREATE_IN_PROGRESS":
                return
            self._apply(stack, resource, call, "CREATE")
            if call.failed:
                stack.resource_map._parsed_resources[resource.logical_resource_id] = resource
                self._fail_creation(stack, [resource.logical_resource_id])
            elif all(r._finished for r in stack.custom_resources.values()):
                stack.output_map = stack._create_output_map()  # outputs may read the answers' Data
                stack.mark_creation_complete()

    # --- CreateStack ---
    def create_resources(self, stack) -> None:
        """moto's Stack.create_resources, with a failing resource failing (and rolling back) the stack."""
        from moto.cloudformation.exceptions import ValidationError

        with stack_lock(stack):
            stack.status = "CREATE_IN_PROGRESS"
            try:
                ready = stack.resource_map.create(stack.template_dict)
            except ValidationError:
                raise  # a template error: CreateStack itself fails, as on AWS
            except ResourceFailed as e:
                resource_event(stack, e.logical_id, "CREATE_FAILED", e.reason)
                self._fail_creation(stack, [e.logical_id])
                return
            stack.description = stack.template_dict.get("Description")
            if ready:
                stack.mark_creation_complete()

    def _fail_creation(self, stack, failed: list[str]) -> None:
        reason = f"The following resource(s) failed to create: [{', '.join(failed)}]. "
        stack_status(stack, "CREATE_FAILED", reason)
        stack_status(stack, "ROLLBACK_IN_PROGRESS", reason + "Rollback requested by user.")
        self._background(self._roll_back_creation, stack)

    def _roll_back_creation(self, stack) -> None:
        failures = self.delete_resources(stack)
        if failures:
            stack_status(stack, "ROLLBACK_FAILED", _failed_to("delete", failures))
        else:
            stack_status(stack, "ROLLBACK_COMPLETE")

    # --- UpdateStack ---
    def start_update(self, backend, stack, template: str, parameters: dict, role_arn, tags) -> None:
        from moto.cloudformation.exceptions import ValidationError

        if stack.status.endswith("_IN_PROGRESS") or stack.status in NOT_UPDATABLE:
            raise ValidationError(stack.stack_id, message=f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated.")
        new_template = stack.parse_template(template)
        _check_parameters(new_template, parameters)
        stack_status(stack, "UPDATE_IN_PROGRESS", "User Initiated")
        self._background(self._update, stack, template, new_template, parameters, role_arn, tags)

    def _update(self, stack, template: str, new_template: dict, parameters: dict, role_arn, tags) -> None:
        rmap = stack.resource_map
        previous = (stack.template, stack.template_dict, dict(rmap.input_parameters))
        diff = rmap.build_resource_diff(new_template, parameters)
        load_template(rmap, new_template, parameters)
        # What was done, to undo on failure: ("add", id, body), ("update", id), ("custom", id, old, new).
        touched: list[tuple] = []
        replaced: list[tuple] = []  # custom resources that answered a new PhysicalResourceId
        removed = {k: previous[1]["Resources"][k] for k in diff["Remove"]}
        logical_id = ""
        try:
            for logical_id in dependency_order(new_template["Resources"]):
                body = new_template["Resources"][logical_id]
                if not condition_holds(rmap, body):
                    if logical_id in rmap._parsed_resources:  # its condition turned false: it goes
                        removed[logical_id] = body
                    continue
                self._update_one(stack, logical_id, body, diff, touched, replaced)
        except ResourceFailed as e:
            self._roll_back_update(stack, previous, touched, e)
            return
        except Exception as e:  # a template the update cannot resolve: the resource fails
            traceback.print_exc()
            failure = ResourceFailed(logical_id, f"{type(e).__name__}: {e}")
            resource_event(stack, logical_id, "UPDATE_FAILED", failure.reason)
            self._roll_back_update(stack, previous, touched, failure)
            return
        stack_status(stack, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
        self._clean_up(stack, removed, replaced)
        stack.template = template
        stack._parse_template()
        stack.parameters = parameters
        stack.output_map = stack._create_output_map()
        stack.description = stack.template_dict.get("Description")
        stack.role_arn = role_arn
        if tags is not None:
            stack.tags = tags
        stack_status(stack, "UPDATE_COMPLETE")

    def _update_one(self, stack, logical_id: str, body: dict, diff: dict, touched: list, replaced: list) -> None:
        from moto.cloudformation.parsing import parse_and_update_resource

        rmap = stack.resource_map
        existing = rmap._parsed_resources.get(logical_id)
        if existing is None:
            touched.append(("add", logical_id, body))
            try:
                rmap[logical_id]
            except ResourceFailed as e:
                if not is_custom(body):  # a custom resource reported its own failure
                    resource_event(stack, logical_id, "CREATE_FAILED", e.reason)
                raise
            except Exception as e:
                traceback.print_exc()
                resource_event(stack, logical_id, "CREATE_FAILED", str(e))
                raise ResourceFailed(logical_id, str(e))
            if not is_custom(body):
                resource_event(stack, logical_id, "CREATE_COMPLETE")
            return
        if is_custom(body):
            new = resolved_properties(rmap, body)
            if new == existing.properties:
                return
            touched.append(("custom", logical_id, existing.properties, new))
            resource_event(stack, logical_id, "UPDATE_IN_PROGRESS")
            old_physical = existing.physical_resource_id
            call = self.calls.wait(self.calls.send(stack, logical_id, "Update", new, existing.properties, old_physical))
            old_properties = existing.properties
            self._apply(stack, existing, call, "UPDATE", new)
            if call.failed:
                raise ResourceFailed(logical_id, call.event_reason())
            if existing.physical_resource_id != old_physical:
                replaced.append((logical_id, old_physical, old_properties))
            return
        if logical_id not in diff["Modify"] and not _resolved_change(rmap, existing, body):
            return
        touched.append(("update", logical_id))
        resource_event(stack, logical_id, "UPDATE_IN_PROGRESS")
        try:
            changed = parse_and_update_resource(logical_id, body, rmap, stack.account_id, stack.region_name)
        except Exception as e:
            traceback.print_exc()
            resource_event(stack, logical_id, "UPDATE_FAILED", str(e))
            raise ResourceFailed(logical_id, str(e))
        if changed is not None:  # None: moto cannot update this type in place; the resource stays
            rmap._parsed_resources[logical_id] = changed
        _remember_properties(rmap, rmap._parsed_resources[logical_id], body)
        resource_event(stack, logical_id, "UPDATE_COMPLETE")

    def _clean_up(self, stack, removed: dict, replaced: list) -> None:
        """After a successful update: resources the template dropped, and replaced custom resources."""
        self._delete_all(stack, removed)
        for logical_id, physical_id, properties in replaced:
            call = self.calls.wait(self.calls.send(stack, logical_id, "Delete", properties, None, physical_id))
            status = "DELETE_FAILED" if call.failed else "DELETE_COMPLETE"
            resource_event(stack, logical_id, status, call.event_reason() if call.failed else None, physical_id)

    def _roll_back_update(self, stack, previous: tuple, touched: list, failure: ResourceFailed) -> None:
        template, template_dict, parameters = previous
        stack_status(stack, "UPDATE_ROLLBACK_IN_PROGRESS", f"The following resource(s) failed to update: [{failure.logical_id}]. ")
        load_template(stack.resource_map, template_dict, parameters)
        stack.__dict__["_lc_rollback"] = list(touched)
        self._continue_rollback(stack, set())

    def _continue_rollback(self, stack, skip: set[str]) -> None:
        """Undoes the touched resources, last first; stops at the first one that refuses (the stack is
        then UPDATE_ROLLBACK_FAILED and ContinueUpdateRollback resumes here)."""
        remaining = stack.__dict__.setdefault("_lc_rollback", [])
        added = stack.__dict__.setdefault("_lc_added", {})
        while remaining:
            entry = remaining[-1]
            if entry[0] == "add":
                added[entry[1]] = entry[2]
            elif entry[1] not in skip:
                try:
                    self._undo(stack, entry)
                except ResourceFailed as e:
                    stack_status(stack, "UPDATE_ROLLBACK_FAILED", f"The following resource(s) failed to update: [{entry[1]}]. {e.reason}")
                    return
            remaining.pop()
        stack_status(stack, "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
        self._delete_all(stack, stack.__dict__.pop("_lc_added"))
        stack_status(stack, "UPDATE_ROLLBACK_COMPLETE")

    def _delete_all(self, stack, bodies: dict) -> None:
        """Cleanup deletions (reverse dependency order): a failure is an event, not a stack failure."""
        rmap = stack.resource_map
        for logical_id in reversed(dependency_order(bodies)):
            resource = rmap._parsed_resources.get(logical_id)
            if resource is None or bodies[logical_id].get("DeletionPolicy") == "Retain":
                continue
            try:
                self._delete_one(stack, logical_id, resource, bodies[logical_id])
                rmap._parsed_resources.pop(logical_id, None)
            except Exception as e:
                resource_event(stack, logical_id, "DELETE_FAILED", getattr(e, "reason", str(e)))

    def _undo(self, stack, entry: tuple) -> None:
        from moto.cloudformation.parsing import parse_and_update_resource

        rmap = stack.resource_map
        kind, logical_id = entry[0], entry[1]
        resource = rmap._parsed_resources[logical_id]
        resource_event(stack, logical_id, "UPDATE_IN_PROGRESS")
        if kind == "custom":
            old, attempted = entry[2], entry[3]
            call = self.calls.wait(self.calls.send(stack, logical_id, "Update", old, attempted, resource.physical_resource_id))
            self._apply(stack, resource, call, "UPDATE", old)
            if call.failed:
                raise ResourceFailed(logical_id, call.event_reason())
            return
        body = rmap._resource_json_map[logical_id]
        try:
            changed = parse_and_update_resource(logical_id, body, rmap, stack.account_id, stack.region_name)
        except Exception as e:
            resource_event(stack, logical_id, "UPDATE_FAILED", str(e))
            raise ResourceFailed(logical_id, str(e))
        if changed is not None:
            rmap._parsed_resources[logical_id] = changed
        _remember_properties(rmap, rmap._parsed_resources[logical_id], body)
        resource_event(stack, logical_id, "UPDATE_COMPLETE")

    def continue_update_rollback(self, stack, skip: list[str]) -> None:
        from moto.cloudformation.exceptions import ValidationError

        if stack.status != "UPDATE_ROLLBACK_FAILED":
            raise ValidationError(stack.stack_id, message=f"Stack {stack.stack_id} is in {stack.status} state and cannot be rolled back.")
        stack_status(stack, "UPDATE_ROLLBACK_IN_PROGRESS", "User Initiated")
        self._background(self._continue_rollback, stack, set(skip))

    # --- DeleteStack ---
    def delete(self, backend, stack, retain: list[str] = ()) -> None:
        """Deletes a stack's resources but `retain` (allowed for a DELETE_FAILED stack), then the stack
        (DELETE_FAILED keeps it, as on AWS)."""
        with stack_lock(stack):
            if stack.status == "DELETE_COMPLETE":
                return
            if stack.status != "DELETE_IN_PROGRESS":
                stack_status(stack, "DELETE_IN_PROGRESS", "User Initiated")
            failures = self.delete_resources(stack, set(retain))
            if failures:
                stack_status(stack, "DELETE_FAILED", _failed_to("delete", failures))
                return
            # The backend's own list: resolving the template's exports now would re-create the
            # resources just deleted (moto's resource map creates a resource when it is looked up).
            for name, export in list(backend.exports.items()):
                if export.exporting_stack_id == stack.stack_id:
                    backend.exports.pop(name, None)
            backend.stacks.pop(stack.stack_id, None)
            backend.deleted_stacks[stack.stack_id] = stack
            stack_status(stack, "DELETE_COMPLETE")

    def start_delete(self, backend, name_or_id: str, retain: list[str]) -> None:
        from moto.cloudformation.exceptions import ValidationError

        stack = next((s for s in backend.stacks.values() if name_or_id in (s.name, s.stack_id)), None)
        if stack is None or stack.status == "DELETE_IN_PROGRESS":
            return  # AWS: deleting a stack that does not exist (or is being deleted) succeeds
        if retain and stack.status != "DELETE_FAILED":
            raise ValidationError(stack.stack_id, message=(
                f"Invalid operation on stack [{stack.stack_id}]. RetainResources can only be specified when the stack is in the DELETE_FAILED state"))
        stack_status(stack, "DELETE_IN_PROGRESS", "User Initiated")
        self._background(self.delete, backend, stack, retain)

    def delete_resources(self, stack, retain: set[str] = frozenset()) -> dict[str, str]:
        """Deletes every resource (reverse dependency order, retrying ones another still depends on)
        but DeletionPolicy Retain and `retain`; returns {logical id: reason} for those that could not be
        deleted."""
        rmap = stack.resource_map
        resources = rmap._resource_json_map
        pending = [
            logical_id for logical_id in reversed(dependency_order(resources))
            if logical_id in rmap._parsed_resources and hasattr(rmap._parsed_resources[logical_id], "physical_resource_id")
        ]
        failures: dict[str, str] = {}
        for logical_id in [p for p in pending if resources[p].get("DeletionPolicy") == "Retain" or p in retain]:
            resource_event(stack, logical_id, "DELETE_SKIPPED")
            pending.remove(logical_id)
        progress = True
        while pending and progress:
            progress = False
            for logical_id in list(pending):
                try:
                    self._delete_one(stack, logical_id, rmap._parsed_resources[logical_id], resources[logical_id])
                except ResourceFailed as e:  # a custom resource refused: asking again changes nothing
                    failures[logical_id] = e.reason
                    pending.remove(logical_id)
                    continue
                except Exception as e:  # maybe still in use by another resource: try again next round
                    failures[logical_id] = str(e)
                    continue
                failures.pop(logical_id, None)
                pending.remove(logical_id)
                rmap._parsed_resources.pop(logical_id, None)
                progress = True
        for logical_id in pending:
            resource_event(stack, logical_id, "DELETE_FAILED", failures.get(logical_id))
        return failures

    def _delete_one(self, stack, logical_id: str, resource, body: dict) -> None:
        resource_event(stack, logical_id, "DELETE_IN_PROGRESS")
        if is_custom(body):
            call = self.calls.wait(self.calls.send(
                stack, logical_id, "Delete", getattr(resource, "properties", {}), None, resource.physical_resource_id))
            if call.failed:
                resource_event(stack, logical_id, "DELETE_FAILED", call.event_reason())
                raise ResourceFailed(logical_id, call.event_reason())
        else:
            stack.resource_map._delete_resource(resource, body)
        resource_event(stack, logical_id, "DELETE_COMPLETE")

    # --- plumbing ---
    def _background(self, work, *args) -> None:
        def run():
            _LOCAL.synchronous = True
            try:
                work(*args)
            except Exception:
                traceback.print_exc()

        threading.Thread(target=run, name=f"cloudformation-{work.__name__}", daemon=True).start()

    def run_synchronously(self, work, *args):
        """Runs stack work in this thread, custom resource requests waiting for their answers."""
        before = getattr(_LOCAL, "synchronous", False)
        _LOCAL.synchronous = True
        try:
            return work(*args)
        finally:
            _LOCAL.synchronous = before

    def update_now(self, stack, template: str, parameters: dict) -> str:
        """Updates a stack in this thread (a StackSet instance); returns its final status."""
        new_template = stack.parse_template(template)
        _check_parameters(new_template, parameters)
        stack_status(stack, "UPDATE_IN_PROGRESS", "User Initiated")
        self.run_synchronously(self._update, stack, template, new_template, parameters, stack.role_arn, None)
        return stack.status


def _remember_properties(rmap, resource, body: dict) -> None:
    """A resource's properties as resolved when it was created or updated: an update changes it when
    they resolve differently (a parameter used through Fn::Sub, another resource's new attribute),
    not only when the template text changes (moto's test)."""
    try:
        properties = resolved_properties(rmap, body)
    except Exception:  # unresolvable now: the template text decides
        properties = None
    try:
        resource._lc_properties = properties
    except AttributeError:  # a model without instance attributes: the template text decides
        pass


def _resolved_change(rmap, resource, body: dict) -> bool:
    before = getattr(resource, "_lc_properties", None)
    if before is None:
        return False
    try:
        return resolved_properties(rmap, body) != before
    except Exception:
        return False


def _failed_to(verb: str, failures: dict[str, str]) -> str:
    return f"The following resource(s) failed to {verb}: [{', '.join(sorted(failures))}]. "


def failure_reason(resource_json: dict, error: Exception) -> str:
    """A resource's CREATE_FAILED reason. An AWS error from the service (moto's RESTError: code,
    error_type, message) reads as CloudFormation's resource handlers word it, e.g. for a trail
    (aws/aws-cdk#27168): Resource handler returned message: "Invalid request provided: Incorrect S3
    bucket policy is detected for bucket: b (Service: CloudTrail, Status Code: 400, Request ID: …)"
    (RequestToken: …, HandlerErrorCode: InvalidRequest)."""
    if not (getattr(error, "error_type", None) and isinstance(getattr(error, "code", None), int)):
        return f"{type(error).__name__}: {error}"
    service = resource_json.get("Type", "").split("::")[1:2] or ["AWS"]
    invalid = 400 <= error.code < 500
    message = f"{'Invalid request provided: ' if invalid else ''}{error.message}"
    return (
        f'Resource handler returned message: "{message} (Service: {service[0]}, Status Code: {error.code}, '
        f'Request ID: {uuid.uuid4()})" (RequestToken: {uuid.uuid4()}, '
        f"HandlerErrorCode: {'InvalidRequest' if invalid else 'GeneralServiceException'})"
    )


def _check_parameters(template: dict, parameters: dict) -> None:
    """Parameters without a default must be given (AWS answers UpdateStack with a ValidationError)."""
    from moto.cloudformation.exceptions import ValidationError

    missing = [
        name for name, spec in (template.get("Parameters") or {}).items()
        if "Default" not in spec and name not in parameters
    ]
    if missing:
        raise ValidationError(message=f"Parameters: [{', '.join(missing)}] must have values")


def install(ctx) -> Stacks:
    from moto.cloudformation import models, parsing, responses
    from moto.cloudformation.custom_model import CustomModel

    stacks = Stacks(ctx)

    # Custom resources: requests and answers through `stacks.calls`; Ref is the answered physical ID.
    CustomModel.create_from_cloudformation_json = classmethod(
        lambda cls, *args, **kwargs: stacks.create_custom(cls, *args, **kwargs)
    )
    CustomModel.physical_resource_id = property(lambda self: getattr(self, "_lc_physical_id", None) or self.resource_name)
    original_answer = responses.CloudFormationResponse.process_cfn_response

    def process_cfn_response(self):
        try:
            body = json.loads(self.body or "{}")
        except ValueError:
            body = {}
        if stacks.calls.answer(body):
            return 200, {"status": 200}, json.dumps("{}")
        return original_answer(self)

    responses.CloudFormationResponse.process_cfn_response = process_cfn_response

    models.Stack.create_resources = lambda stack: stacks.create_resources(stack)
    original_outputs = models.Stack.outputs.fget

    def outputs(stack):
        # AWS shows a stack's outputs once it is created (an update keeps showing the previous ones).
        if stack.status in CREATION_STATES:
            return None
        if stack.status.startswith("DELETE") and not stack.output_map._parsed_outputs:
            # Never resolved (its creation failed): resolving them now would re-create the deleted
            # resources they name, as moto's resource map creates a resource when it is looked up.
            return None
        return original_outputs(stack)

    models.Stack.outputs = property(outputs)
    original_create = parsing.parse_and_create_resource

    def parse_and_create_resource(logical_id, resource_json, resources_map, account_id, region_name):
        # A resource that cannot be created fails its stack (CREATE_FAILED, rollback), not the API call.
        from moto.cloudformation.exceptions import ValidationError

        try:
            resource = original_create(logical_id, resource_json, resources_map, account_id, region_name)
        except (ResourceFailed, ValidationError):
            raise
        except Exception as e:
            traceback.print_exc()
            raise ResourceFailed(logical_id, failure_reason(resource_json, e)) from e
        if resource is not None and not is_custom(resource_json):
            _remember_properties(resources_map, resource, resource_json)
        return resource

    parsing.parse_and_create_resource = parse_and_create_resource

    def update_stack(backend, name, template, role_arn, parameters, tags):
        stack = backend.get_stack(name)
        resolved = backend._resolve_update_parameters(instance=stack, incoming_params=parameters)
        stacks.start_update(backend, stack, template, resolved, role_arn, tags)
        return stack

    models.CloudFormationBackend.update_stack = update_stack

    def delete_stack(backend, name_or_stack_id: str) -> None:
        for stack in list(backend.stacks.values()):
            if name_or_stack_id in (stack.name, stack.stack_id):
                stacks.run_synchronously(stacks.delete, backend, stack)

    models.CloudFormationBackend.delete_stack = delete_stack  # internal callers (StackSet instances)

    def api_delete_stack(self):
        from moto.core.responses import EmptyResult

        stacks.start_delete(self.cloudformation_backend, self._get_param("StackName"), self._get_param("RetainResources", []))
        return EmptyResult()

    responses.CloudFormationResponse.delete_stack = api_delete_stack

    def continue_update_rollback(self):
        from moto.core.responses import EmptyResult

        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        stacks.continue_update_rollback(stack, self._get_param("ResourcesToSkip", []))
        return EmptyResult()

    responses.CloudFormationResponse.continue_update_rollback = continue_update_rollback
    return stacks
