"""A fast path to fill a user pool: thousands of users, groups and memberships in one request,
written straight into moto's Cognito backend (one API call per user would take minutes)."""

from __future__ import annotations


def seed_user_pool(request: dict) -> dict:
    from moto.cognitoidp.models import CognitoIdpUser, cognitoidp_backends
    from moto.core import DEFAULT_ACCOUNT_ID

    backend = cognitoidp_backends[request.get("accountId", DEFAULT_ACCOUNT_ID)][request["region"]]
    pool_id = request["userPoolId"]
    pool = backend.describe_user_pool(pool_id)
    uses_username_attributes = bool(pool.extended_config.get("UsernameAttributes"))

    created = []
    for spec in request.get("users", []):
        attributes = [{"Name": k, "Value": v} for k, v in spec.get("attributes", {}).items()]
        # In pools whose users sign in with email/phone, Cognito's username is the generated sub.
        username = None if uses_username_attributes else spec["username"]
        user = CognitoIdpUser(pool_id, username, None, spec.get("status", "CONFIRMED"), attributes)
        user.enabled = bool(spec.get("enabled", True))
        if user.username in pool.users:
            raise ValueError(f"user {user.username} already exists")
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
    ctx.endpoint("POST", "/_local_cloud/cognito/seed", seed_user_pool)
