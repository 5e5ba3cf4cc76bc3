//! The acceptance bar of the reproduction: the six task-3 rows of the report's table. Too slow for
//! CI (ten full runs); `make reproduce-check` runs `mlp reproduce` first, then this test reads
//! results/report/.

use std::path::Path;

use mlp::experiment::reproduce::table_rows;
use mlp::experiment::summary::collect_runs;

#[test]
#[ignore = "needs results/report from `make reproduce` (several minutes)"]
fn the_six_task3_rows_match_the_report() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/report");
    let rows = table_rows(&collect_runs(&[dir]));
    for preset in ["basic", "iw", "is", "momentum", "is-iw", "all"] {
        let row = rows.iter().find(|r| r.preset == preset).unwrap_or_else(|| panic!("no run for {preset}"));
        assert_eq!(row.matches, "yes", "{row:?}");
    }
}
