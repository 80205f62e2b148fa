//! Human-readable output of command results; `--json` prints them as JSON
//! Lines instead (an array one element per line).

use std::fmt::Write as _;

use serde_json::Value;

use crate::control::Command;

/// The JSON Lines of a result.
pub fn json_lines(value: &Value) -> String {
    match value {
        Value::Array(items) => items.iter().map(|v| format!("{v}\n")).collect(),
        other => format!("{other}\n"),
    }
}

pub fn human(command: &Command, value: &Value) -> String {
    match command {
        Command::Nodes => nodes(value),
        Command::Tree { .. } => {
            let mut out = String::new();
            tree(value, 0, &mut out);
            out
        }
        Command::Agents { .. } => agents(value),
        Command::Missions => missions(value),
        Command::Events(_) => value.as_array().map_or_else(String::new, |es| {
            es.iter().map(|e| format!("{}\n", event(e))).collect()
        }),
        _ => format!(
            "{}\n",
            serde_json::to_string_pretty(value).unwrap_or_default()
        ),
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn nodes(value: &Value) -> String {
    let mut out = format!(
        "{:<20} {:<6} {:<8} {:<22} {:>6} {:>8}\n",
        "NODE", "ROLE", "STATE", "ADDRESS", "AGENTS", "UPTIME"
    );
    for n in value.as_array().into_iter().flatten() {
        let uptime = n["uptime_s"]
            .as_u64()
            .map_or("-".into(), |u| format!("{u}s"));
        let _ = writeln!(
            out,
            "{:<20} {:<6} {:<8} {:<22} {:>6} {:>8}",
            s(&n["name"]),
            s(&n["role"]),
            s(&n["state"]),
            s(&n["address"]),
            s(&n["agents"]),
            uptime
        );
    }
    out
}

fn tree(node: &Value, depth: usize, out: &mut String) {
    let indent = "  ".repeat(depth);
    let strategy = node["strategy"]
        .as_str()
        .map(|st| format!(" [{st}]"))
        .unwrap_or_default();
    let restarts = node["restarts"].as_u64().unwrap_or(0);
    let failure = node["last_failure"]
        .as_str()
        .map(|f| format!(" last failure: {f}"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{indent}{}{strategy} {} restarts={restarts}{failure}",
        s(&node["id"]),
        s(&node["status"])
    );
    for child in node["children"].as_array().into_iter().flatten() {
        tree(child, depth + 1, out);
    }
}

fn agents(value: &Value) -> String {
    let mut out = format!(
        "{:<24} {:<12} {:<10} {:>8}  LAYERS\n",
        "AGENT", "NODE", "TENANT", "RESTARTS"
    );
    for a in value.as_array().into_iter().flatten() {
        let layers: Vec<String> = a["layers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|l| {
                format!(
                    "{}:{}({})",
                    s(&l["layer"]),
                    s(&l["status"]),
                    s(&l["restarts"])
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "{:<24} {:<12} {:<10} {:>8}  {}",
            s(&a["id"]),
            s(&a["node"]),
            s(&a["tenant"]),
            s(&a["restarts"]),
            layers.join(" ")
        );
    }
    out
}

fn missions(value: &Value) -> String {
    let mut out = format!(
        "{:>4} {:<10} {:<12} {:>9}  GOAL\n",
        "ID", "SQUAD", "STATE", "DONE"
    );
    for m in value.as_array().into_iter().flatten() {
        let state = match &m["state"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let done = format!("{}/{}", s(&m["done"]), s(&m["tasks"]));
        let _ = writeln!(
            out,
            "{:>4} {:<10} {:<12} {:>9}  {}",
            s(&m["id"]),
            s(&m["squad"]),
            state,
            done,
            s(&m["goal"])
        );
    }
    out
}

pub fn event(e: &Value) -> String {
    let agent = e["agent"]
        .as_str()
        .map(|a| format!(" agent={a}"))
        .unwrap_or_default();
    format!(
        "{}/{} {} {} tenant={}{agent} {}",
        s(&e["node"]),
        s(&e["seq"]),
        s(&e["time_us"]),
        s(&e["kind"]),
        s(&e["tenant"]),
        e["detail"]
    )
}

/// `trace ID`: events in time order, each under the span it follows.
pub fn trace(events: &Value) -> String {
    let mut events: Vec<&Value> = events.as_array().into_iter().flatten().collect();
    events.sort_by_key(|e| e["time_us"].as_u64().unwrap_or(0));
    let mut depth_of: std::collections::BTreeMap<String, usize> = Default::default();
    let mut out = String::new();
    for e in events {
        let span = s(&e["span_id"]);
        let next = depth_of.len().min(1);
        let depth = *depth_of.entry(span.clone()).or_insert(next);
        let _ = writeln!(out, "{}[{span}] {}", "  ".repeat(depth), event(e));
    }
    out
}
