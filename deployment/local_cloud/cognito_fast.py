"""ListUsers and ListUsersInGroup that stay fast and AWS-shaped at 100,000 users and more.

moto filters and sorts every user of the pool on each ListUsers call (about 10 calls/s at 10,000 users),
so a benchmark of an export would measure the emulator. Here each pool keeps sorted indexes, in step with
moto's `pool.users` whatever path changes it (AdminCreateUser, SignUp, AdminDeleteUser, import jobs,
seeding, attribute and status updates):

- `pool.users` is an `IndexedUsers` dict: inserting or deleting a user updates the pool's `UserIndex`;
- a user's attribute, status and enabled changes refresh its index entries (patched setters);
- a group's `users` set is an `IndexedMembers` set that keeps its members sorted by sub.

Every filterable attribute (cognito-facts.md §4.2: username, email, phone_number, name, given_name,
family_name, preferred_username, cognito:user_status, status, sub) has a sorted list of
(value, user ID) keys, so `attr = "v"` and `attr ^= "v"` are a bisection plus a walk over the matches.
Pages are ordered by that key and a PaginationToken resumes just after the last key returned, so it
stays exact while other users are added or removed (an offset would skip or repeat users).

AWS behaviours reproduced (sources):
- Limit 0-60, default 60; more than 60 → InvalidParameterException "1 validation error detected: Value
  '61' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 60"
  (API reference; boto/boto3 issue 1356). moto accepts 61.
- A filter that does not parse → InvalidParameterException "Error while parsing filter."
  (aws/aws-aspnet-cognito-identity-provider issue 235); an attribute outside the list above →
  InvalidParameterException "Invalid search attribute: <name>" (moto's wording; AWS's unconfirmed).
- A token from another pool, filter or a foreign string → InvalidParameterException "Paging marker <token>
  is invalid for request <request id>" (aws/aws-sdk-js issue 3705). Cognito's answer to an expired token
  is not documented anywhere we found; config `cognito.paginationTokenTtlSeconds` (default 0: never)
  answers a token older than that with the same error.
- AttributesToGet: only those attributes; [] returns none (aws/aws-sdk-js issue 2570); a name not in
  the pool's schema → InvalidParameterException "One or more requested attributes do not exist."
  (same issue); `sub` is refused with "Input fails to satisfy the constraints."
  (aws-samples/sample-collaborative-ai-dlc issue 52, one report, 2026: kept because accepting it here
  would let code pass that AWS refuses).
- ListUsersInGroup: Limit 0-60; without Limit 25 per page (re:Post report, cognito-facts.md §4.2 [U]);
  missing pool → ResourceNotFoundException "User pool <id> does not exist." (moto's and AWS's wording),
  missing group → ResourceNotFoundException "Group not found." (aws-aspnet-cognito-identity-provider
  issue 85 shows "Group n…").
- The user shape of ListUsers/ListUsersInGroup is AWS's UserType: Username, Attributes, UserCreateDate,
  UserLastModifiedDate, Enabled, UserStatus, and MFAOptions only when SMS MFA is on [U].
- AdminGetUser (and every Admin* call, which moto routes through it) accepts a local user's `sub` as the
  username (API reference of the Admin* operations: "this value must be the sub of a local user";
  cognito-facts.md §4.9).

Limit 0 is allowed by the API reference but its meaning is undocumented; it is treated as no Limit.
"""

from __future__ import annotations

import base64
import datetime
import enum
import hashlib
import json
import re
import threading
import time
import uuid
import weakref
from bisect import bisect_left, bisect_right, insort
from typing import Callable, Iterator

from .server import ApiError

SERVICE = "AWSCognitoIdentityProviderService"
# Attributes ListUsers can filter on (cognito-facts.md §4.2); the last three are not user attributes.
FILTER_ATTRIBUTES = ("email", "phone_number", "name", "given_name", "family_name", "preferred_username")
FILTERABLE = FILTER_ATTRIBUTES + ("username", "cognito:user_status", "status", "sub")
LIST_USERS_DEFAULT_LIMIT = 60
LIST_USERS_IN_GROUP_DEFAULT_LIMIT = 25
MAX_LIMIT = 60
MAX_FILTER_LENGTH = 256
# attr = "value" or attr ^= "value"; a quote inside the value is written \" (and a backslash \\).
FILTER = re.compile(r'^\s*([\w:]+)\s*(\^=|=)\s*"((?:[^"\\]|\\.)*)"\s*$', re.DOTALL)


