//! Every numeric config key's range, through `swarmd config check`: a value
//! just outside is refused naming the key; the bounds themselves pass the
//! range check.

mod support;

use support::{run, write_file};
use swarmd_config::BOUNDS;

async fn check(dir: &std::path::Path, key: &str, value: u64) -> (Option<i32>, String) {
    let (section, name) = key.split_once('.').expect("section.key");
    let text = format!("[{section}]\n{name} = {value}\n");
    let file = write_file(dir, &format!("{key}-{value}.toml"), &text);
    let (status, _, stderr) = run(&["config", "check", file.to_str().unwrap()], &[]).await;
    (status.code(), stderr)
}

#[tokio::test]
async fn every_numeric_key_is_bounded_and_named_when_out_of_range() {
    let dir = tempfile::tempdir().unwrap();
    assert!(BOUNDS.len() >= 25, "the table covers the config");
    for bound in BOUNDS {
        let (key, range) = (bound.key, &bound.range);
        let (min, max) = (*range.start(), *range.end());
        let mut outside = vec![max + 1];
        if min > 0 {
            outside.push(min - 1);
        }
        for value in outside {
            let (code, stderr) = check(dir.path(), key, value).await;
            assert_eq!(code, Some(2), "{key} = {value} accepted");
            assert!(
                stderr.contains(&format!("{key}: {value} is outside {min}..={max}")),
                "{key} = {value}: {stderr}"
            );
        }
        for value in [min, max] {
            // Cross-key rules may still refuse a bound (e.g. suspect_after
            // against the heartbeat), but never the range itself.
            let (_, stderr) = check(dir.path(), key, value).await;
            assert!(!stderr.contains("is outside"), "{key} = {value}: {stderr}");
        }
    }
}
