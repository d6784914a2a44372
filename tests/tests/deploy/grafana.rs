//! The Grafana dashboard (`deploy/grafana/latchkey.json`) uses exactly the
//! metrics the code emits: none it names is missing, none emitted is left
//! out.

use crate::support;
use std::collections::BTreeSet;

/// The metric names the sources of the services emit.
fn emitted() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for crate_dir in ["core", "gateway", "workers", "admin"] {
        for file in support::files_below(&support::root().join(crate_dir).join("src")) {
            if file.extension().is_none_or(|extension| extension != "rs") {
                continue;
            }
            let source = std::fs::read_to_string(&file).unwrap();
            for macro_name in ["counter!(", "histogram!(", "gauge!("] {
                for (at, _) in source.match_indices(&format!("metrics::{macro_name}")) {
                    let rest = &source[at + "metrics::".len() + macro_name.len()..];
                    let name = rest.trim_start().strip_prefix('"').unwrap();
                    names.insert(name[..name.find('"').unwrap()].to_owned());
                }
            }
        }
    }
    names
}

/// The metric names the dashboard's queries use (a histogram's `_bucket`,
/// `_sum` and `_count` series count as the histogram).
fn charted() -> BTreeSet<String> {
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(support::deploy("grafana/latchkey.json")).unwrap(),
    )
    .unwrap();
    let mut names = BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for (at, _) in expr.match_indices("latchkey_") {
                let name: String = expr[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                let name = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|suffix| name.strip_suffix(suffix))
                    .unwrap_or(&name);
                names.insert(name.to_owned());
            }
        }
    }
    names
}

#[test]
fn the_dashboard_charts_every_metric_the_code_emits_and_no_other() {
    let (emitted, charted) = (emitted(), charted());
    assert!(
        emitted.len() >= 10,
        "the scan found the metrics: {emitted:?}"
    );
    assert_eq!(
        charted, emitted,
        "left: in the dashboard, right: in the code"
    );
}
