//! Sans-IO captive-probe classification: which OS's connectivity check a request is, and what
//! to answer while the show runs (open the portal UI) or after it (*release*: "online").
//!
//! Sources (the table is in `docs/captive-probes.md`): AOSP `NetworkMonitor`, Apple's
//! Captive Network Assistant behaviour, Microsoft NCSI docs, Firefox `CaptiveDetect`.
//! While the show runs every probe gets a `302` to the page's canonical URL: Android/ChromeOS
//! treat a 3xx as "portal" (a 204, or a 200 with a body of ≤ 4 bytes, would mean "online");
//! Apple's CNA opens its sheet for anything but its exact `Success` page; Windows opens the
//! browser at `www.msftconnecttest.com/redirect` (which we redirect again); Firefox shows its
//! captive-portal bar for anything but its expected bodies.

/// The operating system (or browser) a probe belongs to, for metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProbeOs {
    /// iOS, iPadOS, macOS.
    Apple,
    /// AOSP Android, Pixel, ChromeOS, and OEMs using Google's hosts.
    Android,
    /// Samsung's own hosts (China/HK firmware).
    Samsung,
    /// Xiaomi MIUI / HyperOS.
    Xiaomi,
    /// Huawei EMUI / HarmonyOS and Honor.
    Huawei,
    /// Windows NCSI.
    Windows,
    /// Firefox on any OS.
    Firefox,
}

impl ProbeOs {
    /// All variants, for metrics output.
    pub const ALL: [ProbeOs; 7] = [
        ProbeOs::Apple,
        ProbeOs::Android,
        ProbeOs::Samsung,
        ProbeOs::Xiaomi,
        ProbeOs::Huawei,
        ProbeOs::Windows,
        ProbeOs::Firefox,
    ];

    /// Lowercase label.
    pub fn label(self) -> &'static str {
        match self {
            ProbeOs::Apple => "apple",
            ProbeOs::Android => "android",
            ProbeOs::Samsung => "samsung",
            ProbeOs::Xiaomi => "xiaomi",
            ProbeOs::Huawei => "huawei",
            ProbeOs::Windows => "windows",
            ProbeOs::Firefox => "firefox",
        }
    }

    /// Index into [`ProbeOs::ALL`].
    pub fn index(self) -> usize {
        ProbeOs::ALL.iter().position(|o| *o == self).unwrap_or(0)
    }
}

/// The exact "you are online" answer an OS expects (sent only in release mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Success {
    /// `200 text/html` with this body.
    Html(&'static str),
    /// `200 text/plain` with this body.
    Text(&'static str),
    /// `204 No Content`.
    NoContent,
}

/// Apple's success page (captive.apple.com/hotspot-detect.html and the legacy hosts).
pub const APPLE_SUCCESS: &str =
    "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>";
/// Windows 10/11 `connecttest.txt` body.
pub const MSFT_CONNECT_TEST: &str = "Microsoft Connect Test";
/// Legacy Windows `ncsi.txt` body.
pub const MSFT_NCSI: &str = "Microsoft NCSI";
/// Firefox `canonical.html` body.
pub const FIREFOX_CANONICAL: &str = "<meta http-equiv=\"refresh\" content=\"0;url=https://support.mozilla.org/kb/captive-portal\"/>";
/// Firefox `success.txt` body.
pub const FIREFOX_SUCCESS: &str = "success\n";

/// A recognised connectivity check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    /// Who sent it.
    pub os: ProbeOs,
    /// What "online" looks like for it; `None` = no success answer (e.g. Windows `/redirect`,
    /// unknown paths on probe hosts): always redirect.
    pub success: Option<Success>,
}

const APPLE_HOSTS: &[&str] = &[
    "captive.apple.com",
    "www.apple.com",
    "apple.com",
    "www.appleiphonecell.com",
    "appleiphonecell.com",
    "www.airport.us",
    "airport.us",
    "www.ibook.info",
    "ibook.info",
    "www.itools.info",
    "itools.info",
    "www.thinkdifferent.us",
    "thinkdifferent.us",
];
const GOOGLE_HOSTS: &[&str] = &[
    "connectivitycheck.gstatic.com",
    "www.gstatic.com",
    "clients1.google.com",
    "clients3.google.com",
    "clients4.google.com",
    "www.google.com",
    "google.com",
    "play.googleapis.com",
    "connectivitycheck.android.com",
    "www.androidbak.net",
];
const SAMSUNG_HOSTS: &[&str] = &[
    "connectivity.samsung.com.cn",
    "connectivitycheck.samsung.com",
];
const XIAOMI_HOSTS: &[&str] = &["connect.rom.miui.com", "connectivitycheck.miui.com"];
const HUAWEI_HOSTS: &[&str] = &[
    "connectivitycheck.platform.hicloud.com",
    "connectivitycheck.hicloud.com",
    "connectivitycheck.platform.hihonor.com",
    "connectivitycheck.hihonor.com",
];
const WINDOWS_HOSTS: &[&str] = &[
    "www.msftconnecttest.com",
    "msftconnecttest.com",
    "ipv6.msftconnecttest.com",
    "www.msftncsi.com",
    "msftncsi.com",
    "ipv6.msftncsi.com",
    "dns.msftncsi.com",
];
const FIREFOX_HOSTS: &[&str] = &["detectportal.firefox.com"];

