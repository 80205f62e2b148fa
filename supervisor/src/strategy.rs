//! How a supervisor restarts its children, and when it stops on its own.

/// Which children restart when one of them exits and must be restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Only the child that exited.
    OneForOne,
    /// All children: the others are stopped in reverse order, then all start in order.
    OneForAll,
    /// The child that exited and every child started after it.
    RestForOne,
    /// OTP's `simple_one_for_one`: children are added at run time with
    /// `start_child`, restart one for one, and leave the supervisor when they
    /// stop for good. Where OTP has one template plus per-child arguments, each
    /// dynamic child here brings its own `ChildSpec`, whose start closure holds
    /// its arguments.
    SimpleOneForOne,
}

/// OTP 24's automatic shutdown on significant children.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AutoShutdown {
    #[default]
    Never,
    /// The supervisor stops when any significant child exits on its own.
    AnySignificant,
    /// The supervisor stops when every significant child has exited on its own.
    AllSignificant,
}
