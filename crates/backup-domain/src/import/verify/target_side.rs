//! Phase 2: the target's users, listed at the rate budget, into the same partitions.

use super::{Phase, UserRecord, Verification, partitions_prefix};
use crate::Deadline;
use crate::import::{ImportPorts, ImportRun};
use crate::listing::{SegmentedListing, UserCounts};
use crate::partitions::PartitionWriter;
use crate::step::StepError;

pub(super) async fn run(
    ports: ImportPorts<'_>,
    run: &ImportRun,
    v: &mut Verification,
    concurrency: usize,
    deadline: Deadline,
) -> Result<(), StepError> {
    if !v.target_listing.started {
        v.target_listing = SegmentedListing::whole_pool(concurrency);
    }
    let label = format!("target-{:06}", v.invocations);
    let writer =
        tokio::sync::Mutex::new(PartitionWriter::new(ports.objects, partitions_prefix(run), run.partitions(), label));
    let mut listing = v.target_listing.clone();
    listing
        .run(
            ports.target,
            concurrency,
            deadline,
            || ports.clock.now_ms(),
            |users, _| {
                let writer = &writer;
                async move {
                    let mut counts = UserCounts::default();
                    let mut writer = writer.lock().await;
                    for user in &users {
                        counts.users += 1;
                        match UserRecord::actual(user, run) {
                            Some(record) => writer.add(&record.name.clone(), &record).await?,
                            // A target user with no name the backup could have: it is in the target only.
                            None => counts.without_sub += 1,
                        }
                    }
                    Ok(counts)
                }
            },
        )
        .await?;
    writer.into_inner().flush().await?;
    v.target_listing = listing;
    if v.target_listing.done() {
        v.target_users_not_in_backup += v.target_listing.counts.without_sub;
        v.phase = Phase::Join;
    }
    Ok(())
}
