"""Where moto 5.2.5 differs from AWS in ways this project's workflows depend on, corrected.

- Cognito pools always have the standard attributes.
- A Lambda function's environment holds strings (CloudFormation passes a Number parameter as a string;
  moto kept the number, which the AWS SDKs refuse to read back).
- Bucket policies' "deny unless TLS" statements do not deny the local cloud's (plain HTTP) requests.
- IAM's tables are read while other requests change them: moto iterates the live dicts, so stacks created
  in parallel failed now and then with "dictionary changed size during iteration". They iterate snapshots.
- DeleteUser and DeleteUserAttributes (a user's own calls, made with an access token) are missing from
  moto; the product's change capture sees them in CloudTrail, so they are answered here.
"""

from __future__ import annotations

from .server import ApiError

SERVICE = "AWSCognitoIdentityProviderService"


def user_of_token(ctx, request):
    """(backend, pool, username) of a user's access token, or NotAuthorizedException as Cognito answers."""
    from moto.cognitoidp.models import cognitoidp_backends

    from .cognito_fast import call_region

    token = request.body.get("AccessToken")
    backend = cognitoidp_backends[ctx.account_id][call_region(request.environ, request.body)]
    for pool in list(backend.user_pools.values()):
        if token in pool.access_tokens:
            return backend, pool, pool.access_tokens[token][1]
    raise ApiError("NotAuthorizedException", "Invalid Access Token")


def delete_user(ctx, request) -> dict:
    backend, pool, username = user_of_token(ctx, request)
    pool.sign_out(username)
    backend.admin_delete_user(pool.id, username)
    return {}


def delete_user_attributes(ctx, request) -> dict:
    _, pool, username = user_of_token(ctx, request)
    pool._get_user(username).delete_attributes(request.body.get("UserAttributeNames") or [])
    return {}


def install(ctx) -> None:
    from moto.cognitoidp.models import CognitoIdpUserPool, CognitoIdpUserPoolAttribute

    ctx.operation(f"{SERVICE}.DeleteUser", lambda request: delete_user(ctx, request))
    ctx.operation(f"{SERVICE}.DeleteUserAttributes", lambda request: delete_user_attributes(ctx, request))

    original_init = CognitoIdpUserPool.__init__

    def init_with_standard_attributes(self, *args, **kwargs):
        # Cognito pools always have the standard attributes; moto keeps only the ones given in Schema
        # as soon as one custom attribute is given.
        original_init(self, *args, **kwargs)
        merged = {}
        for name, schema in CognitoIdpUserPoolAttribute.STANDARD_SCHEMA.items():
            merged[name] = self.schema_attributes.get(name) or CognitoIdpUserPoolAttribute(name, False, schema)
        merged.update({n: a for n, a in self.schema_attributes.items() if n not in merged})
        self.schema_attributes = merged

    CognitoIdpUserPool.__init__ = init_with_standard_attributes
    _tls_only_statements_pass()
    _lambda_environment_is_strings()
    _iam_tables_iterate_snapshots()


class SnapshotDict(dict):
    """A dict whose iteration walks a copy: `list(dict)` is one step under the GIL, so a reader in one request
    thread never sees another thread's insert mid-loop (AWS's IAM is, of course, safe to call in parallel)."""

    def __iter__(self):
        return iter(list(super().keys()))

    def keys(self):
        return list(super().keys())

    def values(self):
        return list(super().values())

    def items(self):
        return list(super().items())


def _iam_tables_iterate_snapshots() -> None:
    from moto.iam.models import IAMBackend

    original_init = IAMBackend.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        for name in ("instance_profiles", "roles", "groups", "users", "managed_policies", "inline_policies"):
            setattr(self, name, SnapshotDict(getattr(self, name)))

    IAMBackend.__init__ = init


def _tls_only_statements_pass() -> None:
    """A bucket policy's usual "deny unless TLS" statement (`aws:SecureTransport` false) denies every request
    in moto, which evaluates policies without a request context. The local cloud stands for AWS's HTTPS
    endpoints (every SDK client there uses TLS), so such statements are left out of the evaluation; every
    other statement keeps its effect."""
    import json

    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def tls_only(statement: dict) -> bool:
        condition = statement.get("Condition") or {}
        return statement.get("Effect") == "Deny" and condition == {"Bool": {"aws:SecureTransport": "false"}}

    def get_permission(self, action: str, resource: str):
        if self.policy is None:
            return PermissionResult.NEUTRAL
        policy = json.loads(self.policy.decode())
        statements = policy.get("Statement", [])
        statements = [statements] if isinstance(statements, dict) else statements
        policy["Statement"] = [s for s in statements if not tls_only(s)]
        if not policy["Statement"]:
            return PermissionResult.NEUTRAL
        return IAMPolicy(json.dumps(policy)).is_action_permitted(action, resource)

    FakeBucket.get_permission = get_permission


def _lambda_environment_is_strings() -> None:
    from moto.awslambda.models import LambdaFunction

    original_init = LambdaFunction.__init__
    original_update = LambdaFunction.update_configuration

    def strings(function) -> None:
        function.environment_vars = {k: v if isinstance(v, str) else str(v) for k, v in (function.environment_vars or {}).items()}

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        strings(self)
        spec = args[0] if args else kwargs.get("spec", {})
        self.logging_config = spec.get("LoggingConfig") if isinstance(spec, dict) else None

    def update_configuration(self, *args, **kwargs):
        result = original_update(self, *args, **kwargs)
        strings(self)
        updates = args[0] if args else kwargs.get("config_updates", {})
        if isinstance(updates, dict) and updates.get("LoggingConfig"):
            self.logging_config = updates["LoggingConfig"]
        return result

    LambdaFunction.__init__ = init
    LambdaFunction.update_configuration = update_configuration
    _lambda_logging_config_kept()


def _lambda_logging_config_kept() -> None:
    """A function's LoggingConfig (moto drops it): Lambda gives the function AWS_LAMBDA_LOG_FORMAT and
    AWS_LAMBDA_LOG_LEVEL from it, which the Rust runtime's subscriber reads (JSON logs)."""
    from moto.awslambda.models import LambdaFunction

    original_cfn = LambdaFunction.create_from_cloudformation_json.__func__
    original_configuration = LambdaFunction.get_configuration

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, *args, **kwargs):
        fn = original_cfn(cls, resource_name, cloudformation_json, *args, **kwargs)
        fn.logging_config = cloudformation_json.get("Properties", {}).get("LoggingConfig")
        return fn

    def get_configuration(self, *args, **kwargs):
        config = original_configuration(self, *args, **kwargs)
        if getattr(self, "logging_config", None):
            config["LoggingConfig"] = self.logging_config
        return config

    LambdaFunction.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)
    LambdaFunction.get_configuration = get_configuration
