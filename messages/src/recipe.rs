//! A mission recipe as the planner runs it: named steps, each a goal for the
//! swarm or a wait, with the steps it needs first, its retries, its timeout
//! and what its failure means for the rest. Operators write recipes in TOML
//! (`config`'s `Recipe`, checked by `swarmd recipe check`); this is what
//! crosses the wire, checked again before the planner takes it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::limits::{MAX_NAME_BYTES, is_name};
use crate::swarm::Goal;

/// Steps in one recipe at most.
pub const MAX_STEPS: usize = 256;
/// Retries of one step at most.
pub const MAX_RETRIES: u32 = 100;
/// A step's timeout at most (one day).
pub const MAX_TIMEOUT_S: u64 = 86_400;
/// Description text at most.
pub const MAX_DESCRIPTION_BYTES: usize = 4096;
/// A sandboxed step's module (WAT text or a Wasm binary) at most.
pub const MAX_MODULE_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipePlan {
    pub name: String,
    pub description: String,
    /// In file order.
    pub steps: Vec<PlanStep>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanStep {
    pub name: String,
    pub goal: StepGoal,
    /// Names of steps that must end first.
    pub needs: Vec<String>,
    pub retries: u32,
    /// An attempt running longer fails (0: no limit).
    pub timeout_s: u64,
    pub on_failure: OnFailure,
    /// The squad that carries the step out; `None`: the recipe's.
    pub squad: Option<String>,
    /// A capability its tasks need, instead of the goal's own.
    pub capability: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepGoal {
    /// A mission for the recipe's squad.
    Mission(Goal),
    /// Nothing for the swarm to do: the step ends after this long.
    Wait { seconds: u64 },
    /// A mission whose goal a Wasm guest plans when the step starts (the
    /// module's `step_goal`, run in the sandbox under its limits).
    Sandboxed { module: Vec<u8> },
}

/// What a step that failed for good (retries spent) means for the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OnFailure {
    /// The recipe fails; steps not started are not started.
    Fail,
    /// The step is skipped, and so is every step that needs it.
    Skip,
    /// Steps that need it run anyway.
    Continue,
}

impl RecipePlan {
    /// Why the plan cannot run, if it cannot: bounds, unknown or repeated
    /// names, a cycle. A recipe from the wire is checked before use.
    pub fn violation(&self) -> Option<String> {
        if !is_name(&self.name, MAX_NAME_BYTES) {
            return Some(format!("recipe name {:?} is not a name", self.name));
        }
        if self.description.len() > MAX_DESCRIPTION_BYTES {
            return Some("description too long".into());
        }
        if self.steps.is_empty() || self.steps.len() > MAX_STEPS {
            return Some(format!("1..={MAX_STEPS} steps, not {}", self.steps.len()));
        }
        let mut index = BTreeMap::new();
        for (i, step) in self.steps.iter().enumerate() {
            if !is_name(&step.name, MAX_NAME_BYTES) {
                return Some(format!("step name {:?} is not a name", step.name));
            }
            if index.insert(step.name.as_str(), i).is_some() {
                return Some(format!("step {:?} appears twice", step.name));
            }
            if let StepGoal::Sandboxed { module } = &step.goal
                && (module.is_empty() || module.len() > MAX_MODULE_BYTES)
            {
                let why = format!("module of 1..={MAX_MODULE_BYTES} bytes");
                return Some(format!("step {:?}: {why}", step.name));
            }
            let names = [&step.squad, &step.capability];
            if let Some(bad) = names
                .into_iter()
                .flatten()
                .find(|n| !is_name(n, MAX_NAME_BYTES))
            {
                return Some(format!("step {:?}: {bad:?} is not a name", step.name));
            }
            if step.retries > MAX_RETRIES || step.timeout_s > MAX_TIMEOUT_S {
                return Some(format!(
                    "step {:?}: retries or timeout out of bounds",
                    step.name
                ));
            }
        }
        for step in &self.steps {
            if let Some(n) = step.needs.iter().find(|n| !index.contains_key(n.as_str())) {
                return Some(format!("step {:?} needs unknown step {n:?}", step.name));
            }
        }
        self.order()
            .is_none()
            .then(|| "the steps' needs form a cycle".into())
    }

    /// The indices of each step's needs.
    pub fn needs_of(&self, step: usize) -> Vec<usize> {
        self.steps[step]
            .needs
            .iter()
            .filter_map(|n| self.steps.iter().position(|s| s.name == *n))
            .collect()
    }

    /// The steps in an order that respects `needs`; `None` on a cycle.
    fn order(&self) -> Option<Vec<usize>> {
        let n = self.steps.len();
        let mut waiting: Vec<usize> = (0..n).map(|i| self.needs_of(i).len()).collect();
        let mut ready: Vec<usize> = (0..n).filter(|i| waiting[*i] == 0).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(i) = ready.pop() {
            order.push(i);
            for (j, count) in waiting.iter_mut().enumerate() {
                if self.needs_of(j).contains(&i) {
                    *count -= 1;
                    if *count == 0 {
                        ready.push(j);
                    }
                }
            }
        }
        (order.len() == n).then_some(order)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(name: &str, needs: &[&str]) -> PlanStep {
        PlanStep {
            name: name.into(),
            goal: StepGoal::Wait { seconds: 1 },
            needs: needs.iter().map(|n| n.to_string()).collect(),
            retries: 0,
            timeout_s: 0,
            on_failure: OnFailure::Fail,
            squad: None,
            capability: None,
        }
    }

    fn plan(steps: Vec<PlanStep>) -> RecipePlan {
        RecipePlan {
            name: "r".into(),
            description: String::new(),
            steps,
        }
    }

    #[test]
    fn a_diamond_is_fine_and_a_cycle_an_unknown_need_or_a_twin_is_not() {
        let diamond = plan(vec![
            step("a", &[]),
            step("b", &["a"]),
            step("c", &["a"]),
            step("d", &["b", "c"]),
        ]);
        assert_eq!(diamond.violation(), None);
        assert_eq!(diamond.needs_of(3), vec![1, 2]);
        let cycle = plan(vec![step("a", &["b"]), step("b", &["a"])]);
        assert!(cycle.violation().unwrap().contains("cycle"));
        let unknown = plan(vec![step("a", &["zz"])]);
        assert!(unknown.violation().unwrap().contains("unknown step \"zz\""));
        let twin = plan(vec![step("a", &[]), step("a", &[])]);
        assert!(twin.violation().unwrap().contains("twice"));
        assert!(plan(vec![]).violation().is_some());
    }
}