def call_region(environ, body: dict) -> str:
    """The Region a Cognito call addresses. Calls without a signature (SignUp, ConfirmSignUp, and the
    calls made with a user's access token) do not say; their app client or token tells which pool,
    hence which Region."""
    from moto.cognitoidp.models import find_account_region_by_value

    from .server import request_region

    region = request_region(environ)
    if "HTTP_AUTHORIZATION" in environ:
        return region
    for key, field in (("client_id", "ClientId"), ("access_token", "AccessToken")):
        if body.get(field):
            return find_account_region_by_value(key, body[field], fallback=("", region))[1]
    return region


def epoch(moment: datetime.datetime) -> float:
    # moto keeps naive UTC datetimes; a naive .timestamp() would read them as local time.
    return moment.replace(tzinfo=datetime.timezone.utc).timestamp() if moment.tzinfo is None else moment.timestamp()


def plain(value):
    # moto stores user statuses as a str Enum; its str() would be "UserStatus.CONFIRMED".
    return value.value if isinstance(value, enum.Enum) else value


# --- a sorted list that stays cheap to change at 100,000s of keys -------------------------------------
class SortedKeys:
    """Sorted keys in buckets of at most 2 × LOAD: bisection to find, short list inserts to change
    (a single Python list would move the whole list on each insert)."""

    LOAD = 512

    def __init__(self):
        self._buckets: list[list] = []
        self._maxes: list = []

    def add(self, key) -> None:
        if not self._buckets:
            self._buckets.append([key])
            self._maxes.append(key)
            return
        i = bisect_left(self._maxes, key)
        if i == len(self._maxes):
            i -= 1
            self._buckets[i].append(key)
            self._maxes[i] = key
        else:
            insort(self._buckets[i], key)
        bucket = self._buckets[i]
        if len(bucket) > 2 * self.LOAD:
            upper = bucket[self.LOAD :]
            del bucket[self.LOAD :]
            self._buckets.insert(i + 1, upper)
            self._maxes[i] = bucket[-1]
            self._maxes.insert(i + 1, upper[-1])

    def discard(self, key) -> None:
        i = bisect_left(self._maxes, key)
        if i == len(self._maxes):
            return
        bucket = self._buckets[i]
        j = bisect_left(bucket, key)
        if j == len(bucket) or bucket[j] != key:
            return
        del bucket[j]
        if bucket:
            self._maxes[i] = bucket[-1]
        else:
            del self._buckets[i]
            del self._maxes[i]

    def iter_from(self, key, inclusive: bool) -> Iterator:
        """Keys ≥ key (or > key), in order. Callers hold the owner's lock while iterating."""
        find = bisect_left if inclusive else bisect_right
        i = find(self._maxes, key)
        if i == len(self._maxes):
            return
        bucket = self._buckets[i]
        yield from bucket[find(bucket, key) :]
        for bucket in self._buckets[i + 1 :]:
            yield from bucket


# --- the per-pool index ------------------------------------------------------------------------------
def indexed_values(user) -> dict[str, str]:
    """The value each filterable attribute has for this user (absent attributes are left out)."""
    lookup = user.attribute_lookup
    values = {name: lookup.get(name) for name in FILTER_ATTRIBUTES}
    # `sub` is the immutable user ID (Cognito refuses to change it; moto would let the attribute drift).
    values["sub"] = user.id
    values["username"] = user.username
    values["cognito:user_status"] = plain(user.status)
    values["status"] = "Enabled" if user.enabled else "Disabled"
    return {name: value for name, value in values.items() if isinstance(value, str)}


class UserIndex:
    """Sorted (value, user ID) keys per filterable attribute, for one pool."""

    def __init__(self):
        self.lock = threading.RLock()
        self.by_id: dict[str, object] = {}
        self.values: dict[str, dict[str, str]] = {}
        self.keys = {name: SortedKeys() for name in FILTERABLE}

    def add(self, user) -> None:
        with self.lock:
            previous = self.by_id.get(user.id)
            if previous is not None and previous is not user:
                self.remove(previous)
            self.by_id[user.id] = user
            self.values[user.id] = values = indexed_values(user)
            for name, value in values.items():
                self.keys[name].add((value, user.id))
            user._lc_index = self

    def remove(self, user) -> None:
        with self.lock:
            values = self.values.pop(user.id, None)
            if values is None:
                return
            del self.by_id[user.id]
            for name, value in values.items():
                self.keys[name].discard((value, user.id))
            user.__dict__.pop("_lc_index", None)

    def refresh(self, user) -> None:
        """Re-reads a user's values after a change to its attributes, status or enabled flag."""
        with self.lock:
            old = self.values.get(user.id)
            if old is None:
                return
            new = indexed_values(user)
            for name in old.keys() | new.keys():
                if old.get(name) != new.get(name):
                    if name in old:
                        self.keys[name].discard((old[name], user.id))
                    if name in new:
                        self.keys[name].add((new[name], user.id))
            self.values[user.id] = new

    def first_equal(self, name: str, value: str):
        with self.lock:
            for found, user_id in self.keys[name].iter_from((value, ""), inclusive=True):
                return self.by_id[user_id] if found == value else None
        return None

    def page(self, name: str, op: str, value: str, after: tuple | None, limit: int) -> tuple[list, tuple | None]:
        """Up to `limit` users matching `name op value` after the key `after`, and the last key returned
        when more users match."""
        start, inclusive = (tuple(after), False) if after else ((value, ""), True)
        matches = (lambda v: v == value) if op == "=" else (lambda v: v.startswith(value))
        users, last = [], None
        with self.lock:
            for key in self.keys[name].iter_from(start, inclusive):
                if not matches(key[0]):
                    break
                if len(users) == limit:
                    return users, last
                users.append(self.by_id[key[1]])
                last = key
        return users, None


