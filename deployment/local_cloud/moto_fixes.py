"""Where moto 5.2.5 differs from AWS in ways this project's workflows depend on, corrected.

- Cognito pools always have the standard attributes.
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
