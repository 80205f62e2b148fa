//! A recipe step's table, read key by key: each value checked, an error
//! naming the step and the key.

use std::path::PathBuf;

use swarmd_messages::recipe::MAX_TIMEOUT_S;
use swarmd_messages::swarm::{Cell, Rect};
use toml::{Table, Value};

use super::{OnFailure, RecipeError, StepGoal};

/// A step's table, read key by key.
pub(super) struct Params<'a, F: Fn(&str, &str) -> RecipeError> {
    pub(super) table: &'a Table,
    pub(super) fail: &'a F,
}

impl<F: Fn(&str, &str) -> RecipeError> Params<'_, F> {
    pub(super) fn goal(&self, goal: &str) -> Result<StepGoal, RecipeError> {
        Ok(match goal {
            "cover" => StepGoal::Cover {
                sector: Rect {
                    min: self.cell("min")?,
                    max: self.cell("max")?,
                },
            },
            "fetch" => StepGoal::Fetch {
                item: self.cell("item")?,
                dock: self.cell("dock")?,
            },
            "wait" => StepGoal::Wait {
                seconds: self.required_uint("seconds", MAX_TIMEOUT_S)?,
            },
            "task" => StepGoal::Task {
                kind: self.optional_name("task")?.unwrap_or_default(),
                payload: self.payload()?,
                priority: self.uint("priority", 0, u64::from(u8::MAX))? as u8,
            },
            _ => StepGoal::Sandboxed {
                module: self.text("module").map(PathBuf::from)?,
            },
        })
    }

    /// A task's `payload` table as JSON (`{}` when absent).
    fn payload(&self) -> Result<String, RecipeError> {
        match self.table.get("payload") {
            None => Ok("{}".into()),
            Some(Value::Table(t)) => serde_json::to_string(t)
                .map_err(|e| (self.fail)("payload", &format!("not JSON: {e}"))),
            Some(_) => Err((self.fail)("payload", "must be a table (the task's JSON)")),
        }
    }

    pub(super) fn cell(&self, key: &str) -> Result<Cell, RecipeError> {
        let why = "must be [x, y], two integers";
        let Some(Value::Array(xy)) = self.table.get(key) else {
            return Err((self.fail)(key, why));
        };
        let coord = |v: &Value| v.as_integer().and_then(|i| i32::try_from(i).ok());
        match xy.as_slice() {
            [x, y] => match (coord(x), coord(y)) {
                (Some(x), Some(y)) => Ok(Cell::new(x, y)),
                _ => Err((self.fail)(key, why)),
            },
            _ => Err((self.fail)(key, why)),
        }
    }

    /// A squad or capability name, if given.
    pub(super) fn optional_name(&self, key: &str) -> Result<Option<String>, RecipeError> {
        use swarmd_messages::limits::{MAX_NAME_BYTES, is_name};
        match self.table.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if is_name(s, MAX_NAME_BYTES) => Ok(Some(s.clone())),
            Some(_) => Err((self.fail)(
                key,
                "must be a name (letters, digits, '-', '_', '.')",
            )),
        }
    }

    pub(super) fn text(&self, key: &str) -> Result<String, RecipeError> {
        match self.table.get(key) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            _ => Err((self.fail)(key, "missing or not a non-empty string")),
        }
    }

    pub(super) fn uint(&self, key: &str, default: u64, max: u64) -> Result<u64, RecipeError> {
        match self.table.get(key) {
            None => Ok(default),
            Some(_) => self.required_uint(key, max),
        }
    }

    pub(super) fn required_uint(&self, key: &str, max: u64) -> Result<u64, RecipeError> {
        let value = self.table.get(key).and_then(Value::as_integer);
        match value.and_then(|v| u64::try_from(v).ok()) {
            Some(v) if v <= max => Ok(v),
            _ => Err((self.fail)(
                key,
                &format!("must be an integer from 0 to {max}"),
            )),
        }
    }

    pub(super) fn needs(&self) -> Result<Vec<String>, RecipeError> {
        let why = "must be a list of step names";
        match self.table.get("needs") {
            None => Ok(Vec::new()),
            Some(Value::Array(names)) => names
                .iter()
                .map(|n| {
                    n.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| (self.fail)("needs", why))
                })
                .collect(),
            Some(_) => Err((self.fail)("needs", why)),
        }
    }

    pub(super) fn on_failure(&self) -> Result<OnFailure, RecipeError> {
        match self.table.get("on_failure").map(Value::as_str) {
            None | Some(Some("fail")) => Ok(OnFailure::Fail),
            Some(Some("skip")) => Ok(OnFailure::Skip),
            Some(Some("continue")) => Ok(OnFailure::Continue),
            Some(_) => Err((self.fail)(
                "on_failure",
                "must be \"fail\", \"skip\" or \"continue\"",
            )),
        }
    }
}
