"""Where moto 5.2.5 differs from AWS in ways this project's workflows depend on, corrected."""

from __future__ import annotations


def install(ctx) -> None:
    from moto.cognitoidp.models import CognitoIdpUserPool, CognitoIdpUserPoolAttribute

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
