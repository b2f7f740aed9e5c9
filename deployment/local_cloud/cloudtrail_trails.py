"""CloudTrail trails refused, as AWS refuses them, when their S3 bucket's policy does not let CloudTrail
deliver log files.

moto checks only that the bucket exists. AWS's CreateTrail, and UpdateTrail with a new bucket or key
prefix, fail with InsufficientS3BucketPolicyException "Incorrect S3 bucket policy is detected for
bucket: <bucket>" (the message as quoted in boto/boto3#1766, hashicorp/terraform#29991,
aws/aws-cdk#11602) unless the bucket policy allows the service principal cloudtrail.amazonaws.com
- s3:GetBucketAcl on the bucket, and
- s3:PutObject on the trail's log files, `<bucket>/[<prefix>/]AWSLogs/<account ID>/...`
(CloudTrail User Guide, "Amazon S3 bucket policy for CloudTrail"). A stack must therefore create the
bucket policy before the trail (`DependsOn`), which this check makes a local deployment prove too.

Statements are read as IAM evaluates them: an explicit Deny wins; Action/NotAction, Resource/
NotResource with `*` and `?` wildcards; conditions String(Not)Equals, String(Not)Like, Arn(Not)Equals,
Arn(Not)Like (and their IfExists forms) on the keys CloudTrail's delivery carries: aws:SourceArn (the
trail's ARN), aws:SourceAccount, and s3:x-amz-acl "bucket-owner-full-control" on PutObject. Other
condition operators are taken as satisfied (not evaluated here, so they never refuse a trail).

Config `cloudtrail.checkBucketPolicy` (default true) switches the check off.
"""

from __future__ import annotations

import json
import re

CLOUDTRAIL = "cloudtrail.amazonaws.com"
ACL = "bucket-owner-full-control"


def glob(pattern: str, value: str, case_sensitive: bool = True) -> bool:
    """IAM wildcard matching: `*` any run of characters, `?` one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case_sensitive else re.IGNORECASE) is not None


def as_list(value) -> list:
    return value if isinstance(value, list) else [] if value is None else [value]


def principal_is_cloudtrail(statement: dict) -> bool:
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    return CLOUDTRAIL in as_list(principal.get("Service")) or "*" in as_list(principal.get("AWS"))


def covers(statement: dict, key: str, value: str, case_sensitive: bool) -> bool:
    """Whether Action/Resource (or their Not* forms) of the statement apply to the value."""
    if key in statement:
        return any(glob(p, value, case_sensitive) for p in as_list(statement[key]))
    if f"Not{key}" in statement:
        return not any(glob(p, value, case_sensitive) for p in as_list(statement[f"Not{key}"]))
    return False


def condition_holds(operator: str, key: str, wanted, context: dict) -> bool:
    base = operator[: -len("IfExists")] if operator.endswith("IfExists") else operator
    actual = next((v for k, v in context.items() if k.lower() == key.lower()), None)
    if actual is None:
        # A missing key satisfies IfExists and negated operators only (IAM condition rules).
        return operator.endswith("IfExists") or "Not" in base
    negated = "Not" in base
    like = base.replace("Not", "") in ("StringLike", "ArnLike")
    exact = base.replace("Not", "") in ("StringEquals", "ArnEquals")
    if not (like or exact):
        return True  # an operator not evaluated here
    matched = any(glob(str(w), actual) if like else str(w) == actual for w in as_list(wanted))
    return matched != negated


def applies(statement: dict, action: str, resource: str, context: dict) -> bool:
    if not principal_is_cloudtrail(statement):
        return False
    if not covers(statement, "Action", action, case_sensitive=False):
        return False
    if not covers(statement, "Resource", resource, case_sensitive=True):
        return False
    conditions = statement.get("Condition") or {}
    return all(
        condition_holds(operator, key, wanted, context)
        for operator, pairs in conditions.items()
        for key, wanted in (pairs or {}).items()
    )


def allows(policy: dict, action: str, resource: str, context: dict) -> bool:
    allowed = False
    for statement in as_list(policy.get("Statement")):
        if isinstance(statement, dict) and applies(statement, action, resource, context):
            if statement.get("Effect") == "Deny":
                return False
            allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def delivery_allowed(policy_text, bucket: str, prefix: str | None, account: str, region: str, trail_arn: str) -> bool:
    """Whether a bucket policy lets CloudTrail check the bucket and write the trail's log files."""
    try:
        policy = json.loads(policy_text) if policy_text else {}
    except ValueError:
        return False
    context = {"aws:SourceArn": trail_arn, "aws:SourceAccount": account}
    key = f"{prefix.strip('/') + '/' if prefix else ''}AWSLogs/{account}/CloudTrail/{region}/log.json.gz"
    return allows(policy, "s3:GetBucketAcl", f"arn:aws:s3:::{bucket}", context) and allows(
        policy, "s3:PutObject", f"arn:aws:s3:::{bucket}/{key}", dict(context, **{"s3:x-amz-acl": ACL})
    )


def install(ctx) -> None:
    from moto.cloudtrail.models import Trail
    from moto.core.exceptions import JsonRESTError
    from moto.s3.models import s3_backends

    class InsufficientS3BucketPolicy(JsonRESTError):  # not among moto's CloudTrail errors
        code = 400

        def __init__(self, bucket: str):
            super().__init__("InsufficientS3BucketPolicyException", f"Incorrect S3 bucket policy is detected for bucket: {bucket}")

    ctx.default_config("cloudtrail", {"checkBucketPolicy": True})

    def check_policy(trail, bucket: str, prefix: str | None) -> None:
        if not ctx.setting("cloudtrail", "checkBucketPolicy", True):
            return
        policy = s3_backends[trail.account_id][trail.partition].get_bucket(bucket).policy
        if not delivery_allowed(policy, bucket, prefix, trail.account_id, trail.region_name, trail.arn):
            raise InsufficientS3BucketPolicy(bucket)

    original_exists = Trail.check_bucket_exists

    def check_bucket_exists(trail) -> None:  # CreateTrail (and CloudFormation's trails)
        original_exists(trail)
        check_policy(trail, trail.bucket_name, trail.s3_key_prefix)

    original_update = Trail.update

    def update(trail, s3_bucket_name=None, s3_key_prefix=None, **kwargs) -> None:  # UpdateTrail
        if s3_bucket_name is not None or s3_key_prefix is not None:
            bucket = s3_bucket_name if s3_bucket_name is not None else trail.bucket_name
            s3_backends[trail.account_id][trail.partition].get_bucket(bucket)  # NoSuchBucket as moto answers
            check_policy(trail, bucket, s3_key_prefix if s3_key_prefix is not None else trail.s3_key_prefix)
        original_update(trail, s3_bucket_name=s3_bucket_name, s3_key_prefix=s3_key_prefix, **kwargs)

    Trail.check_bucket_exists = check_bucket_exists
    Trail.update = update
