//! Routes added around the portal's router when TLS is configured: `GET /wt` over HTTPS (the
//! WebTransport discovery document), `/metrics` with the TLS/WebTransport counters appended,
//! and on plain HTTP a redirect of the page (`/`) to its HTTPS URL.
//!
//! `/wt` answers `{"url":"https://<Host>/wt","hashes":["<sha256 hex>"]}`: the session URL on
//! the same authority the page was loaded from (UDP, same port), and the leaf certificate's
//! SHA-256 for `serverCertificateHashes`, only when the certificate is valid for at most 14
//! days (what browsers accept for pinning; a CA-issued certificate is verified normally).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::get;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HOST, LOCATION};
use http::{HeaderValue, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::{WT_PATH, WtMetrics};
use crate::tls::CertStore;

/// The discovery document for a request that arrived with `host` (authority, with port).
pub fn wt_document(host: &str, store: &CertStore) -> String {
    let cert = store.current();
    let hashes: Vec<String> = if cert.pinnable() {
        vec![cert.sha256_hex()]
    } else {
        Vec::new()
    };
    serde_json::json!({ "url": format!("https://{host}{WT_PATH}"), "hashes": hashes }).to_string()
}

async fn with_metrics(inner: Router, metrics: Arc<WtMetrics>, req: Request) -> Response {
    let resp = match inner.oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    if resp.status() != StatusCode::OK {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    parts.headers.remove(http::header::CONTENT_LENGTH);
    let mut bytes = match body.collect().await {
        Ok(b) => b.to_bytes().to_vec(),
        Err(_) => Vec::new(),
    };
    bytes.extend_from_slice(metrics.render().as_bytes());
    Response::from_parts(parts, Body::from(bytes))
}

/// The HTTPS router: `/wt`, `/metrics` (+ TLS counters), everything else as `inner`.
pub fn https_router(inner: Router, store: Arc<CertStore>, metrics: Arc<WtMetrics>) -> Router {
    let m_inner = inner.clone();
    Router::new()
        .route(
            WT_PATH,
            get(move |req: Request| {
                let store = store.clone();
                async move {
                    let host = req
                        .headers()
                        .get(HOST)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                        .or_else(|| req.uri().authority().map(|a| a.to_string()))
                        .unwrap_or_default();
                    let mut r = Response::new(Body::from(wt_document(&host, &store)));
                    let h = r.headers_mut();
                    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
                    r
                }
            }),
        )
        .route(
            "/metrics",
            get(move |req: Request| with_metrics(m_inner.clone(), metrics.clone(), req)),
        )
        .fallback_service(inner)
}

/// The plain-HTTP router when TLS is on: `/` redirects to `https_page` (if it is an `https:`
/// URL), `/metrics` gains the TLS counters, everything else (captive probes, `/t`, `/s`, ...)
/// is answered as before.
pub fn http_router(inner: Router, https_page: Option<String>, metrics: Arc<WtMetrics>) -> Router {
    let m_inner = inner.clone();
    let mut r = Router::new().route(
        "/metrics",
        get(move |req: Request| with_metrics(m_inner.clone(), metrics.clone(), req)),
    );
    if let Some(url) = https_page.filter(|u| u.starts_with("https://")) {
        let loc = HeaderValue::from_str(&url).unwrap_or_else(|_| HeaderValue::from_static("/"));
        let page_inner = inner.clone();
        r = r.route(
            "/",
            get(move |req: Request| {
                let (loc, page_inner) = (loc.clone(), page_inner.clone());
                async move {
                    // Captive probes and foreign hosts keep their answers; only the page moves.
                    let resp = match page_inner.oneshot(req).await {
                        Ok(r) => r,
                        Err(never) => match never {},
                    };
                    if resp.status() != StatusCode::OK {
                        return resp;
                    }
                    let mut r = Response::new(Body::from(
                        "<!doctype html><title>Crowdlight</title>moved to HTTPS\n",
                    ));
                    *r.status_mut() = StatusCode::FOUND;
                    r.headers_mut().insert(LOCATION, loc);
                    r.headers_mut()
                        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
                    r
                }
            }),
        );
    }
    r.fallback_service(inner)
}
