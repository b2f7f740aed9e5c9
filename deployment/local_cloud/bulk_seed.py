"""A fast path to fill a user pool: thousands of users, groups and memberships in one request,
written straight into moto's Cognito backend (one API call per user would take minutes). It is not an
AWS API: Cognito quotas never count it, and it emits no CloudTrail events.

POST /_local_cloud/cognito/seed
  {"region", "userPoolId",
   "users": [{"key", "username", "attributes": {name: value}, "status", "enabled", "sub"?}],
   "groups": [{"name", "description", "precedence", "roleArn", "members": [key or username]}],
   "subFormat": "uuid4" | "uuidv7"   (default: the pool's setting, see cognito_subs.py),
   "createdOverDays": N}             (uuidv7: creation times spread evenly over the last N days)
→ {"users": [{"key", "username", "sub"}], "groups": count}

A user's explicit "sub" is taken as given (any characters, e.g. upper case or outside the hex
alphabet), so tests can show that an export keeps subs a UUID-minded filter would drop.
"""

from __future__ import annotations

import datetime
import time

from .cognito_subs import assign_sub, new_sub

DAY_MS = 86_400_000


def creation_times(count: int, over_days: float | None) -> list[int | None]:
    """Unix-ms creation times, evenly spread over the last `over_days` days (None: now)."""
    if not over_days or count == 0:
        return [None] * count
    now = int(time.time() * 1000)
    span = int(over_days * DAY_MS)
    return [now - span + (span * (2 * i + 1)) // (2 * count) for i in range(count)]


def user_status(status: str):
    from moto.cognitoidp.models import UserStatus

    # moto compares statuses by identity with its enum (e.g. `user.status is UserStatus.CONFIRMED`).
    return UserStatus[status] if status in UserStatus.__members__ else status


def seed_user_pool(ctx, request: dict) -> dict:
    from moto.cognitoidp.models import CognitoIdpUser, cognitoidp_backends
    from moto.core import DEFAULT_ACCOUNT_ID

    backend = cognitoidp_backends[request.get("accountId", DEFAULT_ACCOUNT_ID)][request["region"]]
    pool_id = request["userPoolId"]
    pool = backend.describe_user_pool(pool_id)
    uses_username_attributes = bool(pool.extended_config.get("UsernameAttributes"))
    specs = request.get("users", [])
    sub_format = request.get("subFormat") or ctx.services["cognito_pool_settings"].sub_format(pool_id)
    times = creation_times(len(specs), request.get("createdOverDays") if sub_format == "uuidv7" else None)

    created = []
    for spec, created_ms in zip(specs, times):
        attributes = [{"Name": k, "Value": v} for k, v in spec.get("attributes", {}).items()]
        # In pools whose users sign in with email/phone, Cognito's username is the generated sub.
        username = None if uses_username_attributes else spec["username"]
        user = CognitoIdpUser(pool_id, username, None, user_status(spec.get("status", "CONFIRMED")), attributes)
        sub = spec.get("sub") or new_sub(sub_format, created_ms)
        if sub != user.id:
            assign_sub(user, sub)
        if created_ms is not None:
            user.create_date = user.last_modified_date = datetime.datetime.fromtimestamp(
                created_ms / 1000, datetime.timezone.utc
            ).replace(tzinfo=None)
        user.enabled = bool(spec.get("enabled", True))
        if user.username in pool.users:
            raise ValueError(f"user {user.username} already exists")
        if user.id in pool.users.index.by_id:
            raise ValueError(f"a user with sub {user.id} already exists")
        pool.users[user.username] = user
        created.append({"key": spec.get("key", spec.get("username")), "username": user.username, "sub": user.id})

    by_key = {c["key"]: c["username"] for c in created}
    for group in request.get("groups", []):
        backend.create_group(
            pool_id, group["name"], group.get("description"), group.get("roleArn"), group.get("precedence")
        )
        for member in group.get("members", []):
            backend.admin_add_user_to_group(pool_id, group["name"], by_key.get(member, member))
    return {"users": created, "groups": len(request.get("groups", []))}


def install(ctx) -> None:
    ctx.endpoint("POST", "/_local_cloud/cognito/seed", lambda request: seed_user_pool(ctx, request))
