//! Mission recipes: a TOML file with a `[recipe]` table (`name`,
//! `description`) and one `[[step]]` table per step. A step is a goal
//! (`cover`, `fetch`, `wait`, `sandboxed`) with its parameters, or a
//! domain's task (`task = "KIND"` with a `payload` table), the steps it
//! `needs` first, its `retries`, `timeout_s` and what its failure means for
//! the rest (`on_failure`). Every error names the file, the step and the key.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use swarmd_messages::recipe::{PlanStep, RecipePlan, StepGoal as PlanGoal};
use swarmd_messages::swarm::{Cell, Goal, Rect};
use swarmd_messages::task::TaskSpec;
use toml::{Table, Value};

mod module;
mod params;

use module::read_module;
use params::Params;

/// The limits and failure policies are the wire's: what passes here runs.
pub use swarmd_messages::recipe::{MAX_RETRIES, MAX_STEPS, MAX_TIMEOUT_S, OnFailure};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipe {
    pub name: String,
    pub description: String,
    /// In file order.
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub name: String,
    pub goal: StepGoal,
    pub needs: Vec<String>,
    pub retries: u32,
    pub timeout_s: u64,
    pub on_failure: OnFailure,
    /// The squad whose agents carry the step out; `None`: the recipe's.
    pub squad: Option<String>,
    /// A capability every agent taking the step's tasks must have (instead
    /// of the goal's own, e.g. `carry` for a fetch).
    pub capability: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepGoal {
    /// Cover the sector from `min` to `max`.
    Cover { sector: Rect },
    /// Carry the item at `item` to `dock` (needs agents that carry).
    Fetch { item: Cell, dock: Cell },
    /// Wait this long (e.g. for a process outside the swarm).
    Wait { seconds: u64 },
    /// The steps of a Wasm guest's plan (`module`, relative to the recipe).
    Sandboxed { module: PathBuf },
    /// A domain's task of `kind`: `payload` is its JSON (the step's
    /// `payload` table), checked by the domain when the planner takes it.
    Task {
        kind: String,
        payload: String,
        priority: u8,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecipeError {
    #[error("{file}: {why}")]
    File { file: String, why: String },
    #[error("{file}: {key}: {why}")]
    Key {
        file: String,
        key: String,
        why: String,
    },
    #[error("{file}: step {step:?}: {key}: {why}")]
    Step {
        file: String,
        step: String,
        key: String,
        why: String,
    },
    #[error("{file}: the steps' needs form a cycle: {cycle}")]
    Cycle { file: String, cycle: String },
}

const STEP_KEYS: [&str; 6] = [
    "name",
    "goal",
    "needs",
    "retries",
    "timeout_s",
    "on_failure",
];
const GOALS: &str = "cover, fetch, wait or sandboxed (or task = \"KIND\", a domain's task)";

impl Recipe {
    /// Reads and checks the recipe at `path`.
    pub fn load(path: &Path) -> Result<Self, RecipeError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| RecipeError::File {
            file: file.clone(),
            why: e.to_string(),
        })?;
        Self::parse(&file, &text)
    }

    /// Parses and checks `text`, naming it `file` in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, RecipeError> {
        let table: Table = text
            .parse()
            .map_err(|e: toml::de::Error| RecipeError::File {
                file: file.into(),
                why: e.message().to_string(),
            })?;
        let key_error = |key: &str, why: String| RecipeError::Key {
            file: file.into(),
            key: key.into(),
            why,
        };
        if let Some(key) = table
            .keys()
            .find(|k| !["recipe", "step"].contains(&k.as_str()))
        {
            return Err(key_error(
                key,
                "unknown key (expected recipe or step)".into(),
            ));
        }
        let head = table
            .get("recipe")
            .and_then(Value::as_table)
            .ok_or_else(|| key_error("recipe", "missing: a [recipe] table with a name".into()))?;
        if let Some(key) = head
            .keys()
            .find(|k| !["name", "description"].contains(&k.as_str()))
        {
            return Err(key_error(
                &format!("recipe.{key}"),
                "unknown key (expected name or description)".into(),
            ));
        }
        let text_of = |key: &str| head.get(key).and_then(Value::as_str).map(str::to_string);
        let name = text_of("name")
            .filter(|n| !n.trim().is_empty())
            .ok_or_else(|| key_error("recipe.name", "missing or not a non-empty string".into()))?;
        let raw_steps = match table.get("step") {
            Some(Value::Array(steps)) => steps.as_slice(),
            Some(_) => return Err(key_error("step", "must be [[step]] tables".into())),
            None => {
                return Err(key_error(
                    "step",
                    "a recipe needs at least one [[step]]".into(),
                ));
            }
        };
        if raw_steps.len() > MAX_STEPS {
            return Err(key_error("step", format!("at most {MAX_STEPS} steps")));
        }
        let mut steps = Vec::with_capacity(raw_steps.len());
        for (i, raw) in raw_steps.iter().enumerate() {
            steps.push(parse_step(file, i, raw)?);
        }
        let recipe = Recipe {
            name,
            description: text_of("description").unwrap_or_default(),
            steps,
        };
        recipe.check_needs(file)?;
        Ok(recipe)
    }

    fn check_needs(&self, file: &str) -> Result<(), RecipeError> {
        let mut names = BTreeSet::new();
        for step in &self.steps {
            if !names.insert(step.name.as_str()) {
                return Err(step_error(
                    file,
                    &step.name,
                    "name",
                    "two steps have this name",
                ));
            }
        }
        for step in &self.steps {
            if let Some(unknown) = step.needs.iter().find(|n| !names.contains(n.as_str())) {
                let why = format!("no step is named {unknown:?}");
                return Err(step_error(file, &step.name, "needs", &why));
            }
        }
        match self.cycle() {
            Some(cycle) => Err(RecipeError::Cycle {
                file: file.into(),
                cycle: cycle.join(" -> "),
            }),
            None => Ok(()),
        }
    }

    /// A cycle of needs, as the steps on it with the first repeated last.
    fn cycle(&self) -> Option<Vec<String>> {
        let needs: BTreeMap<&str, &[String]> = self
            .steps
            .iter()
            .map(|s| (s.name.as_str(), s.needs.as_slice()))
            .collect();
        let mut done = BTreeSet::new();
        for step in &self.steps {
            let mut path = Vec::new();
            if let Some(cycle) = find_cycle(step.name.as_str(), &needs, &mut path, &mut done) {
                return Some(cycle);
            }
        }
        None
    }

    /// What the planner runs: the same steps as wire types, a `sandboxed`
    /// step's module read from beside the recipe file `file`. A name the
    /// wire does not take, or a module that cannot be read, is an error
    /// naming the file and the step.
    pub fn plan(&self, file: &str) -> Result<RecipePlan, RecipeError> {
        let beside = Path::new(file).parent().unwrap_or(Path::new("."));
        self.plan_with(file, Some(beside))
    }

    /// [`plan`](Self::plan) for a recipe that is no file (an API request):
    /// a `sandboxed` step is refused, there being nothing to read it beside.
    pub fn plan_without_files(&self, file: &str) -> Result<RecipePlan, RecipeError> {
        self.plan_with(file, None)
    }

    fn plan_with(&self, file: &str, beside: Option<&Path>) -> Result<RecipePlan, RecipeError> {
        let steps = self
            .steps
            .iter()
            .map(|step| {
                let goal = match &step.goal {
                    StepGoal::Cover { sector } => {
                        PlanGoal::Mission(Goal::CoverSector { sector: *sector })
                    }
                    StepGoal::Fetch { item, dock } => PlanGoal::Mission(Goal::Fetch {
                        item: *item,
                        dock: *dock,
                    }),
                    StepGoal::Wait { seconds } => PlanGoal::Wait { seconds: *seconds },
                    StepGoal::Sandboxed { module } => PlanGoal::Sandboxed {
                        module: read_module(file, &step.name, module, beside)?,
                    },
                    StepGoal::Task {
                        kind,
                        payload,
                        priority,
                    } => PlanGoal::Mission(Goal::Task(TaskSpec {
                        priority: *priority,
                        ..TaskSpec::new(kind, payload.clone())
                    })),
                };
                Ok(PlanStep {
                    name: step.name.clone(),
                    goal,
                    needs: step.needs.clone(),
                    retries: step.retries,
                    timeout_s: step.timeout_s,
                    on_failure: step.on_failure,
                    squad: step.squad.clone(),
                    capability: step.capability.clone(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let plan = RecipePlan {
            name: self.name.clone(),
            description: self.description.clone(),
            steps,
        };
        match plan.violation() {
            None => Ok(plan),
            Some(why) => Err(RecipeError::File {
                file: file.into(),
                why,
            }),
        }
    }

    /// The steps in waves: each wave's steps need only earlier waves', so
    /// a wave's steps may run side by side.
    pub fn waves(&self) -> Vec<Vec<&str>> {
        let mut placed: BTreeMap<&str, usize> = BTreeMap::new();
        let mut waves: Vec<Vec<&str>> = Vec::new();
        while placed.len() < self.steps.len() {
            let ready: Vec<&str> = self
                .steps
                .iter()
                .filter(|s| !placed.contains_key(s.name.as_str()))
                .filter(|s| s.needs.iter().all(|n| placed.contains_key(n.as_str())))
                .map(|s| s.name.as_str())
                .collect();
            assert!(!ready.is_empty(), "a checked recipe has no cycle");
            for name in &ready {
                placed.insert(name, waves.len());
            }
            waves.push(ready);
        }
        waves
    }
}

/// Depth-first along `needs`; `path` is the walk so far.
fn find_cycle<'a>(
    at: &'a str,
    needs: &BTreeMap<&'a str, &'a [String]>,
    path: &mut Vec<&'a str>,
    done: &mut BTreeSet<&'a str>,
) -> Option<Vec<String>> {
    if let Some(start) = path.iter().position(|p| *p == at) {
        let mut cycle: Vec<String> = path[start..].iter().map(|s| s.to_string()).collect();
        cycle.push(at.to_string());
        return Some(cycle);
    }
    if done.contains(at) {
        return None;
    }
    path.push(at);
    for next in needs.get(at).copied().unwrap_or_default() {
        if let Some(cycle) = find_cycle(next.as_str(), needs, path, done) {
            return Some(cycle);
        }
    }
    path.pop();
    done.insert(at);
    None
}

fn step_error(file: &str, step: &str, key: &str, why: &str) -> RecipeError {
    RecipeError::Step {
        file: file.into(),
        step: step.into(),
        key: key.into(),
        why: why.into(),
    }
}

fn parse_step(file: &str, index: usize, raw: &Value) -> Result<Step, RecipeError> {
    let unnamed = format!("#{}", index + 1);
    let Some(table) = raw.as_table() else {
        return Err(step_error(file, &unnamed, "step", "must be a table"));
    };
    let name = match table.get("name") {
        Some(Value::String(n)) if !n.trim().is_empty() => n.clone(),
        _ => {
            return Err(step_error(
                file,
                &unnamed,
                "name",
                "missing or not a non-empty string",
            ));
        }
    };
    let fail = |key: &str, why: &str| step_error(file, &name, key, why);
    let goal_name = match (table.get("goal"), table.get("task")) {
        (Some(_), Some(_)) => return Err(fail("task", "a step has a goal or a task, not both")),
        (None, Some(_)) => "task",
        (goal, None) => goal
            .and_then(Value::as_str)
            .ok_or_else(|| fail("goal", &format!("missing: one of {GOALS}")))?,
    };
    let params = goal_params(goal_name)
        .ok_or_else(|| fail("goal", &format!("{goal_name:?} is not a goal: {GOALS}")))?;
    if let Some(key) = table
        .keys()
        .find(|k| !STEP_KEYS.contains(&k.as_str()) && !params.contains(&k.as_str()))
    {
        let expected = STEP_KEYS
            .iter()
            .chain(params)
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        let why = format!("unknown key for a {goal_name} step (expected one of {expected})");
        return Err(fail(key, &why));
    }
    let p = Params { table, fail: &fail };
    Ok(Step {
        goal: p.goal(goal_name)?,
        needs: p.needs()?,
        retries: p.uint("retries", 0, u64::from(MAX_RETRIES))? as u32,
        timeout_s: p.uint("timeout_s", 600, MAX_TIMEOUT_S)?,
        on_failure: p.on_failure()?,
        squad: p.optional_name("squad")?,
        capability: p.optional_name("capability")?,
        name,
    })
}

/// The parameters each goal takes.
fn goal_params(goal: &str) -> Option<&'static [&'static str]> {
    Some(match goal {
        "cover" => &["min", "max", "squad", "capability"],
        "fetch" => &["item", "dock", "squad", "capability"],
        "wait" => &["seconds"],
        "sandboxed" => &["module", "squad", "capability"],
        "task" => &["task", "payload", "priority", "squad", "capability"],
        _ => return None,
    })
}

impl fmt::Display for StepGoal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cover { sector } => write!(f, "cover {} to {}", sector.min, sector.max),
            Self::Fetch { item, dock } => write!(f, "fetch {item} to {dock}"),
            Self::Wait { seconds } => write!(f, "wait {seconds} s"),
            Self::Sandboxed { module } => write!(f, "sandboxed {}", module.display()),
            Self::Task { kind, payload, .. } => write!(f, "task {kind} {payload}"),
        }
    }
}
