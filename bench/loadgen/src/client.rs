//! The load generator's HTTP client: `sim::http_client` (hyper's HTTP/1.1 client) over a [`Counted`]
//! stream, so that every byte is counted under the traffic kind of the request carrying it;
//! failures typed by the error counter they go to; and the request headers of a phone browser.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use sim::http_client::{Conn, Response, Streaming};

use crate::net::{Arrival, Kind, KindSwitch, connect};

/// Headers a phone browser sends with every request (Safari on iOS), so that the byte counts are
/// those of a real page rather than of a bare benchmark client.
pub const BROWSER_HEADERS: &[(&str, &str)] = &[
    (
        "User-Agent",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    ),
    ("Accept", "*/*"),
    ("Accept-Language", "en-GB,en;q=0.9"),
    ("Accept-Encoding", "gzip, deflate, br"),
    ("Connection", "keep-alive"),
];

/// A failed request, by the error counter it is reported under (the discriminant is the
/// counter's index: connect, io, timeout, status).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Could not connect.
    Connect = 0,
    /// The connection broke or the answer was not HTTP.
    Io = 1,
    /// No full answer within the timeout.
    Timeout = 2,
    /// An unexpected status code.
    Status = 3,
}

/// One keep-alive connection whose bytes are counted by traffic kind.
pub struct Client {
    conn: Conn,
    kind: KindSwitch,
    arrival: Arrival,
    /// A request failed midway (e.g. timed out): the connection's state is unknown.
    broken: bool,
}

impl Client {
    /// Connects to `dst` from `src`; the handshake's bytes count as `kind`.
    pub async fn connect(
        dst: SocketAddr,
        src: Option<IpAddr>,
        kind: Kind,
    ) -> Result<Self, Failure> {
        let stream = connect(dst, src, kind)
            .await
            .map_err(|_| Failure::Connect)?;
        let kind = stream.sink().clone();
        let arrival = stream.get_ref().arrival().clone();
        let conn = Conn::handshake(stream)
            .await
            .map_err(|_| Failure::Connect)?;
        Ok(Client {
            conn,
            kind,
            arrival,
            broken: false,
        })
    }

    /// When the kernel received the last bytes read on this connection (Unix µs).
    pub fn arrival(&self) -> &Arrival {
        &self.arrival
    }

    /// Whether the connection can carry another request.
    pub fn is_reusable(&self) -> bool {
        !self.broken && self.conn.is_reusable()
    }

    /// GET and read the whole answer within `timeout`, its bytes counted as `kind`.
    pub async fn get(
        &mut self,
        kind: Kind,
        host: &str,
        path: &str,
        headers: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<Response, Failure> {
        self.kind.set(kind);
        let result = match tokio::time::timeout(timeout, self.conn.get(host, path, headers)).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(_)) => Err(Failure::Io),
            Err(_) => Err(Failure::Timeout),
        };
        self.broken |= result.is_err();
        result
    }

    /// GET a stream: the head is read with its bytes counted as `kind`, then `body_kind`.
    pub async fn open(
        &mut self,
        kind: Kind,
        body_kind: Kind,
        host: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<Streaming, Failure> {
        self.kind.set(kind);
        let result = self.conn.open(host, path, headers).await;
        self.kind.set(body_kind);
        result.map_err(|_| Failure::Io)
    }
}
