//! Every case the fault suite (`tests/fault_suite.rs`) and the bad-input suite (`tests/bad_input_suite.rs`)
//! run: what it does and what the product then does. `docs/reliability.md` is rendered from this table,
//! and a test checks that every case has its test and every test of the suites its case, so the page
//! cannot drift from what is tested. Regenerate it with `UPDATE_RELIABILITY_DOC=1 cargo test -p
//! integration-tests reliability`.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suite {
    Fault,
    BadInput,
}

/// One case: `id` is the name of its test function.
pub struct Case {
    pub suite: Suite,
    pub id: &'static str,
    pub what: &'static str,
    pub outcome: &'static str,
}

const fn fault(id: &'static str, what: &'static str, outcome: &'static str) -> Case {
    Case { suite: Suite::Fault, id, what, outcome }
}

const fn bad(id: &'static str, what: &'static str, outcome: &'static str) -> Case {
    Case { suite: Suite::BadInput, id, what, outcome }
}

pub const CASES: &[Case] = &[
    fault(
        "a_throttling_storm_during_export_and_restore",
        "Cognito answers TooManyRequests to every second ListUsers, ListUsersInGroup, AdminCreateUser and AdminAddUserToGroup call for 30 s",
        "The rate budget halves its rate at each throttle and retries; both runs complete; the backup is the pool and the restore verifies",
    ),
    fault(
        "bursts_of_server_errors",
        "HTTP 500 bursts on ListUsers, DynamoDB PutItem and BatchGetItem",
        "Retried with backoff; the run completes; no user lost or duplicated",
    ),
    fault(
        "a_lambda_killed_mid_page",
        "The ExportUsers function is killed while it writes a page (Runtime.ExitError)",
        "Step Functions retries the step from its last cursor; writes are idempotent; the backup is the pool",
    ),
    fault(
        "a_lambda_timeout",
        "A ListUsers call hangs past the function's timeout (Sandbox.Timedout)",
        "The step is retried from its last cursor and completes; the backup is the pool",
    ),
    fault(
        "unprocessed_batch_items",
        "DynamoDB returns half of every BatchGetItem and BatchWriteItem as unprocessed",
        "The adapters resubmit with backoff; export and restore complete exactly",
    ),
    fault(
        "an_expired_pagination_token",
        "Cognito refuses a pagination token in the middle of a listing",
        "The listing starts that segment again; every user is counted once",
    ),
    fault(
        "a_group_deleted_mid_run",
        "A group is deleted while the run lists memberships",
        "Told apart from a deleted pool: the run completes, and the next run's backup is exactly the pool",
    ),
    fault(
        "the_pool_deleted_mid_run",
        "The user pool is deleted while the run lists memberships",
        "The run fails with UserPoolNotFound and a notice; not one backup item is removed",
    ),
    fault(
        "two_simultaneous_starts",
        "Two executions of the ExportWorkflow start at the same instant, with ListExecutions lagging 3 s",
        "One takes the lease and works; the other ends at once having written nothing",
    ),
    fault(
        "a_scheduled_event_delivered_twice",
        "EventBridge delivers one scheduled event twice, with ListExecutions and DescribeExecution lagging 3 s",
        "Exactly one execution exports; the other finds the lease taken and ends having written nothing",
    ),
    fault(
        "a_stopped_run_and_a_new_one",
        "An export is stopped (StopExecution) mid-run and a new one started at once",
        "The stop is announced and the stopped run's lease released; the new run completes; the backup is the pool",
    ),
    bad(
        "malformed_json_input",
        "StartExecution with input that is not JSON, and a workflow input that is not an object",
        "Refused by Step Functions, or the run fails at once with InvalidInput; nothing written",
    ),
    bad(
        "unknown_fields_in_the_input",
        "A misspelt option (\"AllowMassRemovel\", \"ConflictPolicyy\")",
        "The run fails at once with InvalidInput naming the field and the valid ones; nothing written",
    ),
    bad(
        "a_pool_id_of_the_wrong_format",
        "NewUserPoolId \"not-a-pool\" and a pool of another Region",
        "InvalidInput naming the value and an example; nothing written",
    ),
    bad(
        "a_target_pool_that_does_not_exist",
        "NewUserPoolId of a pool that does not exist",
        "TargetPoolNotFound naming the pool; nothing written",
    ),
    bad(
        "the_source_pool_as_target",
        "A restore into the pool the backup was taken from, with overwrite and with skip-existing",
        "TargetIsSourcePool naming the pool and AllowSourcePool; no user changed",
    ),
    bad(
        "a_non_empty_target_under_each_policy",
        "A target pool that already has a user, under fail, skip-existing, overwrite, and overwrite with ConfirmOverwrite",
        "fail: TargetPoolNotEmpty; skip-existing: the user kept, the rest restored; overwrite: OverwriteNotConfirmed; confirmed: the backup's values",
    ),
    bad(
        "an_unsupported_target_configuration",
        "A target pool signing in by email where the backup's pool used usernames",
        "IncompatibleTargetPool listing the difference and its consequence; nothing written",
    ),
    bad(
        "a_backup_item_of_a_future_schema_version",
        "A backup item with schemaVersion 99",
        "The restore fails before any write with MalformedBackupItem naming the item's key and the release to use",
    ),
    bad(
        "a_backup_item_with_missing_fields",
        "A user item without its attributes",
        "The restore fails before any write with MalformedBackupItem naming the item's key",
    ),
    bad(
        "values_of_2048_characters_and_50_custom_attributes",
        "A pool with 50 custom attributes, values of 2,048 characters, commas, quotes, line breaks and non-ASCII text",
        "Exported and restored exactly; the restore verifies",
    ),
    bad(
        "a_restored_user_deleted_since",
        "A restored user in no group is deleted, then the pool is verified (VerifyOnly)",
        "The verification fails and names the missing user's sub",
    ),
];

