//! Recipe files: what a good one reads as, and that every error names the
//! file, the step and the key.

use swarmd_config::recipe::{OnFailure, Recipe, RecipeError, StepGoal};

const FILE: &str = "r.toml";

fn recipe(steps: &str) -> String {
    format!("[recipe]\nname = \"r\"\n\n{steps}")
}

fn error(steps: &str) -> String {
    Recipe::parse(FILE, &recipe(steps)).unwrap_err().to_string()
}

#[test]
fn the_shipped_examples_are_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("recipes");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue; // a sandboxed step's module
        }
        let recipe = Recipe::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let file = path.display().to_string();
        recipe.plan(&file).unwrap_or_else(|e| panic!("{e}"));
        checked += 1;
    }
    assert!(checked >= 3, "examples in {}: {checked}", dir.display());
}

#[test]
fn a_diamond_runs_in_three_waves_with_its_branches_side_by_side() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("recipes/inspect-and-restock.toml");
    let r = Recipe::load(&path).unwrap();
    assert_eq!(r.steps.len(), 5);
    assert_eq!(
        r.waves(),
        vec![
            vec!["survey"],
            vec!["inspect-west", "inspect-east", "restock"],
            vec!["final-sweep"]
        ]
    );
    let east = &r.steps[2];
    assert_eq!(
        (east.retries, east.timeout_s, east.on_failure),
        (2, 180, OnFailure::Continue)
    );
    assert!(matches!(r.steps[3].goal, StepGoal::Fetch { .. }));
    assert_eq!(r.steps[4].on_failure, OnFailure::Fail, "the default");
}

