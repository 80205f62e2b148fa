//! A loaded guest: one compiled module in its own engine and store, called
//! under fuel, memory and wall-clock limits. No actor here: the supervised
//! one is [`Sandbox`](super::Sandbox).

use std::time::Duration;

use wasmi::{
    CompilationMode, Config, EnforcedLimits, Engine, Instance, Linker, Module, Store, StoreLimits,
    StoreLimitsBuilder, TrapCode, TypedFunc, TypedResumableCall,
    errors::{ErrorKind, InstantiationError, MemoryError, TableError},
};

use tokio::time::Instant;

/// Reads monotonic time for the deadline: `&Instant::now` in production
/// (tokio's, so the simulator's paused clock governs it); tests step it.
pub type Stopwatch<'a> = &'a (dyn Fn() -> Instant + Sync);

const FUEL_ENABLED: &str = "the sandbox engine meters fuel";
const TABLE_ELEMENTS: usize = 10_000;

/// What one guest may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxLimits {
    /// Fuel for one `plan` or `parameterize` call, across all its slices.
    pub fuel_per_call: u64,
    /// Fuel given at a time; the deadline is checked between slices.
    pub fuel_slice: u64,
    /// Linear memory, all memories together.
    pub memory_bytes: usize,
    /// Wall-clock time for one call, measured on the node's clock.
    pub deadline: Duration,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        Self {
            fuel_per_call: 5_000_000,
            fuel_slice: 50_000,
            memory_bytes: 1 << 20,
            deadline: Duration::from_millis(20),
        }
    }
}

impl SandboxLimits {
    fn assert_consistent(&self) {
        assert!(self.fuel_slice > 0, "fuel_slice must be positive");
        assert!(
            self.fuel_slice <= self.fuel_per_call,
            "fuel_slice {} exceeds fuel_per_call {}",
            self.fuel_slice,
            self.fuel_per_call
        );
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SandboxError {
    #[error("guest module does not compile: {0}")]
    Compile(String),
    #[error("guest breaks the sandbox ABI: {0}")]
    Abi(String),
    #[error("guest trapped: {0}")]
    Trap(String),
    #[error("guest ran out of fuel ({limit} per call)")]
    OutOfFuel { limit: u64 },
    #[error("guest missed its deadline ({limit:?} per call)")]
    Deadline { limit: Duration },
    #[error("guest exceeded its memory limit: {0}")]
    Memory(String),
    #[error("guest failed earlier and must be reloaded")]
    Poisoned,
}

/// What `plan` decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestIntent {
    Hold,
    GoToGoal,
    /// Detour before going on to the goal.
    Explore,
}

impl GuestIntent {
    fn from_code(code: i32) -> Result<Self, SandboxError> {
        match code {
            0 => Ok(Self::Hold),
            1 => Ok(Self::GoToGoal),
            2 => Ok(Self::Explore),
            _ => Err(SandboxError::Abi(format!(
                "plan returned {code}; expected 0 hold, 1 go to goal or 2 explore"
            ))),
        }
    }

    fn code(self) -> i32 {
        match self {
            Self::Hold => 0,
            Self::GoToGoal => 1,
            Self::Explore => 2,
        }
    }
}

/// One grid step; north is y - 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Stay,
    North,
    East,
    South,
    West,
}

impl Step {
    fn from_code(code: i32) -> Result<Self, SandboxError> {
        match code {
            0 => Ok(Self::Stay),
            1 => Ok(Self::North),
            2 => Ok(Self::East),
            3 => Ok(Self::South),
            4 => Ok(Self::West),
            _ => Err(SandboxError::Abi(format!(
                "parameterize returned {code}; expected 0 to 4 (stay, north, east, south, west)"
            ))),
        }
    }
}

/// What the agent knows when it asks the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanInput {
    pub x: i32,
    pub y: i32,
    pub goal: Option<(i32, i32)>,
    /// The last consistency check failed.
    pub blocked: bool,
}

type GuestParams = (i32, i32, i32, i32, i32);
type GuestFunc = TypedFunc<GuestParams, i32>;

/// A loaded guest. After any error it is poisoned: its memory and globals may
/// hold whatever the guest left halfway, so every later call returns
/// [`SandboxError::Poisoned`]. The sandbox actor fails instead, and its
/// restart loads a fresh guest.
pub struct Guest {
    store: Store<StoreLimits>,
    instance: Instance,
    /// `plan` (an agent's planner) or `step_goal` (a recipe step's).
    entry: GuestFunc,
    entry_name: &'static str,
    parameterize: Option<GuestFunc>,
    limits: SandboxLimits,
    last_fuel_used: u64,
    poisoned: bool,
}

impl Guest {
    /// Compiles and instantiates `source`, WAT text or a Wasm binary.
    ///
    /// # Panics
    ///
    /// If `limits.fuel_slice` is zero or larger than `limits.fuel_per_call`.
    pub fn load(source: &[u8], limits: SandboxLimits) -> Result<Self, SandboxError> {
        Self::load_with(source, limits, "plan")
    }

