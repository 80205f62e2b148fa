//! Layering: embedded defaults, then a file, then env/CLI overrides, each value
//! remembering where it came from so errors can point there.

use std::collections::BTreeMap;
use std::path::Path;

use toml::{Table, Value};

use crate::{ConfigError, DEFAULT_TOML, NodeConfig};

const DEFAULT_ORIGIN: &str = "default.toml (embedded)";

/// One value set from outside any file: a CLI flag or a `SWARMD_*` variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// Dotted key, e.g. `cluster.listen`.
    pub key: &'static str,
    pub value: OverrideValue,
    /// Shown in errors, e.g. `--listen` or `SWARMD_LISTEN`.
    pub origin: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OverrideValue {
    Str(String),
    List(Vec<String>),
    Bool(bool),
}

impl OverrideValue {
    fn into_toml(self) -> Value {
        match self {
            Self::Str(s) => Value::String(s),
            Self::List(items) => Value::Array(items.into_iter().map(Value::String).collect()),
            Self::Bool(b) => Value::Boolean(b),
        }
    }
}

/// Loads the effective config: defaults, then `file` if given, then `overrides` in order.
pub fn load(file: Option<&Path>, overrides: &[Override]) -> Result<NodeConfig, ConfigError> {
    let mut origins = Origins::default();
    let mut table = parse(DEFAULT_TOML, DEFAULT_ORIGIN)?;
    if let Some(path) = file {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            origin: origin.clone(),
            reason: e.to_string(),
        })?;
        let file_table = parse(&text, &origin)?;
        origins.record_table(&file_table, "", &origin);
        merge(&mut table, file_table);
    }
    for o in overrides {
        set_dotted(&mut table, o.key, o.value.clone().into_toml());
        origins.record(o.key, &o.origin);
    }
    let mut config: NodeConfig =
        serde_path_to_error::deserialize(Value::Table(table)).map_err(|e| {
            let key = e.path().to_string();
            ConfigError::invalid(origins.of(&key), &key, e.inner().message())
        })?;
    read_map(&mut config)
        .and_then(|()| read_recipe(&mut config))
        .map_err(|(key, reason)| ConfigError::invalid(origins.of(key), key, reason))?;
    config
        .validate()
        .map_err(|(key, reason)| ConfigError::invalid(origins.of(key), key, reason))?;
    Ok(config)
}

/// Reads `world.map` into `world.floor`; the map's size becomes the world's.
fn read_map(config: &mut NodeConfig) -> Result<(), (&'static str, String)> {
    let w = &mut config.world;
    if w.map.is_empty() {
        if !w.docks.is_empty() {
            return Err((
                "world.docks",
                "docks are for a map: set world.map too".into(),
            ));
        }
        return Ok(());
    }
    let floor = crate::map_file::load(Path::new(&w.map), &w.docks).map_err(|e| ("world.map", e))?;
    (w.width, w.height) = (floor.width, floor.height);
    w.floor = Some(floor);
    Ok(())
}

/// Reads `missions.recipe` into `missions.recipe_plan`.
fn read_recipe(config: &mut NodeConfig) -> Result<(), (&'static str, String)> {
    let m = &mut config.missions;
    if m.recipe.is_empty() {
        return Ok(());
    }
    let recipe = crate::recipe::Recipe::load(Path::new(&m.recipe))
        .and_then(|r| r.plan(&m.recipe))
        .map_err(|e| ("missions.recipe", e.to_string()))?;
    m.recipe_plan = Some(recipe);
    Ok(())
}

/// Loads one file over the defaults, with no overrides: what `swarmd config check` runs.
pub fn load_file(path: &Path) -> Result<NodeConfig, ConfigError> {
    load(Some(path), &[])
}

fn parse(text: &str, origin: &str) -> Result<Table, ConfigError> {
    text.parse::<Table>().map_err(|e| ConfigError::Syntax {
        origin: origin.to_owned(),
        reason: e.to_string().trim_end().to_owned(),
    })
}

/// Deep-merges `upper` into `base`: tables merge key by key, anything else replaces.
fn merge(base: &mut Table, upper: Table) {
    for (key, value) in upper {
        match (base.get_mut(&key), value) {
            (Some(Value::Table(b)), Value::Table(u)) => merge(b, u),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn set_dotted(table: &mut Table, dotted: &str, value: Value) {
    let (parents, leaf) = match dotted.rsplit_once('.') {
        Some((parents, leaf)) => (parents.split('.').collect::<Vec<_>>(), leaf),
        None => (Vec::new(), dotted),
    };
    let mut current = table;
    for part in parents {
        let entry = current
            .entry(part.to_owned())
            .or_insert_with(|| Value::Table(Table::new()));
        if !entry.is_table() {
            *entry = Value::Table(Table::new());
        }
        current = entry.as_table_mut().expect("just made a table");
    }
    current.insert(leaf.to_owned(), value);
}

/// Which layer last set each dotted key.
#[derive(Default)]
struct Origins(BTreeMap<String, String>);

impl Origins {
    fn record(&mut self, key: &str, origin: &str) {
        self.0.insert(key.to_owned(), origin.to_owned());
    }

    fn record_table(&mut self, table: &Table, prefix: &str, origin: &str) {
        for (key, value) in table {
            let path = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            if let Value::Table(inner) = value {
                self.record_table(inner, &path, origin);
            }
            self.record(&path, origin);
        }
    }

    /// The origin of `key`, or of its nearest recorded ancestor; defaults otherwise.
    fn of(&self, key: &str) -> &str {
        let mut key = key.split('[').next().unwrap_or(key);
        loop {
            if let Some(origin) = self.0.get(key) {
                return origin;
            }
            match key.rsplit_once('.') {
                Some((parent, _)) => key = parent,
                None => return DEFAULT_ORIGIN,
            }
        }
    }
}
