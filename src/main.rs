use std::process::ExitCode;

fn main() -> ExitCode {
    swarmd::cli::main()
}
