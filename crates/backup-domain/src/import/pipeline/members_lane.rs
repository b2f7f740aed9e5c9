//! Memberships, as soon as their user exists (the other lanes queue each user they create or find) and
//! once every group exists.

use std::sync::atomic::Ordering;

use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::queue::QueueCursor;
use super::{IDLE_POLL, Lanes, MemberWork};
use crate::ports::PortError;
use crate::step::{CONCURRENT_LISTINGS, StepError};

const BATCH: usize = 64;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MembersLane {
    pub done: bool,
    pub added: u64,
    /// Memberships whose user or group was not in the target pool.
    pub missing: u64,
}

impl Lanes<'_> {
    pub async fn members(
        &self,
        mut lane: MembersLane,
        mut queue: QueueCursor,
    ) -> Result<(MembersLane, QueueCursor), StepError> {
        let result = self.members_until_deadline(&mut lane, &mut queue).await;
        self.shared.members_idle.store(true, Ordering::SeqCst);
        result.map(|()| (lane, queue))
    }

    async fn members_until_deadline(&self, lane: &mut MembersLane, queue: &mut QueueCursor) -> Result<(), StepError> {
        // Every group must exist first.
        while !self.shared.groups_done.load(Ordering::SeqCst) {
            if !self.shared.groups_active.load(Ordering::SeqCst) || self.deadline.expired() {
                return Ok(());
            }
            tokio::time::sleep(IDLE_POLL).await;
        }
        let mut first = true;
        let mut cached: Option<(u32, Vec<MemberWork>)> = None;
        loop {
            if !first && self.deadline.expired() {
                return Ok(());
            }
            first = false;
            if !queue.drained() {
                if cached.as_ref().is_none_or(|(p, _)| *p != queue.part) {
                    let from_start = QueueCursor { offset: 0, ..queue.clone() };
                    cached = Some((queue.part, self.shared.members.read_part(self.ports.objects, &from_start).await?));
                }
                let items = cached.as_ref().map(|(_, i)| i.as_slice()).unwrap_or_default();
                let batch: Vec<MemberWork> = items.iter().skip(queue.offset as usize).take(BATCH).cloned().collect();
                if batch.is_empty() {
                    (queue.part, queue.offset) = (queue.part + 1, 0);
                    continue;
                }
                queue.offset += batch.len() as u64;
                self.member_batch(lane, batch).await?;
                continue;
            }
            let batch = self.shared.members.take(BATCH);
            if !batch.is_empty() {
                self.shared.members_idle.store(false, Ordering::SeqCst);
                self.member_batch(lane, batch).await?;
                continue;
            }
            self.shared.members_idle.store(true, Ordering::SeqCst);
            let producing =
                self.shared.csv_active.load(Ordering::SeqCst) || self.shared.direct_active.load(Ordering::SeqCst);
            if !producing {
                return Ok(());
            }
            tokio::time::sleep(IDLE_POLL).await;
        }
    }

    async fn member_batch(&self, lane: &mut MembersLane, batch: Vec<MemberWork>) -> Result<(), StepError> {
        let (target, run) = (self.ports.target, self.run);
        let adds: Vec<(String, String, String)> = batch
            .into_iter()
            .flat_map(|m| m.groups.into_iter().map(move |g| (m.name.clone(), m.old_sub.clone(), g)))
            .collect();
        let mut results = futures::stream::iter(adds)
            .map(|(name, sub, group)| async move { (target.add_to_group(&name, &group).await, sub, group) })
            .buffer_unordered(CONCURRENT_LISTINGS);
        while let Some((result, sub, group)) = results.next().await {
            match result {
                Ok(()) => lane.added += 1,
                Err(PortError::NotFound(_)) => {
                    lane.missing += 1;
                    self.shared.problem(
                        &sub,
                        format!("member of group {group} in the backup; the user or group is not in the target pool"),
                    );
                }
                Err(source) => {
                    return Err(StepError::Port {
                        context: format!(
                            "adding the user with backup sub {sub} to group {group} in {}",
                            run.target.pool_id
                        ),
                        source,
                    });
                }
            }
        }
        Ok(())
    }
}
