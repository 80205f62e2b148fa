//! /metrics of resource governance and LAN discovery, from `stats`' `lan`
//! section: what the governor measured, the budgets, and each action taken.

use prometheus_client::registry::Registry;
use serde_json::Value;

use super::{counter, gauge, num};

pub fn lan(r: &mut Registry, stats: &Value) {
    let g = ["lan", "governance"];
    let at = |path: &[&str]| num(stats, &[&g[..], path].concat());
    gauge(
        r,
        "governance_rss_megabytes",
        "Resident memory the governor last measured",
        at(&["measured", "rss_mb"]),
    );
    gauge(
        r,
        "governance_cpu_percent",
        "CPU the governor last measured (100 = one core)",
        at(&["measured", "cpu_percent"]),
    );
    gauge(
        r,
        "governance_memory_budget_megabytes",
        "resources.max_memory_mb (absent: no budget)",
        at(&["max_memory_mb"]),
    );
    gauge(
        r,
        "governance_cpu_budget_percent",
        "resources.max_cpu_percent (absent: no budget)",
        at(&["max_cpu_percent"]),
    );
    let over = stats
        .pointer("/lan/governance/over_memory_budget")
        .and_then(Value::as_bool)
        .map(u64::from);
    gauge(
        r,
        "governance_over_memory_budget",
        "1 while new agents are refused and background work is shed",
        over,
    );
    let actions = [
        (
            "governance_memory_over_budget",
            "Times the node reached its memory budget",
            "memory_over_budget",
        ),
        (
            "governance_memory_recovered",
            "Times the node fell back under its memory budget",
            "memory_recovered",
        ),
        (
            "governance_throttled",
            "Times a priority's slow layers were throttled",
            "throttled",
        ),
        (
            "governance_released",
            "Times a priority's slow layers were released",
            "released",
        ),
    ];
    for (name, help, key) in actions {
        counter(r, name, help, at(&["measured", key]));
    }
    counter(
        r,
        "governance_spawns_refused",
        "Spawns refused by the memory budget",
        at(&["spawns_refused"]),
    );
    counter(
        r,
        "governance_background_passes_shed",
        "Retention and export passes skipped over the memory budget",
        at(&["background_passes_shed"]),
    );
    for priority in ["low", "normal", "high"] {
        gauge(
            r,
            &format!("governance_throttle_factor_{priority}"),
            "How many times slower this priority's slow layers run",
            at(&["throttle", priority]),
        );
    }
    let d = |key: &str| num(stats, &["lan", "discovery", key]);
    counter(
        r,
        "discovery_announcements_sent",
        "LAN announcements sent",
        d("sent"),
    );
    counter(
        r,
        "discovery_announcements_heard",
        "LAN announcements heard from other nodes",
        d("heard"),
    );
    counter(
        r,
        "discovery_announcements_refused",
        "LAN datagrams refused (undecodable, out of bounds, over a limit)",
        d("refused"),
    );
    gauge(
        r,
        "discovery_nodes_known",
        "Nodes heard on the LAN and not yet expired",
        d("known"),
    );
}
