use std::process::ExitCode;

fn main() -> ExitCode {
    swarmd_cluster::cli::main()
}
