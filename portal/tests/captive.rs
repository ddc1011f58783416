//! Every OS's connectivity check, with its real Host, path and User-Agent, gets an answer that
//! opens the portal while the show runs, and the exact "online" answer in release mode.

mod common;

use std::sync::atomic::Ordering;

use common::*;
use portal::captive::{
    APPLE_SUCCESS, FIREFOX_CANONICAL, FIREFOX_SUCCESS, MSFT_CONNECT_TEST, MSFT_NCSI,
};
use portal::config::Config;

const ANDROID_UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/60.0.3112.32 Safari/537.36";
const DALVIK_UA: &str = "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/UQ1A.240105.004)";
const APPLE_UA: &str = "CaptiveNetworkSupport-481.100.3 wispr";
const MAC_UA: &str = "CaptiveNetworkSupport-407.40.1 wispr";
const WINDOWS_UA: &str = "Microsoft NCSI";
const FIREFOX_UA: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const CHROMEOS_UA: &str = "Mozilla/5.0 (X11; CrOS x86_64 15633.69.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.6045.212 Safari/537.36";

/// (os, host, path, user agent, release-mode status, release-mode body).
fn probes() -> Vec<(
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    u16,
    &'static str,
)> {
    vec![
        (
            "apple",
            "captive.apple.com",
            "/hotspot-detect.html",
            APPLE_UA,
            200,
            APPLE_SUCCESS,
        ),
        (
            "apple",
            "captive.apple.com",
            "/",
            MAC_UA,
            200,
            APPLE_SUCCESS,
        ),
        (
            "apple",
            "www.apple.com",
            "/library/test/success.html",
            APPLE_UA,
            200,
            APPLE_SUCCESS,
        ),
        (
            "apple",
            "www.appleiphonecell.com",
            "/",
            APPLE_UA,
            200,
            APPLE_SUCCESS,
        ),
        (
            "apple",
            "www.airport.us",
            "/x7a9b.html",
            APPLE_UA,
            200,
            APPLE_SUCCESS,
        ),
        ("apple", "www.ibook.info", "/", APPLE_UA, 200, APPLE_SUCCESS),
        (
            "apple",
            "www.itools.info",
            "/",
            APPLE_UA,
            200,
            APPLE_SUCCESS,
        ),
        (
            "apple",
            "www.thinkdifferent.us",
            "/",
            APPLE_UA,
            200,
            APPLE_SUCCESS,
        ),
        (
            "android",
            "connectivitycheck.gstatic.com",
            "/generate_204",
            ANDROID_UA,
            204,
            "",
        ),
        ("android", "www.google.com", "/gen_204", ANDROID_UA, 204, ""),
        (
            "android",
            "clients3.google.com",
            "/generate_204",
            ANDROID_UA,
            204,
            "",
        ),
        (
            "android",
            "play.googleapis.com",
            "/generate_204",
            DALVIK_UA,
            204,
            "",
        ),
        (
            "android",
            "connectivitycheck.android.com",
            "/generate_204",
            ANDROID_UA,
            204,
            "",
        ),
        (
            "android",
            "clients3.google.com",
            "/generate_204",
            CHROMEOS_UA,
            204,
            "",
        ),
        (
            "samsung",
            "connectivity.samsung.com.cn",
            "/generate_204",
            ANDROID_UA,
            204,
            "",
        ),
        (
            "samsung",
            "connectivitycheck.samsung.com",
            "/generate_204",
            ANDROID_UA,
            204,
            "",
        ),
        (
            "xiaomi",
            "connect.rom.miui.com",
            "/generate_204",
            ANDROID_UA,
            204,
            "",
        ),
        (
            "huawei",
            "connectivitycheck.platform.hicloud.com",
            "/generate_204",
            ANDROID_UA,
            204,
            "",
        ),
        (
            "huawei",
            "connectivitycheck.platform.hihonor.com",
            "/generate_204",
            ANDROID_UA,
            204,
            "",
        ),
        (
            "windows",
            "www.msftconnecttest.com",
            "/connecttest.txt",
            WINDOWS_UA,
            200,
            MSFT_CONNECT_TEST,
        ),
        (
            "windows",
            "ipv6.msftconnecttest.com",
            "/connecttest.txt",
            WINDOWS_UA,
            200,
            MSFT_CONNECT_TEST,
        ),
        (
            "windows",
            "www.msftncsi.com",
            "/ncsi.txt",
            WINDOWS_UA,
            200,
            MSFT_NCSI,
        ),
        (
            "firefox",
            "detectportal.firefox.com",
            "/canonical.html",
            FIREFOX_UA,
            200,
            FIREFOX_CANONICAL,
        ),
        (
            "firefox",
            "detectportal.firefox.com",
            "/success.txt",
            FIREFOX_UA,
            200,
            FIREFOX_SUCCESS,
        ),
    ]
}

fn portal(release: bool) -> InProcess {
    InProcess::start(Config {
        release,
        ..Config::dev()
    })
}

