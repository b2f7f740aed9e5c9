"""CloudFormation resources moto skips or gets wrong, so the project's own templates deploy and run:

- AWS::DynamoDB::GlobalTable: the table in the stack's Region and its replicas (see dynamodb_replicas).
- AWS::CloudFormation::StackSet: the stack set, from its TemplateURL in (moto's) S3, and its instances.
- AWS::StepFunctions::StateMachine: moto reads only DefinitionString and puts the machine in a backend
  that cannot execute; here Definition + DefinitionSubstitutions are honoured and the machine runs.
- Custom resources: moto gives their Lambda a response URL on host.docker.internal (for Docker-run
  functions); the project's functions run on this machine, so the URL points here.
"""

from __future__ import annotations

import json
from typing import Any


def install(ctx) -> None:
    replicas = ctx.services["replicas"]
    host = ctx.host
    from moto import settings
    from moto.cloudformation import parsing
    from moto.cloudformation.utils import get_stack_from_s3_url
    from moto.core.common_models import CloudFormationModel
    from moto.stepfunctions.models import StateMachine

    class LocalGlobalTable(CloudFormationModel):
        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::DynamoDB::GlobalTable"

        @staticmethod
        def cloudformation_name_type() -> str:
            return "TableName"

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
            from moto.dynamodb.models import dynamodb_backends

            props = cloudformation_json["Properties"]
            name = props.get("TableName", resource_name)
            table = dynamodb_backends[account_id][region_name].create_table(
                name,
                schema=props["KeySchema"],
                throughput=None,
                attr=props["AttributeDefinitions"],
                global_indexes=props.get("GlobalSecondaryIndexes"),
                indexes=props.get("LocalSecondaryIndexes"),
                streams={"StreamEnabled": True, "StreamViewType": props.get("StreamSpecification", {}).get("StreamViewType", "NEW_AND_OLD_IMAGES")},
                billing_mode=props.get("BillingMode", "PAY_PER_REQUEST"),
                sse_specification={"Enabled": True},
                tags=[],
                deletion_protection_enabled=False,
                warm_throughput=None,
            )
            for replica in props.get("Replicas", []):
                if replica["Region"] != region_name:
                    replicas.add(account_id, region_name, name, replica["Region"])
            return table

    class LocalStackSetResource(CloudFormationModel):
        def __init__(self, stack_set):
            self.stack_set = stack_set

        @property
        def physical_resource_id(self) -> str:
            return self.stack_set.id

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::CloudFormation::StackSet"

        @staticmethod
        def cloudformation_name_type() -> str:
            return "StackSetName"

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
            from moto.cloudformation import cloudformation_backends

            props = cloudformation_json["Properties"]
            template = get_stack_from_s3_url(props["TemplateURL"], account_id, "aws")
            parameters = [{"ParameterKey": p["ParameterKey"], "ParameterValue": str(p["ParameterValue"])} for p in props.get("Parameters", [])]
            backend = cloudformation_backends[account_id][region_name]
            name = props.get("StackSetName", resource_name)
            # moto creates a stack's resources again once its custom resources answer: once is enough.
            existing = [s for s in backend.stacksets.values() if s.name == name and s.status == "ACTIVE"]
            if existing:
                return cls(existing[0])
            stack_set = backend.create_stack_set(
                name=name,
                template=template,
                parameters={p["ParameterKey"]: p["ParameterValue"] for p in parameters},
                tags={},
                permission_model=props.get("PermissionModel", "SELF_MANAGED"),
                admin_role=props.get("AdministrationRoleARN"),
                exec_role=props.get("ExecutionRoleName"),
                description=props.get("Description"),
            )
            for group in props.get("StackInstancesGroup", []):
                backend.create_stack_instances(
                    name,
                    accounts=[str(a) for a in group["DeploymentTargets"].get("Accounts", [account_id])],
                    regions=group["Regions"],
                    parameters=parameters,
                    deployment_targets=None,
                )
            return cls(stack_set)

    original = StateMachine.create_from_cloudformation_json.__func__

    def create_state_machine(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs: Any):
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        props = cloudformation_json["Properties"]
        definition = props.get("DefinitionString") or json.dumps(props.get("Definition", {}))
        for key, value in (props.get("DefinitionSubstitutions") or {}).items():
            definition = definition.replace("${" + key + "}", str(value))
        backend = stepfunctions_parser_backends[account_id][region_name]
        return backend.create_state_machine(
            name=props.get("StateMachineName", resource_name), definition=definition, roleArn=props.get("RoleArn", "")
        )

    StateMachine.create_from_cloudformation_json = classmethod(create_state_machine)
    settings.moto_server_host = lambda: f"http://{host}"
    del original
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()
