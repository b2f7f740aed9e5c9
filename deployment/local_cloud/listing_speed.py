"""How fast the local cloud itself answers ListUsers on a large pool, with no quota, fault or latency on.

The benchmark must measure the workflows, not the emulator: this is the server's own ceiling, to compare
with the UserList budget a benchmark run asks for (15 calls/s × its --quota-scale).

    (cd deployment && ../.local-cloud/venv/bin/python -m local_cloud.listing_speed http://127.0.0.1:4577 100000)

Seeds a pool of N users (uuid4 subs) through the bulk seed, then lists it as the export does: 16 listings
side by side, one per first hex digit of the sub, pages of 60, 25 pages each. Prints calls per second.
"""

from __future__ import annotations

import concurrent.futures
import json
import sys
import time
import urllib.request

import boto3

LISTINGS = "0123456789abcdef"
PAGES_PER_LISTING = 25
SEED_BATCH = 5000


def seed(endpoint: str, pool_id: str, users: int) -> None:
    for start in range(0, users, SEED_BATCH):
        batch = [{"key": f"u{i}", "username": f"u{i}", "attributes": {"email": f"u{i}@example.com"},
                  "enabled": True, "status": "CONFIRMED"} for i in range(start, min(start + SEED_BATCH, users))]
        body = json.dumps({"region": "us-east-1", "userPoolId": pool_id, "users": batch}).encode()
        request = urllib.request.Request(f"{endpoint}/_local_cloud/cognito/seed", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request).read()


def main() -> None:
    endpoint = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:4577"
    users = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    cognito = boto3.client("cognito-idp", endpoint_url=endpoint, region_name="us-east-1",
                           aws_access_key_id="local-cloud", aws_secret_access_key="local-cloud")
    pool_id = cognito.create_user_pool(PoolName=f"listing-speed-{int(time.time())}")["UserPool"]["Id"]
    try:
        seed(endpoint, pool_id, users)

        def listing(prefix: str) -> int:
            token, calls = None, 0
            while calls < PAGES_PER_LISTING:
                page = cognito.list_users(UserPoolId=pool_id, Limit=60, Filter=f'sub ^= "{prefix}"',
                                          **({"PaginationToken": token} if token else {}))
                calls += 1
                token = page.get("PaginationToken")
                if not token:
                    break
            return calls

        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(len(LISTINGS)) as pool:
            calls = sum(pool.map(listing, LISTINGS))
        seconds = time.monotonic() - started
        print(f"{calls} ListUsers pages of 60 over {users:,} users in {seconds:.1f} s: "
              f"{calls / seconds:.0f} calls/s ({len(LISTINGS)} listings side by side)")
    finally:
        cognito.delete_user_pool(UserPoolId=pool_id)


if __name__ == "__main__":
    main()
