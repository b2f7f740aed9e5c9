"""Requests in parallel: the local cloud serves each on its own thread, as AWS serves callers in parallel.
moto's IAM iterated live dicts, so stacks created side by side failed now and then."""

from __future__ import annotations

import threading
import unittest

from .script_functions import client, unique

ASSUME = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}'


class ParallelIamTest(unittest.TestCase):
    def test_roles_created_and_deleted_in_parallel_all_succeed(self):
        iam = client("iam")
        prefix = unique("parallel")
        errors: list[Exception] = []

        def churn(worker: int) -> None:
            try:
                for n in range(40):
                    name = f"{prefix}-{worker}-{n}"
                    iam.create_role(RoleName=name, AssumeRolePolicyDocument=ASSUME)
                    iam.get_role(RoleName=name)
                    if n % 2:
                        iam.delete_role(RoleName=name)
            except Exception as e:  # noqa: BLE001 - any failure is the finding
                errors.append(e)

        threads = [threading.Thread(target=churn, args=(w,)) for w in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        names = {r["RoleName"] for page in iam.get_paginator("list_roles").paginate() for r in page["Roles"]}
        self.assertEqual(len({n for n in names if n.startswith(prefix)}), 8 * 20)
        for name in (n for n in names if n.startswith(prefix)):
            iam.delete_role(RoleName=name)


if __name__ == "__main__":
    unittest.main()
