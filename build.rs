//! The simulation tests in `tests/` run with swarmd-sim's determinism shims;
//! getrandom 0.3 finds `getrandom` with `dlsym`, so the test binaries must
//! export the shim's for one seed to give one trace (`swarmd_sim::check`
//! refuses to run otherwise).
fn main() {
    println!("cargo:rustc-link-arg-tests=-Wl,--export-dynamic-symbol=getrandom");
}
