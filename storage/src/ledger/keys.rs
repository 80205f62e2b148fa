//! Key layout of the `ledger` tree. Everything the ledger writes lives in this
//! one tree, so one atomic batch covers an event, its indexes and the sequence
//! high-water mark. Strings are length-prefixed, so no name can forge another's
//! prefix; sequence numbers and times are big-endian, so keys sort in order.
//!
//! Events are stored in blocks (`block.rs`): one value per commit batch,
//! tenant and node (split at 64 KiB), keyed by its first seq. Index entries
//! are posting lists: one entry per committed batch and index value, holding
//! the seqs of that batch's events with that value. sled's cost is per key,
//! so a commit of hundreds of events writes a handful of keys.
//!
//! | prefix | key | value |
//! |---|---|---|
//! | `b` | tenant, node, first seq | block: the batch's events of that tenant |
//! | `e` | tenant, node, seq | one event: of a ledger written before blocks, or one a hub received below seqs it held |
//! | `a` | tenant, agent, node, first seq | posting: node, seqs |
//! | `t` | tenant, trace id, node, first seq | posting: node, seqs |
//! | `k` | tenant, kind, node, first seq | posting: node, seqs |
//! | `m` | tenant, time µs, node, first seq | posting: node, seqs |
//! | `n` | node, first seq | log posting: (seq, tenant) in seq order, for forwarding |
//! | `s` | tenant, agent, node, seq | snapshot of the agent's folded state |
//! | `M` | name | metadata (next seq, cursors) |

pub const TREE: &str = "ledger";

const BLOCK: u8 = b'b';
const EVENT: u8 = b'e';
const BY_AGENT: u8 = b'a';
const BY_TRACE: u8 = b't';
const BY_KIND: u8 = b'k';
const BY_TIME: u8 = b'm';
const BY_NODE: u8 = b'n';
const SNAPSHOT: u8 = b's';
const META: u8 = b'M';

/// Builds keys part by part.
struct Key(Vec<u8>);

impl Key {
    fn new(prefix: u8) -> Self {
        Key(vec![prefix])
    }

    fn text(mut self, s: &str) -> Self {
        let len = u16::try_from(s.len()).expect("key part longer than 64 KiB");
        self.0.extend_from_slice(&len.to_be_bytes());
        self.0.extend_from_slice(s.as_bytes());
        self
    }

    fn bytes(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }

    fn u64(mut self, n: u64) -> Self {
        self.0.extend_from_slice(&n.to_be_bytes());
        self
    }

    fn done(self) -> Vec<u8> {
        self.0
    }
}

pub fn block(tenant: &str, node: &str, first_seq: u64) -> Vec<u8> {
    Key::new(BLOCK)
        .text(tenant)
        .text(node)
        .u64(first_seq)
        .done()
}

pub fn blocks_of_node(tenant: &str, node: &str) -> Vec<u8> {
    Key::new(BLOCK).text(tenant).text(node).done()
}

/// The prefixes under which events are stored: blocks, and single events.
pub const BLOCK_PREFIX: u8 = BLOCK;
pub const EVENT_PREFIX: u8 = EVENT;

pub fn event(tenant: &str, node: &str, seq: u64) -> Vec<u8> {
    Key::new(EVENT).text(tenant).text(node).u64(seq).done()
}

pub fn events_of_node(tenant: &str, node: &str) -> Vec<u8> {
    Key::new(EVENT).text(tenant).text(node).done()
}

pub fn by_agent(tenant: &str, agent: &str, node: &str, seq: u64) -> Vec<u8> {
    Key::new(BY_AGENT)
        .text(tenant)
        .text(agent)
        .text(node)
        .u64(seq)
        .done()
}

pub fn agent_prefix(tenant: &str, agent: &str) -> Vec<u8> {
    Key::new(BY_AGENT).text(tenant).text(agent).done()
}

