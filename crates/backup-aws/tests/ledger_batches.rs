//! The restore ledger's writes, as DynamoDB receives them: its batches go out side by side, so a user named
//! twice in one call must reach DynamoDB once, with the last entry (a batch naming a key twice is refused,
//! and two batches naming it race).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::Client as DynamoDb;
use aws_sdk_dynamodb::operation::batch_write_item::{BatchWriteItemInput, BatchWriteItemOutput};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use backup_aws::DynamoDbRestoreLedger;
use backup_domain::ports::{LedgerEntry, LedgerPath, RestoreLedger};

const TABLE: &str = "cb-restore-ledger";

fn entry(i: usize, path: LedgerPath) -> LedgerEntry {
    LedgerEntry {
        target_pool_id: "us-east-1_Target".into(),
        username: format!("user-{i:04}"),
        old_sub: format!("sub-{i}"),
        old_username: format!("old-{i}"),
        path,
        reason: None,
        job_id: None,
        job_line: None,
        failure: None,
        new_sub: None,
    }
}

#[tokio::test]
async fn a_user_named_twice_in_one_call_is_written_once_with_its_last_entry() {
    let sent: Arc<Mutex<Vec<BatchWriteItemInput>>> = Arc::default();
    let recorder = sent.clone();
    let rule = mock!(DynamoDb::batch_write_item)
        .match_requests(move |input| {
            recorder.lock().unwrap().push(input.clone());
            true
        })
        .sequence()
        .output(|| BatchWriteItemOutput::builder().build())
        .repeatedly()
        .build();
    let ledger = DynamoDbRestoreLedger::new(mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&rule]), TABLE);

    // 600 users (24 batches of 25, three windows side by side), every 7th named again at the end with
    // another path, and one named twice in a row (the same batch).
    let mut entries: Vec<LedgerEntry> = (0..600).map(|i| entry(i, LedgerPath::CsvImport)).collect();
    entries.extend((0..600).step_by(7).map(|i| entry(i, LedgerPath::AdminCreateUserAfterRejection)));
    entries.insert(11, entry(10, LedgerPath::Overwritten));
    ledger.record(&entries).await.unwrap();

    let mut written: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for input in sent.lock().unwrap().iter() {
        let batch = &input.request_items().expect("items")[TABLE];
        assert!(batch.len() <= 25, "a batch of {}", batch.len());
        for request in batch {
            let item = request.put_request().expect("a put").item();
            let sk = item["sk"].as_s().unwrap().clone();
            written.entry(sk).or_default().push(item["path"].as_s().unwrap().clone());
        }
    }
    assert_eq!(written.len(), 600);
    for (i, sk) in (0..600).map(|i| (i, format!("USER#user-{i:04}"))) {
        let expected = match i {
            _ if i % 7 == 0 => "ADMIN_CREATE_USER_AFTER_REJECTION",
            10 => "OVERWRITTEN",
            _ => "CSV_IMPORT",
        };
        assert_eq!(written[&sk], vec![expected.to_owned()], "{sk}");
    }
}
