//! Human-readable output of command results; `--json` prints them as JSON
//! Lines instead (an array one element per line).

use std::fmt::Write as _;

use serde_json::Value;

use swarmd_control::Command;

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
        Command::Board => board(value),
        Command::Events(_) => value.as_array().map_or_else(String::new, |es| {
            es.iter().map(|e| format!("{}\n", event(e))).collect()
        }),
        _ => plain(value),
    }
}

/// Any other answer, for a person: one `key  value` line per leaf, nested
/// keys dotted (`gateway.frames_in`), keys aligned; a list of records is
/// one such block per record.
fn plain(value: &Value) -> String {
    match value {
        Value::Array(items) if items.iter().any(Value::is_object) => {
            items.iter().map(plain).collect::<Vec<_>>().join("\n")
        }
        Value::Object(_) => {
            let mut leaves = Vec::new();
            flatten("", value, &mut leaves);
            let width = leaves.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
            leaves
                .iter()
                .map(|(key, v)| format!("{key:<width$}  {v}\n"))
                .collect()
        }
        other => format!("{}\n", leaf(other)),
    }
}

fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    let key = |k: &str| match prefix {
        "" => printable(k),
        p => format!("{p}.{}", printable(k)),
    };
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                flatten(&key(k), v, out);
            }
        }
        Value::Array(items) if items.iter().any(|v| v.is_object() || v.is_array()) => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), v, out);
            }
        }
        other => out.push((prefix.to_string(), leaf(other))),
    }
}

fn leaf(value: &Value) -> String {
    match value {
        Value::Array(items) => items.iter().map(s).collect::<Vec<_>>().join(", "),
        Value::Object(_) => "{}".into(),
        other => s(other),
    }
}

