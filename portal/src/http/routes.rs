//! Request dispatch: captive probes, foreign hosts, and the portal's own routes
//! (`/t`, `/s`, `/show/<id>.json`, `/healthz`, `/metrics`, `/api/captive`, the page).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use bytes::Bytes;
use http::header::{
    ACCEPT_ENCODING, ACCEPT_RANGES, ALLOW, CACHE_CONTROL, CONNECTION, CONTENT_ENCODING,
    CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, HOST, IF_NONE_MATCH, IF_RANGE, LOCATION,
    RANGE, TRANSFER_ENCODING, USER_AGENT, VARY,
};
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use crate::assets;
use crate::captive::{self, Success};
use crate::catalog::Catalog;
use crate::dns::DnsCounters;
use crate::metrics::{self, HttpMetrics};
use crate::relay::RelayState;

/// Everything a request handler needs; shared by all connections.
#[derive(Debug)]
pub struct AppState {
    /// Canonical page URL (redirect target).
    pub canonical_url: String,
    /// `Host` names (lowercase, no port) served as the portal itself.
    pub own_hosts: Vec<String>,
    /// Release mode switch.
    pub release: Arc<AtomicBool>,
    /// Beacon relay.
    pub relay: Arc<RelayState>,
    /// Compiled shows.
    pub catalog: Arc<Catalog>,
    /// HTTP counters.
    pub metrics: Arc<HttpMetrics>,
    /// DNS counters (for `/metrics`).
    pub dns: Arc<DnsCounters>,
    /// Monotonic origin shared with the relay listener.
    pub epoch: Instant,
    /// RFC 8908 `venue-info-url`.
    pub venue_info_url: Option<String>,
}

impl AppState {
    fn local_us(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }
}

/// The axum router (a single dispatching fallback: routing depends on `Host` first).
pub fn router(state: Arc<AppState>) -> Router {
    Router::new().fallback(dispatch).with_state(state)
}

const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");
const JSON: HeaderValue = HeaderValue::from_static("application/json");

fn respond(
    status: StatusCode,
    headers: &[(http::HeaderName, HeaderValue)],
    body: impl Into<Body>,
) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    for (k, v) in headers {
        r.headers_mut().insert(k.clone(), v.clone());
    }
    r
}

fn header(h: &HeaderMap, name: http::HeaderName) -> &str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// True if an `If-None-Match` header value matches `etag` (weak comparison, `*`, lists).
pub fn etag_matches(if_none_match: &str, etag: &HeaderValue) -> bool {
    let Ok(etag) = etag.to_str() else {
        return false;
    };
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_string();
    if_none_match
        .split(',')
        .any(|t| t.trim() == "*" || bare(t) == bare(etag))
}

async fn dispatch(State(app): State<Arc<AppState>>, req: Request) -> Response {
    // HEAD: hyper sends the headers (with the GET's Content-Length) and drops the body.
    let (route, resp) = route(&app, &req);
    app.metrics.handle_request(route, resp.status().as_u16());
    resp
}

fn route(app: &AppState, req: &Request) -> (&'static str, Response) {
    let h = req.headers();
    // No request bodies: refuse before anything else and close the connection.
    let has_body = h.contains_key(TRANSFER_ENCODING)
        || h.get(CONTENT_LENGTH)
            .is_some_and(|v| v.to_str().map_or(true, |s| s.trim() != "0"));
    if has_body {
        return (
            "rejected",
            respond(
                StatusCode::PAYLOAD_TOO_LARGE,
                &[(CONNECTION, HeaderValue::from_static("close"))],
                "no request bodies\n",
            ),
        );
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return (
            "rejected",
            respond(
                StatusCode::METHOD_NOT_ALLOWED,
                &[(ALLOW, HeaderValue::from_static("GET, HEAD"))],
                "GET or HEAD only\n",
            ),
        );
    }
    let host_raw = h
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().host())
        .unwrap_or("");
    let path = req.uri().path();
    let release = app.release.load(Ordering::Relaxed);

    if let Some(probe) = captive::classify(host_raw, path, header(h, USER_AGENT)) {
        app.metrics.handle_probe(probe.os);
        return match (release, probe.success) {
            (true, Some(success)) => ("captive", success_response(success)),
            _ => ("captive", redirect(&app.canonical_url)),
        };
    }
    // Operational endpoints answer whatever Host a monitor or load balancer uses, so a health
    // check is never fooled by the captive redirect.
    match path {
        "/healthz" => return ("healthz", healthz(app)),
        "/metrics" => return ("metrics", metrics_page(app)),
        _ => {}
    }
    let host = captive::normalize_host(host_raw);
    if !host.is_empty() && !app.own_hosts.contains(&host) {
        return ("redirect", redirect(&app.canonical_url));
    }
    match path {
        "/t" => ("t", time(app)),
        "/s" => ("s", state(app, h)),
        "/api/captive" => ("api", captive_api(app, release)),
        p if p.starts_with("/show/") => ("show", show(app, p, h)),
        p => match assets::find(p) {
            Some(a) => ("asset", asset(a, h)),
            None => ("redirect", redirect(&app.canonical_url)),
        },
    }
}

