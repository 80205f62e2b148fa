//! Event blocks: the events of one commit, for one (tenant, node), stored as
//! one sled value with an index into it. sled's cost is per key, so a commit
//! of 512 events writes a few blocks instead of 512 keys.
//!
//! Layout (big-endian):
//!
//! | bytes | what |
//! |---|---|
//! | 1 | format version (`1`) |
//! | 4 | `count` |
//! | 12 × count | per event: seq (u64), end of its bytes in the payload (u32) |
//! | … | payload: the encoded events, back to back, in seq order |
//!
//! One event is read by binary search over the index and a slice of the
//! payload; nothing else in the block is decoded.

use crate::StorageError;

const VERSION: u8 = 1;
const HEADER: usize = 5;
const ENTRY: usize = 12;

/// A block closes at this many payload bytes (the event that crosses the
/// line is its last)...
pub const MAX_BLOCK_BYTES: usize = 64 * 1024;
/// ...or at this many events. Both keep a block well under sled's large-value
/// threshold, so a block is written inline like any small value.
pub const MAX_BLOCK_EVENTS: usize = 1024;

/// Encodes `(seq, encoded event)` pairs, seqs strictly increasing.
pub fn encode_block<'a>(
    entries: impl ExactSizeIterator<Item = (u64, &'a [u8])> + Clone,
) -> Vec<u8> {
    let count = entries.len();
    assert!(count > 0, "a block holds at least one event");
    let payload: usize = entries.clone().map(|(_, bytes)| bytes.len()).sum();
    let mut out = Vec::with_capacity(HEADER + ENTRY * count + payload);
    out.push(VERSION);
    out.extend_from_slice(
        &u32::try_from(count)
            .expect("block count fits u32")
            .to_be_bytes(),
    );
    let (mut end, mut last_seq) = (0usize, None);
    for (seq, bytes) in entries.clone() {
        assert!(last_seq < Some(seq), "block seqs must increase");
        last_seq = Some(seq);
        end += bytes.len();
        out.extend_from_slice(&seq.to_be_bytes());
        out.extend_from_slice(
            &u32::try_from(end)
                .expect("block payload fits u32")
                .to_be_bytes(),
        );
    }
    for (_, bytes) in entries {
        out.extend_from_slice(bytes);
    }
    out
}

/// A stored block, checked once when read.
pub struct Block {
    bytes: Vec<u8>,
    count: usize,
}

impl Block {
    pub fn parse(bytes: Vec<u8>) -> Result<Self, StorageError> {
        let corrupt = |why: &str| Err(StorageError::Corrupt(format!("event block: {why}")));
        if bytes.len() < HEADER || bytes[0] != VERSION {
            return corrupt("unknown format");
        }
        let count = u32::from_be_bytes(bytes[1..HEADER].try_into().expect("4 bytes")) as usize;
        let payload_at = count
            .checked_mul(ENTRY)
            .and_then(|n| n.checked_add(HEADER))
            .filter(|at| *at <= bytes.len());
        let Some(payload_at) = payload_at else {
            return corrupt("index runs past the value");
        };
        let block = Self { bytes, count };
        if count == 0 {
            return corrupt("no events");
        }
        let (mut last_seq, mut last_end) = (None, 0);
        for i in 0..count {
            let (seq, end) = block.entry(i);
            if last_seq >= Some(seq) || end < last_end {
                return corrupt("index out of order");
            }
            (last_seq, last_end) = (Some(seq), end);
        }
        if payload_at + last_end != block.bytes.len() {
            return corrupt("payload length differs from its index");
        }
        Ok(block)
    }

    fn entry(&self, i: usize) -> (u64, usize) {
        let at = HEADER + i * ENTRY;
        let seq = u64::from_be_bytes(self.bytes[at..at + 8].try_into().expect("8 bytes"));
        let end = u32::from_be_bytes(self.bytes[at + 8..at + ENTRY].try_into().expect("4 bytes"));
        (seq, end as usize)
    }

    fn payload(&self, i: usize) -> &[u8] {
        let base = HEADER + self.count * ENTRY;
        let start = if i == 0 { 0 } else { self.entry(i - 1).1 };
        &self.bytes[base + start..base + self.entry(i).1]
    }

