//! Request heads: `httparse` over the bytes buffered so far, reduced to the few fields the
//! router reads. Everything the connection loop refuses is decided here: heads larger than the
//! limit or with too many headers (431), malformed heads, several `Host` headers or a target
//! that is neither origin- nor absolute-form (400), and any request body (a `Content-Length`
//! other than 0, or any `Transfer-Encoding`: 413, then the connection is closed, so a body
//! can never be read as the next request).

/// Most header lines in one request head (431 beyond).
pub const MAX_HEADERS: usize = 64;

/// Request method, as far as the portal cares.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `HEAD`: the GET answer's head only.
    Head,
    /// Anything else (405).
    #[default]
    Other,
}

/// The parts of a request head the router uses; borrowed from the read buffer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Head<'a> {
    /// GET, HEAD or other.
    pub method: Method,
    /// Path of the target, without the query (raw, not percent-decoded).
    pub path: &'a str,
    /// Query string after `?` (empty if none).
    pub query: &'a str,
    /// `Host` header, else the authority of an absolute-form target, else empty.
    pub host: &'a str,
    /// `User-Agent` (empty if absent).
    pub user_agent: &'a str,
    /// `If-None-Match` (empty if absent).
    pub if_none_match: &'a str,
    /// `Accept-Encoding` (empty if absent).
    pub accept_encoding: &'a str,
    /// `Range`.
    pub range: Option<&'a str>,
    /// `If-Range`.
    pub if_range: Option<&'a str>,
    /// The connection stays open after the answer (HTTP/1.1 without `Connection: close`, or
    /// HTTP/1.0 with `Connection: keep-alive`).
    pub keep_alive: bool,
    /// HTTP/1.0 request (the answer then says `Connection: keep-alive` when it keeps it).
    pub http10: bool,
    /// The request announces a body.
    pub has_body: bool,
}

/// Why a head is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    /// Longer than the limit, or more than [`MAX_HEADERS`] header lines (431).
    #[error("request head too large")]
    TooLarge,
    /// Not an HTTP/1.x request head, or an unusable target or `Host` (400).
    #[error("malformed request head")]
    Malformed,
}

/// Outcome of parsing the buffered bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// A whole head of `len` bytes (the next request, if pipelined, starts after it).
    Complete {
        /// The head.
        head: Head<'a>,
        /// Bytes it took.
        len: usize,
    },
    /// More bytes needed (and the buffered ones are within the limit).
    Partial,
    /// Refused.
    Error(HeadError),
}

fn text(v: &[u8]) -> &str {
    std::str::from_utf8(v).unwrap_or("")
}

fn has_token(value: &[u8], token: &str) -> bool {
    text(value)
        .split(',')
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Splits a request target into (authority, path, query).
fn split_target(target: &str) -> Option<(&str, &str, &str)> {
    let (authority, rest) = if target.starts_with('/') {
        ("", target)
    } else {
        let lower = target.get(..8).unwrap_or(target).to_ascii_lowercase();
        let after = if lower.starts_with("http://") {
            &target[7..]
        } else if lower.starts_with("https://") {
            &target[8..]
        } else {
            return None;
        };
        let end = after.find(['/', '?']).unwrap_or(after.len());
        (&after[..end], &after[end..])
    };
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let path = if path.is_empty() { "/" } else { path };
    Some((authority, path, query))
}

/// Parses the head at the start of `buf`; `max_len` bounds it (buffered bytes beyond that
/// without a complete head are [`HeadError::TooLarge`]).
pub fn parse(buf: &[u8], max_len: usize) -> Parsed<'_> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() > max_len => {
            return Parsed::Error(HeadError::TooLarge);
        }
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => return Parsed::Error(HeadError::TooLarge),
        Err(_) => return Parsed::Error(HeadError::Malformed),
    };
    if len > max_len {
        return Parsed::Error(HeadError::TooLarge);
    }
    let (Some(method), Some(target), Some(version)) = (req.method, req.path, req.version) else {
        return Parsed::Error(HeadError::Malformed);
    };
    let Some((authority, path, query)) = split_target(target) else {
        return Parsed::Error(HeadError::Malformed);
    };
    let mut head = Head {
        method: match method {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            _ => Method::Other,
        },
        path,
        query,
        host: authority,
        http10: version == 0,
        ..Head::default()
    };
    let (mut hosts, mut close, mut keep_alive) = (0, false, false);
    for h in req.headers.iter() {
        let n = h.name;
        if n.eq_ignore_ascii_case("host") {
            hosts += 1;
            head.host = text(h.value).trim();
        } else if n.eq_ignore_ascii_case("content-length") {
            head.has_body |= text(h.value).trim() != "0";
        } else if n.eq_ignore_ascii_case("transfer-encoding") {
            head.has_body = true;
        } else if n.eq_ignore_ascii_case("connection") {
            close |= has_token(h.value, "close");
            keep_alive |= has_token(h.value, "keep-alive");
        } else if n.eq_ignore_ascii_case("if-none-match") {
            head.if_none_match = text(h.value);
        } else if n.eq_ignore_ascii_case("accept-encoding") {
            head.accept_encoding = text(h.value);
        } else if n.eq_ignore_ascii_case("user-agent") {
            head.user_agent = text(h.value);
        } else if n.eq_ignore_ascii_case("range") {
            head.range = Some(text(h.value));
        } else if n.eq_ignore_ascii_case("if-range") {
            head.if_range = Some(text(h.value));
        }
    }
    if hosts > 1 {
        return Parsed::Error(HeadError::Malformed);
    }
    head.keep_alive = !close && (version == 1 || keep_alive);
    Parsed::Complete { head, len }
}

