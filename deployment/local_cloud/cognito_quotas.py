"""Cognito user pool request-rate quotas: a token bucket per quota category per (account, Region).

Source: the quotas page of the Cognito developer guide (cognito-facts.md §4.1; awsdocs
amazon-cognito-developer-guide limits.md): "The category quota is enforced for each AWS account across
all user pools in an account and region"; the categories marked * (UserPoolResourceRead/Update,
UserPoolClientRead/Update) also cap "any individual operation in this category" at 5 RPS "for a single
user pool". A call over its quota is answered TooManyRequestsException (HTTP 400, "Too many requests")
and does nothing.

Config section `cognito`:
- `quotas` (default false): enforce them (benchmarks and scale tests switch it on);
- `quotaScale` (default 1.0): multiplies every rate, to compress time evenly;
- `applicationTrafficShare` (default 0.0, 0..1): that share of every category's rate is taken by the
  application's own traffic (the quotas are shared with live traffic), leaving the rest to us.
A bucket holds one second of its rate (at least one token), so a burst of one second's worth passes.

GET /_local_cloud/cognito/quota-stats → per Region and category: allowed, throttled, rate;
POST /_local_cloud/cognito/quota-stats/reset clears the counts and refills the buckets. The seeding
endpoint is not an AWS API and never counts.

Not modelled: the per-user limit of 10 reads/s and 10 writes/s on a single user, and the
RespondToAuthChallenge allowance of three times the UserAuthentication rate (auth is not used here).
"""

from __future__ import annotations

import json
import threading
import time

SERVICE = "AWSCognitoIdentityProviderService"

# Default requests per second of each category (quotas page; cognito-facts.md §4.1).
RATES = {
    "UserAuthentication": 120,
    "UserCreation": 50,
    "UserAccountRecovery": 30,
    "UserRead": 120,
    "UserUpdate": 25,
    "UserResourceRead": 50,
    "UserResourceUpdate": 25,
    "UserList": 30,
    "UserPoolRead": 15,
    "UserPoolUpdate": 15,
    "UserPoolResourceRead": 20,
    "UserPoolResourceUpdate": 15,
    "UserPoolClientRead": 15,
    "UserPoolClientUpdate": 15,
    "UserToken": 120,
}
# Categories whose every operation is also capped per user pool (the quotas page's * footnote).
PER_POOL_CATEGORIES = {"UserPoolResourceRead", "UserPoolResourceUpdate", "UserPoolClientRead", "UserPoolClientUpdate"}
PER_POOL_RATE = 5

# Operation → category. The stored copy of the quotas page hides its per-category operation lists, so
# each assignment is [C] (stated in its text) or [U] (inferred from the category's description).
CATEGORIES = {
    # "Operations that return a list of users" [U for both; the product's export depends on them].
    "ListUsers": "UserList",
    "ListUsersInGroup": "UserList",
    # "Operations that retrieve a user" [U]
    "AdminGetUser": "UserRead",
    "GetUser": "UserRead",
    # "UserCreation includes four operations, SignUp, ConfirmSignUp, AdminCreateUser, AdminConfirmSignUp" [C]
    "AdminCreateUser": "UserCreation",
    "SignUp": "UserCreation",
    "ConfirmSignUp": "UserCreation",
    "AdminConfirmSignUp": "UserCreation",
    # "manage users and user attributes" [U]
    "AdminUpdateUserAttributes": "UserUpdate",
    "AdminDeleteUser": "UserUpdate",
    "AdminDisableUser": "UserUpdate",
    "AdminEnableUser": "UserUpdate",
    "AdminDeleteUserAttributes": "UserUpdate",
    "AdminSetUserPassword": "UserUpdate",
    "AdminResetUserPassword": "UserUpdate",
    "AdminSetUserMFAPreference": "UserUpdate",
    "AdminUserGlobalSignOut": "UserUpdate",
    "AdminSetUserSettings": "UserUpdate",
    "UpdateUserAttributes": "UserUpdate",
    "DeleteUserAttributes": "UserUpdate",
    "DeleteUser": "UserUpdate",
    # "user resource information ... such as device or group" [U]
    "AdminListGroupsForUser": "UserResourceRead",
    "AdminAddUserToGroup": "UserResourceUpdate",
    "AdminRemoveUserFromGroup": "UserResourceUpdate",
    # "Operations that read your user pools" [U]
    "DescribeUserPool": "UserPoolRead",
    "GetCSVHeader": "UserPoolRead",
    "DescribeUserImportJob": "UserPoolRead",
    "ListUserImportJobs": "UserPoolRead",
    "ListUserPools": "UserPoolRead",
    "GetUserPoolMfaConfig": "UserPoolRead",
    # "create, update, and delete your user pools" [U]
    "CreateUserPool": "UserPoolUpdate",
    "UpdateUserPool": "UserPoolUpdate",
    "DeleteUserPool": "UserPoolUpdate",
    "AddCustomAttributes": "UserPoolUpdate",
    "SetUserPoolMfaConfig": "UserPoolUpdate",
    "CreateUserImportJob": "UserPoolUpdate",
    "StartUserImportJob": "UserPoolUpdate",
    "StopUserImportJob": "UserPoolUpdate",
    # "retrieve a resource from a user pool, such as group" [U]
    "ListGroups": "UserPoolResourceRead",
    "GetGroup": "UserPoolResourceRead",
    "DescribeIdentityProvider": "UserPoolResourceRead",
    "ListIdentityProviders": "UserPoolResourceRead",
    "ListResourceServers": "UserPoolResourceRead",
    "DescribeResourceServer": "UserPoolResourceRead",
    # "update resource information for a user pool, such as group" [U]
    "CreateGroup": "UserPoolResourceUpdate",
    "UpdateGroup": "UserPoolResourceUpdate",
    "DeleteGroup": "UserPoolResourceUpdate",
    "CreateIdentityProvider": "UserPoolResourceUpdate",
    "CreateResourceServer": "UserPoolResourceUpdate",
    # "list your user pool clients" / "create, update, and delete your user pool clients" [U]
    "DescribeUserPoolClient": "UserPoolClientRead",
    "ListUserPoolClients": "UserPoolClientRead",
    "CreateUserPoolClient": "UserPoolClientUpdate",
    "UpdateUserPoolClient": "UserPoolClientUpdate",
    "DeleteUserPoolClient": "UserPoolClientUpdate",
    # "Operations that authenticate (sign-in) a user" [C: the page names these four]
    "InitiateAuth": "UserAuthentication",
    "AdminInitiateAuth": "UserAuthentication",
    "RespondToAuthChallenge": "UserAuthentication",
    "AdminRespondToAuthChallenge": "UserAuthentication",
    # "recover a user's account or change or update a user's password" [U]
    "ForgotPassword": "UserAccountRecovery",
    "ConfirmForgotPassword": "UserAccountRecovery",
    "ChangePassword": "UserAccountRecovery",
    # "create, update, and delete your tokens" [U]
    "RevokeToken": "UserToken",
    "GlobalSignOut": "UserToken",
}

