"""Cognito user import jobs, which moto lacks: GetCSVHeader, Create/Start/Describe/List/StopUserImportJob,
and the upload of the CSV to a presigned S3 URL (moto's S3).

A started job reads the uploaded CSV and applies the documented rules (cognito-facts.md §4.3): every header
column present, one row per line, `\\,` for a comma, values trimmed, a unique `cognito:username` without
spaces, `cognito:mfa_enabled` matching the pool's MFA setting, a true verified email or phone for the pool's
auto-verified attribute(s), the pool's required attributes present. Accepted users are created in
RESET_REQUIRED; rejected rows are counted as failed and logged to CloudWatch Logs
(/aws/cognito/userpools/<pool>/<job name>), as Cognito does.

Limits (cognito-facts.md §4.3; the guide's "Formatting the .csv file": "The maximum row length is 16,000
characters", "The maximum .csv file size is 100 MB", "The maximum number of rows (users) in the file is
500,000. This maximum doesn't include the header row"):
- more than 500,000 data rows, or a file over 100 MB, and the job ends Failed having imported nothing.
  "100 MB" is not defined further; 100,000,000 bytes is taken (the stricter reading of MB vs MiB);
- a row over 16,000 characters fails that row alone;
- at most 1,000 import jobs per pool (cognito-facts.md §4.3) → LimitExceededException;
- JobName: 1-128 characters of the pattern [\\w\\s+=,.@-]+ (API reference of CreateUserImportJob; AWS's
  patterns are Java regular expressions, so \\w and \\s are ASCII) → InvalidParameterException.

Speed: config `cognito.importUsersPerSecond` (default 34, the end-to-end rate the original solution
published: 500,000 users in 247.6 min, cognito-facts.md §5) paces the job: rows are processed in slices of
SLICE_SECONDS, and ImportedUsers/FailedUsers advance while the job is InProgress. Per-row checks use the
pool's index (cognito_fast.py), never a scan of the pool's users.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid

from .bulk_seed import user_status
from .server import ApiError

BUCKET = "local-cloud-cognito-user-import"
MAX_ROWS = 500_000
MAX_FILE_BYTES = 100_000_000
MAX_ROW_CHARACTERS = 16_000
MAX_JOBS_PER_POOL = 1_000
JOB_NAME = re.compile(r"[\w\s+=,.@-]{1,128}", re.ASCII)
SLICE_SECONDS = 0.2
LOG_BATCH = 10_000
OPERATIONS = {
    "GetCSVHeader",
    "CreateUserImportJob",
    "StartUserImportJob",
    "DescribeUserImportJob",
    "ListUserImportJobs",
    "StopUserImportJob",
}
NOT_IN_HEADER = {"sub", "identities"}


def parse_line(line: str) -> list[str]:
    fields, current, i = [], [], 0
    while i < len(line):
        c = line[i]
        if c == "\\" and i + 1 < len(line) and line[i + 1] == ",":
            current.append(",")
            i += 2
            continue
        if c == ",":
            fields.append("".join(current))
            current = []
        else:
            current.append(c)
        i += 1
    fields.append("".join(current))
    return [f.strip() for f in fields]


def check_job_name(name) -> None:
    if not isinstance(name, str) or not JOB_NAME.fullmatch(name):
        raise ApiError(
            "InvalidParameterException",
            f"1 validation error detected: Value '{name}' at 'jobName' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: [\\w\\s+=,.@-]+ and have length between 1 and 128",
        )


class ImportJobs:
    def __init__(self, ctx):
        self.ctx = ctx
        self.endpoint = ctx.url
        self.jobs: dict[str, dict] = {}
        self.lock = threading.Lock()

    # --- helpers -----------------------------------------------------------------------------------
    def _pool(self, account: str, region: str, pool_id: str):
        from moto.cognitoidp.models import cognitoidp_backends

        pool = cognitoidp_backends[account][region].user_pools.get(pool_id)
        if pool is None:
            raise ApiError("ResourceNotFoundException", f"User pool {pool_id} does not exist.")
        return pool

    def header(self, pool) -> list[str]:
        names = [
            name
            for name, attr in pool.schema_attributes.items()
            if name not in NOT_IN_HEADER and not attr.developer_only
        ]
        return names + ["cognito:mfa_enabled", "cognito:username"]

    def _job(self, pool_id: str, job_id: str) -> dict:
        job = self.jobs.get(job_id)
        if job is None or job["UserPoolId"] != pool_id:
            raise ApiError("ResourceNotFoundException", f"Import job {job_id} does not exist.")
        return job

    def _public(self, job: dict) -> dict:
        return {k: v for k, v in job.items() if not k.startswith("_")}

    def _presigned_url(self, region: str, key: str) -> str:
        import boto3
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.s3.models import s3_backends

        backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
        if BUCKET not in backend.buckets:
            backend.create_bucket(BUCKET, "us-east-1")
        s3 = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="local-cloud",
            aws_secret_access_key="local-cloud",
        )
        return s3.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=3600)

    # --- operations --------------------------------------------------------------------------------
    def handle(self, operation: str, account: str, region: str, body: dict) -> dict:
        pool_id = body.get("UserPoolId", "")
        pool = self._pool(account, region, pool_id)
        with self.lock:
            if operation == "GetCSVHeader":
                return {"UserPoolId": pool_id, "CSVHeader": self.header(pool)}
            if operation == "CreateUserImportJob":
                if not body.get("CloudWatchLogsRoleArn"):
                    raise ApiError("InvalidParameterException", "CloudWatchLogsRoleArn is required.")
                check_job_name(body.get("JobName"))
                if sum(1 for j in self.jobs.values() if j["UserPoolId"] == pool_id) >= MAX_JOBS_PER_POOL:
                    raise ApiError("LimitExceededException", f"The user pool has {MAX_JOBS_PER_POOL} import jobs.")
                job_id = "import-" + uuid.uuid4().hex[:10]
                job = {
                    "JobName": body["JobName"],
                    "JobId": job_id,
                    "UserPoolId": pool_id,
                    "PreSignedUrl": self._presigned_url(region, f"{pool_id}/{job_id}.csv"),
                    "CreationDate": time.time(),
                    "Status": "Created",
                    "CloudWatchLogsRoleArn": body["CloudWatchLogsRoleArn"],
                    "ImportedUsers": 0,
                    "SkippedUsers": 0,
                    "FailedUsers": 0,
                    "_account": account,
                    "_region": region,
                }
                self.jobs[job_id] = job
                return {"UserImportJob": self._public(job)}
            if operation == "DescribeUserImportJob":
                return {"UserImportJob": self._public(self._job(pool_id, body.get("JobId", "")))}
            if operation == "ListUserImportJobs":
                jobs = [self._public(j) for j in self.jobs.values() if j["UserPoolId"] == pool_id]
                return {"UserImportJobs": jobs[: int(body.get("MaxResults", 60))]}
            if operation == "StopUserImportJob":
                job = self._job(pool_id, body.get("JobId", ""))
                if job["Status"] not in ("Pending", "InProgress"):
                    raise ApiError("PreconditionNotMetException", f"Job is {job['Status']}; it cannot be stopped.")
                job["Status"] = "Stopped"
                job["CompletionDate"] = time.time()
                return {"UserImportJob": self._public(job)}
            if operation == "StartUserImportJob":
                job = self._job(pool_id, body.get("JobId", ""))
                if job["Status"] != "Created":
                    raise ApiError("PreconditionNotMetException", f"Job is {job['Status']}; it was already started.")
                if not pool.extended_config.get("AutoVerifiedAttributes"):
                    raise ApiError(
                        "InvalidParameterException",
                        "The user pool has no auto-verified attribute; user import jobs cannot run.",
                    )
                job["Status"] = "Pending"
                job["StartDate"] = time.time()
                threading.Thread(target=self._run, args=(job, pool), daemon=True).start()
                return {"UserImportJob": self._public(job)}
        raise ApiError("InvalidParameterException", f"unsupported operation {operation}")

    # --- the job itself ----------------------------------------------------------------------------
    def _csv(self, job: dict) -> bytes | None:
        """The uploaded file, taken out of the (internal) bucket: a 100 MB file must not stay in memory."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.s3.models import s3_backends

        s3 = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
        name = f"{job['UserPoolId']}/{job['JobId']}.csv"
        try:
            key = s3.get_object(BUCKET, name)
        except Exception:
            return None
        if key is None:
            return None
        value = key.value
        s3.delete_object(BUCKET, name)
        return value

    def _run(self, job: dict, pool) -> None:
        time.sleep(0.2)
        with self.lock:
            if job["Status"] != "Pending":
                return
            job["Status"] = "InProgress"
        raw = self._csv(job)
        if raw is None:
            return self._finish(job, "Failed", "No CSV file was uploaded to the pre-signed URL.")
        if len(raw) > MAX_FILE_BYTES:
            return self._finish(job, "Failed", f"The CSV file is {len(raw):,} bytes, over the 100 MB limit.")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return self._finish(job, "Failed", "The CSV file is not UTF-8.")
        if text.startswith("\ufeff"):
            return self._finish(job, "Failed", "The CSV file starts with a byte order mark.")
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if not lines:
            return self._finish(job, "Failed", "The CSV file is empty.")
        if len(lines) - 1 > MAX_ROWS:
            return self._finish(job, "Failed", f"The CSV file has {len(lines) - 1:,} users, over the 500,000 limit.")
        header = [h.strip() for h in lines[0].rstrip("\r").split(",")]
        expected = self.header(pool)
        if sorted(header) != sorted(expected):
            missing = sorted(set(expected) - set(header))
            extra = sorted(set(header) - set(expected))
            return self._finish(
                job, "Failed", f"The CSV header does not match the pool: missing {missing}, unexpected {extra}."[:128]
            )
        failures = self._import_rows(job, pool, header, lines)
        self._log_failures(job, failures)
        if job["Status"] != "Stopped":
            self._finish(job, "Succeeded", "Import Job Completed Successfully.")

    def _import_rows(self, job: dict, pool, header: list[str], lines: list[str]) -> list[tuple[int, str]]:
        """Imports the data rows at config cognito.importUsersPerSecond: each slice processes the rows due
        by its end, then sleeps (no sleep per row)."""
        failures: list[tuple[int, str]] = []
        rows = lines[1:]
        started = time.monotonic()
        done = 0
        while done < len(rows) and job["Status"] != "Stopped":
            rate = float(self.ctx.setting("cognito", "importUsersPerSecond", 34))
            due = min(len(rows), int((time.monotonic() - started + SLICE_SECONDS) * rate))
            while done < due and job["Status"] != "Stopped":
                done += 1  # the row's number: the header is line 0
                error = self._import_row(pool, header, rows[done - 1].rstrip("\r"))
                with self.lock:
                    if error:
                        job["FailedUsers"] += 1
                        failures.append((done, error))
                    else:
                        job["ImportedUsers"] += 1
            if done < len(rows):
                time.sleep(SLICE_SECONDS)
        return failures

    def _import_row(self, pool, header: list[str], line: str) -> str | None:
        from moto.cognitoidp.models import CognitoIdpUser

        if len(line) > MAX_ROW_CHARACTERS:
            return f"The row is {len(line):,} characters long, over the 16,000 limit."
        fields = parse_line(line)
        if len(fields) != len(header):
            return f"The row has {len(fields)} fields where the header has {len(header)}."
        row = dict(zip(header, fields))
        username = row.pop("cognito:username")
        mfa = row.pop("cognito:mfa_enabled").lower()
        if not username or re.search(r"\s", username):
            return "cognito:username is empty or contains whitespace."
        if mfa not in ("true", "false"):
            return "cognito:mfa_enabled must be true or false."
        if pool.mfa_config == "ON" and mfa != "true":
            return "cognito:mfa_enabled must be true: the user pool requires MFA."
        if pool.mfa_config == "OFF" and mfa != "false":
            return "cognito:mfa_enabled must be false: MFA is off in the user pool."
        auto_verified = pool.extended_config.get("AutoVerifiedAttributes") or []
        verified = [a for a in auto_verified if row.get(f"{a}_verified", "").lower() == "true" and row.get(a)]
        if not verified:
            return f"The user has no verified {' or '.join(auto_verified)}."
        for name, attr in pool.schema_attributes.items():
            if attr.required and name not in NOT_IN_HEADER and not row.get(name):
                return f"The required attribute {name} is missing."
        username_attributes = pool.extended_config.get("UsernameAttributes") or []
        if username_attributes:
            if not any(row.get(a) == username for a in username_attributes):
                return "cognito:username must equal the user's " + " or ".join(username_attributes) + "."
            if any(row.get(a) and pool.users.index.first_equal(a, row[a]) for a in username_attributes):
                return "A user with the same " + " or ".join(username_attributes) + " already exists."
        elif username in pool.users:
            return "A user with the same username already exists."
        attributes = [{"Name": k, "Value": v} for k, v in row.items() if v != ""]
        user = CognitoIdpUser(
            pool.id, None if username_attributes else username, None, user_status("RESET_REQUIRED"), attributes
        )
        pool.users[user.username] = user
        return None

    def _log_failures(self, job: dict, failures: list[tuple[int, str]]) -> None:
        if not failures:
            return
        from moto.logs.models import logs_backends

        logs = logs_backends[job["_account"]][job["_region"]]
        group = f"/aws/cognito/userpools/{job['UserPoolId']}/{job['JobName']}"
        try:
            logs.create_log_group(group, {})
        except Exception:
            pass
        try:
            logs.create_log_stream(group, job["JobId"])
        except Exception:
            pass
        now = int(time.time() * 1000)
        events = [{"timestamp": now, "message": json.dumps({"lineNumber": n, "message": m})} for n, m in failures]
        for start in range(0, len(events), LOG_BATCH):
            logs.put_log_events(group, job["JobId"], events[start : start + LOG_BATCH])

    def _finish(self, job: dict, status: str, message: str) -> None:
        with self.lock:
            job["Status"] = status
            job["CompletionDate"] = time.time()
            job["CompletionMessage"] = message


def install(ctx) -> None:
    ctx.default_config("cognito", {"importUsersPerSecond": 34})
    jobs = ImportJobs(ctx)
    ctx.services["import_jobs"] = jobs
    for operation in OPERATIONS:
        ctx.operation(
            f"AWSCognitoIdentityProviderService.{operation}",
            lambda request, op=operation: jobs.handle(op, ctx.account_id, request.region, request.body),
        )
