//! A `sandboxed` recipe step's module, read from beside its recipe file
//! when the recipe is turned into a plan (where the file is: the console's
//! machine, or the node's for `[missions] recipe`).

use std::path::Path;

use swarmd_messages::recipe::MAX_MODULE_BYTES;

use super::RecipeError;

/// The bytes of `module` (relative to `beside`), bounded; `None` for
/// `beside`: the recipe is no file, so there is nothing to read.
pub(crate) fn read_module(
    file: &str,
    step: &str,
    module: &Path,
    beside: Option<&Path>,
) -> Result<Vec<u8>, RecipeError> {
    let fail = |why: String| RecipeError::Step {
        file: file.into(),
        step: step.into(),
        key: "module".into(),
        why,
    };
    let Some(beside) = beside else {
        return Err(fail(
            "a sandboxed step needs its recipe as a file (the module is read beside it): \
             submit it with `mission --recipe FILE`"
                .into(),
        ));
    };
    let path = beside.join(module);
    let size = std::fs::metadata(&path)
        .map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?
        .len();
    if size == 0 || size > MAX_MODULE_BYTES as u64 {
        let shown = path.display();
        return Err(fail(format!(
            "{shown} has {size} bytes; a module has 1..={MAX_MODULE_BYTES}"
        )));
    }
    std::fs::read(&path).map_err(|e| fail(format!("cannot read {}: {e}", path.display())))
}