/// A cell. Strings may come from other nodes (or a LAN datagram): control
/// characters are escaped, so none reaches the operator's terminal.
fn s(v: &Value) -> String {
    match v {
        Value::String(s) => printable(s),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
#[test]
fn other_answers_print_as_aligned_dotted_keys() {
    let stats = serde_json::json!({"gateway": {"frames_in": 3, "peers": ["a", "b"]}, "up": true});
    assert_eq!(
        plain(&stats),
        "gateway.frames_in  3\ngateway.peers      a, b\nup                 true\n"
    );
    let killed = serde_json::json!({"killed": "n/agents/a1/reflex"});
    assert_eq!(plain(&killed), "killed  n/agents/a1/reflex\n");
}

#[cfg(test)]
#[test]
fn control_characters_in_remote_strings_are_escaped() {
    let cell = s(&Value::String("10.0.0.1:1\u{1b}[2J\u{7}\n".into()));
    assert_eq!(cell, "10.0.0.1:1\\u{1b}[2J\\u{7}\\n");
    assert!(!cell.chars().any(char::is_control));
}

fn board(b: &Value) -> String {
    let mut out = format!(
        "admission {}, {} live tasks per partition, lease {} ms, {} attempts\n",
        s(&b["admission"]),
        s(&b["capacity"]),
        s(&b["lease_ms"]),
        s(&b["max_attempts"])
    );
    let _ = writeln!(out, "{:<24} {:>6} {:>6}", "PARTITION", "OPEN", "LEASED");
    for p in b["partitions"].as_array().into_iter().flatten() {
        let (name, open, leased) = (s(&p["partition"]), s(&p["open"]), s(&p["leased"]));
        let _ = writeln!(out, "{name:<24} {open:>6} {leased:>6}");
    }
    let _ = writeln!(
        out,
        "{:<12} {:<20} {:>7} {:>10}",
        "TASK", "LEASED TO", "ATTEMPT", "EXPIRES"
    );
    for l in b["leases"].as_array().into_iter().flatten() {
        let (task, agent, attempt) = (s(&l["task"]), s(&l["agent"]), s(&l["attempt"]));
        let expires = format!("{}ms", s(&l["expires_in_ms"]));
        let _ = writeln!(out, "{task:<12} {agent:<20} {attempt:>7} {expires:>10}");
    }
    let breakers: Vec<String> = b["breakers"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(kind, state)| format!("{kind} {}", s(state)))
        .collect();
    let _ = writeln!(out, "breakers: {}", breakers.join(", "));
    let stats: Vec<String> = b["stats"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k} {}", s(v)))
        .collect();
    let _ = writeln!(out, "{}", stats.join(", "));
    let dead = b["dead"].as_array().map_or(0, Vec::len);
    let _ = writeln!(out, "dead tasks: {dead} (dlq list)");
    out
}

fn nodes(value: &Value) -> String {
    let mut out = format!(
        "{:<20} {:<6} {:<9} {:<22} {:<8} {:<19} {:>6} {:>8} {:>7} {:>5}  {}\n",
        "NODE",
        "ROLE",
        "STATE",
        "ADDRESS",
        "MESH",
        "LEADS",
        "AGENTS",
        "UPTIME",
        "RSS",
        "CPU",
        "CAPABILITIES"
    );
    for n in value.as_array().into_iter().flatten() {
        let uptime = n["uptime_s"]
            .as_u64()
            .map_or("-".into(), |u| format!("{u}s"));
        let capacity = &n["capacity"];
        let rss = capacity["rss_mb"]
            .as_u64()
            .map_or("-".into(), |mb| format!("{mb}MB"));
        let cpu = capacity["cpu_percent"]
            .as_u64()
            .map_or("-".into(), |p| format!("{p}%"));
        let capabilities = n["capabilities"].as_array().map_or("-".into(), |c| {
            c.iter().map(s).collect::<Vec<_>>().join(",")
        });
        let mesh = match (n["self"].as_bool(), n["mesh"]["connected"].as_bool()) {
            (Some(true), _) => "this",
            (_, Some(true)) => "linked",
            (_, Some(false)) => "unlinked",
            _ => "-",
        };
        let _ = writeln!(
            out,
            "{:<20} {:<6} {:<9} {:<22} {:<8} {:<19} {:>6} {:>8} {:>7} {:>5}  {}",
            s(&n["name"]),
            s(&n["role"]),
            s(&n["state"]),
            s(&n["address"]),
            mesh,
            leads(&n["leads"]),
            s(&n["agents"]),
            uptime,
            rss,
            cpu,
            capabilities
        );
    }
    out
}

/// `t7 since 13:04:05` (UTC): the cloud tier's lease, on the cloud holding it.
fn leads(lead: &Value) -> String {
    let (Some(token), Some(since_ms)) = (lead["token"].as_u64(), lead["since_ms"].as_u64()) else {
        return "-".into();
    };
    let day_s = (since_ms / 1000) % 86_400;
    let (h, m, sec) = (day_s / 3600, (day_s / 60) % 60, day_s % 60);
    format!("t{token} since {h:02}:{m:02}:{sec:02}")
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
    let on = node["node"]
        .as_str()
        .map(|n| format!(" on {n}"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{indent}{}{strategy} {}{on} restarts={restarts}{failure}",
        s(&node["id"]),
        s(&node["status"])
    );
    for child in node["children"].as_array().into_iter().flatten() {
        tree(child, depth + 1, out);
    }
}

fn agents(value: &Value) -> String {
    let mut out = format!(
        "{:<20} {:<10} {:<8} {:<9} {:>8} {:<10}  LAYERS\n",
        "AGENT", "NODE", "TENANT", "POSITION", "RESTARTS", "TASKS"
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
        let tasks: Vec<String> = a["tasks"].as_array().into_iter().flatten().map(s).collect();
        let halted = if a["halted"] == true { " HALTED" } else { "" };
        let _ = writeln!(
            out,
            "{:<20} {:<10} {:<8} {:<9} {:>8} {:<10}  {}{halted}",
            s(&a["id"]),
            s(&a["node"]),
            s(&a["tenant"]),
            s(&a["position"]),
            s(&a["restarts"]),
            if tasks.is_empty() {
                "-".to_string()
            } else {
                tasks.join(",")
            },
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

/// µs since the Unix epoch as `2026-12-01T23:41:05.123Z` (UTC).
pub fn utc(us: u64) -> String {
    let (secs, ms) = (us / 1_000_000, (us / 1000) % 1000);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (h, m, sec) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Days to a civil date (Howard Hinnant's algorithm, for days >= 0).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{sec:02}.{ms:03}Z")
}

pub fn event(e: &Value) -> String {
    let agent = e["agent"]
        .as_str()
        .map(|a| format!(" agent={a}"))
        .unwrap_or_default();
    let id = match (e["node"].as_str(), e["seq"].as_u64()) {
        (Some(node), Some(seq)) => printable(&swarmd_messages::readable_event_id(node, seq)),
        _ => format!("{}/{}", s(&e["node"]), s(&e["seq"])),
    };
    format!(
        "{} {id} {} tenant={}{agent} {}",
        utc(e["time_us"].as_u64().unwrap_or(0)),
        s(&e["kind"]),
        s(&e["tenant"]),
        e["detail"]
    )
}

/// `trace ID`: events in time order, each indented under its parent span
/// (one level in when the parent was not seen: recorded earlier, elsewhere).
pub fn trace(events: &Value) -> String {
    let mut events: Vec<&Value> = events.as_array().into_iter().flatten().collect();
    events.sort_by_key(|e| e["time_us"].as_u64().unwrap_or(0));
    let mut depth_of: std::collections::BTreeMap<String, usize> = Default::default();
    let mut out = String::new();
    for e in events {
        let span = s(&e["span_id"]);
        let depth = match e["parent_span_id"].as_str() {
            None => 0,
            Some(parent) => depth_of.get(parent).map_or(1, |d| d + 1),
        };
        depth_of.entry(span.clone()).or_insert(depth);
        let _ = writeln!(out, "{}[{span}] {}", "  ".repeat(depth), event(e));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_utc() {
        assert_eq!(utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc(951_782_400_000_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(utc(1_796_167_965_670_653), "2026-12-01T23:32:45.670Z");
    }
}