/// What an OS considers "online" (so: no portal). We must never send it during the show.
fn looks_online(r: &Resp) -> bool {
    let body = r.text();
    r.status == 204
        || (r.status == 200 && r.body.len() <= 4) // Android: empty/tiny 200 = online
        || body.contains("<TITLE>Success</TITLE>")
        || body.contains("Microsoft Connect Test")
        || body.contains("Microsoft NCSI")
        || body == FIREFOX_SUCCESS
        || body == FIREFOX_CANONICAL
}

#[test]
fn every_probe_opens_the_portal_while_the_show_runs() {
    let p = portal(false);
    for (os, host, path, ua, _, _) in probes() {
        // Hosts arrive in any case and with a port sometimes.
        for h in [
            host.to_string(),
            host.to_ascii_uppercase(),
            format!("{host}:80"),
        ] {
            let r = get(p.http, &h, path, &[("User-Agent", ua)]);
            assert_eq!(r.status, 302, "{os} {h}{path}: {}", r.text());
            assert_eq!(
                r.header("location"),
                Some(format!("http://{}/", p.http).as_str()),
                "{os} {h}{path}"
            );
            assert_eq!(r.header("cache-control"), Some("no-store"));
            assert!(!looks_online(&r), "{os} {h}{path} looks online");
        }
    }
    let m = get(p.http, "127.0.0.1", "/metrics", &[]).text();
    for os in [
        "apple", "android", "samsung", "xiaomi", "huawei", "windows", "firefox",
    ] {
        let line = m
            .lines()
            .find(|l| l.starts_with(&format!("portal_captive_probes_total{{os=\"{os}\"}}")))
            .unwrap();
        assert!(!line.ends_with(" 0"), "{line}");
    }
}

#[test]
fn windows_redirect_page_lands_on_the_portal() {
    let p = portal(false);
    let r = get(
        p.http,
        "www.msftconnecttest.com",
        "/redirect",
        &[("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64)")],
    );
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location"),
        Some(format!("http://{}/", p.http).as_str())
    );
    // Even in release mode /redirect goes to the page (Windows opens it only when asked).
    let p = portal(true);
    let r = get(p.http, "www.msftconnecttest.com", "/redirect", &[]);
    assert_eq!(r.status, 302);
}

#[test]
fn release_mode_answers_exactly_online() {
    let p = portal(true);
    for (os, host, path, ua, status, body) in probes() {
        let r = get(p.http, host, path, &[("User-Agent", ua)]);
        assert_eq!(r.status, status, "{os} {host}{path}");
        assert_eq!(r.text(), body, "{os} {host}{path}");
        assert!(looks_online(&r));
    }
}

#[test]
fn release_switch_flips_at_runtime() {
    let p = portal(false);
    let probe = || {
        get(
            p.http,
            "connectivitycheck.gstatic.com",
            "/generate_204",
            &[("User-Agent", ANDROID_UA)],
        )
        .status
    };
    assert_eq!(probe(), 302);
    p.release.store(true, Ordering::Relaxed);
    assert_eq!(probe(), 204);
}

#[test]
fn any_other_host_or_path_is_redirected_to_the_page() {
    let p = portal(false);
    for (host, path) in [
        ("example.com", "/"),
        ("www.bbc.co.uk", "/news"),
        ("www.google.com", "/search?q=x"),
        ("10.1.2.3", "/generate_204"),
        ("127.0.0.1", "/no/such/file.html"),
    ] {
        let r = get(p.http, host, path, &[]);
        assert_eq!(r.status, 302, "{host}{path}");
        assert_eq!(
            r.header("location"),
            Some(format!("http://{}/", p.http).as_str())
        );
    }
    // The portal's own host serves the page.
    let r = get(p.http, "127.0.0.1:8080", "/", &[]);
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
}

#[test]
fn rfc8908_api() {
    let p = portal(false);
    let r = get(
        p.http,
        "127.0.0.1",
        "/api/captive",
        &[("Accept", "application/captive+json")],
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/captive+json"));
    let v = r.json();
    assert_eq!(v["captive"], true);
    assert_eq!(v["user-portal-url"], format!("http://{}/", p.http));
    p.release.store(true, Ordering::Relaxed);
    assert_eq!(
        get(p.http, "127.0.0.1", "/api/captive", &[]).json()["captive"],
        false
    );
}

#[test]
fn requests_with_bodies_and_other_methods_are_refused() {
    let p = portal(false);
    let r = request(
        p.http,
        "POST /s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n",
        &[],
    );
    assert_eq!(r.status, 413);
    let r = request(
        p.http,
        "GET /s HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n",
        &[],
    );
    assert_eq!(r.status, 413);
    let r = request(p.http, "DELETE /s HTTP/1.1\r\nHost: 127.0.0.1\r\n", &[]);
    assert_eq!(r.status, 405);
    // An oversized request head is refused (431) without reaching the router.
    let big = "x".repeat(40_000);
    let r = request(
        p.http,
        "GET /s HTTP/1.1\r\nHost: 127.0.0.1\r\n",
        &[("X-Big", &big)],
    );
    assert_eq!(r.status, 431);
    let r = get(p.http, "127.0.0.1", "/s", &[]);
    assert_eq!(r.status, 200);
}
