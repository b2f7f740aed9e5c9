//! What the simulation reports: per workflow, its time against its floor and its use of AWS's limits.

use std::collections::BTreeMap;

use backup_domain::export::driver::Invocations;
use backup_domain::import::driver::Progress;
use backup_domain::memory::CognitoModel;
use backup_domain::schema::ExportMarkerItem;
use backup_domain::settings::QuotaSettings;
use backup_domain::workflow_trace::Trace;
use serde::Serialize;

use crate::{LAMBDA_TIMEOUT, Settings, SimulationError, floors};

/// Step Functions' and Lambda's limits.
#[derive(Debug, Clone, Serialize)]
pub struct Limits {
    pub state_bytes: usize,
    pub history_events: u64,
    pub invocation_seconds: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Self { state_bytes: 262_144, history_events: 25_000, invocation_seconds: LAMBDA_TIMEOUT.as_secs_f64() }
    }
}

/// One workflow run.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    pub users: u64,
    pub memberships: u64,
    pub seconds: f64,
    pub floor_seconds: f64,
    pub ratio: f64,
    /// The category (or the CSV import jobs) whose floor is the largest.
    pub binding: String,
    pub floors: BTreeMap<String, f64>,
    pub throttled_calls: u64,
    pub invocations: usize,
    pub max_state_bytes: usize,
    pub history_events: u64,
    pub longest_invocation_seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
}

impl Phase {
    fn new(
        users: u64,
        memberships: u64,
        seconds: f64,
        floors: BTreeMap<String, f64>,
        model: &CognitoModel,
        trace: &Trace,
    ) -> Self {
        let (binding, floor_seconds) =
            floors.iter().max_by(|a, b| a.1.total_cmp(b.1)).map(|(k, v)| (k.clone(), *v)).unwrap_or_default();
        Self {
            users,
            memberships,
            seconds,
            floor_seconds,
            ratio: seconds / floor_seconds.max(f64::MIN_POSITIVE),
            binding,
            floors,
            throttled_calls: model.calls().values().map(|c| c.throttled).sum(),
            invocations: trace.calls.len(),
            max_state_bytes: trace.max_state_bytes(),
            history_events: trace.history_events(),
            longest_invocation_seconds: trace.longest_invocation().as_secs_f64(),
            verified: None,
        }
    }

    pub(crate) fn of_export(
        settings: &Settings,
        marker: &ExportMarkerItem,
        seconds: f64,
        model: &CognitoModel,
        quota: QuotaSettings,
        trace: &Trace,
    ) -> Self {
        let per_group = settings.users_per_group.max(1) as u64;
        let users = settings.users as u64;
        let groups = (0..users.div_ceil(per_group)).map(|g| per_group.min(users - g * per_group));
        let floor = floors::export_seconds(users, groups, quota);
        let floors = BTreeMap::from([("UserList".to_owned(), floor)]);
        let mut phase = Self::new(marker.counts.users, marker.counts.memberships, seconds, floors, model, trace);
        phase.verified = Some(marker.counts.users == users && marker.counts.memberships == users);
        phase
    }

    pub(crate) fn of_restore(
        settings: &Settings,
        memberships: u64,
        progress: &Progress,
        seconds: f64,
        model: &CognitoModel,
        quota: QuotaSettings,
    ) -> Result<Self, SimulationError> {
        let report = progress.report.as_ref().ok_or_else(|| SimulationError("the restore wrote no report".into()))?;
        let csv_rows = report.pipeline.as_ref().map(|p| p.csv.imported).unwrap_or(0);
        let floors = floors::restore_seconds(&model.calls(), csv_rows, settings.import_users_per_second, quota);
        let verified = report.verification.users_verified;
        let mut phase =
            Self::new(verified, report.verification.memberships_verified, seconds, floors, model, &progress.trace);
        phase.verified = Some(report.verified && phase.memberships == memberships);
        Ok(phase)
    }
}

/// The unchanged re-export: how much of the backup it rewrote.
#[derive(Debug, Clone, Serialize)]
pub struct Reexport {
    pub items: u64,
    pub written: u64,
    pub written_share: f64,
    pub seconds: f64,
    pub invocations: u32,
}

impl Reexport {
    pub(crate) fn new(items: u64, written: u64, seconds: f64, invocations: &Invocations) -> Self {
        let written_share = written as f64 / items.max(1) as f64;
        Self { items, written, written_share, seconds, invocations: crate::invocation_count(invocations) }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub users: usize,
    pub subs: crate::SubShape,
    pub quota_share: f64,
    pub quota_scale: f64,
    pub latency_ms: u128,
    pub import_users_per_second: f64,
    pub export: Phase,
    pub reexport: Reexport,
    pub restore: Phase,
    pub limits: Limits,
    /// No state over 256 KB, no history over 25,000 events, no invocation over 15 minutes.
    pub within_limits: bool,
}

impl Report {
    pub(crate) fn new(settings: &Settings, export: Phase, reexport: Reexport, restore: Phase) -> Self {
        let limits = Limits::default();
        let within = |p: &Phase| {
            p.max_state_bytes <= limits.state_bytes
                && p.history_events <= limits.history_events
                && p.longest_invocation_seconds <= limits.invocation_seconds
        };
        let within_limits = within(&export) && within(&restore);
        Self {
            users: settings.users,
            subs: settings.subs,
            quota_share: settings.quota_share,
            quota_scale: settings.quota_scale,
            latency_ms: settings.latency.as_millis(),
            import_users_per_second: settings.import_users_per_second,
            export,
            reexport,
            restore,
            limits,
            within_limits,
        }
    }

    /// The table the binary prints.
    pub fn table(&self) -> String {
        let row = |name: &str, p: &Phase| {
            format!(
                "{name:<8} {:>9} users {:>9} memberships {:>10.0} s  floor {:>10.0} s ({})  ratio {:>5.3}  state ≤ {:>6} B  history {:>6} events  longest invocation {:>5.0} s\n",
                p.users,
                p.memberships,
                p.seconds,
                p.floor_seconds,
                p.binding,
                p.ratio,
                p.max_state_bytes,
                p.history_events,
                p.longest_invocation_seconds
            )
        };
        let mut out = format!(
            "{} users, {:?} subs, quota share {} × scale {}, {} ms per call, CSV import {} users/s\n",
            self.users, self.subs, self.quota_share, self.quota_scale, self.latency_ms, self.import_users_per_second
        );
        out.push_str(&row("export", &self.export));
        out.push_str(&format!(
            "re-export {} of {} items written ({:.3} %) in {:.0} s\n",
            self.reexport.written,
            self.reexport.items,
            self.reexport.written_share * 100.0,
            self.reexport.seconds
        ));
        out.push_str(&row("restore", &self.restore));
        out.push_str(&format!(
            "limits: state {} B, history {} events, invocation {} s: {}\n",
            self.limits.state_bytes,
            self.limits.history_events,
            self.limits.invocation_seconds,
            if self.within_limits { "every one respected" } else { "EXCEEDED" }
        ));
        out
    }
}