/// The value of query parameter `name` when it occurs exactly once (`None` when absent or
/// repeated).
pub fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    let mut found = None;
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k == name {
            if found.is_some() {
                return None;
            }
            found = Some(v);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn complete(buf: &[u8]) -> (Head<'_>, usize) {
        match parse(buf, 16384) {
            Parsed::Complete { head, len } => (head, len),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn origin_and_absolute_form() {
        let (h, len) = complete(b"GET /s?after=7 HTTP/1.1\r\nHost: a.b\r\n\r\nGET");
        assert_eq!((h.path, h.query, h.host, len), ("/s", "after=7", "a.b", 38));
        assert!(h.keep_alive && !h.has_body && h.method == Method::Get);
        let (h, _) = complete(b"GET http://Probe.Example/x?y HTTP/1.1\r\n\r\n");
        assert_eq!((h.path, h.query, h.host), ("/x", "y", "Probe.Example"));
        let (h, _) = complete(b"HEAD https://h HTTP/1.1\r\nHost: other\r\n\r\n");
        assert_eq!((h.path, h.host, h.method), ("/", "other", Method::Head));
        assert_eq!(
            parse(b"OPTIONS * HTTP/1.1\r\n\r\n", 100),
            Parsed::Error(HeadError::Malformed)
        );
    }

    #[test]
    fn keep_alive_rules() {
        assert!(!complete(b"GET / HTTP/1.0\r\n\r\n").0.keep_alive);
        let (h, _) = complete(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
        assert!(h.keep_alive && h.http10);
        assert!(
            !complete(b"GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n")
                .0
                .keep_alive
        );
    }

    #[test]
    fn bodies_and_smuggling_shapes_are_flagged() {
        for req in [
            &b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"[..],
            b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 4\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            assert!(complete(req).0.has_body, "{}", String::from_utf8_lossy(req));
        }
        assert!(
            !complete(b"GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
                .0
                .has_body
        );
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 100),
            Parsed::Error(HeadError::Malformed)
        );
    }

    #[test]
    fn limits() {
        assert_eq!(parse(b"GET / HTTP/1.1\r\nX: y", 100), Parsed::Partial);
        assert_eq!(
            parse(&[b'a'; 200][..], 100),
            Parsed::Error(HeadError::TooLarge)
        );
        assert_eq!(
            parse(b"\x16\x03\x01 hello\r\n\r\n", 100),
            Parsed::Error(HeadError::Malformed)
        );
        let mut long = b"GET / HTTP/1.1\r\nX: ".to_vec();
        long.extend_from_slice(&[b'y'; 200]);
        assert_eq!(parse(&long, 100), Parsed::Error(HeadError::TooLarge));
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("X-{i}: 1\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(parse(&many, 1 << 20), Parsed::Error(HeadError::TooLarge));
    }

    #[test]
    fn query_params() {
        assert_eq!(query_param("after=5", "after"), Some("5"));
        assert_eq!(query_param("x=1&after=", "after"), Some(""));
        assert_eq!(query_param("after=1&after=2", "after"), None);
        assert_eq!(query_param("", "after"), None);
    }

    proptest! {
        /// Any bytes: never a panic, a complete head never claims more than it was given or
        /// more than the limit, and a partial answer never exceeds the limit.
        #[test]
        fn never_panics_and_respects_the_limit(
            bytes in proptest::collection::vec(any::<u8>(), 0..600),
            max in 16usize..512,
        ) {
            match parse(&bytes, max) {
                Parsed::Complete { len, .. } => prop_assert!(len <= bytes.len() && len <= max),
                Parsed::Partial => prop_assert!(bytes.len() <= max),
                Parsed::Error(_) => {}
            }
        }

        /// Well-formed heads with arbitrary header values parse, and the split point is
        /// exactly the end of the head whatever follows.
        #[test]
        fn pipelined_heads_split_exactly(
            path in "/[a-z0-9/._-]{0,40}",
            value in "[ -~]{0,60}",
            tail in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let head = format!("GET {path} HTTP/1.1\r\nHost: h\r\nX-V: {value}\r\n\r\n");
            let mut buf = head.clone().into_bytes();
            buf.extend_from_slice(&tail);
            match parse(&buf, 16384) {
                Parsed::Complete { head: h, len } => {
                    prop_assert_eq!(len, head.len());
                    prop_assert_eq!(h.path, path.as_str());
                    prop_assert!(!h.has_body);
                }
                other => prop_assert!(false, "{:?}", other),
            }
        }
    }
}
