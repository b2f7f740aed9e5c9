//! The scale test: the benchmark, small, with every limit of the local cloud on (Cognito's quotas, Lambda's
//! memory and timeout, Step Functions' payload and history limits, UUIDv7 subs). A limit crossed fails the
//! run; the test checks each on top.

use local_harness::Result;
use local_harness::benchmark::{self, BenchmarkSettings};
use local_harness::local_cloud::LocalCloud;

/// Every function's MemorySize in the stack (infra/src/definitions.rs).
const SMALLEST_MEMORY_MB: f64 = 128.0;

#[tokio::test(flavor = "multi_thread")]
async fn a_uuidv7_pool_exports_and_restores_within_every_limit() -> Result<()> {
    let cloud = LocalCloud::connect().await?;
    let settings = BenchmarkSettings {
        users: 1_500,
        subs: "uuidv7".into(),
        quota_scale: 10.0,
        latency_ms: 20,
        users_per_group: 250,
        // All created at once: their subs share the most leading digits, the listing's hardest case.
        created_over_days: 0.0,
    };
    let results = benchmark::run(&cloud, &settings).await?;
    println!("{}", results.table());

    assert_eq!(results.export.users, 1_500, "every user exported once");
    assert_eq!(results.export.memberships, Some(1_500));
    assert_eq!(results.restore.users, 1_500, "every user restored and verified");
    assert_eq!(results.restore.memberships, Some(1_500));
    assert!(results.reexport.items >= 3_000);
    assert!(results.reexport.written * 100 <= results.reexport.items, "an unchanged re-export writes at most 1 %");
    assert!(results.export.history_events < 25_000 && results.restore.history_events < 25_000);
    assert!(!results.peak_rss_mb.is_empty(), "memory was measured");
    for (function, mb) in &results.peak_rss_mb {
        assert!(*mb <= SMALLEST_MEMORY_MB, "{function} peaked at {mb} MB");
    }
    // Quotas were on: the floors are real, and no run beats its floor.
    assert!(results.export.ratio >= 0.95 && results.restore.ratio >= 0.95, "{results:?}");
    Ok(())
}
