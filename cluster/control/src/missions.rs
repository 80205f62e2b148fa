//! `mission`, `missions` and `call`: what the cloud's planner and the
//! node's gateway answer.

use serde::Deserialize;
use serde_json::{Value, json};
use swarmd_actors::missions::recipe::RecipeRun;
use swarmd_actors::missions::{Mission, PlannerMsg, TaskState};
use swarmd_messages::recipe::RecipePlan;
use swarmd_messages::swarm::{Cell, Goal, Rect};
use swarmd_messages::task::TaskSpec;

use super::facts::{PLANNER_TIMEOUT_MS, bad_json};
use super::protocol::DlqCommand;
use super::{ControlArgs, ControlError, ControlReply};

/// A mission as an operator writes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MissionInput {
    #[serde(flatten)]
    goal: GoalInput,
    #[serde(default = "default_squad")]
    squad: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum GoalInput {
    Cover {
        sector: Rect,
    },
    Fetch {
        item: Cell,
        dock: Cell,
    },
    /// Cells visited in order: `{"errands": {"cells": [{"x": 1, "y": 2}, …]}}`.
    Errands {
        cells: Vec<Cell>,
    },
    /// A domain's task: `{"task": {"kind": "survey", "payload": {…}}}`.
    Task(TaskInput),
}

/// A domain's task as an operator writes it: the payload is JSON of the
/// domain's own task type, checked by the domain when the planner splits it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskInput {
    kind: String,
    payload: Value,
    #[serde(default)]
    capabilities: Vec<String>,
    #[serde(default)]
    priority: u8,
    #[serde(default)]
    timeout_ms: u64,
}

impl TaskInput {
    pub fn into_spec(self) -> TaskSpec {
        TaskSpec {
            kind: self.kind,
            payload: self.payload.to_string(),
            capabilities: self.capabilities,
            priority: self.priority,
            timeout_ms: self.timeout_ms,
        }
    }
}

fn default_squad() -> String {
    "default".into()
}

fn planner(args: &ControlArgs) -> Result<ractor::ActorRef<PlannerMsg>, ControlError> {
    args.missions.get().ok_or_else(|| {
        ControlError::BadRequest(format!(
            "node {:?} plans no missions (its role is {}); connect to a cloud node",
            args.node, args.role
        ))
    })
}

fn unanswered(e: impl std::fmt::Display) -> ControlError {
    ControlError::Unavailable(format!("the mission planner: {e}"))
}

/// An operator's mission: its goal and squad, or which field is wrong.
fn parse_mission(goal: &Value) -> Result<(Goal, String), ControlError> {
    let input: MissionInput = serde_path_to_error::deserialize(goal.clone()).map_err(|e| {
        bad_json(
            "a mission ({\"cover\": {\"sector\": ...}}, {\"fetch\": ...}, {\"errands\": {\"cells\": [...]}} or {\"task\": {\"kind\": ..., \"payload\": ...}})",
            e,
        )
    })?;
    let goal = match input.goal {
        GoalInput::Cover { sector } => Goal::CoverSector { sector },
        GoalInput::Fetch { item, dock } => Goal::Fetch { item, dock },
        GoalInput::Errands { cells } => Goal::Errands { cells },
        GoalInput::Task(task) => Goal::Task(task.into_spec()),
    };
    Ok((goal, input.squad))
}

pub async fn submit(args: &ControlArgs, goal: &Value) -> ControlReply {
    let (goal, squad) = parse_mission(goal)?;
    let planner = planner(args)?;
    let id = ractor::call_t!(
        planner,
        |reply| PlannerMsg::Submit { goal, squad, reply },
        PLANNER_TIMEOUT_MS
    )
    .map_err(unanswered)?
    .map_err(|why| ControlError::BadRequest(format!("mission refused: {why}")))?;
    Ok(json!({"mission": id}))
}

pub async fn submit_recipe(
    args: &ControlArgs,
    plan: RecipePlan,
    squad: String,
    source: &str,
) -> ControlReply {
    let planner = planner(args)?;
    let offered = super::facts::offered_capabilities(args).await?;
    for step in &plan.steps {
        if let Some(wanted) = step.capability.as_ref().filter(|c| !offered.contains(*c)) {
            let offered: Vec<&str> = offered.iter().map(String::as_str).collect();
            return Err(ControlError::BadRequest(format!(
                "{source}: step {:?}: capability: no node of the cluster offers {wanted:?} (offered: {})",
                step.name,
                offered.join(", ")
            )));
        }
    }
    let name = plan.name.clone();
    let submitted = ractor::call_t!(
        planner,
        |reply| PlannerMsg::SubmitRecipe { plan, squad, reply },
        PLANNER_TIMEOUT_MS
    )
    .map_err(unanswered)?;
    let id =
        submitted.map_err(|why| ControlError::BadRequest(format!("recipe {name:?}: {why}")))?;
    Ok(json!({"mission": id, "recipe": name}))
}

/// `dlq list|show ID|replay ID|--all`: the recipe steps whose attempts
/// are spent, and their replay.
pub async fn dlq(args: &ControlArgs, command: &DlqCommand) -> ControlReply {
    let planner = planner(args)?;
    let letters = || async {
        ractor::call_t!(planner, PlannerMsg::DeadLetters, PLANNER_TIMEOUT_MS).map_err(unanswered)
    };
    let tasks = || async {
        let board = ractor::call_t!(planner, PlannerMsg::Board, PLANNER_TIMEOUT_MS);
        board.map(|b| b.dead).map_err(unanswered)
    };
    let all = || async {
        let mut all: Vec<Value> = letters().await?.iter().map(|d| json!(d)).collect();
        all.extend(tasks().await?.iter().map(|d| json!(d)));
        Ok::<_, ControlError>(all)
    };
    match command {
        DlqCommand::List => Ok(Value::Array(all().await?)),
        DlqCommand::Show { id } => {
            let letter = all().await?.into_iter().find(|d| d["id"] == *id);
            letter.ok_or_else(|| ControlError::BadRequest(format!("no dead letter {id:?}")))
        }
        DlqCommand::Replay { id } => {
            let id = id.clone();
            let replayed = ractor::call_t!(
                planner,
                |reply| PlannerMsg::Replay { id, reply },
                PLANNER_TIMEOUT_MS
            )
            .map_err(unanswered)?
            .map_err(ControlError::BadRequest)?;
            Ok(json!({ "replayed": replayed }))
        }
    }
}

