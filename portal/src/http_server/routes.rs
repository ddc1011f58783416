//! The one routing function for HTTP and HTTPS ([`route`]): captive probes, foreign hosts, and
//! the portal's own paths (`/t`, `/s`, `/show/<id>.json`, `/healthz`, `/metrics`,
//! `/api/captive`, `/wt` over HTTPS, the page). What differs between the schemes is data in
//! [`AppState`] (the certificate store, whether the page lives on HTTPS), not another router.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::HeaderValue;

use super::request::{Head, Method, query_param};
use super::response::{Reply, Value};
use crate::assets;
use crate::captive::{self, Success};
use crate::catalog::Catalog;
use crate::dns::DnsCounters;
use crate::metrics::{self, HttpMetrics};
use crate::relay::RelayState;
use crate::tls::CertStore;
use crate::webtransport::{self, WebTransportCounters};

/// Everything a request needs; shared by every connection, plain or TLS.
#[derive(Debug)]
pub struct AppState {
    /// Canonical page URL (redirect target; `https:` when the page lives on HTTPS).
    pub canonical_url: String,
    /// `Host` names (lowercase, no port) served as the portal itself.
    pub own_hosts: Vec<String>,
    /// Release mode switch.
    pub release: Arc<AtomicBool>,
    /// Beacon relay (also the clock).
    pub relay: Arc<RelayState>,
    /// Compiled shows.
    pub catalog: Arc<Catalog>,
    /// HTTP and HTTPS counters.
    pub metrics: Arc<HttpMetrics>,
    /// DNS counters (for `/metrics`).
    pub dns: Arc<DnsCounters>,
    /// WebTransport counters (for `/metrics`; zero without TLS).
    pub webtransport: Arc<WebTransportCounters>,
    /// The certificate, when HTTPS and WebTransport run (`/wt` answers from it).
    pub certificates: Option<Arc<CertStore>>,
    /// RFC 8908 `venue-info-url`.
    pub venue_info_url: Option<String>,
    /// Longest hold of a `/s?after=V` long-poll.
    pub long_poll_wait: Duration,
}

impl AppState {
    /// True when plain HTTP should send the page (`/`) to its HTTPS URL.
    fn page_on_https(&self) -> bool {
        self.certificates.is_some() && self.canonical_url.starts_with("https://")
    }
}

/// What the router decided for one request.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "consumed at once per request; boxing the reply would cost an allocation"
)]
pub enum Answer {
    /// Send this now.
    Reply(Reply),
    /// `/s?after=V` with `V` the current version: hold the request until the state changes
    /// or [`AppState::long_poll_wait`] passes, then answer with [`held_reply`].
    Park {
        /// The version the phone already has.
        after: u64,
    },
}

const NO_STORE: &str = "no-store";
const JSON: &str = "application/json";

/// True if an `If-None-Match` header value matches `etag` (weak comparison, `*`, lists).
pub fn etag_matches(if_none_match: &str, etag: &[u8]) -> bool {
    let Ok(etag) = std::str::from_utf8(etag) else {
        return false;
    };
    fn bare(t: &str) -> &str {
        let t = t.trim();
        t.strip_prefix("W/").unwrap_or(t)
    }
    !if_none_match.is_empty()
        && if_none_match
            .split(',')
            .any(|t| t.trim() == "*" || bare(t) == bare(etag))
}

/// `host` without `:port` and a trailing dot (case kept).
fn bare_host(host: &str) -> &str {
    let h = host.trim();
    let h = if h.starts_with('[') {
        h.find(']').map_or(h, |i| &h[..=i])
    } else {
        h.rsplit_once(':').map_or(h, |(h, _)| h)
    };
    h.trim_end_matches('.')
}

/// Routes one request; `https` says which listener it came in on. Counts it in the metrics
/// (parked long-polls are counted when answered).
pub fn route(app: &AppState, req: &Head, https: bool) -> Answer {
    let (label, answer) = dispatch(app, req, https);
    if let Answer::Reply(r) = &answer {
        app.metrics.count_request(label, r.status);
    }
    answer
}

