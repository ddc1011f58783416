//! Answers as the router builds them ([`Reply`]: status, a few headers, a shared body) and
//! their HTTP/1.1 encoding ([`Reply::encode`]), appended to the connection's output buffer.
//! Bodies are `Bytes` (the pre-rendered `/s`, embedded assets, compiled shows): never copied
//! per request except into the output buffer itself.

use std::cell::RefCell;
use std::time::SystemTime;

use bytes::Bytes;
use http::HeaderValue;

/// Most headers a [`Reply`] carries (besides `content-length`, `date`, `connection`).
pub const MAX_REPLY_HEADERS: usize = 8;

/// A header value: static text, a shared `HeaderValue` (ETags), or formatted text.
#[derive(Clone, Debug)]
pub enum Value {
    /// Static text.
    Static(&'static str),
    /// A shared value.
    Shared(HeaderValue),
    /// Formatted per request.
    Owned(String),
}

impl Value {
    fn as_bytes(&self) -> &[u8] {
        match self {
            Value::Static(s) => s.as_bytes(),
            Value::Shared(v) => v.as_bytes(),
            Value::Owned(s) => s.as_bytes(),
        }
    }
}

/// One answer.
#[derive(Clone, Debug)]
pub struct Reply {
    /// Status code (one of [`reason`]'s).
    pub status: u16,
    headers: [(&'static str, Value); MAX_REPLY_HEADERS],
    len: usize,
    /// Body (HEAD: only its length is sent).
    pub body: Bytes,
    /// Close the connection after this answer.
    pub close: bool,
}

impl Reply {
    /// An answer with no headers yet.
    pub fn new(status: u16, body: impl Into<Bytes>) -> Self {
        Self {
            status,
            headers: [const { ("", Value::Static("")) }; MAX_REPLY_HEADERS],
            len: 0,
            body: body.into(),
            close: false,
        }
    }

    /// Adds a header (lowercase name). Beyond [`MAX_REPLY_HEADERS`] it is dropped (a bug,
    /// caught by the debug assertion).
    pub fn header(mut self, name: &'static str, value: Value) -> Self {
        debug_assert!(self.len < MAX_REPLY_HEADERS, "too many reply headers");
        if let Some(slot) = self.headers.get_mut(self.len) {
            *slot = (name, value);
            self.len += 1;
        }
        self
    }

    /// Adds a static header.
    pub fn with(self, name: &'static str, value: &'static str) -> Self {
        self.header(name, Value::Static(value))
    }

    /// Marks the answer as the connection's last.
    pub fn closing(mut self) -> Self {
        self.close = true;
        self
    }

    /// The value of header `name`, if set.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.headers[..self.len]
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_bytes())
    }

    /// Appends the encoded answer to `out`: status line, headers, `content-length`, `date`,
    /// `connection` when `close` (or `keep-alive` for an HTTP/1.0 client that keeps it), then
    /// the body unless `head_only`.
    pub fn encode(&self, out: &mut Vec<u8>, head_only: bool, close: bool, http10: bool) {
        out.extend_from_slice(b"HTTP/1.1 ");
        push_u64(out, u64::from(self.status));
        out.push(b' ');
        out.extend_from_slice(reason(self.status).as_bytes());
        out.extend_from_slice(b"\r\n");
        for (name, value) in &self.headers[..self.len] {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if self.status != 304 && self.status != 204 {
            out.extend_from_slice(b"content-length: ");
            push_u64(out, self.body.len() as u64);
            out.extend_from_slice(b"\r\n");
        }
        if close {
            out.extend_from_slice(b"connection: close\r\n");
        } else if http10 {
            out.extend_from_slice(b"connection: keep-alive\r\n");
        }
        out.extend_from_slice(b"date: ");
        with_date(|d| out.extend_from_slice(d));
        out.extend_from_slice(b"\r\n\r\n");
        if !head_only && self.status != 304 && self.status != 204 {
            out.extend_from_slice(&self.body);
        }
    }
}

/// Reason phrase of the statuses the portal sends.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        206 => "Partial Content",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "",
    }
}

fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

thread_local! {
    // (Unix second, IMF-fixdate text) — formatted once per second per worker thread.
    static DATE: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

fn with_date(f: impl FnOnce(&[u8])) {
    let now = SystemTime::now();
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    DATE.with_borrow_mut(|(at, text)| {
        if *at != secs {
            *at = secs;
            *text = httpdate::fmt_http_date(now);
        }
        f(text.as_bytes());
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_head_and_body() {
        let r = Reply::new(200, "hi")
            .with("content-type", "text/plain")
            .header("etag", Value::Owned("\"x\"".into()));
        let mut out = Vec::new();
        r.encode(&mut out, false, false, false);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\netag: \"x\"\r\ncontent-length: 2\r\ndate: "), "{text}");
        assert!(text.ends_with(" GMT\r\n\r\nhi"), "{text}");
        let mut out = Vec::new();
        r.encode(&mut out, true, true, false);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("content-length: 2\r\nconnection: close\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
        let mut out = Vec::new();
        Reply::new(304, "").encode(&mut out, false, false, true);
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("content-length") && text.contains("connection: keep-alive"));
    }
}
