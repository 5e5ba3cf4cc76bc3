//! The acceptance bar of the reproduction: the six task-3 rows of the report's table. Too slow for
//! the ordinary test run (ten full runs): `make reproduce-check` trains them into a fresh
//! temporary directory and runs this test on it (MLP_REPRODUCE_DIR).

use std::path::PathBuf;

use mlp::experiment::reproduce::table_rows;
use mlp::experiment::summary::collect_runs;

#[test]
#[ignore = "needs the output of `mlp reproduce` in MLP_REPRODUCE_DIR (make reproduce-check)"]
fn the_six_task3_rows_match_the_report() {
    let dir =
        PathBuf::from(std::env::var("MLP_REPRODUCE_DIR").expect("MLP_REPRODUCE_DIR: where `mlp reproduce` wrote"));
    let rows = table_rows(&collect_runs(&[dir]).unwrap().runs);
    for preset in ["basic", "iw", "is", "momentum", "is-iw", "all"] {
        let row = rows.iter().find(|r| r.preset == preset).unwrap_or_else(|| panic!("no run for {preset}"));
        assert_eq!(row.matches, "yes", "{row:?}");
    }
}