fn dispatch(app: &AppState, req: &Head, https: bool) -> (&'static str, Answer) {
    let reply = |label, r| (label, Answer::Reply(r));
    // No request bodies: refuse before anything else and close the connection.
    if req.has_body {
        return reply("rejected", Reply::new(413, "no request bodies\n").closing());
    }
    if req.method == Method::Other {
        return reply(
            "rejected",
            Reply::new(405, "GET or HEAD only\n").with("allow", "GET, HEAD"),
        );
    }
    let release = app.release.load(Ordering::Relaxed);
    let host = bare_host(req.host);
    let own = host.is_empty() || app.own_hosts.iter().any(|h| h.eq_ignore_ascii_case(host));
    if !own && let Some(probe) = captive::classify(req.host, req.path, req.user_agent) {
        app.metrics.count_probe(probe.os);
        return match (release, probe.success) {
            (true, Some(success)) => reply("captive", success_reply(success)),
            _ => reply("captive", redirect(&app.canonical_url)),
        };
    }
    // Operational endpoints answer whatever Host a monitor or load balancer uses, so a health
    // check is never fooled by the captive redirect.
    match req.path {
        "/healthz" => return reply("healthz", healthz(app)),
        "/metrics" => return reply("metrics", metrics_reply(app)),
        _ => {}
    }
    if !own {
        return reply("redirect", redirect(&app.canonical_url));
    }
    match req.path {
        "/t" => reply("t", time(app)),
        "/s" => match long_poll_after(req.query) {
            Some(after) if after == app.relay.snapshot().version => ("s", Answer::Park { after }),
            _ => reply("s", state_reply(app, req.if_none_match)),
        },
        "/api/captive" => reply("api", captive_api(app, release)),
        webtransport::WT_PATH if https && app.certificates.is_some() => {
            reply("wt", wt_document(app, req.host))
        }
        "/" if !https && app.page_on_https() => reply(
            "redirect",
            Reply::new(
                302,
                "<!doctype html><title>Crowdlight</title>moved to HTTPS\n",
            )
            .header("location", header_value(&app.canonical_url))
            .with("cache-control", NO_STORE),
        ),
        p if p.starts_with("/show/") => reply("show", show(app, p, req)),
        p => match assets::find(p) {
            Some(a) => reply("asset", asset(a, req)),
            None => reply("redirect", redirect(&app.canonical_url)),
        },
    }
}

/// `after=V` of a `/s` query: `Some(V)` only for exactly one well-formed `after` (decimal,
/// below 2^53); anything else is answered at once like plain `/s`.
pub fn long_poll_after(query: &str) -> Option<u64> {
    let v = query_param(query, "after")?;
    if v.is_empty() || v.len() > 16 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse::<u64>()
        .ok()
        .filter(|v| *v < crate::relay::render::VERSION_LIMIT)
}

fn header_value(s: &str) -> Value {
    match HeaderValue::from_str(s) {
        Ok(v) => Value::Shared(v),
        Err(_) => Value::Static("/"),
    }
}

/// `302` to the canonical page (what every OS treats as "captive portal here").
fn redirect(url: &str) -> Reply {
    let body =
        format!("<!doctype html><title>Crowdlight</title><a href=\"{url}\">Join the show</a>\n");
    Reply::new(302, body)
        .header("location", header_value(url))
        .with("cache-control", NO_STORE)
        .with("content-type", "text/html; charset=utf-8")
}

fn success_reply(s: Success) -> Reply {
    match s {
        Success::NoContent => Reply::new(204, Bytes::new()).with("cache-control", NO_STORE),
        Success::Html(b) => Reply::new(200, b)
            .with("content-type", "text/html")
            .with("cache-control", NO_STORE),
        Success::Text(b) => Reply::new(200, b)
            .with("content-type", "text/plain")
            .with("cache-control", NO_STORE),
    }
}