/// `302` to the canonical page (what every OS treats as "captive portal here").
fn redirect(url: &str) -> Response {
    let loc = HeaderValue::from_str(url).unwrap_or_else(|_| HeaderValue::from_static("/"));
    let body =
        format!("<!doctype html><title>Crowdlight</title><a href=\"{url}\">Join the show</a>\n");
    respond(
        StatusCode::FOUND,
        &[
            (LOCATION, loc),
            (CACHE_CONTROL, NO_STORE),
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
        ],
        body,
    )
}

fn success_response(s: Success) -> Response {
    match s {
        Success::NoContent => respond(
            StatusCode::NO_CONTENT,
            &[(CACHE_CONTROL, NO_STORE)],
            Body::empty(),
        ),
        Success::Html(b) => respond(
            StatusCode::OK,
            &[
                (CONTENT_TYPE, HeaderValue::from_static("text/html")),
                (CACHE_CONTROL, NO_STORE),
            ],
            b,
        ),
        Success::Text(b) => respond(
            StatusCode::OK,
            &[
                (CONTENT_TYPE, HeaderValue::from_static("text/plain")),
                (CACHE_CONTROL, NO_STORE),
            ],
            b,
        ),
    }
}

fn time(app: &AppState) -> Response {
    let (t, src) = match app.relay.beacon_now(app.local_us()) {
        Some(t) => (t, "beacon"),
        None => {
            let sys = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_micros());
            (u64::try_from(sys).unwrap_or(0), "system")
        }
    };
    respond(
        StatusCode::OK,
        &[
            (CONTENT_TYPE, JSON),
            (CACHE_CONTROL, NO_STORE),
            (
                http::HeaderName::from_static("x-clock-source"),
                HeaderValue::from_static(src),
            ),
        ],
        format!("{{\"t\":{t}}}"),
    )
}

fn state(app: &AppState, h: &HeaderMap) -> Response {
    let snap = app.relay.snapshot();
    let common = [
        (ETAG, snap.etag.clone()),
        (CACHE_CONTROL, HeaderValue::from_static("public, max-age=1")),
    ];
    if etag_matches(header(h, IF_NONE_MATCH), &snap.etag) {
        return respond(StatusCode::NOT_MODIFIED, &common, Body::empty());
    }
    let mut r = respond(StatusCode::OK, &common, snap.body.clone());
    r.headers_mut().insert(CONTENT_TYPE, JSON);
    r
}

fn healthz(app: &AppState) -> Response {
    let ok = app.relay.is_healthy(app.local_us());
    let (status, body) = if ok {
        (StatusCode::OK, "ok\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "no beacon\n")
    };
    respond(
        status,
        &[
            (CACHE_CONTROL, NO_STORE),
            (CONTENT_TYPE, HeaderValue::from_static("text/plain")),
        ],
        body,
    )
}

fn metrics_page(app: &AppState) -> Response {
    let healthy = app.relay.is_healthy(app.local_us());
    let text = metrics::render(&app.metrics, &app.dns, &app.relay, healthy);
    respond(
        StatusCode::OK,
        &[
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4"),
            ),
            (CACHE_CONTROL, NO_STORE),
        ],
        text,
    )
}

fn captive_api(app: &AppState, release: bool) -> Response {
    let mut doc = serde_json::json!({ "captive": !release, "user-portal-url": app.canonical_url });
    if let Some(v) = &app.venue_info_url {
        doc["venue-info-url"] = serde_json::Value::from(v.as_str());
    }
    respond(
        StatusCode::OK,
        &[
            (
                CONTENT_TYPE,
                HeaderValue::from_static("application/captive+json"),
            ),
            (CACHE_CONTROL, HeaderValue::from_static("private, no-store")),
        ],
        doc.to_string(),
    )
}

