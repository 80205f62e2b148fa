//! getrandom 0.3 and std find libc's `getrandom` with `dlsym`; exporting the
//! `swarm-sim` binary's own makes them find its determinism shim instead.
fn main() {
    println!("cargo:rustc-link-arg-bins=-Wl,--export-dynamic-symbol=getrandom");
}
