//! The console's parser: what each line becomes, and what is refused.

use super::*;

fn events_filter(line: &str) -> (EventFilter, bool) {
    match parse(line).unwrap() {
        Parsed::Run {
            command: Command::Events(f),
            follow,
        } => (f, follow),
        other => panic!("{other:?}"),
    }
}

#[test]
fn events_flags_fill_the_filter() {
    let (f, follow) = events_filter("events --kind supervision --limit 5 --node edge-1 -f");
    assert_eq!(f.kind.as_deref(), Some("supervision"));
    assert_eq!(
        (f.limit, f.node.as_deref(), follow),
        (5, Some("edge-1"), true)
    );
    let (f, _) = events_filter("events --since 5m");
    assert_eq!(f.within_ms, Some(300_000));
    let (f, _) = events_filter("events --since 17");
    assert_eq!(f.since_seq, Some(17));
}

#[test]
fn json_takes_the_rest_of_the_line_and_quotes_group_words() {
    let parsed = parse(r#"send swarmd-1 {"EmergencyStop": {"reason": "a b"}}"#).unwrap();
    let Parsed::Run {
        command: Command::Send { path, message },
        ..
    } = parsed
    else {
        panic!()
    };
    assert_eq!(path, "swarmd-1");
    assert_eq!(message["EmergencyStop"]["reason"], "a b");
    let killed = parse(r#"kill swarmd/agents/a/reflex --reason "chaos test""#).unwrap();
    let Parsed::Run {
        command: Command::Kill { reason, .. },
        ..
    } = killed
    else {
        panic!()
    };
    assert_eq!(reason.as_deref(), Some("chaos test"));
}

#[test]
fn spawn_takes_its_node_after_the_json() {
    let parsed = parse(r#"spawn grid {"id": "a9", "params": {"start": "2,3"}} --node edge-1"#);
    let Ok(Parsed::Run {
        command: Command::Spawn {
            kind, spec, node, ..
        },
        ..
    }) = parsed
    else {
        panic!("{parsed:?}")
    };
    assert_eq!((kind.as_str(), node.as_deref()), ("grid", Some("edge-1")));
    assert_eq!(spec["params"]["start"], "2,3");
    let placed = format!("{:?}", parse(r#"spawn grid {"id": "a9"} --place"#));
    assert!(
        placed.contains("node: None, place: true, supervised: false"),
        "{placed}"
    );
    let supervised = format!(
        "{:?}",
        parse(r#"spawn grid {"id": "a9"} --place --supervised"#)
    );
    assert!(
        supervised.contains("place: true, supervised: true"),
        "{supervised}"
    );
    let pinned = format!(
        "{:?}",
        parse(r#"spawn grid {"id": "a9"} --node e1 --supervised"#)
    );
    assert!(
        pinned.contains("node: Some(\"e1\"), place: false, supervised: true"),
        "{pinned}"
    );
    assert!(parse(r#"spawn grid {"id": "a9"} --supervised --place"#).is_err());
    let replayed = parse("replay a1 --at 5m").unwrap();
    let at = Some(ReplayAt::AgoMs(300_000));
    assert_eq!(
        replayed,
        run(Command::Replay {
            agent: "a1".into(),
            at
        })
    );
}

#[test]
fn json_is_a_flag_of_every_command_but_not_inside_send() {
    let (parsed, json) = parse_line("events --kind audit --json --limit 5").unwrap();
    assert!(json);
    assert!(matches!(parsed, Parsed::Run { command: Command::Events(f), .. } if f.limit == 5));
    let (_, json) = parse_line(r#"send a {"EmergencyStop": {"reason": "--json"}}"#).unwrap();
    assert!(!json);
    assert_eq!(
        parse_line("nodes --json").unwrap(),
        (run(Command::Nodes), true)
    );
}

#[test]
fn every_example_in_help_parses_and_fits_its_message_type() {
    use swarmd_messages::swarm::{AgentMsg, MissionMsg};
    let mut checked = 0;
    for (_, synopsis) in COMMANDS {
        for example in synopsis.lines().map(str::trim) {
            let Ok(parsed) = parse(example) else { continue };
            if let Parsed::Run {
                command: Command::Send { path, message },
                ..
            } = parsed
            {
                if path.ends_with("missions") {
                    serde_json::from_value::<MissionMsg>(message).unwrap();
                } else {
                    serde_json::from_value::<AgentMsg>(message).unwrap();
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 8, "{checked} examples");
}

#[test]
fn bad_input_is_a_clear_error() {
    for (line, says) in [
        ("frobnicate", "unknown command"),
        ("events --kind nope", "unknown kind"),
        ("events --limit 0", "--limit takes"),
        ("events --since 5y", "unknown unit"),
        ("events --node", "needs a value"),
        ("send a {not json", "not JSON"),
        ("send a {} extra", "after the JSON"),
        ("spawn grid {\"id\": \"a\"} --nod x", "unexpected"),
        ("replay a --at 5y", "unknown unit"),
        ("mission", "usage: mission"),
        ("kill", "usage: kill"),
        ("nodes extra", "unexpected"),
        ("tree \"unterminated", "unterminated"),
    ] {
        let e = parse(line).unwrap_err();
        assert!(e.0.contains(says), "{line:?}: {e}");
    }
    assert_eq!(parse("   ").unwrap(), Parsed::Empty);
    assert_eq!(
        parse("estop all").unwrap(),
        run(Command::Estop { agent: None })
    );
}