class IndexedUsers(dict):
    """moto's `pool.users` (username → user), keeping the pool's UserIndex in step."""

    def __init__(self):
        super().__init__()
        self.index = UserIndex()

    def __setitem__(self, username, user) -> None:
        with self.index.lock:
            previous = dict.get(self, username)
            if previous is not None and previous is not user:
                self.index.remove(previous)
            dict.__setitem__(self, username, user)
            self.index.add(user)

    def __delitem__(self, username) -> None:
        with self.index.lock:
            user = dict.__getitem__(self, username)
            dict.__delitem__(self, username)
            self.index.remove(user)

    def pop(self, username, *default):
        with self.index.lock:
            if username not in self:
                if default:
                    return default[0]
                raise KeyError(username)
            user = dict.__getitem__(self, username)
            del self[username]
            return user

    def popitem(self):
        with self.index.lock:
            username, user = dict.popitem(self)
            self.index.remove(user)
            return username, user

    def clear(self) -> None:
        with self.index.lock:
            for user in list(self.values()):
                self.index.remove(user)
            dict.clear(self)

    def setdefault(self, username, user=None):
        with self.index.lock:
            if username not in self:
                self[username] = user
            return dict.__getitem__(self, username)

    def update(self, *args, **kwargs) -> None:
        for username, user in dict(*args, **kwargs).items():
            self[username] = user


class IndexedMembers(set):
    """moto's `group.users` (a set of users), keeping the members sorted by user ID (sub)."""

    def __init__(self, *args):
        super().__init__()
        self.lock = threading.RLock()
        self.ids = SortedKeys()
        self.by_id: dict[str, object] = {}
        for user in args[0] if args else ():
            self.add(user)

    def add(self, user) -> None:
        with self.lock:
            if user in self:
                return
            set.add(self, user)
            self.ids.add(user.id)
            self.by_id[user.id] = user

    def discard(self, user) -> None:
        with self.lock:
            if user not in self:
                return
            set.discard(self, user)
            self.ids.discard(user.id)
            self.by_id.pop(user.id, None)

    def remove(self, user) -> None:
        with self.lock:
            if user not in self:
                raise KeyError(user)
            self.discard(user)

    def clear(self) -> None:
        with self.lock:
            set.clear(self)
            self.ids = SortedKeys()
            self.by_id.clear()

    def page(self, after: str | None, limit: int) -> tuple[list, str | None]:
        users, last = [], None
        with self.lock:
            for user_id in self.ids.iter_from(after or "", inclusive=after is None):
                if len(users) == limit:
                    return users, last
                users.append(self.by_id[user_id])
                last = user_id
        return users, None


class WeakInstances:
    """moto's BaseModel keeps every model instance ever made in `instances_tracked` (for its data.json
    view), so deleted users and pools would never be freed; this keeps them weakly."""

    def __init__(self):
        self._refs = weakref.WeakSet()

    def append(self, instance) -> None:
        self._refs.add(instance)

    def __iter__(self):
        return iter(list(self._refs))

    def __len__(self) -> int:
        return len(self._refs)


# --- patches that keep the indexes in step and use them ------------------------------------------------
def _indexed_field(name: str) -> property:
    """A user field (status, enabled) whose changes refresh the user's index entries."""
    slot = f"_lc_{name}"

    def get(self):
        return self.__dict__.get(slot)

    def set_(self, value) -> None:
        self.__dict__[slot] = value
        index = self.__dict__.get("_lc_index")
        if index is not None:
            index.refresh(self)

    return property(get, set_)