fn time(app: &AppState) -> Reply {
    let (t, source) = app.relay.now();
    Reply::new(200, format!("{{\"t\":{t}}}"))
        .with("content-type", JSON)
        .with("cache-control", NO_STORE)
        .with("x-clock-source", source.label())
}

/// The current `/s` answer: `304` to a matching `If-None-Match`, else the pre-rendered body.
pub fn state_reply(app: &AppState, if_none_match: &str) -> Reply {
    state_reply_cached(app, if_none_match, "public, max-age=1")
}

/// The answer to a held `/s?after=V`: the current `/s`. When the wait ended without a change
/// (the state still has version `V`) it is `max-age=0`: stale at once, so a shared cache (or the
/// browser's) never hands it back for the next `after=V` (a phone would get it at once and ask
/// again in a loop for the whole max-age); that next request goes to the relay, or revalidates
/// there with `If-None-Match`, and waits (with `proxy_cache_lock`, one per cache).
pub fn held_reply(app: &AppState, if_none_match: &str, after: u64) -> Reply {
    if app.relay.snapshot().version == after {
        state_reply_cached(app, if_none_match, "public, max-age=0")
    } else {
        state_reply(app, if_none_match)
    }
}

fn state_reply_cached(app: &AppState, if_none_match: &str, cache_control: &'static str) -> Reply {
    let snap = app.relay.snapshot();
    let r = |status, body| {
        Reply::new(status, body)
            .header("etag", Value::Shared(snap.etag.clone()))
            .with("cache-control", cache_control)
    };
    if etag_matches(if_none_match, snap.etag.as_bytes()) {
        return r(304, Bytes::new());
    }
    r(200, snap.body.clone()).with("content-type", JSON)
}

fn healthz(app: &AppState) -> Reply {
    let (status, body) = if app.relay.healthy_now() {
        (200, "ok\n")
    } else {
        (503, "no beacon\n")
    };
    Reply::new(status, body)
        .with("cache-control", NO_STORE)
        .with("content-type", "text/plain")
}

fn metrics_reply(app: &AppState) -> Reply {
    Reply::new(200, metrics::render(app))
        .with("content-type", "text/plain; version=0.0.4")
        .with("cache-control", NO_STORE)
}

fn captive_api(app: &AppState, release: bool) -> Reply {
    let mut doc = serde_json::json!({ "captive": !release, "user-portal-url": app.canonical_url });
    if let Some(v) = &app.venue_info_url {
        doc["venue-info-url"] = serde_json::Value::from(v.as_str());
    }
    Reply::new(200, doc.to_string())
        .with("content-type", "application/captive+json")
        .with("cache-control", "private, no-store")
}

/// `GET /wt` over HTTPS: the WebTransport session URL on the authority the page came from, and
/// the certificate hash browsers may pin.
fn wt_document(app: &AppState, host: &str) -> Reply {
    let body = app
        .certificates
        .as_ref()
        .map(|store| webtransport::document(host, store))
        .unwrap_or_default();
    Reply::new(200, body)
        .with("content-type", JSON)
        .with("cache-control", NO_STORE)
}

fn show(app: &AppState, path: &str, req: &Head) -> Reply {
    let id = path
        .strip_prefix("/show/")
        .and_then(|p| p.strip_suffix(".json"))
        .unwrap_or("");
    let entry = (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| app.catalog.get(&id.to_ascii_lowercase()))
        .flatten();
    let Some(entry) = entry else {
        return Reply::new(404, "unknown show\n").with("cache-control", NO_STORE);
    };
    let gz = entry
        .gzip
        .clone()
        .filter(|_| assets::accepts(req.accept_encoding, "gzip"));
    let etag = if gz.is_some() {
        entry.gzip_etag.clone()
    } else {
        entry.etag.clone()
    };
    let common = |status, body| {
        Reply::new(status, body)
            .header("etag", Value::Shared(etag.clone()))
            .with("cache-control", "public, max-age=31536000, immutable")
            .with("vary", "Accept-Encoding")
    };
    if etag_matches(req.if_none_match, etag.as_bytes()) {
        return common(304, Bytes::new());
    }
    match gz {
        Some(gz) => common(200, gz).with("content-encoding", "gzip"),
        None => common(200, entry.json.clone()),
    }
    .with("content-type", JSON)
}

