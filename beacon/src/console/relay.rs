//! Live relay figures for the console: scrapes each portal's `/metrics` (Prometheus text) for
//! the live audience (`portal_listeners`: phones with a `/s` long-poll parked right now),
//! whether its relay hears the beacon, and the number of `/s` polls answered, turned into
//! polls per second over two scrapes (the audience estimate for a portal without the gauge).
//! Parsing and rates are sans-IO; [`fetch_metrics`] (hyper's HTTP/1 client) is the only IO.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use serde::Serialize;

/// What one scrape of `/metrics` says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scrape {
    /// Phones listening right now (`portal_listeners`), when the portal exports it.
    pub listeners: Option<u64>,
    /// `/s` requests answered so far (every status).
    pub polls: u64,
    /// Whether the relay hears a valid beacon (`portal_beacon_healthy 1`).
    pub healthy: bool,
    /// Beacon packets accepted so far.
    pub packets: u64,
}

/// Parses the Prometheus text of a portal's `/metrics`.
pub fn parse_metrics(text: &str) -> Scrape {
    let mut scrape = Scrape::default();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((name, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let value: f64 = value.parse().unwrap_or(0.0);
        if name.starts_with("portal_http_requests_total{") && name.contains("route=\"s\"") {
            scrape.polls += value as u64;
        } else if name == "portal_listeners" {
            scrape.listeners = Some(value as u64);
        } else if name == "portal_beacon_healthy" {
            scrape.healthy = value >= 1.0;
        } else if name == "portal_beacon_packets_total{result=\"accepted\"}" {
            scrape.packets = value as u64;
        }
    }
    scrape
}

/// One relay as the console page shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RelayFigures {
    /// The relay's base URL.
    pub url: String,
    /// Whether its `/metrics` answered on the last try.
    pub reachable: bool,
    /// Whether it hears the beacon.
    pub healthy: bool,
    /// Phones listening right now (the portal's `portal_listeners` gauge), if exported.
    pub listeners: Option<u64>,
    /// `/s` polls per second over the last interval (the audience estimate without the gauge).
    pub polls_per_s: Option<f64>,
    /// `/s` polls answered in total.
    pub polls: u64,
    /// The last error, if unreachable.
    pub error: Option<String>,
    #[serde(skip)]
    last: Option<(u64, Scrape)>,
}

impl RelayFigures {
    /// A relay not scraped yet.
    pub fn new(url: String) -> RelayFigures {
        RelayFigures {
            url,
            ..Default::default()
        }
    }

    /// Records a scrape taken at `now_ms` (any monotonic ms).
    pub fn handle_scrape(&mut self, now_ms: u64, scrape: Scrape) {
        if let Some((then, prev)) = self.last
            && now_ms > then
        {
            let polls = scrape.polls.saturating_sub(prev.polls) as f64;
            self.polls_per_s = Some(polls * 1000.0 / (now_ms - then) as f64);
        }
        self.reachable = true;
        self.listeners = scrape.listeners;
        self.healthy = scrape.healthy;
        self.polls = scrape.polls;
        self.error = None;
        self.last = Some((now_ms, scrape));
    }

    /// Records a failed scrape.
    pub fn handle_error(&mut self, error: String) {
        self.reachable = false;
        self.healthy = false;
        self.listeners = None;
        self.polls_per_s = None;
        self.error = Some(error);
        self.last = None;
    }
}

/// `host:port` of an `http://host[:port]` relay URL (`host:port` alone is accepted too).
pub fn authority(url: &str) -> Result<String, String> {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    if rest.contains("://") {
        return Err(format!("{url}: only http:// relays are supported"));
    }
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() {
        return Err(format!("{url}: no host"));
    }
    Ok(
        if host
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            host.to_owned()
        } else {
            format!("{host}:80")
        },
    )
}

/// Largest `/metrics` body read (a portal's is a few KiB).
const MAX_METRICS_BYTES: usize = 4 * 1024 * 1024;

