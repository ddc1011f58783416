//! The embedded page: `/` = index.html, precompressed gzip/brotli chosen by `Accept-Encoding`,
//! ETag per representation, `Vary: Accept-Encoding`, 304 on `If-None-Match`.

mod common;

use std::io::Read;

use common::*;
use portal::config::Config;

#[test]
fn index_is_served_in_every_encoding_with_etags() {
    let p = InProcess::start(Config::dev());
    let plain = get(p.http, "127.0.0.1", "/", &[]);
    assert_eq!(plain.status, 200);
    assert!(
        plain
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.header("vary"), Some("Accept-Encoding"));
    let index = get(p.http, "127.0.0.1", "/index.html", &[]);
    assert_eq!(index.body, plain.body);

    let br = get(
        p.http,
        "127.0.0.1",
        "/",
        &[("Accept-Encoding", "gzip, deflate, br")],
    );
    let gz = get(p.http, "127.0.0.1", "/", &[("Accept-Encoding", "gzip")]);
    let not_br = get(
        p.http,
        "127.0.0.1",
        "/",
        &[("Accept-Encoding", "br;q=0, gzip")],
    );
    let asset = portal::assets::find("/").unwrap();
    if asset.brotli.is_some() {
        assert_eq!(br.header("content-encoding"), Some("br"));
        let mut out = Vec::new();
        brotli::Decompressor::new(&br.body[..], 4096)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, plain.body);
    }
    if asset.gzip.is_some() {
        assert_eq!(gz.header("content-encoding"), Some("gzip"));
        assert_eq!(not_br.header("content-encoding"), Some("gzip"));
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&gz.body[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, plain.body);
    }
    // Each representation has its own ETag, and each revalidates to 304.
    let tags: Vec<String> = [&plain, &br, &gz]
        .iter()
        .map(|r| r.header("etag").unwrap().to_string())
        .collect();
    if asset.gzip.is_some() && asset.brotli.is_some() {
        assert_ne!(tags[0], tags[1]);
        assert_ne!(tags[1], tags[2]);
    }
    let r = get(
        p.http,
        "127.0.0.1",
        "/",
        &[("Accept-Encoding", "gzip, br"), ("If-None-Match", &tags[1])],
    );
    assert_eq!(r.status, 304);
    let r = get(p.http, "127.0.0.1", "/", &[("If-None-Match", &tags[0])]);
    assert_eq!(r.status, 304);
    // HEAD: headers, no body.
    let r = request(p.http, "HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\n", &[]);
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    assert_eq!(
        r.header("content-length"),
        Some(plain.body.len().to_string().as_str())
    );
}

#[test]
fn every_embedded_file_is_reachable() {
    let p = InProcess::start(Config::dev());
    for a in portal::assets::ASSETS {
        let r = get(p.http, "127.0.0.1", a.path, &[]);
        assert_eq!(r.status, 200, "{}", a.path);
        assert_eq!(r.body, a.identity, "{}", a.path);
        assert_eq!(r.header("content-type"), Some(a.mime));
    }
}

#[test]
fn shows_dir_is_compiled_at_start() {
    let p = InProcess::start(Config {
        shows: repo().join("shows/examples"),
        ..Config::dev()
    });
    assert!(!p.catalog.is_empty());
    let show = shows::compile_file(&repo().join("shows/examples/intermission.toml")).unwrap();
    let r = get(
        p.http,
        "127.0.0.1",
        &format!("/show/{}.json", show.id_hex()),
        &[],
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("etag"),
        Some(format!("\"{}\"", show.id_hex()).as_str())
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    // gzip when accepted, with its own ETag; decompresses to the same JSON.
    let gz = get(
        p.http,
        "127.0.0.1",
        &format!("/show/{}.json", show.id_hex()),
        &[("Accept-Encoding", "gzip, br")],
    );
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gz.header("vary"), Some("Accept-Encoding"));
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&gz.body[..])
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out, r.body);
    let gz_tag = gz.header("etag").unwrap();
    assert_ne!(Some(gz_tag), r.header("etag"));
    let again = get(
        p.http,
        "127.0.0.1",
        &format!("/show/{}.json", show.id_hex()),
        &[("Accept-Encoding", "gzip"), ("If-None-Match", gz_tag)],
    );
    assert_eq!(again.status, 304);
    // Garbage ids are 404, never a panic.
    for bad in [
        "/show/",
        "/show/zz.json",
        "/show/../../etc/passwd",
        "/show/%00.json",
    ] {
        assert_eq!(get(p.http, "127.0.0.1", bad, &[]).status, 404, "{bad}");
    }
}

#[test]
fn byte_ranges_for_the_video() {
    let p = InProcess::start(Config::dev());
    let a = portal::assets::ASSETS
        .iter()
        .max_by_key(|a| a.identity.len())
        .unwrap();
    let len = a.identity.len();
    let r = get(p.http, "127.0.0.1", a.path, &[("Range", "bytes=0-1")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.body, &a.identity[..2]);
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes 0-1/{len}").as_str())
    );
    let r = get(p.http, "127.0.0.1", a.path, &[("Range", "bytes=-3")]);
    assert_eq!(r.body, &a.identity[len - 3..]);
    let r = get(p.http, "127.0.0.1", a.path, &[("Range", "bytes=1-")]);
    assert_eq!(r.body, &a.identity[1..]);
    let r = get(
        p.http,
        "127.0.0.1",
        a.path,
        &[("Range", &format!("bytes={len}-"))],
    );
    assert_eq!(r.status, 416);
    let r = get(p.http, "127.0.0.1", a.path, &[("Range", "bytes=0-1,4-5")]);
    assert_eq!(r.status, 200);
    let r = get(
        p.http,
        "127.0.0.1",
        a.path,
        &[("Range", "bytes=0-1"), ("If-Range", "\"stale\"")],
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        get(p.http, "127.0.0.1", a.path, &[]).header("accept-ranges"),
        Some("bytes")
    );
}

mod ranges {
    use portal::http_server::routes::parse_range;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parse_range_stays_in_bounds(s in "bytes=[0-9]{0,6}-[0-9]{0,6}", len in 0u64..5000) {
            if let Some(Ok((a, b))) = parse_range(&s, len) {
                prop_assert!(a <= b && b < len);
            }
        }
    }
}
