//! Frames on the wire: `[length u32 BE][version u8][bincode Envelope]`, `length` counting the
//! version byte and the payload. Bad frames are dropped and counted, never a panic.

use bincode::Options;
use concord_core::agent::Envelope;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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
    /// A frame that did not arrive whole in time: the connection is dropped.
    TimedOut,
}

/// The length prefix and the version byte, ahead of the payload.
const HEADER_BYTES: usize = 5;

/// A frame's first capacity: most messages fit, larger ones grow the buffer as they encode.
const ENCODE_BYTES_MIN: usize = 256;

/// Encodes an envelope as one frame, or says why it cannot be sent. One pass: the payload is
/// encoded behind a reserved header, then sized (bincode's limit would walk it twice).
pub fn encode(envelope: &Envelope) -> Result<Vec<u8>, FrameError> {
    let mut writer = FrameWriter(Vec::with_capacity(ENCODE_BYTES_MIN));
    writer.0.extend_from_slice(&[0; HEADER_BYTES]);
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .serialize_into(&mut writer, envelope)
        .map_err(|e| FrameError::Undecodable(e.to_string()))?;
    let mut frame = writer.0;
    let payload_bytes = frame.len() - HEADER_BYTES;
    if payload_bytes > FRAME_SIZE_BYTES_MAX {
        // What the codec's limit said when it walked the payload first.
        let limit = bincode::ErrorKind::SizeLimit.to_string();
        return Err(FrameError::Undecodable(limit));
    }
    let size_bytes = payload_bytes + 1;
    if size_bytes > FRAME_SIZE_BYTES_MAX {
        return Err(FrameError::TooLarge { size_bytes });
    }
    frame[..4].copy_from_slice(&(size_bytes as u32).to_be_bytes());
    frame[4] = FRAME_VERSION;
    Ok(frame)
}

/// The encoder's output. Serde hands bincode a `Vec<u8>` (a command's bytes) one byte at a
/// time, each a `write_all`: a single byte is pushed here rather than copied by `memcpy`.
struct FrameWriter(Vec<u8>);

impl std::io::Write for FrameWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.write_all(bytes)?;
        Ok(bytes.len())
    }

    #[inline]
    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match bytes {
            [byte] => self.0.push(*byte),
            _ => self.0.extend_from_slice(bytes),
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
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

/// A buffer's first capacity; it then doubles as it fills (capped at the frame's length), so it
/// holds at most twice what arrived, never what the length prefix claims.
const BUFFER_BYTES_MIN: usize = 4 << 10;

/// One frame's body, holding its share of the inbound budget until dropped.
pub struct Body {
    pub bytes: Vec<u8>,
    _charge: Option<OwnedSemaphorePermit>,
}

/// The bounds one read works under.
pub struct ReadBounds<'a> {
    /// Charged one permit per byte of buffer capacity; shared by every connection.
    pub budget: &'a Arc<Semaphore>,
    pub size_bytes_max: usize,
    /// The time from the frame's first byte to its last.
    pub timeout: Duration,
}

/// Reads the next frame's body (version byte and payload). Waiting for a frame to start has no
/// time limit (peers are quiet between messages); once it starts, it must finish in time.
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    bounds: &ReadBounds<'_>,
) -> Result<Body, FrameError> {
    let mut length = [0u8; 4];
    reader
        .read_exact(&mut length[..1])
        .await
        .map_err(FrameError::Io)?;
    let rest = async {
        reader
            .read_exact(&mut length[1..])
            .await
            .map_err(FrameError::Io)?;
        let size_bytes = u32::from_be_bytes(length) as usize;
        if size_bytes > bounds.size_bytes_max || size_bytes == 0 {
            return Err(FrameError::TooLarge { size_bytes });
        }
        read_body(reader, size_bytes, bounds.budget).await
    };
    tokio::time::timeout(bounds.timeout, rest)
        .await
        .unwrap_or(Err(FrameError::TimedOut))
}