    /// A recipe step's planner: a guest exporting `step_goal` instead of
    /// `plan` (see [`crate::missions::sandboxed`] for that ABI).
    pub fn load_step(source: &[u8], limits: SandboxLimits) -> Result<Self, SandboxError> {
        Self::load_with(source, limits, "step_goal")
    }

    fn load_with(
        source: &[u8],
        limits: SandboxLimits,
        entry_name: &'static str,
    ) -> Result<Self, SandboxError> {
        limits.assert_consistent();
        let wasm = wat::parse_bytes(source).map_err(|e| SandboxError::Compile(e.to_string()))?;
        let engine = Engine::new(&sandbox_config());
        let module =
            Module::new(&engine, wasm).map_err(|e| SandboxError::Compile(e.to_string()))?;
        refuse_imports(&module)?;
        let mut store = Store::new(&engine, store_limits(limits.memory_bytes));
        store.limiter(|limits| limits);
        let instance = Linker::new(&engine)
            .instantiate_and_start(&mut store, &module)
            .map_err(|e| guest_error(&e, &limits))?;
        let entry = typed_export(&instance, &store, entry_name)?.ok_or_else(|| {
            SandboxError::Abi(format!("the guest does not export `{entry_name}`"))
        })?;
        let parameterize = typed_export(&instance, &store, "parameterize")?;
        Ok(Self {
            store,
            instance,
            entry,
            entry_name,
            parameterize,
            limits,
            last_fuel_used: 0,
            poisoned: false,
        })
    }

    pub async fn plan(
        &mut self,
        now: Stopwatch<'_>,
        input: PlanInput,
    ) -> Result<GuestIntent, SandboxError> {
        let (goal_x, goal_y) = input.goal.unwrap_or((-1, -1));
        let params = (input.x, input.y, goal_x, goal_y, i32::from(input.blocked));
        assert_eq!(self.entry_name, "plan", "an agent's planner guest");
        let code = self.call(now, self.entry, params).await?;
        GuestIntent::from_code(code).inspect_err(|_| self.poisoned = true)
    }

    /// Fails with [`SandboxError::Abi`] when the guest does not export
    /// `parameterize`; see [`has_parameterize`](Self::has_parameterize).
    pub async fn parameterize(
        &mut self,
        now: Stopwatch<'_>,
        intent: GuestIntent,
        input: PlanInput,
    ) -> Result<Step, SandboxError> {
        let Some(func) = self.parameterize else {
            self.poisoned = true;
            return Err(SandboxError::Abi(
                "the guest does not export `parameterize`".into(),
            ));
        };
        let (goal_x, goal_y) = input.goal.unwrap_or((-1, -1));
        let params = (intent.code(), input.x, input.y, goal_x, goal_y);
        let code = self.call(now, func, params).await?;
        Step::from_code(code).inspect_err(|_| self.poisoned = true)
    }

    /// A recipe step guest's `step_goal(which, width, height, attempt, 0)`.
    pub async fn step_goal(
        &mut self,
        now: Stopwatch<'_>,
        which: i32,
        (width, height): (i32, i32),
        attempt: i32,
    ) -> Result<i32, SandboxError> {
        assert_eq!(self.entry_name, "step_goal", "a recipe step's guest");
        let params = (which, width, height, attempt, 0);
        self.call(now, self.entry, params).await
    }

    pub fn has_parameterize(&self) -> bool {
        self.parameterize.is_some()
    }

    /// Fuel consumed by the last call, finished or not.
    pub fn last_fuel_used(&self) -> u64 {
        self.last_fuel_used
    }

    /// The current size of the memory the guest exports as `memory`, if any.
    pub fn exported_memory_bytes(&self) -> Option<usize> {
        let memory = self.instance.get_memory(&self.store, "memory")?;
        Some(memory.data_size(&self.store))
    }

    async fn call(
        &mut self,
        now: Stopwatch<'_>,
        func: GuestFunc,
        params: GuestParams,
    ) -> Result<i32, SandboxError> {
        if self.poisoned {
            return Err(SandboxError::Poisoned);
        }
        let result = self.run_sliced(now, func, params).await;
        self.poisoned = result.is_err();
        result
    }