#[test]
fn a_cycle_is_an_error_naming_the_cycle() {
    let steps = r#"
[[step]]
name = "a"
goal = "wait"
seconds = 1
needs = ["c"]

[[step]]
name = "b"
goal = "wait"
seconds = 1
needs = ["a"]

[[step]]
name = "c"
goal = "wait"
seconds = 1
needs = ["b"]
"#;
    let e = Recipe::parse(FILE, &recipe(steps)).unwrap_err();
    assert!(matches!(&e, RecipeError::Cycle { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "r.toml: the steps' needs form a cycle: a -> c -> b -> a"
    );
    let selfish = "[[step]]\nname = \"a\"\ngoal = \"wait\"\nseconds = 1\nneeds = [\"a\"]\n";
    assert!(
        error(selfish).ends_with("cycle: a -> a"),
        "{}",
        error(selfish)
    );
}

#[test]
fn an_unknown_step_in_needs_names_the_step_and_the_key() {
    let steps = "[[step]]\nname = \"a\"\ngoal = \"wait\"\nseconds = 1\nneeds = [\"nope\"]\n";
    assert_eq!(
        error(steps),
        "r.toml: step \"a\": needs: no step is named \"nope\""
    );
}

#[test]
fn a_bad_key_names_the_file_the_step_and_the_key() {
    let steps = "[[step]]\nname = \"scan\"\ngoal = \"cover\"\nmin = [0, 0]\nmax = [1, 1]\ncolour = \"red\"\n";
    let e = error(steps);
    assert!(
        e.starts_with("r.toml: step \"scan\": colour: unknown key for a cover step"),
        "{e}"
    );
    let wrong_param = "[[step]]\nname = \"w\"\ngoal = \"wait\"\nseconds = 1\nitem = [1, 1]\n";
    assert!(error(wrong_param).contains("step \"w\": item: unknown key for a wait step"));
    let top = "[recipes]\nname = \"x\"\n";
    assert!(
        Recipe::parse(FILE, top)
            .unwrap_err()
            .to_string()
            .starts_with("r.toml: recipes: unknown key")
    );
    let head = "[recipe]\nname = \"r\"\nowner = \"me\"\n[[step]]\nname = \"a\"\ngoal = \"wait\"\nseconds = 1\n";
    assert!(
        Recipe::parse(FILE, head)
            .unwrap_err()
            .to_string()
            .starts_with("r.toml: recipe.owner: unknown key")
    );
}

#[test]
fn bad_values_name_their_key() {
    let cases = [
        ("goal = \"dance\"", "goal: \"dance\" is not a goal"),
        (
            "goal = \"cover\"\nmin = [0]\nmax = [1, 1]",
            "min: must be [x, y]",
        ),
        ("goal = \"wait\"", "seconds: must be an integer"),
        (
            "goal = \"wait\"\nseconds = 1\nretries = -1",
            "retries: must be an integer from 0 to 100",
        ),
        (
            "goal = \"wait\"\nseconds = 1\non_failure = \"retry\"",
            "on_failure: must be",
        ),
        (
            "goal = \"wait\"\nseconds = 1\nneeds = \"a\"",
            "needs: must be a list",
        ),
        ("goal = \"sandboxed\"", "module: missing"),
    ];
    for (body, expected) in cases {
        let e = error(&format!("[[step]]\nname = \"s\"\n{body}\n"));
        assert!(e.starts_with("r.toml: step \"s\": "), "{e}");
        assert!(e.contains(expected), "{e} lacks {expected:?}");
    }
    let twice = "[[step]]\nname = \"s\"\ngoal = \"wait\"\nseconds = 1\n".repeat(2);
    assert!(error(&twice).contains("step \"s\": name: two steps have this name"));
    assert!(
        Recipe::parse(FILE, "[recipe]\nname = \"r\"\n")
            .unwrap_err()
            .to_string()
            .contains("at least one [[step]]")
    );
    assert!(
        Recipe::parse(FILE, "not toml [")
            .unwrap_err()
            .to_string()
            .starts_with("r.toml: ")
    );
}

#[test]
fn a_sandboxed_steps_module_is_read_beside_the_file_or_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let steps = "[[step]]\nname = \"think\"\ngoal = \"sandboxed\"\nmodule = \"guest.wat\"\n";
    let path = dir.path().join("r.toml");
    std::fs::write(&path, recipe(steps)).unwrap();
    let file = path.display().to_string();
    let r = Recipe::load(&path).unwrap();
    let missing = r.plan(&file).unwrap_err().to_string();
    assert!(
        missing.contains("r.toml") && missing.contains("\"think\"") && missing.contains("module"),
        "{missing}"
    );
    std::fs::write(dir.path().join("guest.wat"), "(module)").unwrap();
    let plan = r.plan(&file).unwrap();
    assert_eq!(
        plan.steps[0].goal,
        swarmd_messages::recipe::StepGoal::Sandboxed {
            module: b"(module)".to_vec()
        }
    );
    let from_api = r
        .plan_without_files("the request's recipe")
        .unwrap_err()
        .to_string();
    assert!(
        from_api.contains("module") && from_api.contains("mission --recipe FILE"),
        "{from_api}"
    );
}

#[test]
fn a_step_may_name_its_squad_and_the_capability_its_tasks_need() {
    let steps = "[[step]]\nname = \"hoist\"\ngoal = \"fetch\"\nitem = [1, 1]\ndock = [0, 1]\n\
                 squad = \"heavy\"\ncapability = \"lift\"\n";
    let r = Recipe::parse(FILE, &recipe(steps)).unwrap();
    assert_eq!(r.steps[0].squad.as_deref(), Some("heavy"));
    assert_eq!(r.steps[0].capability.as_deref(), Some("lift"));
    let plan = r.plan(FILE).unwrap();
    assert_eq!(plan.steps[0].capability.as_deref(), Some("lift"));
    let bad = error(&steps.replace("\"lift\"\n", "\"li ft\"\n"));
    assert!(
        bad.contains("r.toml") && bad.contains("\"hoist\"") && bad.contains("capability"),
        "{bad}"
    );
    let wait = "[[step]]\nname = \"w\"\ngoal = \"wait\"\nseconds = 1\ncapability = \"lift\"\n";
    let bad = error(wait);
    assert!(
        bad.contains("capability: unknown key for a wait step"),
        "{bad}"
    );
}

#[test]
fn a_domains_task_step_carries_its_kind_and_payload_to_the_plan() {
    let text = r#"
        [recipe]
        name = "patrol"
        [[step]]
        name = "look"
        task = "survey"
        priority = 3
        capability = "camera"
        payload = { area = { min = [10, 10], max = [50, 50] }, spacing = 10 }
        [[step]]
        name = "drop"
        task = "deliver"
        needs = ["look"]
        payload = { to = [5, 5] }
    "#;
    let recipe = Recipe::parse("patrol.toml", text).unwrap();
    let plan = recipe.plan_without_files("patrol.toml").unwrap();
    use swarmd_messages::recipe::StepGoal as PlanGoal;
    use swarmd_messages::swarm::Goal;
    let PlanGoal::Mission(Goal::Task(look)) = &plan.steps[0].goal else {
        panic!("a task: {:?}", plan.steps[0].goal);
    };
    assert_eq!((look.kind.as_str(), look.priority), ("survey", 3));
    let payload: serde_json::Value = serde_json::from_str(&look.payload).unwrap();
    assert_eq!(payload["area"]["max"], serde_json::json!([50, 50]));
    assert_eq!(plan.steps[0].capability.as_deref(), Some("camera"));
    assert_eq!(plan.steps[1].needs, ["look"]);
}

#[test]
fn a_task_step_with_a_goal_or_a_bad_payload_says_why() {
    let both = "[recipe]\nname = \"r\"\n[[step]]\nname = \"s\"\ngoal = \"wait\"\nseconds = 1\ntask = \"survey\"\n";
    let err = Recipe::parse("r.toml", both).unwrap_err().to_string();
    assert!(err.contains("a goal or a task, not both"), "{err}");
    let flat = "[recipe]\nname = \"r\"\n[[step]]\nname = \"s\"\ntask = \"survey\"\npayload = 3\n";
    let err = Recipe::parse("r.toml", flat).unwrap_err().to_string();
    assert!(err.contains("payload: must be a table"), "{err}");
    let odd = "[recipe]\nname = \"r\"\n[[step]]\nname = \"s\"\ntask = \"no spaces\"\n";
    let err = Recipe::parse("r.toml", odd).unwrap_err().to_string();
    assert!(err.contains("task: must be a name"), "{err}");
}