/// `board`: the planner's task board.
pub async fn board(args: &ControlArgs) -> ControlReply {
    let planner = planner(args)?;
    let view =
        ractor::call_t!(planner, PlannerMsg::Board, PLANNER_TIMEOUT_MS).map_err(unanswered)?;
    Ok(serde_json::to_value(view).unwrap_or(Value::Null))
}

/// Missions and recipe runs, by id.
pub async fn list(args: &ControlArgs) -> ControlReply {
    let planner = planner(args)?;
    let missions =
        ractor::call_t!(planner, PlannerMsg::Missions, PLANNER_TIMEOUT_MS).map_err(unanswered)?;
    let recipes =
        ractor::call_t!(planner, PlannerMsg::Recipes, PLANNER_TIMEOUT_MS).map_err(unanswered)?;
    let mut rows: Vec<(u64, Value)> = missions.iter().map(|m| (m.id, mission(m))).collect();
    rows.extend(recipes.iter().map(|r| (r.id, recipe(r))));
    rows.sort_by_key(|(id, _)| *id);
    Ok(Value::Array(rows.into_iter().map(|(_, row)| row).collect()))
}

fn recipe(r: &RecipeRun) -> Value {
    let (done, steps) = r.progress();
    json!({
        "id": r.id,
        "trace_id": super::json::hex(&r.trace_id),
        "goal": format!("recipe {}", r.plan.name),
        "recipe": r.plan.name,
        "squad": r.squad,
        "state": serde_json::to_value(&r.state).unwrap_or(Value::Null),
        "tasks": steps,
        "done": done,
        "progress": done as f64 / steps.max(1) as f64,
        "steps": r.plan.steps.iter().zip(&r.steps).map(|(plan, run)| json!({
            "step": plan.name,
            "needs": plan.needs,
            "state": serde_json::to_value(&run.state).unwrap_or(Value::Null),
            "attempts": run.attempts,
        })).collect::<Vec<_>>(),
    })
}

fn mission(m: &Mission) -> Value {
    let done = m
        .tasks
        .iter()
        .filter(|t| t.state == TaskState::Done)
        .count();
    json!({
        "id": m.id,
        "trace_id": super::json::hex(&m.trace_id),
        "goal": m.describe(),
        "squad": m.squad,
        "state": serde_json::to_value(&m.state).unwrap_or(Value::Null),
        "tasks": m.tasks.len(),
        "done": done,
        "progress": if m.tasks.is_empty() { 1.0 } else { done as f64 / m.tasks.len() as f64 },
        "detail": m.tasks.iter().map(|t| json!({
            "task": t.id,
            "state": serde_json::to_value(&t.state).unwrap_or(Value::Null),
            "attempts": t.attempts,
        })).collect::<Vec<_>>(),
    })
}

/// What `call` can ask, per addressable actor.
#[derive(Debug, Deserialize)]
enum GatewayCall {
    Members,
    Stats,
}

#[derive(Debug, Deserialize)]
enum PlannerCall {
    Missions,
}

/// `call NODE/cluster/gateway "Members"`, `call NODE/cloud/missions "Missions"`.
pub async fn call(args: &ControlArgs, path: &str, message: &Value) -> ControlReply {
    let local = path
        .strip_prefix(&format!("{}/", args.node))
        .unwrap_or(path);
    match local {
        "cluster/gateway" | "gateway" => {
            let call: GatewayCall = serde_path_to_error::deserialize(message.clone())
                .map_err(|e| bad_json("a gateway call (\"Members\" or \"Stats\")", e))?;
            let unavailable =
                |e: swarmd_cluster::gateway::CallError| ControlError::Unavailable(e.to_string());
            match call {
                GatewayCall::Members => {
                    let members = args.cluster.members().await.map_err(unavailable)?;
                    Ok(Value::Array(
                        members.iter().map(super::json::member).collect(),
                    ))
                }
                GatewayCall::Stats => {
                    let stats = args.cluster.stats().await.map_err(unavailable)?;
                    Ok(super::json::gateway_stats(&stats))
                }
            }
        }
        "cloud/missions" | "missions" => {
            let PlannerCall::Missions = serde_path_to_error::deserialize(message.clone())
                .map_err(|e| bad_json("a planner call (\"Missions\")", e))?;
            list(args).await
        }
        _ => Err(ControlError::BadRequest(format!(
            "{path:?} answers no calls here; see `help call`"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn errands_are_a_mission_and_a_bad_cell_names_its_field() {
        let errands =
            json!({"errands": {"cells": [{"x": 1, "y": 2}, {"x": 3, "y": 4}]}, "squad": "s"});
        let (goal, squad) = parse_mission(&errands).unwrap();
        let cells = vec![Cell::new(1, 2), Cell::new(3, 4)];
        assert_eq!((goal, squad.as_str()), (Goal::Errands { cells }, "s"));
        let bad = json!({"errands": {"cells": [{"x": 1}]}});
        let why = parse_mission(&bad).unwrap_err().to_string();
        assert!(why.contains("missing field `y`"), "{why}");
    }
}
