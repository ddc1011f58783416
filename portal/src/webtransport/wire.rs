//! Sans-IO datagram formats of the WebTransport session.
//!
//! - **Time request** (page → relay), [`TIME_REQUEST_LEN`] bytes: `'t'` (0x74), request id
//!   (u32, big-endian), client send time (f64 ms, big-endian; opaque to the relay).
//! - **Time reply** (relay → page), [`TIME_REPLY_LEN`] bytes: the request echoed, then the
//!   relay's beacon-timebase µs (u64, big-endian) when it answered.
//! - **State push** (relay → page): exactly the `/s` JSON body (starts with `{`), sent on every
//!   state change (and once when the session opens), repeated for loss.

/// First byte of a time request/reply.
pub const TIME_TAG: u8 = b't';
/// Length of a time request.
pub const TIME_REQUEST_LEN: usize = 13;
/// Length of a time reply.
pub const TIME_REPLY_LEN: usize = TIME_REQUEST_LEN + 8;

/// Why an incoming datagram was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DatagramError {
    /// Not a time request (other first byte).
    #[error("unknown datagram type {0:#04x}")]
    UnknownType(u8),
    /// Empty datagram.
    #[error("empty datagram")]
    Empty,
    /// A time request of the wrong length.
    #[error("time request of {0} bytes (want {TIME_REQUEST_LEN})")]
    BadLength(usize),
}

/// Answers one incoming datagram received when the beacon clock read `beacon_us`.
pub fn handle_datagram(
    bytes: &[u8],
    beacon_us: u64,
) -> Result<[u8; TIME_REPLY_LEN], DatagramError> {
    match bytes.first() {
        None => Err(DatagramError::Empty),
        Some(&TIME_TAG) if bytes.len() == TIME_REQUEST_LEN => {
            let mut out = [0u8; TIME_REPLY_LEN];
            out[..TIME_REQUEST_LEN].copy_from_slice(bytes);
            out[TIME_REQUEST_LEN..].copy_from_slice(&beacon_us.to_be_bytes());
            Ok(out)
        }
        Some(&TIME_TAG) => Err(DatagramError::BadLength(bytes.len())),
        Some(&b) => Err(DatagramError::UnknownType(b)),
    }
}

/// Builds a time request (clients and tests).
pub fn time_request(id: u32, client_ms: f64) -> [u8; TIME_REQUEST_LEN] {
    let mut out = [0u8; TIME_REQUEST_LEN];
    out[0] = TIME_TAG;
    out[1..5].copy_from_slice(&id.to_be_bytes());
    out[5..].copy_from_slice(&client_ms.to_be_bytes());
    out
}

/// Parses a time reply: (request id, client ms, beacon µs).
pub fn parse_time_reply(bytes: &[u8]) -> Option<(u32, f64, u64)> {
    if bytes.len() != TIME_REPLY_LEN || bytes[0] != TIME_TAG {
        return None;
    }
    let id = u32::from_be_bytes(bytes[1..5].try_into().ok()?);
    let ms = f64::from_be_bytes(bytes[5..13].try_into().ok()?);
    let us = u64::from_be_bytes(bytes[13..21].try_into().ok()?);
    Some((id, ms, us))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip() {
        let req = time_request(7, 1234.5);
        let reply = handle_datagram(&req, 1_700_000_000_000_123).unwrap();
        assert_eq!(
            parse_time_reply(&reply),
            Some((7, 1234.5, 1_700_000_000_000_123))
        );
    }

    #[test]
    fn refuses_garbage() {
        assert_eq!(handle_datagram(&[], 1), Err(DatagramError::Empty));
        assert_eq!(
            handle_datagram(b"{}", 1),
            Err(DatagramError::UnknownType(b'{'))
        );
        assert_eq!(handle_datagram(b"t12", 1), Err(DatagramError::BadLength(3)));
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64), t in any::<u64>()) {
            if let Ok(r) = handle_datagram(&bytes, t) {
                prop_assert_eq!(parse_time_reply(&r).map(|x| x.2), Some(t));
            }
            let _ = parse_time_reply(&bytes);
        }
    }
}