fn asset(a: &'static assets::Asset, req: &Head) -> Reply {
    if let Some(range) = req.range {
        // Byte ranges (iOS Safari needs them to play the keep-awake video), on the identity
        // representation. `If-Range` with another validator means "send it all".
        let identity_tag = format!("\"{}\"", a.etag);
        if req.if_range.is_none_or(|t| t == identity_tag) {
            return ranged(a, range, identity_tag);
        }
    }
    let (enc, bytes, etag) = assets::negotiate(a, req.accept_encoding);
    let common = |status, body: Bytes| {
        Reply::new(status, body)
            .header("etag", Value::Owned(etag.clone()))
            .with("vary", "Accept-Encoding")
            .with("cache-control", "no-cache")
            .with("accept-ranges", "bytes")
    };
    if etag_matches(req.if_none_match, etag.as_bytes()) {
        return common(304, Bytes::new());
    }
    let r = common(200, Bytes::from_static(bytes)).with("content-type", a.mime);
    match enc.header() {
        Some(ce) => r.with("content-encoding", ce),
        None => r,
    }
}

/// Parses a single `bytes=` range against `len`: `Some(Ok((start, end_inclusive)))`,
/// `Some(Err(()))` if unsatisfiable, `None` if not a single byte range (then: whole file).
pub fn parse_range(range: &str, len: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = range.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None; // multipart ranges: answer with the whole file
    }
    let (first, last) = spec.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    let r = if first.is_empty() {
        let n: u64 = last.parse().ok()?;
        if n == 0 || len == 0 {
            Err(())
        } else {
            Ok((len.saturating_sub(n), len - 1))
        }
    } else {
        let start: u64 = first.parse().ok()?;
        let end = if last.is_empty() {
            len.saturating_sub(1)
        } else {
            last.parse::<u64>().ok()?.min(len.saturating_sub(1))
        };
        if start >= len || end < start {
            Err(())
        } else {
            Ok((start, end))
        }
    };
    Some(r)
}

fn ranged(a: &'static assets::Asset, range: &str, etag: String) -> Reply {
    let len = a.identity.len() as u64;
    let common = |status, body| {
        Reply::new(status, body)
            .header("etag", Value::Owned(etag.clone()))
            .with("cache-control", "no-cache")
            .with("accept-ranges", "bytes")
            .with("content-type", a.mime)
    };
    match parse_range(range, len) {
        None => common(200, Bytes::from_static(a.identity)),
        Some(Err(())) => Reply::new(416, Bytes::new())
            .header("content-range", Value::Owned(format!("bytes */{len}"))),
        Some(Ok((start, end))) => {
            // start <= end < len, so the slice is in bounds.
            let body = Bytes::from_static(a.identity).slice(start as usize..=end as usize);
            common(206, body).header(
                "content-range",
                Value::Owned(format!("bytes {start}-{end}/{len}")),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_hosts() {
        assert_eq!(bare_host("Example.org.:8080"), "Example.org");
        assert_eq!(bare_host("[fd00::1]:80"), "[fd00::1]");
        assert_eq!(bare_host("10.0.0.1"), "10.0.0.1");
    }

    #[test]
    fn after_values() {
        assert_eq!(long_poll_after("after=42"), Some(42));
        for bad in [
            "",
            "after=",
            "after=-1",
            "after=1e3",
            "after=0x10",
            "after=99999999999999999999999",
            "after=9007199254740992",
            "after=1&after=1",
            "after= 1",
        ] {
            assert_eq!(long_poll_after(bad), None, "{bad}");
        }
    }
}
