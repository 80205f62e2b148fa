use bincode::config::{Configuration, Limit, LittleEndian, Varint};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Envelope, WIRE_VERSION};

/// Largest frame a node encodes or decodes; also caps decode-time allocation.
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

type WireConfig = Configuration<LittleEndian, Varint, Limit<MAX_FRAME_BYTES>>;

fn wire_config() -> WireConfig {
    bincode::config::standard().with_limit::<MAX_FRAME_BYTES>()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("frame has wire version {got}, this node speaks {supported}")]
    UnsupportedVersion { got: u16, supported: u16 },
    #[error("malformed frame: {0}")]
    Malformed(String),
    #[error("frame has {0} trailing bytes after the envelope")]
    TrailingBytes(usize),
    #[error("cannot encode frame: {0}")]
    Encode(String),
}

pub fn encode<T: Serialize>(envelope: &Envelope<T>) -> Result<Vec<u8>, CodecError> {
    bincode::serde::encode_to_vec(envelope, wire_config())
        .map_err(|e| CodecError::Encode(e.to_string()))
}

/// Decodes one whole frame. The version is checked before the payload is touched.
pub fn decode<T: DeserializeOwned>(frame: &[u8]) -> Result<Envelope<T>, CodecError> {
    decode_version(frame, WIRE_VERSION)
}

/// Decodes a frame of wire `version`: the current one, or an older one for
/// readers of data written before an upgrade (the ledger), with `T` that
/// version's type.
pub fn decode_version<T: DeserializeOwned>(
    frame: &[u8],
    version: u16,
) -> Result<Envelope<T>, CodecError> {
    let (got, _) = bincode::serde::decode_from_slice::<u16, _>(frame, wire_config())
        .map_err(|e| CodecError::Malformed(e.to_string()))?;
    if got != version {
        return Err(CodecError::UnsupportedVersion {
            got,
            supported: version,
        });
    }
    let (envelope, read) = bincode::serde::decode_from_slice(frame, wire_config())
        .map_err(|e| CodecError::Malformed(e.to_string()))?;
    if read != frame.len() {
        return Err(CodecError::TrailingBytes(frame.len() - read));
    }
    Ok(envelope)
}

/// Encodes a bare payload (no envelope), e.g. an actor's own message inside a
/// [`crate::WireMsg::Cast`] whose frame already carries the envelope.
pub fn encode_payload<T: Serialize>(payload: &T) -> Result<Vec<u8>, CodecError> {
    bincode::serde::encode_to_vec(payload, wire_config())
        .map_err(|e| CodecError::Encode(e.to_string()))
}

/// Decodes a bare payload; the whole slice must be one value.
pub fn decode_payload<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let (value, read) = bincode::serde::decode_from_slice(bytes, wire_config())
        .map_err(|e| CodecError::Malformed(e.to_string()))?;
    if read != bytes.len() {
        return Err(CodecError::TrailingBytes(bytes.len() - read));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TraceContext;
    use serde::Deserialize;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    enum Status {
        Up { node: String, load: u32 },
        Down(String),
    }

    fn sample() -> Envelope<Status> {
        let trace = TraceContext::root([7; 16], [9; 8]);
        Envelope::new(
            "acme",
            trace,
            Status::Up {
                node: "edge-1".into(),
                load: 42,
            },
        )
    }

    #[test]
    fn round_trips() {
        let frame = encode(&sample()).unwrap();
        assert_eq!(decode::<Status>(&frame).unwrap(), sample());
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let frame = encode(&sample()).unwrap();
        for cut in 0..frame.len() {
            assert!(decode::<Status>(&frame[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn newer_version_is_rejected_before_the_payload() {
        let mut env = sample();
        env.version = WIRE_VERSION + 1;
        let frame = encode(&env).unwrap();
        assert_eq!(
            decode::<Status>(&frame),
            Err(CodecError::UnsupportedVersion {
                got: WIRE_VERSION + 1,
                supported: WIRE_VERSION
            })
        );
    }

    #[test]
    fn trailing_garbage_is_rejected() {
        let mut frame = encode(&sample()).unwrap();
        frame.extend_from_slice(&[1, 2, 3]);
        assert_eq!(decode::<Status>(&frame), Err(CodecError::TrailingBytes(3)));
    }

    #[test]
    fn huge_length_prefix_does_not_allocate_unbounded() {
        // The version (one varint byte), then a tenant string claiming
        // u64::MAX bytes (varint 0xFF + 8 bytes).
        let version = u8::try_from(WIRE_VERSION).expect("a one-byte varint");
        let mut frame = vec![version, 0xFF];
        frame.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(
            decode::<Status>(&frame),
            Err(CodecError::Malformed(_))
        ));
    }

    #[test]
    fn wrong_payload_type_is_malformed() {
        let frame = encode(&Envelope::new("t", TraceContext::default(), 5u8)).unwrap();
        assert!(decode::<Status>(&frame).is_err());
    }
}