/// Fetches `http://{authority}/metrics` with hyper's HTTP/1 client over one fresh connection;
/// the whole exchange (connect, request, body) is bounded by `timeout`.
pub async fn fetch_metrics(authority: &str, timeout: Duration) -> Result<String, String> {
    let work = async {
        let stream = tokio::net::TcpStream::connect(authority)
            .await
            .map_err(|e| e.to_string())?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        let connection = tokio::spawn(connection);
        let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
        let request = hyper::Request::get("/metrics")
            .header(hyper::header::HOST, host)
            .header(hyper::header::USER_AGENT, "crowdlight-console")
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let outcome = async {
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| e.to_string())?;
            if response.status() != hyper::StatusCode::OK {
                return Err(format!("/metrics answered {}", response.status().as_u16()));
            }
            let body = Limited::new(response.into_body(), MAX_METRICS_BYTES)
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            Ok(String::from_utf8_lossy(&body).into_owned())
        }
        .await;
        connection.abort();
        outcome
    };
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or_else(|_| Err("timed out".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# HELP portal_http_requests_total HTTP requests by route and status.\n\
        # TYPE portal_http_requests_total counter\n\
        portal_http_requests_total{route=\"s\",status=\"200\"} 40\n\
        portal_http_requests_total{route=\"s\",status=\"304\"} 60\n\
        portal_http_requests_total{route=\"t\",status=\"200\"} 7\n\
        portal_beacon_packets_total{result=\"accepted\"} 12\n\
        portal_beacon_healthy 1\n";

    #[test]
    fn parses_polls_and_health() {
        let s = parse_metrics(TEXT);
        assert_eq!(
            s,
            Scrape {
                listeners: None,
                polls: 100,
                healthy: true,
                packets: 12
            }
        );
        assert_eq!(parse_metrics("garbage\n\n{}"), Scrape::default());
    }

    #[test]
    fn the_listeners_gauge_is_the_audience() {
        let text = format!(
            "{TEXT}# HELP portal_listeners Phones with a /s long-poll parked now.\n\
             # TYPE portal_listeners gauge\nportal_listeners 1234\n"
        );
        let s = parse_metrics(&text);
        assert_eq!(s.listeners, Some(1234));
        let mut r = RelayFigures::new("http://x".into());
        r.handle_scrape(1000, s);
        assert_eq!(r.listeners, Some(1234));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["listeners"], 1234);
        // A portal without the gauge: no figure, the poll rate stands in.
        r.handle_scrape(2000, parse_metrics(TEXT));
        assert_eq!(r.listeners, None);
        assert_eq!(r.polls_per_s, Some(0.0));
    }

    #[test]
    fn rate_from_two_scrapes() {
        let mut r = RelayFigures::new("http://x".into());
        r.handle_scrape(1000, parse_metrics(TEXT));
        assert_eq!(r.polls_per_s, None);
        let more = TEXT.replace("} 60", "} 310");
        r.handle_scrape(3000, parse_metrics(&more));
        assert_eq!(r.polls_per_s, Some(125.0));
        r.handle_error("refused".into());
        assert!(!r.reachable && r.polls_per_s.is_none());
    }

    #[test]
    fn authorities() {
        assert_eq!(
            authority("http://127.0.0.1:8080").unwrap(),
            "127.0.0.1:8080"
        );
        assert_eq!(authority("http://relay1/").unwrap(), "relay1:80");
        assert_eq!(authority("10.0.0.2:8080").unwrap(), "10.0.0.2:8080");
        assert!(authority("https://x").is_err());
        assert!(authority("http://").is_err());
    }

    /// A one-shot HTTP server on loopback answering every connection with `answer`.
    async fn serve_once(answer: &'static str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(answer.as_bytes()).await;
            }
        });
        addr
    }

    #[tokio::test]
    async fn fetch_reads_the_body_and_refuses_other_statuses() {
        let ok =
            serve_once("HTTP/1.1 200 OK\r\nContent-Length: 18\r\n\r\nportal_listeners 7").await;
        let text = fetch_metrics(&ok, Duration::from_secs(5)).await.unwrap();
        assert_eq!(parse_metrics(&text).listeners, Some(7));
        let missing = serve_once("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n").await;
        assert_eq!(
            fetch_metrics(&missing, Duration::from_secs(5)).await,
            Err("/metrics answered 404".to_owned())
        );
        let garbage = serve_once("SSH-2.0-OpenSSH\r\n\r\n").await;
        assert!(
            fetch_metrics(&garbage, Duration::from_secs(5))
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_silent_relay_times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        assert_eq!(
            fetch_metrics(&addr, Duration::from_millis(50)).await,
            Err("timed out".to_owned())
        );
        drop(listener);
    }
}