/// The page `docs/reliability.md`.
pub fn render() -> String {
    let mut page = String::from(
        "# Reliability: what each fault and bad input does\n\n\
         Generated from `tests/src/reliability.rs`, the table the fault suite (`tests/fault_suite.rs`) and the \
         bad-input suite (`tests/bad_input_suite.rs`) run: every row is a test on the local cloud, through Step \
         Functions and the AWS SDK. After every fault the suite checks that no user was lost or duplicated and that \
         the run either completed or failed with a clear error, removing nothing. Regenerate with \
         `UPDATE_RELIABILITY_DOC=1 cargo test -p integration-tests reliability`.\n",
    );
    for (suite, title) in [(Suite::Fault, "Faults"), (Suite::BadInput, "Bad input")] {
        page.push_str(&format!("\n## {title}\n\n| case | what happens | outcome |\n|---|---|---|\n"));
        for c in CASES.iter().filter(|c| c.suite == suite) {
            page.push_str(&format!("| `{}` | {} | {} |\n", c.id, c.what, c.outcome));
        }
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAULT_SUITE: &str = include_str!("../fault_suite.rs");
    const BAD_INPUT_SUITE: &str = include_str!("../bad_input_suite.rs");

    /// The names of the `#[tokio::test]` functions of a suite's source.
    fn tests_of(source: &str) -> Vec<String> {
        let mut tests = Vec::new();
        let mut attributed = false;
        for line in source.lines().map(str::trim) {
            if line.starts_with("#[tokio::test") {
                attributed = true;
            } else if let Some(rest) = line.strip_prefix("async fn ").filter(|_| attributed) {
                tests.extend(rest.split('(').next().map(str::to_owned));
                attributed = false;
            }
        }
        tests
    }

    #[test]
    fn every_case_has_its_test_and_every_test_its_case() {
        for (suite, source) in [(Suite::Fault, FAULT_SUITE), (Suite::BadInput, BAD_INPUT_SUITE)] {
            let tests = tests_of(source);
            let cases: Vec<&str> = CASES.iter().filter(|c| c.suite == suite).map(|c| c.id).collect();
            for case in &cases {
                assert!(tests.iter().any(|t| t == case), "{suite:?} case {case} has no test");
            }
            for test in &tests {
                assert!(cases.contains(&test.as_str()), "{suite:?} test {test} is not in the reliability table");
            }
        }
    }

    #[test]
    fn the_reliability_page_is_what_the_suites_declare() {
        let path = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/reliability.md"));
        if std::env::var_os("UPDATE_RELIABILITY_DOC").is_some() {
            std::fs::write(path, render()).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == render(),
            "docs/reliability.md is stale: run UPDATE_RELIABILITY_DOC=1 cargo test -p integration-tests reliability"
        );
    }
}