/// Lowercases `host` and strips a `:port` and a trailing dot.
pub fn normalize_host(host: &str) -> String {
    let host = host.trim();
    let without_port = if host.starts_with('[') {
        host.split(']')
            .next()
            .map(|h| format!("{h}]"))
            .unwrap_or_default()
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h).to_string()
    };
    without_port.trim_end_matches('.').to_ascii_lowercase()
}

/// Classifies a request by its `Host` (any case, with or without port), path and User-Agent.
/// Returns `None` for anything that is not a known connectivity check.
pub fn classify(host: &str, path: &str, user_agent: &str) -> Option<Probe> {
    let host = normalize_host(host);
    let h = host.as_str();
    let path_l = path.to_ascii_lowercase();
    let is_204 = path_l.ends_with("/generate_204") || path_l.ends_with("/gen_204");
    let android_like = |os| Probe {
        os,
        success: is_204.then_some(Success::NoContent),
    };
    if APPLE_HOSTS.contains(&h) {
        // Apple hosts: any path (hotspot-detect.html, library/test/success.html, random paths).
        return Some(Probe {
            os: ProbeOs::Apple,
            success: Some(Success::Html(APPLE_SUCCESS)),
        });
    }
    if GOOGLE_HOSTS.contains(&h) {
        // `www.google.com` is also a plain web host: only its 204 paths count as probes.
        if (h == "www.google.com" || h == "google.com") && !is_204 {
            return None;
        }
        let os = if user_agent.contains("SAMSUNG") || user_agent.contains("SM-") {
            ProbeOs::Samsung
        } else {
            ProbeOs::Android
        };
        return Some(android_like(os));
    }
    if SAMSUNG_HOSTS.contains(&h) {
        return Some(android_like(ProbeOs::Samsung));
    }
    if XIAOMI_HOSTS.contains(&h) {
        return Some(android_like(ProbeOs::Xiaomi));
    }
    if HUAWEI_HOSTS.contains(&h) {
        return Some(android_like(ProbeOs::Huawei));
    }
    if WINDOWS_HOSTS.contains(&h) {
        let success = match path_l.as_str() {
            "/connecttest.txt" => Some(Success::Text(MSFT_CONNECT_TEST)),
            "/ncsi.txt" => Some(Success::Text(MSFT_NCSI)),
            _ => None,
        };
        return Some(Probe {
            os: ProbeOs::Windows,
            success,
        });
    }
    if FIREFOX_HOSTS.contains(&h) {
        let success = match path_l.as_str() {
            "/canonical.html" => Some(Success::Html(FIREFOX_CANONICAL)),
            "/success.txt" => Some(Success::Text(FIREFOX_SUCCESS)),
            _ => None,
        };
        return Some(Probe {
            os: ProbeOs::Firefox,
            success,
        });
    }
    // Unknown host, but an Apple CNA or Windows NCSI user agent: still a probe (counted).
    if user_agent.starts_with("CaptiveNetworkSupport") {
        return Some(Probe {
            os: ProbeOs::Apple,
            success: None,
        });
    }
    if user_agent == "Microsoft NCSI" {
        return Some(Probe {
            os: ProbeOs::Windows,
            success: None,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_normalize() {
        assert_eq!(normalize_host("Captive.Apple.COM."), "captive.apple.com");
        assert_eq!(normalize_host("127.0.0.1:8080"), "127.0.0.1");
        assert_eq!(normalize_host("[::1]:80"), "[::1]");
    }

    proptest::proptest! {
        #[test]
        fn classify_never_panics(host in ".{0,80}", path in ".{0,80}", ua in ".{0,80}") {
            let _ = classify(&host, &path, &ua);
            let _ = normalize_host(&host);
        }
    }

    #[test]
    fn google_web_is_not_a_probe() {
        assert_eq!(classify("www.google.com", "/search", "x"), None);
        assert!(classify("www.google.com", "/gen_204", "x").is_some());
    }
}
