"""The local cloud: moto, extended so the project's real workflows run on one machine.

- lambda_runtime_api: Lambda invokes run the project's real Rust binaries behind an emulated Lambda
  Runtime API (the same protocol as on AWS), so Step Functions Retry/Catch see real function errors.
- fault_injection: tests make chosen AWS calls fail (throttling, denied access, outages).
- bulk_seed: a fast path to fill a user pool with thousands of users, groups and memberships.
"""
