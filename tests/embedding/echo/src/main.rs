//! `swarmd` with one more agent kind: the same command line (a node, the
//! console, the tools), and `spawn echo {}` works on this node.

fn main() -> std::process::ExitCode {
    swarmd::cli::main_with(|node| node.kind("echo", echo_swarm::Echo))
}
