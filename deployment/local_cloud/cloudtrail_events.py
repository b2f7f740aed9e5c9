"""CloudTrail "AWS API Call via CloudTrail" events for successful changes to Cognito user pools, put on
the Region's default EventBridge bus (ctx.services["eventbridge"].put_event, another extension's engine;
skipped while it is absent).

As on AWS, an event exists only when CloudTrail logs the call: the account needs a trail that is logging,
covers the call's Region (a multi-Region trail, or one whose home Region it is) and takes management write
events (no event selectors, a basic selector with IncludeManagementEvents and ReadWriteType All/WriteOnly,
or an advanced selector on eventCategory Management not limited to readOnly true). Config `cloudtrail`:
`requireTrail` (default true) switches that check off; `deliveryDelayMs` (default 0) delays delivery, on a
background thread (EventBridge receives these best effort and late, aws-limits.md). Reads
(List*, Get*, Describe*, AdminGetUser) are never emitted: the product listens for changes.

GET /_local_cloud/cloudtrail/recent → {"events": {region: [the last 100 events delivered]}} (every
Region at once: the caller picks its Region from the answer).

What each event carries, and where that comes from ("unconfirmed" = no public sample found; chosen to
be no more helpful than AWS plausibly is, so code that passes here does not lean on a guess):

| Field | Choice | Source |
|---|---|---|
| envelope: version "0", detail-type "AWS API Call via CloudTrail", source "aws.cognito-idp", resources [] | as shown | NHSDigital/nhs-notify-iam-webauth rule; aws-solutions/deepracer-on-aws types |
| detail: eventVersion 1.08, eventSource cognito-idp.amazonaws.com, eventType AwsApiCall, managementEvent true, eventCategory Management, readOnly false, requestID, eventID, recipientAccountId | as shown | deepracer-on-aws BaseCognitoEventDetail; awsdocs understanding-amazon-cognito-entries.md |
| requestParameters | the request's fields in lowerCamelCase, userPoolId among them | deepracer-on-aws CognitoEventDetail (userPoolId, username, groupName); NHS handler reads requestParameters.userPoolId |
| requestParameters.username on admin calls | in clear | deepracer-on-aws types and tests; cognito-facts.md §4.9 [C for AdminAddUserToGroup, AdminRemoveUserFromGroup, AdminUpdateUserAttributes; unconfirmed for other admin calls] |
| user attribute values (userAttributes, validationData, clientMetadata) | each value HIDDEN_DUE_TO_SECURITY_REASONS, names kept | aws-amplify/amplify-js issue 9391 (values "appear as HIDDEN_DUE_TO_SECURITY_REASONS"); names kept as in deepracer's type (unconfirmed) |
| passwords, codes, tokens, secret hashes, pre-signed URLs | HIDDEN_DUE_TO_SECURITY_REASONS | awsdocs hosted-UI events (password, code, _csrf hidden); the AWS docs' confidential-data note |
| username of unauthenticated calls (SignUp, ConfirmSignUp) | HIDDEN_DUE_TO_SECURITY_REASONS | awsdocs Signup_POST/Confirm_POST events ("doesn't log identifying information"); cognito-facts.md §4.9 |
| additionalEventData.sub | the affected user's sub, on admin calls and on calls that name one user (token calls, ConfirmSignUp); read before the call, so a deleted user's sub is there | NHS handler and deepracer read it on AdminDeleteUser, AdminAddUserToGroup, AdminUpdateUserAttributes; awsdocs: Cognito "records UserSub but not UserName"; unconfirmed for the other calls |
| additionalEventData.userPoolId on calls without a UserPoolId parameter (SignUp, ConfirmSignUp, token calls) | the pool's ID | awsdocs hosted-UI events carry additionalEventData.userPoolId; unconfirmed for API calls |
| responseElements | null when the response is empty; otherwise the response in lowerCamelCase with the same hiding (SignUp: userSub, userConfirmed) | deepracer-on-aws (responseElements null on admin calls); unconfirmed for non-empty responses |
| userIdentity | signed calls: IAMUser with the caller's access key ID; unauthenticated: {"type": "Unknown", "principalId": "Anonymous"} | CloudTrail userIdentity reference; cognito-facts.md §4.9 ("caller Anonymous"), exact shape unconfirmed |
"""