/// Reads `size_bytes` into a buffer that grows as it fills, charging the budget for each
/// growth first (waiting while other connections hold it). Bytes land in the buffer directly:
/// no per-connection scratch buffer outside the budget.
async fn read_body<R: AsyncRead + Unpin>(
    reader: &mut R,
    size_bytes: usize,
    budget: &Arc<Semaphore>,
) -> Result<Body, FrameError> {
    let mut body = Body {
        bytes: Vec::new(),
        _charge: None,
    };
    while body.bytes.len() < size_bytes {
        if body.bytes.len() == body.bytes.capacity() {
            body.grow(size_bytes, budget).await?;
        }
        // Reads at most the spare capacity, which `grow` keeps within the frame.
        let got = reader
            .read_buf(&mut body.bytes)
            .await
            .map_err(FrameError::Io)?;
        if got == 0 {
            return Err(FrameError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
    }
    debug_assert_eq!(body.bytes.len(), size_bytes);
    Ok(body)
}

impl Body {
    /// Its share of the inbound budget, to be held until the decoded message is handled.
    pub fn take_charge(&mut self) -> Option<OwnedSemaphorePermit> {
        self._charge.take()
    }

    /// Doubles the capacity (at least `BUFFER_BYTES_MIN`, at most `size_bytes`); every byte of
    /// new capacity is charged to the budget before it is allocated.
    async fn grow(&mut self, size_bytes: usize, budget: &Arc<Semaphore>) -> Result<(), FrameError> {
        let capacity = self.bytes.capacity();
        let target = (capacity * 2).max(BUFFER_BYTES_MIN).min(size_bytes);
        assert!(target > capacity, "grown only while bytes are missing");
        let extra =
            u32::try_from(target - capacity).map_err(|_| FrameError::TooLarge { size_bytes })?;
        let permit = budget
            .clone()
            .acquire_many_owned(extra)
            .await
            .map_err(|_| FrameError::Io(std::io::ErrorKind::BrokenPipe.into()))?;
        match &mut self._charge {
            Some(charge) => charge.merge(permit),
            None => self._charge = Some(permit),
        }
        self.bytes.reserve_exact(target - self.bytes.len());
        debug_assert!(self.bytes.capacity() >= target);
        Ok(())
    }
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

    /// The frame as it was built before the one-pass encoder: bincode with its limit, then
    /// the header in front.
    fn encode_two_pass(envelope: &Envelope) -> Result<Vec<u8>, FrameError> {
        let payload = codec()
            .serialize(envelope)
            .map_err(|e| FrameError::Undecodable(e.to_string()))?;
        let mut frame = ((payload.len() + 1) as u32).to_be_bytes().to_vec();
        frame.push(FRAME_VERSION);
        frame.extend_from_slice(&payload);
        Ok(frame)
    }

    #[test]
    fn one_pass_frames_are_the_two_pass_frames_byte_for_byte() {
        let large = Envelope {
            from_addr: "127.0.0.1:8300".into(),
            msg: WireMessage::ForwardReply {
                request_id: 9,
                result: Err(concord_core::agent::ApiError::BadRequest(
                    "x".repeat(70_000),
                )),
            },
        };
        for envelope in [envelope(), large] {
            let frame = encode(&envelope).unwrap();
            assert_eq!(frame, encode_two_pass(&envelope).unwrap());
        }
    }

    #[test]
    fn an_envelope_over_the_frame_bound_is_refused_as_before() {
        let huge = Envelope {
            from_addr: "127.0.0.1:8300".into(),
            msg: WireMessage::ForwardReply {
                request_id: 9,
                result: Err(concord_core::agent::ApiError::BadRequest(
                    "x".repeat(FRAME_SIZE_BYTES_MAX),
                )),
            },
        };
        let (Err(FrameError::Undecodable(now)), Err(FrameError::Undecodable(before))) =
            (encode(&huge), encode_two_pass(&huge))
        else {
            panic!("an oversized envelope must not encode");
        };
        assert_eq!(now, before);
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
            .enable_time()
            .build()
            .unwrap();
        let budget = Arc::new(Semaphore::new(1 << 20));
        let bounds = ReadBounds {
            budget: &budget,
            size_bytes_max: FRAME_SIZE_BYTES_MAX,
            timeout: Duration::from_secs(1),
        };
        let result = rt.block_on(read_frame(&mut bytes, &bounds));
        assert!(matches!(result, Err(FrameError::TooLarge { .. })));
    }

    #[cfg(not(madsim))]
    #[test]
    fn a_large_frame_grows_within_its_charge_and_returns_it() {
        let payload = vec![7u8; 300 << 10];
        let mut bytes = ((payload.len() + 1) as u32).to_be_bytes().to_vec();
        bytes.push(FRAME_VERSION);
        bytes.extend_from_slice(&payload);
        let budget = Arc::new(Semaphore::new(1 << 20));
        let bounds = ReadBounds {
            budget: &budget,
            size_bytes_max: FRAME_SIZE_BYTES_MAX,
            timeout: Duration::from_secs(1),
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let body = rt.block_on(read_frame(&mut &bytes[..], &bounds)).unwrap();
        assert_eq!(&body.bytes[1..], &payload[..]);
        let charged = (1 << 20) - budget.available_permits();
        assert!(charged >= body.bytes.capacity() && charged < 2 * body.bytes.len());
        drop(body);
        assert_eq!(budget.available_permits(), 1 << 20);
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let _ = decode(&bytes);
        }
    }
}