fn show(app: &AppState, path: &str, h: &HeaderMap) -> Response {
    let id = path
        .strip_prefix("/show/")
        .and_then(|p| p.strip_suffix(".json"))
        .unwrap_or("");
    let entry = (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| app.catalog.get(&id.to_ascii_lowercase()))
        .flatten();
    let Some(entry) = entry else {
        return respond(
            StatusCode::NOT_FOUND,
            &[(CACHE_CONTROL, NO_STORE)],
            "unknown show\n",
        );
    };
    let gz = entry
        .gzip
        .clone()
        .filter(|_| assets::accepts(header(h, ACCEPT_ENCODING), "gzip"));
    let etag = if gz.is_some() {
        entry.gzip_etag.clone()
    } else {
        entry.etag.clone()
    };
    let common = [
        (ETAG, etag.clone()),
        (
            CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        ),
        (VARY, HeaderValue::from_static("Accept-Encoding")),
    ];
    if etag_matches(header(h, IF_NONE_MATCH), &etag) {
        return respond(StatusCode::NOT_MODIFIED, &common, Body::empty());
    }
    let mut r = match gz {
        Some(gz) => {
            let mut r = respond(StatusCode::OK, &common, gz);
            r.headers_mut()
                .insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            r
        }
        None => respond(StatusCode::OK, &common, entry.json.clone()),
    };
    r.headers_mut().insert(CONTENT_TYPE, JSON);
    r
}

fn asset(a: &'static assets::Asset, h: &HeaderMap) -> Response {
    if let Some(range) = h.get(RANGE).and_then(|v| v.to_str().ok()) {
        // Byte ranges (iOS Safari needs them to play the keep-awake video), on the identity
        // representation. `If-Range` with another validator means "send it all".
        let identity_tag = format!("\"{}\"", a.etag);
        let if_range_ok = h
            .get(IF_RANGE)
            .is_none_or(|v| v.to_str().is_ok_and(|t| t == identity_tag));
        if if_range_ok {
            return ranged(a, range, &identity_tag);
        }
    }
    let (enc, bytes, etag) = assets::negotiate(a, header(h, ACCEPT_ENCODING));
    let etag = HeaderValue::from_str(&etag).unwrap_or_else(|_| HeaderValue::from_static("\"a\""));
    let mut headers = vec![
        (ETAG, etag.clone()),
        (VARY, HeaderValue::from_static("Accept-Encoding")),
        (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (ACCEPT_RANGES, HeaderValue::from_static("bytes")),
    ];
    if etag_matches(header(h, IF_NONE_MATCH), &etag) {
        return respond(StatusCode::NOT_MODIFIED, &headers, Body::empty());
    }
    headers.push((CONTENT_TYPE, HeaderValue::from_static(a.mime)));
    if let Some(ce) = enc.header() {
        headers.push((CONTENT_ENCODING, HeaderValue::from_static(ce)));
    }
    respond(StatusCode::OK, &headers, Bytes::from_static(bytes))
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

fn ranged(a: &'static assets::Asset, range: &str, etag: &str) -> Response {
    let len = a.identity.len() as u64;
    let etag = HeaderValue::from_str(etag).unwrap_or_else(|_| HeaderValue::from_static("\"a\""));
    let common = [
        (ETAG, etag),
        (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (ACCEPT_RANGES, HeaderValue::from_static("bytes")),
        (CONTENT_TYPE, HeaderValue::from_static(a.mime)),
    ];
    match parse_range(range, len) {
        None => respond(StatusCode::OK, &common, Bytes::from_static(a.identity)),
        Some(Err(())) => {
            let cr = HeaderValue::from_str(&format!("bytes */{len}"))
                .unwrap_or_else(|_| HeaderValue::from_static("bytes */0"));
            respond(
                StatusCode::RANGE_NOT_SATISFIABLE,
                &[(CONTENT_RANGE, cr)],
                Body::empty(),
            )
        }
        Some(Ok((start, end))) => {
            let cr = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}"))
                .unwrap_or_else(|_| HeaderValue::from_static("bytes */0"));
            // start <= end < len, so the slice is in bounds.
            let body = Bytes::from_static(a.identity).slice(start as usize..=end as usize);
            let mut r = respond(StatusCode::PARTIAL_CONTENT, &common, body);
            r.headers_mut().insert(CONTENT_RANGE, cr);
            r
        }
    }
}
