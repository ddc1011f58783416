//! The page's static files, embedded at build time by `build.rs` (identity, gzip, brotli),
//! and content negotiation over `Accept-Encoding`.

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// URL path, e.g. `/index.html`.
    pub path: &'static str,
    /// `Content-Type`.
    pub mime: &'static str,
    /// Hash of the identity bytes (hex, no quotes); variants append `-gz` / `-br`.
    pub etag: &'static str,
    /// Uncompressed bytes.
    pub identity: &'static [u8],
    /// Gzip variant, when smaller.
    pub gzip: Option<&'static [u8]>,
    /// Brotli variant, when smaller.
    pub brotli: Option<&'static [u8]>,
}

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// Which representation was chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// No content coding.
    Identity,
    /// `gzip`.
    Gzip,
    /// `br`.
    Brotli,
}

impl Encoding {
    /// `Content-Encoding` value, if any.
    pub fn header(self) -> Option<&'static str> {
        match self {
            Encoding::Identity => None,
            Encoding::Gzip => Some("gzip"),
            Encoding::Brotli => Some("br"),
        }
    }
}

/// Looks up a URL path (`/` = `/index.html`, a trailing `/` = its `index.html`).
pub fn find(path: &str) -> Option<&'static Asset> {
    let owned;
    let path = if path.ends_with('/') {
        owned = format!("{path}index.html");
        owned.as_str()
    } else {
        path
    };
    ASSETS.iter().find(|a| a.path == path)
}

/// True if an `Accept-Encoding` value accepts content coding `name` (q > 0).
pub fn accepts(accept_encoding: &str, name: &str) -> bool {
    accept_encoding.split(',').any(|part| {
        let mut it = part.split(';');
        let coding = it.next().unwrap_or("").trim();
        let q_zero = it.any(|p| {
            let p = p.trim();
            p.strip_prefix("q=")
                .is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q <= 0.0))
        });
        coding.eq_ignore_ascii_case(name) && !q_zero
    })
}

/// Picks the best representation of `asset` acceptable per `accept_encoding`
/// (brotli > gzip > identity; honours `q=0`).
pub fn negotiate(asset: &Asset, accept_encoding: &str) -> (Encoding, &'static [u8], String) {
    let ok = |name: &str| accepts(accept_encoding, name);
    if let Some(b) = asset.brotli.filter(|_| ok("br")) {
        return (Encoding::Brotli, b, format!("\"{}-br\"", asset.etag));
    }
    if let Some(g) = asset.gzip.filter(|_| ok("gzip")) {
        return (Encoding::Gzip, g, format!("\"{}-gz\"", asset.etag));
    }
    (
        Encoding::Identity,
        asset.identity,
        format!("\"{}\"", asset.etag),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_is_embedded() {
        let a = find("/").expect("index.html is always embedded");
        assert!(a.mime.starts_with("text/html"));
        let (enc, _, _) = negotiate(a, "gzip;q=0, identity");
        assert_eq!(enc, Encoding::Identity);
    }
}
