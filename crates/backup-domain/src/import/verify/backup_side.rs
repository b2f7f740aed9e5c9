//! Phase 1: the backup's restorable users into partitions by target name, and its groups into their own
//! objects (phase 4 checks them without scanning the table a second time).

use std::collections::HashMap;

use super::groups::KeptGroup;
use super::{Phase, UserRecord, Verification, groups_prefix, partitions_prefix};
use crate::Deadline;
use crate::import::{ImportPorts, ImportRun};
use crate::partitions::PartitionWriter;
use crate::schema::BackupItem;
use crate::step::StepError;

pub(super) async fn run(
    ports: ImportPorts<'_>,
    run: &ImportRun,
    v: &mut Verification,
    deadline: Deadline,
) -> Result<(), StepError> {
    let label = format!("backup-{:06}", v.invocations);
    let mut writer = PartitionWriter::new(ports.objects, partitions_prefix(run), run.partitions(), label.clone());
    let mut groups = PartitionWriter::new(ports.objects, groups_prefix(run), 1, label);
    let mut members: HashMap<String, u64> = HashMap::new();
    let mut scan = v.backup_scan.clone();
    scan.follow(ports.store, deadline, async |items| {
        for group in items.iter().filter_map(BackupItem::as_group) {
            v.backup_groups += 1;
            groups.add(&group.group_name, &KeptGroup::Group(group.clone())).await?;
        }
        for membership in items.iter().filter_map(BackupItem::as_membership) {
            *members.entry(membership.group_name.clone()).or_default() += 1;
        }
        for user in items.iter().filter_map(BackupItem::as_user) {
            match UserRecord::expected(user, run) {
                Some(record) => {
                    v.restorable_users += 1;
                    writer.add(&record.name.clone(), &record).await?;
                }
                None => v.not_restorable_users += 1,
            }
        }
        Ok(true)
    })
    .await?;
    writer.flush().await?;
    for (group, count) in members {
        groups.add(&group, &KeptGroup::Members { group: group.clone(), count }).await?;
    }
    groups.flush().await?;
    v.backup_scan = scan;
    if v.backup_scan.done {
        v.phase = Phase::Target;
    }
    Ok(())
}