pub fn by_trace(tenant: &str, trace_id: &[u8; 16], node: &str, seq: u64) -> Vec<u8> {
    Key::new(BY_TRACE)
        .text(tenant)
        .bytes(trace_id)
        .text(node)
        .u64(seq)
        .done()
}

pub fn trace_prefix(tenant: &str, trace_id: &[u8; 16]) -> Vec<u8> {
    Key::new(BY_TRACE).text(tenant).bytes(trace_id).done()
}

pub fn by_kind(tenant: &str, kind: &str, node: &str, seq: u64) -> Vec<u8> {
    Key::new(BY_KIND)
        .text(tenant)
        .text(kind)
        .text(node)
        .u64(seq)
        .done()
}

pub fn kind_prefix(tenant: &str, kind: &str) -> Vec<u8> {
    Key::new(BY_KIND).text(tenant).text(kind).done()
}

pub fn by_time(tenant: &str, time_us: u64, node: &str, seq: u64) -> Vec<u8> {
    Key::new(BY_TIME)
        .text(tenant)
        .u64(time_us)
        .text(node)
        .u64(seq)
        .done()
}

pub fn time_from(tenant: &str, time_us: u64) -> Vec<u8> {
    Key::new(BY_TIME).text(tenant).u64(time_us).done()
}

pub fn by_node(node: &str, seq: u64) -> Vec<u8> {
    Key::new(BY_NODE).text(node).u64(seq).done()
}

pub fn node_prefix(node: &str) -> Vec<u8> {
    Key::new(BY_NODE).text(node).done()
}

/// The prefixes of every posting-list index, for maintenance scans.
pub const INDEX_PREFIXES: [u8; 5] = [BY_AGENT, BY_TRACE, BY_KIND, BY_TIME, BY_NODE];
pub const LOG_PREFIX: u8 = BY_NODE;

pub fn snapshot(tenant: &str, agent: &str, node: &str, seq: u64) -> Vec<u8> {
    Key::new(SNAPSHOT)
        .text(tenant)
        .text(agent)
        .text(node)
        .u64(seq)
        .done()
}

pub fn snapshot_prefix(tenant: &str, agent: &str) -> Vec<u8> {
    Key::new(SNAPSHOT).text(tenant).text(agent).done()
}

pub fn meta(name: &str) -> Vec<u8> {
    Key::new(META).text(name).done()
}

/// The trailing big-endian sequence number every event and index key ends with.
pub fn trailing_seq(key: &[u8]) -> u64 {
    let tail: [u8; 8] = key[key.len() - 8..]
        .try_into()
        .expect("keys end with a u64");
    u64::from_be_bytes(tail)
}

/// The smallest key after `key`: where a scan resumes.
pub fn after(key: &[u8]) -> Vec<u8> {
    let mut next = key.to_vec();
    next.push(0);
    next
}

/// The smallest key greater than every key starting with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return end;
        }
    }
    vec![u8::MAX; prefix.len() + 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_cannot_forge_each_others_prefixes() {
        // "ab" + "c" must not share a prefix with "a" + "bc".
        assert!(!event("ab", "c", 1).starts_with(&events_of_node("a", "bc")));
        assert!(!by_agent("t", "agent-1", "n", 1).starts_with(&agent_prefix("t", "agent-")));
    }

    #[test]
    fn seqs_and_times_sort_numerically() {
        assert!(event("t", "n", 255) < event("t", "n", 256));
        assert!(by_time("t", 9, "z", 9) < by_time("t", 10, "a", 0));
        assert_eq!(trailing_seq(&by_node("n", 77)), 77);
    }

    #[test]
    fn prefix_end_bounds_the_prefix() {
        let p = agent_prefix("t", "a");
        let end = prefix_end(&p);
        assert!(by_agent("t", "a", "zzz", u64::MAX) < end);
        assert!(p < end);
        assert_eq!(prefix_end(&[1, 255]), vec![2]);
    }
}
