use std::process::ExitCode;

fn main() -> ExitCode {
    // swarmd is the program that embeds a node with the warehouse (built in)
    // and the drones domain registered.
    swarmd::cli::main_with(|node| node.domain(swarmd::drones::Drones::standard()))
}
