//! Process-level determinism shims (the `shims` feature, on by default),
//! linked into any binary that calls [`install`] — `swarm-sim`, and test
//! binaries using [`crate::check`] — as madsim does: once installed with a
//! seed, the process's
//! randomness and clocks come from the seed and the simulation, whatever
//! asks for them — std's hash-map keys, `rand`'s OS seeding in
//! ractor_cluster (via getrandom's `dlsym`, hence the build script exports
//! `getrandom`), `Instant`/`SystemTime`, and the CPU count DashMap sizes its
//! shards by. Randomness is deterministic from the first instruction (std
//! draws its hash keys before `main` can install anything) and reseeded by
//! `install`; clocks and CPUs are the kernel's until `install`.

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use libc::{c_int, c_long, c_uint, c_void, clockid_t, cpu_set_t, pid_t, size_t, ssize_t, timespec};

/// The simulated machine's CPU count.
const CPUS: usize = 2;
/// 2026-01-01T00:00:00Z, as the SimClock's epoch.
const EPOCH_SECS: i64 = 1_767_225_600;

/// The random stream: a fixed start, reseeded by `install`.
static STREAM: AtomicU64 = AtomicU64::new(0x5eed_0f5e_ed0f_5eed);

struct Shim {
    /// tokio's virtual time at install.
    start: tokio::time::Instant,
}

static SHIM: OnceLock<Shim> = OnceLock::new();

thread_local! {
    /// Set while a shim runs, so a clock read inside it goes to the kernel.
    static INSIDE: Cell<bool> = const { Cell::new(false) };
}

/// From now on randomness comes from `seed` and clocks from tokio's
/// (paused) virtual time. Call on the runtime, before the simulation starts.
pub fn install(seed: u64) {
    assert_exported();
    STREAM.store(seed ^ 0x5eed_5eed_5eed_5eed, Ordering::SeqCst);
    let shim = Shim {
        start: tokio::time::Instant::now(),
    };
    assert!(SHIM.set(shim).is_ok(), "determinism shims installed twice");
}

/// getrandom 0.3 (rand's OS seeding) finds `getrandom` with `dlsym`: only
/// a binary that exports this shim's gets seeded randomness there. Without
/// it ractor_cluster's pings would be timed by the OS's entropy and one seed
/// would not give one trace, so a binary that lacks the export is refused.
fn assert_exported() {
    let name = c"getrandom";
    let found = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    assert!(
        found == getrandom as *mut c_void,
        "the determinism shims are not exported from this binary: add \
         `println!(\"cargo:rustc-link-arg-tests=-Wl,--export-dynamic-symbol=getrandom\");` \
         (or `-bins` for a binary) to the build script of the package that runs the simulation"
    );
}

fn splitmix(state: &AtomicU64) -> u64 {
    let mut z = state
        .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// libc's `getrandom`: std's hash keys, and getrandom 0.3 (found by `dlsym`).
///
/// # Safety
/// `buf` must be valid for `len` bytes, as for libc's.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn getrandom(buf: *mut c_void, len: size_t, _flags: c_uint) -> ssize_t {
    let out = unsafe { std::slice::from_raw_parts_mut(buf.cast::<u8>(), len) };
    for chunk in out.chunks_mut(8) {
        let bytes = splitmix(&STREAM).to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
    len as ssize_t
}

/// libc's `clock_gettime`: realtime is the SimClock's epoch plus virtual
/// time; the monotonic clocks are virtual time.
///
/// # Safety
/// `tp` must be valid for writing, as for libc's.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn clock_gettime(clock: clockid_t, tp: *mut timespec) -> c_int {
    let real = || unsafe { libc::syscall(libc::SYS_clock_gettime, clock as c_long, tp) as c_int };
    let Some(shim) = SHIM.get() else {
        return real();
    };
    // Inside already, or the thread is ending: the kernel answers.
    if INSIDE
        .try_with(|inside| inside.replace(true))
        .unwrap_or(true)
    {
        return real();
    }
    let elapsed = tokio::time::Instant::now().saturating_duration_since(shim.start);
    let _ = INSIDE.try_with(|inside| inside.set(false));
    let base = if clock == libc::CLOCK_REALTIME || clock == libc::CLOCK_REALTIME_COARSE {
        EPOCH_SECS
    } else {
        1_000
    };
    unsafe {
        (*tp).tv_sec = base + elapsed.as_secs() as i64;
        (*tp).tv_nsec = i64::from(elapsed.subsec_nanos());
    }
    0
}

/// libc's `sched_getaffinity`: always the same CPUs, so whatever sizes
/// itself by them (DashMap's shards) does the same on every machine.
///
/// # Safety
/// `mask` must be valid for `size` bytes, as for libc's.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sched_getaffinity(
    pid: pid_t,
    size: size_t,
    mask: *mut cpu_set_t,
) -> c_int {
    if SHIM.get().is_none() {
        // The kernel writes only its own mask's bytes; libc zeroes the rest.
        unsafe { std::ptr::write_bytes(mask.cast::<u8>(), 0, size) };
        let got = unsafe { libc::syscall(libc::SYS_sched_getaffinity, pid, size, mask) };
        // The raw syscall returns the mask's size; libc's wrapper returns 0.
        return if got < 0 { -1 } else { 0 };
    }
    unsafe {
        std::ptr::write_bytes(mask.cast::<u8>(), 0, size);
        for cpu in 0..CPUS {
            libc::CPU_SET(cpu, &mut *mask);
        }
    }
    0
}
