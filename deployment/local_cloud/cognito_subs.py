"""Per-pool settings of the local Cognito: the shape of the `sub`s a pool issues, and how far its
EstimatedNumberOfUsers is off.

`sub` formats (cognito-facts.md §4.6):
- "uuid4": a random UUID, as moto and older Cognito pools issue them.
- "uuidv7": as newer Cognito pools issue them (ustaxcourt/ef-cms PR 4830; uuidjs/uuid issue 936): a
  48-bit Unix-millisecond timestamp in the first 12 hex digits, version nibble 7, a non-standard
  variant nibble `c` or `d` (strict UUID validators reject it), random rest, lower case, 8-4-4-4-12.
  Users created around the same time share their leading digits, so `sub ^= "x"` segments of such a
  pool are heavily skewed: what an export splitting by first digit has to survive.

POST /_local_cloud/cognito/pool-settings {"region", "userPoolId", "subFormat", "estimateOffset"} sets a
pool's settings (a field left out keeps its value); config `cognito.subFormat` (default "uuid4") applies to
pools without a setting. `estimateOffset` is added to DescribeUserPool's EstimatedNumberOfUsers, which
Cognito documents as an estimate, so a test can show code that must not trust it as a count.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

SUB_FORMATS = ("uuid4", "uuidv7")


def uuidv7_sub(unix_ms: int | None = None) -> str:
    """A sub shaped like those of new Cognito pools (see the module docstring)."""
    ms = int(time.time() * 1000) if unix_ms is None else int(unix_ms)
    rand = int.from_bytes(os.urandom(10), "big")  # 80 random bits: 12 + 1 (c or d) + 60 used
    rand_a = rand & 0xFFF
    variant = 0xC | ((rand >> 12) & 0x1)  # nibble 1100 or 1101: `c` or `d`
    rand_b = (rand >> 13) & ((1 << 60) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | variant << 60 | rand_b  # 48+4+12+4+60 bits
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def new_sub(sub_format: str, unix_ms: int | None = None) -> str:
    if sub_format == "uuidv7":
        return uuidv7_sub(unix_ms)
    return str(uuid.uuid4())


def pool_region(pool_id: str) -> str:
    # Pool IDs are "<region>_<suffix>".
    return pool_id.split("_", 1)[0]


class PoolSettings:
    """Settings per (region, pool ID); the config supplies the default sub format."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.lock = threading.Lock()
        self.pools: dict[tuple[str, str], dict] = {}

    def update(self, body: dict) -> dict:
        region, pool_id = body.get("region"), body.get("userPoolId")
        if not region or not pool_id:
            raise ValueError("region and userPoolId are required")
        sub_format = body.get("subFormat")
        if sub_format is not None and sub_format not in SUB_FORMATS:
            raise ValueError(f"subFormat must be one of {SUB_FORMATS}")
        with self.lock:
            settings = self.pools.setdefault((region, pool_id), {})
            if sub_format is not None:
                settings["subFormat"] = sub_format
            if "estimateOffset" in body:
                settings["estimateOffset"] = int(body["estimateOffset"])
            return {"region": region, "userPoolId": pool_id, **settings}

    def sub_format(self, pool_id: str) -> str:
        with self.lock:
            chosen = self.pools.get((pool_region(pool_id), pool_id), {}).get("subFormat")
        return chosen or self.ctx.setting("cognito", "subFormat", "uuid4")

    def estimate_offset(self, pool_id: str) -> int:
        with self.lock:
            return self.pools.get((pool_region(pool_id), pool_id), {}).get("estimateOffset", 0)


def assign_sub(user, sub: str) -> None:
    """Gives a user not yet in a pool another sub (and username, where the username is the sub)."""
    old = user.id
    user.id = sub
    if user.username == old:
        user.username = sub
    user.update_attributes([{"Name": "sub", "Value": sub}])


def install(ctx) -> None:
    from moto.cognitoidp.models import CognitoIdpUser, CognitoIdpUserPool

    ctx.default_config("cognito", {"subFormat": "uuid4"})
    settings = PoolSettings(ctx)
    ctx.services["cognito_pool_settings"] = settings
    ctx.endpoint("POST", "/_local_cloud/cognito/pool-settings", settings.update)

    original_user_init = CognitoIdpUser.__init__

    def user_init(self, user_pool_id, *args, **kwargs):
        # Every path that creates a user (AdminCreateUser, SignUp, import jobs, seeding) builds one here.
        original_user_init(self, user_pool_id, *args, **kwargs)
        sub_format = settings.sub_format(user_pool_id)
        if sub_format != "uuid4":
            assign_sub(self, new_sub(sub_format))

    CognitoIdpUser.__init__ = user_init

    original_base_json = CognitoIdpUserPool._base_json

    def base_json(self):
        # moto counts the pool's users exactly; the offset makes the estimate as inexact as a test needs.
        answer = original_base_json(self)
        answer["EstimatedNumberOfUsers"] = max(0, answer["EstimatedNumberOfUsers"] + settings.estimate_offset(self.id))
        return answer

    CognitoIdpUserPool._base_json = base_json
