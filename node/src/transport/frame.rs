//! Frames on the wire: `[length u32 BE][version u8][bincode Envelope]`, `length` counting the
//! version byte and the payload. Bad frames are dropped and counted, never a panic.

use bincode::Options;
use concord_core::agent::Envelope;
use tokio::io::{AsyncRead, AsyncReadExt};

pub const FRAME_VERSION: u8 = 1;
/// The largest frame accepted: an AppendEntries batch (1 MiB) plus one maximal entry, or a
/// snapshot chunk, with room to spare.
pub const FRAME_SIZE_BYTES_MAX: usize = 8 << 20;

fn codec() -> impl Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_limit(FRAME_SIZE_BYTES_MAX as u64)
}

#[derive(Debug)]
pub enum FrameError {
    /// The stream ended or failed; the connection is done.
    Io(std::io::Error),
    /// The length is over the maximum: framing is lost, so the connection is closed.
    TooLarge { size_bytes: usize },
    /// A frame of another protocol version: skipped.
    BadVersion(u8),
    /// A well-framed payload that does not decode: skipped.
    Undecodable(String),
}

/// Encodes an envelope as one frame, or says why it cannot be sent.
pub fn encode(envelope: &Envelope) -> Result<Vec<u8>, FrameError> {
    let payload = codec()
        .serialize(envelope)
        .map_err(|e| FrameError::Undecodable(e.to_string()))?;
    let size_bytes = payload.len() + 1;
    if size_bytes > FRAME_SIZE_BYTES_MAX {
        return Err(FrameError::TooLarge { size_bytes });
    }
    let mut frame = Vec::with_capacity(4 + size_bytes);
    frame.extend_from_slice(&(size_bytes as u32).to_be_bytes());
    frame.push(FRAME_VERSION);
    frame.extend_from_slice(&payload);
    Ok(frame)
}

/// Decodes the payload of one frame (after the length).
pub fn decode(body: &[u8]) -> Result<Envelope, FrameError> {
    let (&version, payload) = body
        .split_first()
        .ok_or(FrameError::Undecodable("empty frame".into()))?;
    if version != FRAME_VERSION {
        return Err(FrameError::BadVersion(version));
    }
    codec()
        .deserialize(payload)
        .map_err(|e| FrameError::Undecodable(e.to_string()))
}

/// Reads the next frame's body (version byte and payload).
pub async fn read_frame<R: AsyncRead + Unpin>(reader: &mut R) -> Result<Vec<u8>, FrameError> {
    let mut length = [0u8; 4];
    reader
        .read_exact(&mut length)
        .await
        .map_err(FrameError::Io)?;
    let size_bytes = u32::from_be_bytes(length) as usize;
    if size_bytes > FRAME_SIZE_BYTES_MAX || size_bytes == 0 {
        return Err(FrameError::TooLarge { size_bytes });
    }
    let mut body = vec![0u8; size_bytes];
    reader.read_exact(&mut body).await.map_err(FrameError::Io)?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_core::agent::WireMessage;

    fn envelope() -> Envelope {
        let msg = WireMessage::ForwardReply {
            request_id: 7,
            result: Err(concord_core::agent::ApiError::NoLeader),
        };
        Envelope {
            from_addr: "127.0.0.1:8300".into(),
            msg,
        }
    }

    #[test]
    fn round_trip() {
        let frame = encode(&envelope()).unwrap();
        assert_eq!(
            u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize,
            frame.len() - 4
        );
        assert_eq!(decode(&frame[4..]).unwrap(), envelope());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(matches!(
            decode(&[FRAME_VERSION, 0xff, 0xff, 0xff, 0xff, 0xff]),
            Err(FrameError::Undecodable(_))
        ));
        assert!(matches!(decode(&[9, 1, 2]), Err(FrameError::BadVersion(9))));
        assert!(matches!(decode(&[]), Err(FrameError::Undecodable(_))));
    }

    #[cfg(not(madsim))]
    #[test]
    fn oversized_length_is_refused_before_reading() {
        let mut bytes: &[u8] = &[0xff, 0xff, 0xff, 0xff, 1];
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let result = rt.block_on(read_frame(&mut bytes));
        assert!(matches!(result, Err(FrameError::TooLarge { .. })));
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let _ = decode(&bytes);
        }
    }
}
