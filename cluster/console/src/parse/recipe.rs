//! `mission --recipe FILE [--squad S]`: the console reads and checks the
//! recipe file where it runs (the file is the operator's, not the node's),
//! then sends the checked plan. A bad file is refused before anything is
//! sent, naming the file, the step and the key.

use swarmd_config::recipe::Recipe;

use super::{ParseError, Parsed, run, words};
use swarmd_control::Command;
use swarmd_control::protocol::DlqCommand;

const USAGE: &str = "usage: mission --recipe FILE [--squad SQUAD]";

pub fn parse(rest: &str) -> Result<Parsed, ParseError> {
    let (file, squad) = match words(rest)?.as_slice() {
        [flag, file] if flag == "--recipe" => (file.clone(), "default".to_string()),
        [flag, file, s, squad] if flag == "--recipe" && s == "--squad" => {
            (file.clone(), squad.clone())
        }
        _ => return Err(ParseError(USAGE.into())),
    };
    let recipe =
        Recipe::load(std::path::Path::new(&file)).map_err(|e| ParseError(e.to_string()))?;
    let recipe = recipe.plan(&file).map_err(|e| ParseError(e.to_string()))?;
    let source = file;
    Ok(run(Command::Recipe {
        recipe,
        squad,
        source,
    }))
}

/// `dlq list`, `dlq show RUN/STEP`, `dlq replay RUN/STEP|--all`.
pub fn dlq(rest: &str) -> Result<Parsed, ParseError> {
    let command = match words(rest)?.as_slice() {
        [list] if list == "list" => DlqCommand::List,
        [show, id] if show == "show" => DlqCommand::Show { id: id.clone() },
        [replay, all] if replay == "replay" && all == "--all" => DlqCommand::Replay { id: None },
        [replay, id] if replay == "replay" => DlqCommand::Replay {
            id: Some(id.clone()),
        },
        _ => {
            return Err(ParseError(
                "usage: dlq list | dlq show RUN/STEP | dlq replay RUN/STEP|--all".into(),
            ));
        }
    };
    Ok(run(Command::Dlq(command)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recipe_file_becomes_a_checked_plan_and_a_bad_one_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.toml");
        let text = "[recipe]\nname = \"r\"\n[[step]]\nname = \"a\"\ngoal = \"wait\"\nseconds = 1\n\
                    [[step]]\nname = \"b\"\ngoal = \"wait\"\nseconds = 1\nneeds = [\"a\"]\n";
        std::fs::write(&good, text).unwrap();
        let line = format!("--recipe {} --squad alpha", good.display());
        let Ok(Parsed::Run {
            command: Command::Recipe { recipe, squad, .. },
            ..
        }) = parse(&line)
        else {
            panic!("{:?}", parse(&line))
        };
        assert_eq!((recipe.steps.len(), squad.as_str()), (2, "alpha"));
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, text.replace("needs = [\"a\"]", "needs = [\"zz\"]")).unwrap();
        let ParseError(why) = parse(&format!("--recipe {}", bad.display())).unwrap_err();
        assert!(
            why.contains("bad.toml") && why.contains("\"b\"") && why.contains("needs"),
            "{why}"
        );
        assert!(parse("--recipe").is_err());
    }

    #[test]
    fn dlq_takes_list_show_and_replay_of_one_or_all() {
        let dlq_of = |line: &str| match dlq(line) {
            Ok(Parsed::Run {
                command: Command::Dlq(c),
                ..
            }) => c,
            other => panic!("{other:?}"),
        };
        assert_eq!(dlq_of("list"), DlqCommand::List);
        assert_eq!(dlq_of("show 3/a"), DlqCommand::Show { id: "3/a".into() });
        assert_eq!(dlq_of("replay --all"), DlqCommand::Replay { id: None });
        assert_eq!(
            dlq_of("replay 3/a"),
            DlqCommand::Replay {
                id: Some("3/a".into())
            }
        );
        assert!(dlq("replay").is_err() && dlq("drop 3/a").is_err());
    }
}
