//! The console's commands and their synopses, for `help`, completion and
//! the parser's test that every example in them parses.

/// Every command, with its synopsis, for `help` and completion.
pub const COMMANDS: [(&str, &str); 22] = [
    (
        "nodes",
        "nodes — members with role, state, address, agents, uptime",
    ),
    (
        "tree",
        "tree [NODE] — the live supervision tree: strategy, status, restarts, last failure",
    ),
    (
        "agents",
        "agents [NODE] — agents with their layers' status and restarts",
    ),
    (
        "events",
        "events [--tenant T] [--node N] [--agent A] [--kind K] [--trace ID] [--since 5m|SEQ] [--limit N] [--follow]",
    ),
    (
        "trace",
        "trace ID — every event of a trace, in time order, indented by span",
    ),
    (
        "send",
        "send PATH JSON — a one-way message, mapped by serde onto the actor's message type.\n  An agent (AGENT or NODE/agents/AGENT) takes an AgentMsg:\n    send swarmd-1 {\"EmergencyStop\": {\"reason\": \"test\"}}\n    send swarmd-1 \"Resume\"\n    send swarmd-1 {\"Config\": {\"MoveEveryTicks\": 2}}\n  The planner (NODE/cloud/missions) takes a MissionMsg:\n    send swarmd/cloud/missions {\"Submit\": {\"goal\": {\"Fetch\": {\"item\": {\"x\": 3, \"y\": 1}, \"dock\": {\"x\": 0, \"y\": 0}}}, \"squad\": \"default\"}}",
    ),
    (
        "call",
        "call PATH JSON — a request to an actor that answers; prints the reply:\n  call NODE/cluster/gateway \"Members\"   (or \"Stats\")\n  call NODE/cloud/missions \"Missions\"",
    ),
    (
        "mission",
        "mission JSON — submit a mission; prints its id, e.g.\n  mission {\"cover\": {\"sector\": {\"min\": {\"x\": 0, \"y\": 0}, \"max\": {\"x\": 4, \"y\": 4}}}}\n  mission {\"fetch\": {\"item\": {\"x\": 3, \"y\": 1}, \"dock\": {\"x\": 0, \"y\": 0}}, \"squad\": \"default\"}\n  mission {\"task\": {\"kind\": \"deliver\", \"payload\": {\"to\": [50, 80]}, \"priority\": 5}}   (a domain's task; optional: capabilities, timeout_ms)\nmission --recipe FILE [--squad S] — run a recipe (steps with needs, retries, timeouts); `missions` shows each step",
    ),
    (
        "missions",
        "missions — missions with their tasks and progress",
    ),
    (
        "world",
        "world — the floor (on the node that hosts it): shelves, docks, hazards, agents with their waypoints",
    ),
    (
        "spawn",
        "spawn KIND JSON [--node N | --place] [--supervised] — start an agent here, on node N, or (--place) on the node that can host it best; --supervised: the cloud restarts it, and moves it (or reports it lost) when its node dies, e.g. spawn grid {\"id\": \"a9\", \"capabilities\": [\"carry\"]} --place --supervised",
    ),
    ("stop", "stop AGENT — stop an agent and forget it"),
    (
        "replay",
        "replay AGENT [--at SEQ|5m] — the agent's folded state and decisions at that point",
    ),
    (
        "estop",
        "estop [AGENT|all] — emergency-stop one agent, or all of this node's",
    ),
    (
        "resume",
        "resume [AGENT|all] — resume after an emergency stop",
    ),
    (
        "kill",
        "kill PATH [--reason TEXT] — kill an actor as a crash would (fault injection), e.g. kill swarmd/agents/swarmd-1/reflex",
    ),
    (
        "stats",
        "stats [NODE] — messages, restarts, gateway frames and drops",
    ),
    (
        "dlq",
        "dlq list | dlq show ID | dlq replay ID|--all — recipe steps (RUN/STEP) and board tasks (task/MISSION/TASK) whose attempts are spent, with their failures; replay one (or all) once the cause is fixed",
    ),
    (
        "board",
        "board — the task board: partitions (open, leased), leases, circuit breakers, claims per tenant, dead tasks and counts",
    ),
    ("help", "help [CMD]"),
    ("quit", "quit — leave the console (also: exit, Ctrl-D)"),
    ("exit", "exit — leave the console"),
];