from __future__ import annotations

import collections
import datetime
import heapq
import itertools
import json
import re
import threading
import time
import traceback
import uuid

from .cognito_fast import call_region
from .server import read_body

SERVICE = "AWSCognitoIdentityProviderService"
HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"
RECENT = 100
AFFECTED_USER = "local_cloud.cloudtrail.affected_user"  # (pool ID, sub), stored in the WSGI environ

# Operation → how to find the user it changes: "admin" (UserPoolId + Username), "token" (AccessToken),
# "client" (ClientId + Username, unauthenticated), "response" (AdminCreateUser: the created user),
# None (pool-level, or SignUp whose response names the new user).
EMITTED = {
    "AdminCreateUser": "response",
    "AdminUpdateUserAttributes": "admin",
    "AdminDeleteUser": "admin",
    "AdminDisableUser": "admin",
    "AdminEnableUser": "admin",
    "AdminConfirmSignUp": "admin",
    "AdminAddUserToGroup": "admin",
    "AdminRemoveUserFromGroup": "admin",
    "AdminSetUserPassword": "admin",
    "AdminResetUserPassword": "admin",
    "AdminDeleteUserAttributes": "admin",
    "AdminSetUserMFAPreference": "admin",
    "AdminSetUserSettings": "admin",
    "AdminUserGlobalSignOut": "admin",
    "UpdateUserAttributes": "token",
    "DeleteUserAttributes": "token",
    "DeleteUser": "token",
    "SignUp": None,
    "ConfirmSignUp": "client",
    "CreateGroup": None,
    "UpdateGroup": None,
    "DeleteGroup": None,
    "AddCustomAttributes": None,
    "CreateUserImportJob": None,
    "StartUserImportJob": None,
    "StopUserImportJob": None,
}
UNAUTHENTICATED = {"SignUp", "ConfirmSignUp", "UpdateUserAttributes", "DeleteUserAttributes", "DeleteUser"}
SECRET_FIELDS = {
    "Password",
    "TemporaryPassword",
    "PreviousPassword",
    "ProposedPassword",
    "AccessToken",
    "SecretHash",
    "ConfirmationCode",
    "Session",
    "PreSignedUrl",
    "ClientMetadata",
}
ATTRIBUTE_LISTS = {"UserAttributes", "ValidationData", "Attributes"}
# A leading run of capitals is one word ("MFAOptions" → "mfaOptions", "UserPoolId" → "userPoolId").
LEADING_CAPITALS = re.compile(r"[A-Z]+(?=[A-Z][a-z]|$)|[A-Z]")


def lower_camel(name: str) -> str:
    match = LEADING_CAPITALS.match(name)
    return name[: match.end()].lower() + name[match.end() :] if match else name


def redact(value, hide_username: bool):
    """The request or response as CloudTrail records it: lowerCamelCase names, secrets hidden."""
    if isinstance(value, list):
        return [redact(v, hide_username) for v in value]
    if not isinstance(value, dict):
        return value
    recorded = {}
    for name, item in value.items():
        if name in SECRET_FIELDS or (hide_username and name == "Username"):
            item = HIDDEN
        elif name in ATTRIBUTE_LISTS and isinstance(item, list):
            item = [{"name": a.get("Name"), "value": HIDDEN} for a in item if isinstance(a, dict)]
        else:
            item = redact(item, hide_username)
        recorded[lower_camel(name)] = item
    return recorded