    pub fn first_seq(&self) -> u64 {
        self.entry(0).0
    }

    pub fn last_seq(&self) -> u64 {
        self.entry(self.count - 1).0
    }

    /// Whether `seq` lies between this block's first and last seq: if it is
    /// not in the block, no other block of its (tenant, node) holds it.
    pub fn spans(&self, seq: u64) -> bool {
        (self.first_seq()..=self.last_seq()).contains(&seq)
    }

    pub fn get(&self, seq: u64) -> Option<&[u8]> {
        let (mut low, mut high) = (0, self.count);
        while low < high {
            let mid = (low + high) / 2;
            match self.entry(mid).0.cmp(&seq) {
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
                std::cmp::Ordering::Equal => return Some(self.payload(mid)),
            }
        }
        None
    }

    /// Every `(seq, encoded event)`, in seq order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &[u8])> {
        (0..self.count).map(|i| (self.entry(i).0, self.payload(i)))
    }
}

/// Splits one (tenant, node)'s encoded events, in seq order, into blocks.
pub fn split_into_blocks(events: &[(u64, Vec<u8>)]) -> Vec<&[(u64, Vec<u8>)]> {
    let mut blocks = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, (_, encoded)) in events.iter().enumerate() {
        bytes += encoded.len();
        if bytes >= MAX_BLOCK_BYTES || i + 1 - start == MAX_BLOCK_EVENTS {
            blocks.push(&events[start..=i]);
            (start, bytes) = (i + 1, 0);
        }
    }
    if start < events.len() {
        blocks.push(&events[start..]);
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_of(seqs: &[u64]) -> Vec<u8> {
        let payloads: Vec<Vec<u8>> = seqs
            .iter()
            .map(|s| vec![*s as u8; *s as usize % 7])
            .collect();
        encode_block(seqs.iter().copied().zip(payloads.iter().map(Vec::as_slice)))
    }

    #[test]
    fn every_event_reads_back_by_seq_and_absent_seqs_do_not() {
        let block = Block::parse(block_of(&[3, 4, 9, 10, 200])).unwrap();
        assert_eq!((block.first_seq(), block.last_seq()), (3, 200));
        for seq in [3u64, 4, 9, 10, 200] {
            assert_eq!(
                block.get(seq),
                Some(vec![seq as u8; seq as usize % 7].as_slice())
            );
        }
        for seq in [0u64, 5, 11, 199, 201] {
            assert_eq!(block.get(seq), None, "seq {seq}");
        }
        assert!(block.spans(5) && !block.spans(2) && !block.spans(201));
        let seqs: Vec<u64> = block.iter().map(|(s, _)| s).collect();
        assert_eq!(seqs, vec![3, 4, 9, 10, 200]);
    }

    #[test]
    fn damaged_blocks_are_refused_not_misread() {
        let good = block_of(&[1, 2, 3]);
        let mut truncated = good.clone();
        truncated.pop();
        let mut versioned = good.clone();
        versioned[0] = 9;
        let mut huge_count = good.clone();
        huge_count[1..5].copy_from_slice(&u32::MAX.to_be_bytes());
        let mut shuffled = good.clone();
        shuffled[5..13].copy_from_slice(&7u64.to_be_bytes()); // first seq above the second
        for bad in [vec![], truncated, versioned, huge_count, shuffled] {
            assert!(matches!(Block::parse(bad), Err(StorageError::Corrupt(_))));
        }
    }

    #[test]
    fn blocks_close_at_their_byte_or_event_limit() {
        let big: Vec<(u64, Vec<u8>)> = (0..10).map(|s| (s, vec![0; MAX_BLOCK_BYTES / 4])).collect();
        let sizes: Vec<usize> = split_into_blocks(&big).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, vec![4, 4, 2]);
        let many: Vec<(u64, Vec<u8>)> = (0..2500).map(|s| (s, vec![1])).collect();
        let sizes: Vec<usize> = split_into_blocks(&many).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, vec![MAX_BLOCK_EVENTS, MAX_BLOCK_EVENTS, 452]);
    }
}