    /// Runs `func` one fuel slice at a time. Between slices it checks the
    /// deadline and yields to the runtime, since wasmi cannot interrupt a
    /// running call on its own.
    async fn run_sliced(
        &mut self,
        now: Stopwatch<'_>,
        func: GuestFunc,
        params: GuestParams,
    ) -> Result<i32, SandboxError> {
        let started = now();
        let mut budget = FuelBudget::new(&self.limits);
        self.store.set_fuel(budget.granted).expect(FUEL_ENABLED);
        let mut call = func.call_resumable(&mut self.store, params);
        loop {
            let remaining = self.store.get_fuel().expect(FUEL_ENABLED);
            self.last_fuel_used = budget.used(remaining);
            let pending = match call {
                Ok(TypedResumableCall::Finished(code)) => return Ok(code),
                Ok(TypedResumableCall::OutOfFuel(pending)) => pending,
                Ok(TypedResumableCall::HostTrap(_)) => {
                    return Err(SandboxError::Abi("the guest called a host function".into()));
                }
                Err(error) => return Err(guest_error(&error, &self.limits)),
            };
            if now().saturating_duration_since(started) >= self.limits.deadline {
                return Err(SandboxError::Deadline {
                    limit: self.limits.deadline,
                });
            }
            let Some(fuel) = budget.top_up(remaining, pending.required_fuel()) else {
                return Err(SandboxError::OutOfFuel {
                    limit: self.limits.fuel_per_call,
                });
            };
            tokio::task::yield_now().await;
            self.store.set_fuel(fuel).expect(FUEL_ENABLED);
            call = pending.resume(&mut self.store);
        }
    }
}

/// The fuel of one call: handed out a slice at a time up to the per-call cap.
struct FuelBudget {
    per_call: u64,
    slice: u64,
    granted: u64,
}

impl FuelBudget {
    fn new(limits: &SandboxLimits) -> Self {
        Self {
            per_call: limits.fuel_per_call,
            slice: limits.fuel_slice,
            granted: limits.fuel_slice,
        }
    }

    /// The store's new fuel for a call that stopped with `remaining` fuel
    /// and needs `required` to go on; `None` once the cap cannot cover it.
    fn top_up(&mut self, remaining: u64, required: u64) -> Option<u64> {
        let left = self.per_call - self.granted;
        if left == 0 || left.saturating_add(remaining) < required {
            return None;
        }
        let grant = self.slice.max(required.saturating_sub(remaining)).min(left);
        self.granted += grant;
        Some(remaining + grant)
    }

    fn used(&self, remaining: u64) -> u64 {
        self.granted - remaining
    }
}

fn sandbox_config() -> Config {
    let mut config = Config::default();
    config
        .consume_fuel(true)
        // Eager: compile errors surface at load, and no call pays for translation.
        .compilation_mode(CompilationMode::Eager)
        .enforced_limits(EnforcedLimits::strict())
        // A start function would run at load, outside the deadline.
        .allow_start_fn(false);
    config
}

fn refuse_imports(module: &Module) -> Result<(), SandboxError> {
    match module.imports().next() {
        None => Ok(()),
        Some(import) => Err(SandboxError::Abi(format!(
            "the guest imports `{}::{}`, but the sandbox provides no imports",
            import.module(),
            import.name()
        ))),
    }
}

fn typed_export(
    instance: &Instance,
    store: &Store<StoreLimits>,
    name: &str,
) -> Result<Option<GuestFunc>, SandboxError> {
    if instance.get_export(store, name).is_none() {
        return Ok(None);
    }
    instance.get_typed_func(store, name).map(Some).map_err(|e| {
        SandboxError::Abi(format!(
            "`{name}` must be a function (i32, i32, i32, i32, i32) -> i32: {e}"
        ))
    })
}

/// Refused growth traps rather than making `memory.grow` return -1 (see
/// [`store_limits`]), so a memory error is told apart from any other trap.
fn guest_error(error: &wasmi::Error, limits: &SandboxLimits) -> SandboxError {
    use InstantiationError::{FailedToInstantiateMemory, FailedToInstantiateTable};
    use MemoryError::ResourceLimiterDeniedAllocation as DeniedMemory;
    use TableError::ResourceLimiterDeniedAllocation as DeniedTable;
    let refused_growth = matches!(
        error.kind(),
        ErrorKind::Memory(DeniedMemory)
            | ErrorKind::Table(DeniedTable)
            | ErrorKind::Instantiation(FailedToInstantiateMemory(DeniedMemory))
            | ErrorKind::Instantiation(FailedToInstantiateTable(DeniedTable))
    ) || error.as_trap_code() == Some(TrapCode::GrowthOperationLimited);
    if refused_growth {
        SandboxError::Memory(format!(
            "{error} (limit {} bytes of memory, {TABLE_ELEMENTS} table elements)",
            limits.memory_bytes
        ))
    } else {
        SandboxError::Trap(error.to_string())
    }
}

/// One memory of at most `memory_bytes`, one table, one instance. Growing
/// past a limit traps, as a guest allocator aborts when `memory.grow` fails.
fn store_limits(memory_bytes: usize) -> StoreLimits {
    StoreLimitsBuilder::new()
        .memory_size(memory_bytes)
        .memories(1)
        .tables(1)
        .table_elements(TABLE_ELEMENTS)
        .instances(1)
        .trap_on_grow_failure(true)
        .build()
}