def iso(moment: float) -> str:
    return datetime.datetime.fromtimestamp(moment, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def access_key(environ) -> str | None:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if "Credential=" not in auth:
        return None
    return auth.split("Credential=", 1)[1].split("/", 1)[0]


def management_writes_logged(trail) -> bool:
    """Whether a trail's selectors take management write events from cognito-idp."""
    basic, advanced = trail.event_selectors, trail.advanced_event_selectors
    if not basic and not advanced:
        return True  # a trail without selectors logs all management events
    for selector in basic or []:
        if (
            selector.get("IncludeManagementEvents", True)
            and selector.get("ReadWriteType", "All") in ("All", "WriteOnly")
            and "cognito-idp.amazonaws.com" not in (selector.get("ExcludeManagementEventSources") or [])
        ):
            return True
    for selector in advanced or []:
        fields = {f.get("Field"): f for f in selector.get("FieldSelectors", [])}
        category = fields.get("eventCategory", {})
        read_only = fields.get("readOnly", {})
        source = fields.get("eventSource", {})
        if (
            "Management" in (category.get("Equals") or [])
            and "true" not in (read_only.get("Equals") or [])
            and "cognito-idp.amazonaws.com" not in (source.get("NotEquals") or [])
        ):
            return True
    return False


class CloudTrailEvents:
    def __init__(self, ctx):
        self.ctx = ctx
        self.lock = threading.Lock()
        self.recent: dict[str, collections.deque] = {}
        self.queue: list[tuple[float, int, str, dict]] = []
        self.order = itertools.count()
        self.wakeup = threading.Condition(self.lock)
        threading.Thread(target=self._deliver_loop, name="cloudtrail-delivery", daemon=True).start()

    # --- is the call logged? -----------------------------------------------------------------------------
    def trail_logs(self, region: str) -> bool:
        if not self.ctx.setting("cloudtrail", "requireTrail", True):
            return True
        from moto.cloudtrail.models import cloudtrail_backends

        for home_region, backend in list(cloudtrail_backends[self.ctx.account_id].items()):
            for trail in list(backend.trails.values()):
                if (
                    trail.status.is_logging
                    and (trail.is_multi_region or home_region == region)
                    and management_writes_logged(trail)
                ):
                    return True
        return False

    # --- before the call: who is affected ------------------------------------------------------------------
    def remember_user(self, environ) -> None:
        """ctx.before hook (never answers): records the affected user's pool and sub before the call runs,
        as the call may delete the user, and before any other extension answers it."""
        service, _, operation = environ.get("HTTP_X_AMZ_TARGET", "").rpartition(".")
        if service != SERVICE or EMITTED.get(operation) not in ("admin", "token", "client"):
            return None
        try:
            body = json.loads(read_body(environ) or b"{}")
            environ[AFFECTED_USER] = self._affected_user(environ, operation, body)
        except Exception:
            traceback.print_exc()
        return None

    def _affected_user(self, environ, operation: str, body: dict) -> tuple[str, str | None] | None:
        from moto.cognitoidp.models import cognitoidp_backends

        how = EMITTED[operation]
        backend = cognitoidp_backends[self.ctx.account_id][call_region(environ, body)]
        pools = list(backend.user_pools.values())
        pool, username = None, body.get("Username")
        if how == "admin":
            pool = backend.user_pools.get(body.get("UserPoolId"))
        elif how == "client":
            pool = next((p for p in pools if body.get("ClientId") in p.clients), None)
        elif how == "token":
            pool = next((p for p in pools if body.get("AccessToken") in p.access_tokens), None)
            username = pool.access_tokens[body["AccessToken"]][1] if pool else None
        if pool is None or username is None:
            return None
        user = pool._get_user(username) or pool.users.index.by_id.get(username)
        return pool.id, user.id if user else None

    # --- after the call: the event ---------------------------------------------------------------------------
    def after(self, request, status: int, body: bytes) -> None:
        if request.service != SERVICE or request.operation not in EMITTED or status != 200:
            return
        region = call_region(request.environ, request.body)
        if not self.trail_logs(region):
            return
        try:
            response = json.loads(body or b"{}")
        except ValueError:
            response = {}
        event = self.build(request, region, response)
        delay = float(self.ctx.setting("cloudtrail", "deliveryDelayMs", 0) or 0) / 1000
        with self.wakeup:
            heapq.heappush(self.queue, (time.monotonic() + delay, next(self.order), region, event))
            self.wakeup.notify()

    def build(self, request, region: str, response: dict) -> dict:
        operation, now = request.operation, time.time()
        unauthenticated = operation in UNAUTHENTICATED
        additional: dict = {}
        pool_id, sub = request.environ.get(AFFECTED_USER) or (request.body.get("UserPoolId"), None)
        if operation == "AdminCreateUser":
            attributes = (response.get("User") or {}).get("Attributes") or []
            sub = next((a["Value"] for a in attributes if a.get("Name") == "sub"), None)
        if operation == "SignUp":
            pool_id = self._pool_of_client(region, request.body.get("ClientId"))
        if sub:
            additional["sub"] = sub
        if "UserPoolId" not in request.body and pool_id:
            additional["userPoolId"] = pool_id
        key = access_key(request.environ)
        identity = (
            {"type": "Unknown", "principalId": "Anonymous"}
            if unauthenticated or key is None
            else {
                "type": "IAMUser",
                "principalId": f"AIDA{uuid.uuid5(uuid.NAMESPACE_OID, key).hex[:17].upper()}",
                "arn": f"arn:aws:iam::{self.ctx.account_id}:user/local-cloud",
                "accountId": self.ctx.account_id,
                "accessKeyId": key,
                "userName": "local-cloud",
            }
        )
        detail = {
            "eventVersion": "1.08",
            "userIdentity": identity,
            "eventTime": iso(now),
            "eventSource": "cognito-idp.amazonaws.com",
            "eventName": operation,
            "awsRegion": region,
            "sourceIPAddress": request.environ.get("REMOTE_ADDR", "127.0.0.1"),
            "userAgent": request.environ.get("HTTP_USER_AGENT", ""),
            "requestParameters": redact(request.body, unauthenticated),
            "responseElements": redact(response, unauthenticated) if response else None,
            "additionalEventData": additional,
            "requestID": str(uuid.uuid4()),
            "eventID": str(uuid.uuid4()),
            "readOnly": False,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": self.ctx.account_id,
            "eventCategory": "Management",
        }
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.cognito-idp",
            "account": self.ctx.account_id,
            "time": iso(now),
            "region": region,
            "resources": [],
            "detail": detail,
        }

    def _pool_of_client(self, region: str, client_id: str | None) -> str | None:
        from moto.cognitoidp.models import cognitoidp_backends

        pools = cognitoidp_backends[self.ctx.account_id][region].user_pools.values()
        return next((p.id for p in list(pools) if client_id in p.clients), None)

    # --- delivery ---------------------------------------------------------------------------------------------
    def _deliver_loop(self) -> None:
        while True:
            with self.wakeup:
                while not self.queue or self.queue[0][0] > time.monotonic():
                    self.wakeup.wait(None if not self.queue else self.queue[0][0] - time.monotonic())
                _, _, region, event = heapq.heappop(self.queue)
                self.recent.setdefault(region, collections.deque(maxlen=RECENT)).append(event)
            engine = self.ctx.services.get("eventbridge")
            if engine is not None:
                try:
                    engine.put_event(region, event)
                except Exception:
                    traceback.print_exc()

    def recent_events(self, _body=None) -> dict:
        with self.lock:
            return {"events": {region: list(events) for region, events in self.recent.items()}}


def install(ctx) -> None:
    ctx.default_config("cloudtrail", {"requireTrail": True, "deliveryDelayMs": 0})
    events = CloudTrailEvents(ctx)
    ctx.services["cloudtrail_events"] = events
    ctx.before(events.remember_user)
    ctx.after(events.after)
    ctx.endpoint("GET", "/_local_cloud/cloudtrail/recent", events.recent_events)
