fn main() {
    // The simulator's determinism shims answer getrandom from the seed:
    // the test binary exports the symbol (see swarmd_sim::shims).
    println!("cargo:rustc-link-arg-tests=-Wl,--export-dynamic-symbol=getrandom");
}
