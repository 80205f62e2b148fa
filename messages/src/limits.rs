//! Bounds on what arrives from another node, checked before it is acted on.
//! A frame is already capped at [`MAX_FRAME_BYTES`](crate::MAX_FRAME_BYTES);
//! these bound the parts that become keys, names and work.

/// Node, tenant, kind and squad names.
pub const MAX_NAME_BYTES: usize = 64;
/// Agent ids (they name directory entries and ledger keys).
pub const MAX_ID_BYTES: usize = 128;
pub const MAX_CAPABILITIES: usize = 32;
pub const MAX_PARAMS: usize = 64;
/// All parameter values of one spec together (a sandbox module among them).
pub const MAX_PARAM_BYTES: usize = 1 << 20;

/// 1..=`max` bytes of `[A-Za-z0-9_.-]`: safe in keys, paths and key expressions.
pub fn is_name(name: &str, max: usize) -> bool {
    (1..=max).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SpawnSpec;

    #[test]
    fn names_are_short_and_plain() {
        assert!(is_name("edge-1.eu_west", MAX_NAME_BYTES));
        for bad in ["", "a b", "a/b", "ä", &"x".repeat(65)] {
            assert!(!is_name(bad, MAX_NAME_BYTES), "{bad:?}");
        }
    }

    #[test]
    fn a_spec_out_of_bounds_is_refused() {
        let ok = SpawnSpec::new("a1", "grid", "t");
        assert_eq!(ok.check_bounds(), Ok(()));
        let mut many = ok.clone();
        many.capabilities = vec!["c".into(); MAX_CAPABILITIES + 1];
        assert!(many.check_bounds().is_err());
        let mut huge = ok.clone();
        huge.params
            .insert("sandbox_wat".into(), "x".repeat(MAX_PARAM_BYTES + 1));
        assert!(huge.check_bounds().is_err());
        let mut tenant = ok;
        tenant.tenant = "t/../../x".into();
        assert!(tenant.check_bounds().is_err());
    }
}
