//! Phase 3: the two sides joined, partition by partition.

use std::collections::BTreeMap;

use super::sub_mapping::{self, MappingRow};
use super::{Difference, LISTED_DIFFERENCES, Phase, UserRecord, Verification, partitions_prefix};
use crate::Deadline;
use crate::import::{ImportPorts, ImportRun};
use crate::partitions::read_partition;
use crate::ports::{LedgerEntry, LedgerPath};
use crate::step::StepError;

pub(super) async fn run(
    ports: ImportPorts<'_>,
    run: &ImportRun,
    v: &mut Verification,
    deadline: Deadline,
) -> Result<(), StepError> {
    let partitions = run.partitions();
    let mut first = true;
    while v.next_partition < partitions && (first || !deadline.expired()) {
        first = false;
        join_partition(ports, run, v, v.next_partition).await?;
        v.next_partition += 1;
    }
    if v.next_partition >= partitions {
        if v.target_users_not_in_backup > 0 && run.target_was_empty && !run.verify_only {
            v.differ(
                &run.target.pool_id,
                format!("{} users in the target pool that the backup does not have", v.target_users_not_in_backup),
            );
        }
        v.phase = Phase::Groups;
    }
    Ok(())
}

async fn join_partition(
    ports: ImportPorts<'_>,
    run: &ImportRun,
    v: &mut Verification,
    partition: u32,
) -> Result<(), StepError> {
    let records: Vec<UserRecord> = read_partition(ports.objects, &partitions_prefix(run), partition).await?;
    let (mut backup, mut target) = (BTreeMap::new(), BTreeMap::new());
    for r in records {
        let side = if r.side == 'b' { &mut backup } else { &mut target };
        side.insert(r.name.clone(), r);
    }
    let names: Vec<String> = backup.keys().cloned().collect();
    let ledger: BTreeMap<String, LedgerEntry> = ports
        .ledger
        .by_usernames(&run.target.pool_id, &names)
        .await
        .map_err(StepError::port("reading the restore ledger"))?
        .into_iter()
        .map(|e| (e.username.clone(), e))
        .collect();
    let (mut rows, mut mapped) = (Vec::new(), Vec::new());
    for (name, expected) in &backup {
        let entry = ledger.get(name);
        let Some(actual) = target.remove(name) else {
            match entry.and_then(|e| e.failure.clone()) {
                Some(why) => {
                    v.users_explained += 1;
                    if v.differences.len() < LISTED_DIFFERENCES {
                        v.differences
                            .push(Difference { subject: expected.sub.clone(), what: format!("not restored: {why}") });
                    }
                }
                None => {
                    v.users_missing += 1;
                    v.differ(&expected.sub, "not found in the target pool");
                }
            }
            continue;
        };
        let differences = expected.differences(&actual);
        if differences.is_empty() {
            v.users_verified += 1;
        } else if entry.is_some_and(|e| e.path == LedgerPath::SkippedExisting) {
            v.users_kept_by_policy += 1;
        } else {
            v.users_differing += 1;
            v.differ(&expected.sub, differences.join("; "));
        }
        rows.push(MappingRow {
            old_sub: expected.sub.clone(),
            new_sub: actual.sub.clone(),
            old_username: expected.username.clone(),
            new_username: actual.username.clone(),
            path: entry.map(|e| e.path),
        });
        if let Some(e) = entry
            && e.new_sub.as_deref() != Some(actual.sub.as_str())
        {
            mapped.push(LedgerEntry { new_sub: Some(actual.sub.clone()), ..e.clone() });
        }
    }
    v.target_users_not_in_backup += target.len() as u64;
    if !rows.is_empty() {
        sub_mapping::write_part(ports.objects, run, partition, &rows).await?;
        v.mapping_parts += 1;
    }
    if !run.dry_run {
        ports.ledger.record(&mapped).await.map_err(StepError::port("writing the sub mapping to the restore ledger"))?;
    }
    Ok(())
}
