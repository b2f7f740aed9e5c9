"""CloudFormation resources moto skips or gets wrong, so the project's own templates deploy and run.

Stack operations (custom resources, updates with rollback, deletions) are in cloudformation_stacks,
installed from here. Resource types:

- AWS::DynamoDB::GlobalTable: the table in the stack's Region and its replicas (dynamodb_replicas),
  with GlobalSecondaryIndexes, TimeToLiveSpecification, StreamSpecification, SSESpecification and, per
  replica, DeletionProtectionEnabled and PointInTimeRecoverySpecification (which starts the replica's
  point-in-time history, dynamodb_history). Ref: the table name; GetAtt Arn, StreamArn, TableId.
- AWS::DynamoDB::Table: moto's, plus PointInTimeRecoverySpecification and TimeToLiveSpecification.
- AWS::CloudFormation::StackSet: the stack set, from its TemplateURL (moto's S3) or TemplateBody, and its
  instances; updating the resource updates the instance stacks (new template or parameters);
  ListStackInstances gives each instance's real StackId, readable with DescribeStacks in its Region.
- AWS::StepFunctions::StateMachine: moto reads only DefinitionString and puts the machine in a backend
  that cannot execute; here Definition + DefinitionSubstitutions are honoured and the machine runs.
- AWS::KMS::Key: the KeyPolicy kept as the JSON document GetKeyPolicy returns; GetAtt KeyId.
- AWS::SNS::Topic: GetAtt TopicArn (moto: TopicName only); KmsMasterKeyId kept by moto.
- AWS::SQS::QueuePolicy: the policy set on each queue (GetQueueAttributes Policy); removed on delete.
- AWS::S3::Bucket: LifecycleConfiguration and PublicAccessBlockConfiguration applied (moto keeps only
  BucketEncryption and Tags), on creation and on update.
- AWS::S3::BucketPolicy: the bucket policy (GetBucketPolicy); removed on delete.
- AWS::CloudTrail::Trail: the trail (its bucket policy checked, cloudtrail_trails), logging if IsLogging,
  EventSelectors/AdvancedEventSelectors applied; updated in place (a new TrailName replaces it);
  Ref: the trail name; GetAtt Arn, SnsTopicArn.
- AWS::CloudWatch::Alarm: created in moto's CloudWatch (DescribeAlarms shows it; moto skipped it);
  Ref: the alarm name; GetAtt Arn.
- Custom resources: moto gives their Lambda a response URL on host.docker.internal (for Docker-run
  functions); the project's functions run on this machine, so the URL points here.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from . import cloudformation_stacks


def _json_text(document) -> str:
    return document if isinstance(document, str) else json.dumps(document)


def _dynamodb(account_id: str, region: str):
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[account_id][region]


def _table_settings(backend, name: str, props: dict) -> None:
    """The settings CloudFormation applies after creating a table (or a global table replica)."""
    pitr = props.get("PointInTimeRecoverySpecification")
    if pitr:
        spec = {"PointInTimeRecoveryEnabled": pitr.get("PointInTimeRecoveryEnabled") in (True, "true", "True")}
        if "RecoveryPeriodInDays" in pitr:
            spec["RecoveryPeriodInDays"] = int(pitr["RecoveryPeriodInDays"])
        backend.update_continuous_backups(name, spec)
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("AttributeName"):
        backend.update_time_to_live(name, {"AttributeName": ttl["AttributeName"], "Enabled": ttl.get("Enabled") in (True, "true", "True")})
    if "DeletionProtectionEnabled" in props:
        backend.get_table(name).deletion_protection_enabled = props["DeletionProtectionEnabled"] in (True, "true", "True")


def install_dynamodb(ctx) -> None:
    from moto.core.common_models import CloudFormationModel
    from moto.dynamodb.models.table import Table

    replicas = ctx.services["replicas"]
    original_table = Table.create_from_cloudformation_json.__func__

    def create_table(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        table = original_table(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        props = dict(cloudformation_json["Properties"])
        props.pop("DeletionProtectionEnabled", None)  # moto applied it
        _table_settings(_dynamodb(account_id, region_name), table.name, props)
        return table

    Table.create_from_cloudformation_json = classmethod(create_table)

    class LocalGlobalTable(CloudFormationModel):
        def __init__(self, table, regions: list[str]):
            self.table = table
            self.regions = regions  # the stack's Region first

        @property
        def physical_resource_id(self) -> str:
            return self.table.name

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::DynamoDB::GlobalTable"

        @staticmethod
        def cloudformation_name_type() -> str:
            return "TableName"

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr in ("Arn", "StreamArn", "TableId")

        def get_cfn_attribute(self, attribute_name: str) -> Any:
            if attribute_name == "TableId":
                return self.table.table_arn.rsplit("/", 1)[-1]
            return self.table.get_cfn_attribute(attribute_name)

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
            props = cloudformation_json["Properties"]
            name = props.get("TableName", resource_name)
            backend = _dynamodb(account_id, region_name)
            stream = props.get("StreamSpecification") or {}
            sse = props.get("SSESpecification") or {}
            table = backend.create_table(
                name,
                schema=props["KeySchema"],
                throughput=None,
                attr=props["AttributeDefinitions"],
                global_indexes=props.get("GlobalSecondaryIndexes"),
                indexes=props.get("LocalSecondaryIndexes"),
                streams={"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]} if stream else None,
                billing_mode=props.get("BillingMode", "PAY_PER_REQUEST"),
                sse_specification={"Enabled": True, **({"KMSMasterKeyId": sse["KMSMasterKeyId"]} if sse.get("KMSMasterKeyId") else {})}
                if sse.get("SSEEnabled") in (True, "true") else None,
                tags=[],
                deletion_protection_enabled=False,
                warm_throughput=None,
            )
            if props.get("TimeToLiveSpecification"):
                _table_settings(backend, name, {"TimeToLiveSpecification": props["TimeToLiveSpecification"]})
            regions = [region_name]
            for replica in props.get("Replicas", []):
                if replica["Region"] != region_name:
                    replicas.add(account_id, region_name, name, replica["Region"])
                    regions.append(replica["Region"])
                _table_settings(_dynamodb(account_id, replica["Region"]), name, {
                    k: replica[k] for k in ("PointInTimeRecoverySpecification", "DeletionProtectionEnabled") if k in replica
                })
            return cls(table, regions)

        @classmethod
        def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
            """Replicas added or removed (AWS deletes a removed replica's table), and each replica's
            deletion protection, PITR and the TTL set as the template now says."""
            props = cloudformation_json["Properties"]
            name = original_resource.table.name
            wanted = [r["Region"] for r in props.get("Replicas", [])]
            for region in [r for r in original_resource.regions if r not in wanted and r != region_name]:
                replicas.remove(account_id, region_name, name, region)
            for region in [r for r in wanted if r not in original_resource.regions]:
                replicas.add(account_id, region_name, name, region)
            for replica in props.get("Replicas", []):
                _table_settings(_dynamodb(account_id, replica["Region"]), name, {
                    k: replica[k] for k in ("PointInTimeRecoverySpecification", "DeletionProtectionEnabled") if k in replica
                })
            if props.get("TimeToLiveSpecification"):
                _table_settings(_dynamodb(account_id, region_name), name, {"TimeToLiveSpecification": props["TimeToLiveSpecification"]})
            return cls(original_resource.table, [region_name] + [r for r in wanted if r != region_name])

        def delete(self, account_id: str, region_name: str) -> None:
            """Deleting a global table deletes every replica (a protected one refuses, as on AWS)."""
            for region in self.regions:
                backend = _dynamodb(account_id, region)
                if self.table.name in backend.tables:
                    backend.delete_table(self.table.name)


def install_stack_sets(ctx) -> None:
    from moto.cloudformation import cloudformation_backends
    from moto.cloudformation.models import StackInstance
    from moto.cloudformation.utils import get_stack_from_s3_url
    from moto.core.common_models import CloudFormationModel

    stacks: cloudformation_stacks.Stacks = ctx.services["cloudformation_stacks"]

    def template_of(props: dict, account_id: str) -> str:
        if props.get("TemplateBody"):
            return _json_text(props["TemplateBody"])
        return get_stack_from_s3_url(props["TemplateURL"], account_id, "aws")

    def parameters_of(props: dict) -> dict[str, str]:
        return {p["ParameterKey"]: str(p["ParameterValue"]) for p in props.get("Parameters", [])}

    def failure_of(stack) -> str:
        """The instance stack's failed resources and why, so the error names the cause, not only a status."""
        return "; ".join(f"{e.logical_resource_id} {e.resource_status}: {e.resource_status_reason}"
                         for e in stack.events if e.resource_status.endswith("_FAILED")
                         and e.logical_resource_id != stack.name)

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
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr == "StackSetId"

        def get_cfn_attribute(self, attribute_name: str) -> Any:
            return self.stack_set.id

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
            props = cloudformation_json["Properties"]
            backend = cloudformation_backends[account_id][region_name]
            name = props.get("StackSetName", resource_name)
            parameters = parameters_of(props)
            stack_set = backend.create_stack_set(
                name=name,
                template=template_of(props, account_id),
                parameters=parameters,
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
                    parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
                    deployment_targets=None,
                )
            failed = [i for i in stack_set.instances.stack_instances if i.stack.status in cloudformation_stacks.CREATION_STATES - {"CREATE_IN_PROGRESS", "CREATE_PENDING"}]
            if failed:
                raise RuntimeError(f"stack instances failed: {[(i.region_name, i.stack.status, failure_of(i.stack)) for i in failed]}")
            return cls(stack_set)

        @classmethod
        def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
            """A new template or new parameters reach every instance stack (an UpdateStackSet)."""
            props = cloudformation_json["Properties"]
            stack_set = original_resource.stack_set
            template, parameters = template_of(props, account_id), parameters_of(props)
            stack_set.template = stack_set.instances.template = template
            stack_set.parameters = stack_set.instances.parameters = parameters
            for instance in stack_set.instances.stack_instances:
                instance.template = template
                instance.parameters = [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()]
                if instance.stack.has_template(template) and instance.stack.parameters == parameters:
                    continue
                status = stacks.update_now(instance.stack, template, parameters)
                if status != "UPDATE_COMPLETE":
                    raise RuntimeError(f"stack instance {instance.account_id}/{instance.region_name} ended {status}")
            return original_resource

        def delete(self, account_id: str, region_name: str) -> None:
            """Deletes the instance stacks, then the stack set (AWS refuses a stack set with instances)."""
            instances = self.stack_set.instances.stack_instances
            if instances:
                self.stack_set.delete_stack_instances(
                    sorted({i.account_id for i in instances}), sorted({i.region_name for i in instances}))
            cloudformation_backends[account_id][region_name].delete_stack_set(self.stack_set.name)

    original_to_dict = StackInstance.to_dict

    def to_dict(instance) -> dict:
        # moto made up a new StackId on each call: give the instance stack's real one.
        out = original_to_dict(instance)
        out["StackId"] = instance.stack.stack_id
        return out

    StackInstance.to_dict = to_dict


def install_state_machines(ctx) -> None:
    from moto import settings
    from moto.stepfunctions.models import StateMachine

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
    settings.moto_server_host = lambda: f"http://{ctx.host}"


def install_kms_sns(ctx) -> None:
    from moto.kms.models import Key
    from moto.sns.models import Topic

    original_key = Key.create_from_cloudformation_json.__func__

    def create_key(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        # CloudFormation takes the policy as a JSON object; KMS keeps (and GetKeyPolicy returns) text.
        json_ = copy.deepcopy(cloudformation_json)
        json_["Properties"]["KeyPolicy"] = _json_text(json_["Properties"].get("KeyPolicy", ""))
        return original_key(cls, resource_name, json_, account_id, region_name, **kwargs)

    Key.create_from_cloudformation_json = classmethod(create_key)
    Key.has_cfn_attr = classmethod(lambda cls, attr: attr in ("Arn", "KeyId"))
    original_key_attribute = Key.get_cfn_attribute
    Key.get_cfn_attribute = lambda key, name: key.id if name == "KeyId" else original_key_attribute(key, name)

    Topic.has_cfn_attr = classmethod(lambda cls, attr: attr in ("TopicName", "TopicArn"))
    original_topic_attribute = Topic.get_cfn_attribute
    Topic.get_cfn_attribute = lambda topic, name: topic.arn if name == "TopicArn" else original_topic_attribute(topic, name)


def _lifecycle_rule(rule: dict) -> dict:
    """A CloudFormation LifecycleConfiguration rule in S3 API form (PutBucketLifecycleConfiguration)."""
    api: dict[str, Any] = {"ID": rule.get("Id", ""), "Status": rule.get("Status", "Enabled")}
    api["Filter"] = {"Prefix": rule["Prefix"]} if "Prefix" in rule else {"Prefix": ""}
    if "ExpirationInDays" in rule:
        api["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    elif "ExpirationDate" in rule:
        api["Expiration"] = {"Date": rule["ExpirationDate"]}
    if rule.get("Transitions"):
        api["Transition"] = [{"Days": int(t["TransitionInDays"]), "StorageClass": t["StorageClass"]} for t in rule["Transitions"]]
    if "NoncurrentVersionExpirationInDays" in rule:
        api["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(rule["NoncurrentVersionExpirationInDays"])}
    if rule.get("AbortIncompleteMultipartUpload"):
        api["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])}
    return api


def _bucket_settings(backend, name: str, props: dict) -> None:
    """What moto's bucket leaves out, set as the template says (a property removed on update is
    removed from the bucket): LifecycleConfiguration and PublicAccessBlockConfiguration."""
    rules = (props.get("LifecycleConfiguration") or {}).get("Rules")
    if rules:
        backend.put_bucket_lifecycle_configuration(name, [_lifecycle_rule(r) for r in rules])
    elif backend.get_bucket(name).rules:
        backend.delete_bucket_lifecycle(name)
    block = props.get("PublicAccessBlockConfiguration")
    if block:
        flags = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
        backend.put_public_access_block(name, {f: block.get(f) in (True, "true", "True") for f in flags})
    elif backend.get_bucket(name).public_access_block:
        backend.delete_public_access_block(name)


def install_s3(ctx) -> None:
    from moto.core.common_models import CloudFormationModel
    from moto.s3.models import FakeBucket, s3_backends

    original_bucket = FakeBucket.create_from_cloudformation_json.__func__
    original_update = FakeBucket.update_from_cloudformation_json.__func__

    def create_bucket(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        bucket = original_bucket(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        _bucket_settings(s3_backends[account_id]["aws"], bucket.name, cloudformation_json.get("Properties", {}))
        return bucket

    def update_bucket(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        bucket = original_update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name)
        _bucket_settings(s3_backends[account_id]["aws"], bucket.name, cloudformation_json.get("Properties", {}))
        return bucket

    FakeBucket.create_from_cloudformation_json = classmethod(create_bucket)
    FakeBucket.update_from_cloudformation_json = classmethod(update_bucket)

    class BucketPolicy(CloudFormationModel):
        def __init__(self, bucket: str):
            self.bucket = bucket

        @property
        def physical_resource_id(self) -> str:
            return self.bucket

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::S3::BucketPolicy"

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
            props = cloudformation_json["Properties"]
            s3_backends[account_id]["aws"].put_bucket_policy(props["Bucket"], _json_text(props["PolicyDocument"]).encode())
            return cls(props["Bucket"])

        @classmethod
        def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
            return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

        def delete(self, account_id: str, region_name: str) -> None:
            backend = s3_backends[account_id]["aws"]
            if self.bucket in backend.buckets:
                backend.delete_bucket_policy(self.bucket)


def install_sqs_policies(ctx) -> None:
    from moto.core.common_models import CloudFormationModel
    from moto.sqs.models import sqs_backends

    def queue_name(url_or_name: str) -> str:
        return url_or_name.rstrip("/").rsplit("/", 1)[-1]

    class QueuePolicy(CloudFormationModel):
        def __init__(self, queues: list[str]):
            self.queues = queues

        @property
        def physical_resource_id(self) -> str:
            return ",".join(self.queues)

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::SQS::QueuePolicy"

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
            props = cloudformation_json["Properties"]
            backend = sqs_backends[account_id][region_name]
            for queue in props["Queues"]:
                backend.set_queue_attributes(queue_name(queue), {"Policy": _json_text(props["PolicyDocument"])})
            return cls(list(props["Queues"]))

        @classmethod
        def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
            original_resource.delete(account_id, region_name)
            return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

        def delete(self, account_id: str, region_name: str) -> None:
            backend = sqs_backends[account_id][region_name]
            for queue in self.queues:
                if queue_name(queue) in backend.queues:
                    backend.set_queue_attributes(queue_name(queue), {"Policy": ""})


def _truthy(value) -> bool:
    """A CloudFormation Boolean: true, or the strings a parameter or YAML gives."""
    return value in (True, "true", "True")


def _event_selector(selector: dict) -> dict:
    """An EventSelectors entry as CloudTrail's PutEventSelectors keeps it (typed, with its defaults)."""
    return {
        "ReadWriteType": selector.get("ReadWriteType", "All"),
        "IncludeManagementEvents": _truthy(selector.get("IncludeManagementEvents", True)),
        "DataResources": selector.get("DataResources") or [],
        "ExcludeManagementEventSources": selector.get("ExcludeManagementEventSources") or [],
    }


# moto Trail attribute -> the AWS::CloudTrail::Trail property that sets it (absent: not set).
OPTIONAL_TRAIL_SETTINGS = {
    "s3_key_prefix": "S3KeyPrefix",
    "sns_topic_name": "SnsTopicName",
    "cw_log_group_arn": "CloudWatchLogsLogGroupArn",
    "cw_role_arn": "CloudWatchLogsRoleArn",
    "kms_key_id": "KMSKeyId",
}


def install_cloudtrail(ctx) -> None:
    """AWS::CloudTrail::Trail (AWS CloudFormation User Guide, resource reference): TrailName, the S3
    bucket (its policy checked as CreateTrail does, cloudtrail_trails), IsLogging (StartLogging /
    StopLogging), EventSelectors or AdvancedEventSelectors. An update changes the trail in place,
    except a new TrailName, which replaces it ("Update requires: Replacement")."""
    from moto.cloudtrail.models import cloudtrail_backends
    from moto.core.common_models import CloudFormationModel

    def apply_settings(trail, props: dict) -> None:
        """Selectors and logging as the template says: removing EventSelectors restores the default
        (all management events), IsLogging false stops logging."""
        trail.event_selectors = [_event_selector(s) for s in props.get("EventSelectors") or []]
        trail.advanced_event_selectors = [] if trail.event_selectors else list(props.get("AdvancedEventSelectors") or [])
        if _truthy(props["IsLogging"]) and not trail.status.is_logging:
            trail.start_logging()
        elif not _truthy(props["IsLogging"]) and trail.status.is_logging:
            trail.stop_logging()

    class Trail(CloudFormationModel):
        def __init__(self, trail):
            self.trail = trail

        @property
        def physical_resource_id(self) -> str:
            return self.trail.trail_name

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::CloudTrail::Trail"

        @staticmethod
        def cloudformation_name_type() -> str:
            return "TrailName"

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr in ("Arn", "SnsTopicArn")

        def get_cfn_attribute(self, attribute_name: str) -> Any:
            if attribute_name == "Arn":
                return self.trail.arn
            return self.trail.topic_arn

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
            props = cloudformation_json["Properties"]
            backend = cloudtrail_backends[account_id][region_name]
            trail = backend.create_trail(
                props.get("TrailName", resource_name), props["S3BucketName"], props.get("S3KeyPrefix"),
                props.get("SnsTopicName"), _truthy(props.get("IncludeGlobalServiceEvents", True)),
                _truthy(props.get("IsMultiRegionTrail", False)), _truthy(props.get("EnableLogFileValidation", False)),
                _truthy(props.get("IsOrganizationTrail", False)), props.get("CloudWatchLogsLogGroupArn"),
                props.get("CloudWatchLogsRoleArn"), props.get("KMSKeyId"), props.get("Tags", []),
            )
            apply_settings(trail, props)
            return cls(trail)

        @classmethod
        def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
            props = cloudformation_json["Properties"]
            trail = original_resource.trail
            if props.get("TrailName", trail.trail_name) != trail.trail_name:
                replacement = cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)
                original_resource.delete(account_id, region_name)
                return replacement
            cloudtrail_backends[account_id][region_name].update_trail(
                trail.trail_name, props["S3BucketName"], props.get("S3KeyPrefix", ""), props.get("SnsTopicName"),
                _truthy(props.get("IncludeGlobalServiceEvents", True)), _truthy(props.get("IsMultiRegionTrail", False)),
                _truthy(props.get("EnableLogFileValidation", False)), _truthy(props.get("IsOrganizationTrail", False)),
                props.get("CloudWatchLogsLogGroupArn"), props.get("CloudWatchLogsRoleArn"), props.get("KMSKeyId"),
            )
            # moto's update leaves a setting alone when it is not given; the template dropped it.
            for attribute, name in OPTIONAL_TRAIL_SETTINGS.items():
                if name not in props:
                    setattr(trail, attribute, None)
            apply_settings(trail, props)
            return original_resource

        def delete(self, account_id: str, region_name: str) -> None:
            cloudtrail_backends[account_id][region_name].delete_trail(self.trail.trail_name)


def install_alarms(ctx) -> None:
    from moto.cloudwatch.models import cloudwatch_backends
    from moto.core.common_models import CloudFormationModel

    class Alarm(CloudFormationModel):
        def __init__(self, alarm):
            self.alarm = alarm

        @property
        def physical_resource_id(self) -> str:
            return self.alarm.name

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::CloudWatch::Alarm"

        @staticmethod
        def cloudformation_name_type() -> str:
            return "AlarmName"

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr == "Arn"

        def get_cfn_attribute(self, attribute_name: str) -> Any:
            return self.alarm.alarm_arn

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
            props = cloudformation_json["Properties"]
            number = lambda v: None if v is None else float(v)  # noqa: E731
            alarm = cloudwatch_backends[account_id][region_name].put_metric_alarm(
                name=props.get("AlarmName", resource_name), namespace=props.get("Namespace"),
                metric_name=props.get("MetricName"), comparison_operator=props["ComparisonOperator"],
                evaluation_periods=int(props["EvaluationPeriods"]),
                period=int(props["Period"]) if "Period" in props else None,
                threshold=number(props.get("Threshold")), statistic=props.get("Statistic"),
                description=props.get("AlarmDescription"), dimensions=props.get("Dimensions", []),
                alarm_actions=props.get("AlarmActions", []), ok_actions=props.get("OKActions", []),
                insufficient_data_actions=props.get("InsufficientDataActions", []),
                datapoints_to_alarm=int(props["DatapointsToAlarm"]) if "DatapointsToAlarm" in props else None,
                extended_statistic=props.get("ExtendedStatistic"), unit=props.get("Unit"),
                actions_enabled=props.get("ActionsEnabled", True) in (True, "true", "True"),
                treat_missing_data=props.get("TreatMissingData"),
                evaluate_low_sample_count_percentile=props.get("EvaluateLowSampleCountPercentile"),
                threshold_metric_id=props.get("ThresholdMetricId"),
            )
            return cls(alarm)

        @classmethod
        def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
            if original_resource.alarm.name != cloudformation_json["Properties"].get("AlarmName", original_resource.alarm.name):
                original_resource.delete(account_id, region_name)
            return cls.create_from_cloudformation_json(original_resource.alarm.name, cloudformation_json, account_id, region_name)

        def delete(self, account_id: str, region_name: str) -> None:
            cloudwatch_backends[account_id][region_name].delete_alarms([self.alarm.name])


def install(ctx) -> None:
    from moto.cloudformation import parsing

    ctx.default_config("cloudformation", {"customResourceTimeoutSeconds": 60})
    ctx.services["cloudformation_stacks"] = cloudformation_stacks.install(ctx)
    install_dynamodb(ctx)
    install_stack_sets(ctx)
    install_state_machines(ctx)
    install_kms_sns(ctx)
    install_s3(ctx)
    install_sqs_policies(ctx)
    install_cloudtrail(ctx)
    install_alarms(ctx)
    # moto lists the CloudFormation types once, from the model classes defined so far.
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()