THROTTLED_BODY = json.dumps({"__type": "TooManyRequestsException", "message": "Too many requests"}).encode()


class Bucket:
    """Tokens refill continuously at `rate`; at most one second's worth (≥ 1) is kept."""

    def __init__(self):
        self.tokens: float | None = None
        self.updated = time.monotonic()

    def available(self, rate: float, now: float) -> float:
        capacity = max(1.0, rate)
        if self.tokens is None:
            self.tokens = capacity
        self.tokens = min(capacity, self.tokens + (now - self.updated) * rate)
        self.updated = now
        return self.tokens


class Quotas:
    def __init__(self, ctx):
        self.ctx = ctx
        self.lock = threading.Lock()
        self.buckets: dict[tuple, Bucket] = {}
        self.stats: dict[tuple[str, str], dict] = {}

    def _rates(self, category: str) -> tuple[float, float]:
        """(category rate, per-pool rate) under the current config."""
        scale = float(self.ctx.setting("cognito", "quotaScale", 1.0))
        share = min(1.0, max(0.0, float(self.ctx.setting("cognito", "applicationTrafficShare", 0.0))))
        return RATES[category] * scale * (1.0 - share), PER_POOL_RATE * scale

    def admit(self, region: str, operation: str, pool_id: str | None) -> bool:
        """Takes a token for the call (and its per-pool token) if both are there; counts the outcome."""
        category = CATEGORIES[operation]
        rate, pool_rate = self._rates(category)
        keys = [((self.ctx.account_id, region, category), rate)]
        if category in PER_POOL_CATEGORIES and pool_id:
            keys.append(((self.ctx.account_id, region, category, pool_id, operation), pool_rate))
        now = time.monotonic()
        with self.lock:
            buckets = [(self.buckets.setdefault(key, Bucket()), r) for key, r in keys]
            allowed = all(bucket.available(r, now) >= 1.0 for bucket, r in buckets)
            if allowed:
                for bucket, _ in buckets:
                    bucket.tokens -= 1.0
            stats = self.stats.setdefault((region, category), {"allowed": 0, "throttled": 0})
            stats["allowed" if allowed else "throttled"] += 1
        return allowed

    def intercept(self, environ):
        """ctx.before hook: a throttled Cognito call ends here, before moto or the fast listing."""
        if not self.ctx.setting("cognito", "quotas", False):
            return None
        service, _, operation = environ.get("HTTP_X_AMZ_TARGET", "").rpartition(".")
        if service != SERVICE or operation not in CATEGORIES:
            return None
        from .cognito_fast import call_region
        from .server import read_body

        try:
            body = json.loads(read_body(environ) or b"{}")
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        if self.admit(call_region(environ, body), operation, body.get("UserPoolId")):
            return None
        return 400, THROTTLED_BODY, "TooManyRequestsException"

    def report(self, _body=None) -> dict:
        with self.lock:
            rows = [
                {"region": region, "category": category, "rate": self._rates(category)[0], **counts}
                for (region, category), counts in sorted(self.stats.items())
            ]
        return {"enabled": bool(self.ctx.setting("cognito", "quotas", False)), "categories": rows}

    def reset(self, _body=None) -> dict:
        with self.lock:
            self.stats.clear()
            self.buckets.clear()
        return {"reset": True}


def install(ctx) -> None:
    ctx.default_config("cognito", {"quotas": False, "quotaScale": 1.0, "applicationTrafficShare": 0.0})
    quotas = Quotas(ctx)
    ctx.services["cognito_quotas"] = quotas
    ctx.endpoint("GET", "/_local_cloud/cognito/quota-stats", quotas.report)
    ctx.endpoint("POST", "/_local_cloud/cognito/quota-stats/reset", quotas.reset)
    ctx.before(quotas.intercept)