def _refreshing(method: Callable) -> Callable:
    def wrapper(self, *args, **kwargs):
        result = method(self, *args, **kwargs)
        index = self.__dict__.get("_lc_index")
        if index is not None:
            index.refresh(self)
        return result

    return wrapper


def install_index_patches() -> None:
    from moto.cognitoidp.exceptions import AliasExistsException, UserNotFoundError
    from moto.cognitoidp.models import CognitoIdpBackend, CognitoIdpGroup, CognitoIdpUser, CognitoIdpUserPool

    for model in (CognitoIdpUserPool, CognitoIdpGroup, CognitoIdpUser):
        model.instances_tracked = WeakInstances()  # a deleted pool frees its users
    CognitoIdpUser.status = _indexed_field("status")
    CognitoIdpUser.enabled = _indexed_field("enabled")
    CognitoIdpUser.update_attributes = _refreshing(CognitoIdpUser.update_attributes)
    CognitoIdpUser.delete_attributes = _refreshing(CognitoIdpUser.delete_attributes)

    original_pool_init = CognitoIdpUserPool.__init__

    def pool_init(self, *args, **kwargs):
        original_pool_init(self, *args, **kwargs)
        self.users = IndexedUsers()

    CognitoIdpUserPool.__init__ = pool_init

    original_group_init = CognitoIdpGroup.__init__

    def group_init(self, *args, **kwargs):
        original_group_init(self, *args, **kwargs)
        self.users = IndexedMembers()

    CognitoIdpGroup.__init__ = group_init

    def get_user(self, username):
        # moto scans every user for an email/phone sign-in name; the index finds it directly.
        for attribute in self.extended_config.get("UsernameAttributes") or []:
            user = self.users.index.first_equal(attribute, username)
            if user is not None:
                return user
        return self.users.get(username)

    CognitoIdpUserPool._get_user = get_user

    def admin_get_user(self, user_pool_id, username):
        pool = self.describe_user_pool(user_pool_id)
        user = pool._get_user(username) or pool.users.index.by_id.get(username)
        if not user:
            raise UserNotFoundError("User does not exist.")
        return user

    CognitoIdpBackend.admin_get_user = admin_get_user

    def verify_email_is_not_used(self, user_pool_id, email):
        if not email:
            return
        pool = self.describe_user_pool(user_pool_id)
        if "email" in pool.extended_config.get("UsernameAttributes", []) and pool.users.index.first_equal(
            "email", email
        ):
            raise AliasExistsException

    CognitoIdpBackend._verify_email_is_not_used = verify_email_is_not_used


# --- request parsing ------------------------------------------------------------------------------------
def parse_filter(text: str | None) -> tuple[str, str, str] | None:
    """(attribute, "=" or "^=", value) of a ListUsers Filter, None when there is none."""
    if text is None or text.strip() == "":
        return None
    if len(text) > MAX_FILTER_LENGTH:
        raise ApiError(
            "InvalidParameterException",
            f"1 validation error detected: Value '{text}' at 'filter' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_FILTER_LENGTH}",
        )
    match = FILTER.match(text)
    if not match:
        raise ApiError("InvalidParameterException", "Error while parsing filter.")
    name, op, raw = match.groups()
    if name not in FILTERABLE:
        raise ApiError("InvalidParameterException", f"Invalid search attribute: {name}")
    return name, op, re.sub(r"\\(.)", r"\1", raw, flags=re.DOTALL)


def parse_limit(body: dict, default: int) -> int:
    limit = body.get("Limit")
    if limit is None:
        return default
    if not isinstance(limit, int) or isinstance(limit, bool):
        raise ApiError("InvalidParameterException", f"Value '{limit}' at 'limit' is not an integer")
    if limit > MAX_LIMIT:
        raise ApiError(
            "InvalidParameterException",
            f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: "
            f"Member must have value less than or equal to {MAX_LIMIT}",
        )
    if limit < 0:
        raise ApiError(
            "InvalidParameterException",
            f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: "
            "Member must have value greater than or equal to 0",
        )
    return limit or default


