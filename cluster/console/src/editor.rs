//! The interactive console: rustyline with persistent history and tab
//! completion of commands and of live node and agent names.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use rustyline::completion::Completer;
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};

use super::parse::COMMANDS;
use super::{Outcome, Session};

/// History entries kept across sessions.
const HISTORY_LINES: usize = 1000;

#[derive(Default)]
struct Names {
    live: Arc<Mutex<Vec<String>>>,
}

impl Completer for Names {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        let before = line.get(..pos).unwrap_or(line);
        // After the last whitespace character (which may be several bytes).
        let start = before
            .char_indices()
            .rfind(|(_, c)| c.is_whitespace())
            .map_or(0, |(i, c)| i + c.len_utf8());
        let word = &before[start..];
        let candidates: Vec<String> = if start == 0 {
            COMMANDS.iter().map(|(c, _)| c.to_string()).collect()
        } else {
            self.live
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        };
        let matches = candidates
            .into_iter()
            .filter(|c| c.starts_with(word))
            .collect();
        Ok((start, matches))
    }
}

impl Hinter for Names {
    type Hint = String;
}
impl Highlighter for Names {}
impl Validator for Names {}
impl Helper for Names {}

/// Runs until `quit` or Ctrl-D; true if no command failed. Ctrl-C during a
/// command cancels it; at the prompt it stops background followers and
/// clears the line. Neither ends the session.
pub fn interactive(
    runtime: &tokio::runtime::Runtime,
    mut session: Session,
    history: Option<&Path>,
) -> bool {
    let config = rustyline::Config::builder()
        .max_history_size(HISTORY_LINES)
        .map(|b| b.auto_add_history(true).build());
    let Ok(config) = config else {
        return false;
    };
    let mut editor: Editor<Names, DefaultHistory> = match Editor::with_config(config) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: cannot start the line editor: {e}");
            return false;
        }
    };
    if let Ok(printer) = editor.create_external_printer() {
        session.print_above_prompt(Arc::new(Mutex::new(printer)));
    }
    let names = Names::default();
    let live = names.live.clone();
    editor.set_helper(Some(names));
    if let Some(path) = history {
        let _ = editor.load_history(path);
    }
    let refresh = |live: &Arc<Mutex<Vec<String>>>| {
        let fresh = runtime.block_on(session.live_names());
        *live.lock().unwrap_or_else(PoisonError::into_inner) = fresh;
    };
    refresh(&live);
    let prompt = format!("{}> ", session.node());
    let mut ok = true;
    loop {
        match editor.readline(&prompt) {
            Ok(line) => {
                let outcome = runtime.block_on(async {
                    tokio::select! {
                        outcome = session.run_line(&line) => outcome,
                        _ = tokio::signal::ctrl_c() => {
                            eprintln!("(cancelled)");
                            Outcome::Ok
                        }
                    }
                });
                match outcome {
                    Outcome::Ok => {}
                    Outcome::Failed => ok = false,
                    Outcome::Quit => break,
                }
                refresh(&live);
            }
            Err(ReadlineError::Interrupted) => {
                let stopped = session.stop_followers();
                if stopped > 0 {
                    eprintln!(
                        "(stopped {stopped} follower{})",
                        if stopped == 1 { "" } else { "s" }
                    );
                }
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("error: {e}");
                ok = false;
                break;
            }
        }
        if let Some(path) = history {
            let _ = editor.save_history(path);
        }
    }
    session.stop_followers();
    ok
}