class Tokens:
    """Opaque pagination tokens: the position (last key returned), what they page over, when issued."""

    def __init__(self, ctx):
        self.ctx = ctx

    def issue(self, scope: str, key) -> str:
        document = {"s": self._digest(scope), "k": key, "t": int(time.time() * 1000)}
        return base64.urlsafe_b64encode(json.dumps(document, separators=(",", ":")).encode()).decode()

    @staticmethod
    def _digest(scope: str) -> str:
        return hashlib.sha256(scope.encode()).hexdigest()[:16]

    def resume(self, token: str | None, scope: str):
        """The key a token resumes after, or an InvalidParameterException as Cognito answers."""
        if token is None:
            return None
        try:
            document = json.loads(base64.urlsafe_b64decode(token.encode()))
            key, issued = document["k"], int(document["t"])
            valid = document["s"] == self._digest(scope)
        except (ValueError, KeyError, TypeError):
            valid = False
        ttl = float(self.ctx.setting("cognito", "paginationTokenTtlSeconds", 0) or 0)
        if valid and ttl > 0 and time.time() * 1000 - issued > ttl * 1000:
            valid = False  # expired: Cognito's wording for this case is undocumented (module docstring)
        if not valid:
            raise ApiError("InvalidParameterException", f"Paging marker {token} is invalid for request {uuid.uuid4()}")
        return key


def user_type(user, attributes_to_get: list[str] | None) -> dict:
    """AWS's UserType as ListUsers and ListUsersInGroup return it."""
    attributes = user.attributes
    if attributes_to_get is not None:
        wanted = set(attributes_to_get)
        attributes = [a for a in attributes if a["Name"] in wanted]
    answer = {
        "Username": user.username,
        "Attributes": attributes,
        "UserCreateDate": epoch(user.create_date),
        "UserLastModifiedDate": epoch(user.last_modified_date),
        "Enabled": bool(user.enabled),
        "UserStatus": plain(user.status),
    }
    if user.sms_mfa_enabled:
        answer["MFAOptions"] = [{"DeliveryMedium": "SMS", "AttributeName": "phone_number"}]
    return answer


def check_attributes_to_get(pool, names: list[str] | None) -> None:
    if names is None:
        return
    if "sub" in names:
        raise ApiError("InvalidParameterException", "Input fails to satisfy the constraints.")
    if any(name not in pool.schema_attributes for name in names):
        raise ApiError("InvalidParameterException", "One or more requested attributes do not exist.")


# --- the operations ---------------------------------------------------------------------------------------
class FastListing:
    def __init__(self, ctx):
        self.ctx = ctx
        self.tokens = Tokens(ctx)

    def _pool(self, region: str, pool_id: str | None):
        from moto.cognitoidp.models import cognitoidp_backends

        if not pool_id:
            raise ApiError(
                "InvalidParameterException",
                "1 validation error detected: Value null at 'userPoolId' failed to satisfy constraint: "
                "Member must not be null",
            )
        pool = cognitoidp_backends[self.ctx.account_id][region].user_pools.get(pool_id)
        if pool is None:
            raise ApiError("ResourceNotFoundException", f"User pool {pool_id} does not exist.")
        return pool

    def list_users(self, request) -> dict:
        body = request.body
        pool = self._pool(request.region, body.get("UserPoolId"))
        limit = parse_limit(body, LIST_USERS_DEFAULT_LIMIT)
        condition = parse_filter(body.get("Filter"))
        attributes_to_get = body.get("AttributesToGet")
        check_attributes_to_get(pool, attributes_to_get)
        name, op, value = condition or ("sub", "^=", "")
        scope = json.dumps(["ListUsers", pool.id, name, op, value])
        after = self.tokens.resume(body.get("PaginationToken"), scope)
        users, last = pool.users.index.page(name, op, value, after, limit)
        answer = {"Users": [user_type(u, attributes_to_get) for u in users]}
        if last is not None:
            answer["PaginationToken"] = self.tokens.issue(scope, list(last))
        return answer

    def list_users_in_group(self, request) -> dict:
        body = request.body
        pool = self._pool(request.region, body.get("UserPoolId"))
        group = pool.groups.get(body.get("GroupName"))
        if group is None:
            raise ApiError("ResourceNotFoundException", "Group not found.")
        limit = parse_limit(body, LIST_USERS_IN_GROUP_DEFAULT_LIMIT)
        scope = json.dumps(["ListUsersInGroup", pool.id, group.group_name])
        after = self.tokens.resume(body.get("NextToken"), scope)
        users, last = group.users.page(after, limit)
        answer = {"Users": [user_type(u, None) for u in users]}
        if last is not None:
            answer["NextToken"] = self.tokens.issue(scope, last)
        return answer


def install(ctx) -> None:
    ctx.default_config("cognito", {"paginationTokenTtlSeconds": 0})
    install_index_patches()
    listing = FastListing(ctx)
    ctx.operation(f"{SERVICE}.ListUsers", listing.list_users)
    ctx.operation(f"{SERVICE}.ListUsersInGroup", listing.list_users_in_group)
