//! Server-side figures read from /proc: resident memory and CPU time of given processes, and the
//! loopback interface's byte/packet counters (which include TCP/IP headers and ACKs).

use serde_json::{Value, json};

/// Clock ticks per second of /proc/PID/stat (USER_HZ is 100 on Linux x86-64).
const TICKS_PER_S: f64 = 100.0;

/// Resident set size, KiB (None when the process is gone).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// User + system CPU seconds used so far.
pub fn cpu_s(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_S)
}

/// Loopback (`lo`) received bytes and packets.
pub fn lo_counters() -> Option<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/net/dev").ok()?;
    let line = s.lines().find(|l| l.trim_start().starts_with("lo:"))?;
    let f: Vec<u64> = line
        .split(':')
        .nth(1)?
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    Some((*f.first()?, *f.get(1)?))
}

/// Sampled figures of the server processes over the measurement window.
#[derive(Default, Debug, Clone)]
pub struct ServerWatch {
    /// Processes watched.
    pub pids: Vec<u32>,
    cpu_start: Vec<Option<f64>>,
    rss_start: Vec<Option<u64>>,
    rss_peak: Vec<u64>,
    lo_start: Option<(u64, u64)>,
}

impl ServerWatch {
    /// Watches `pids`.
    pub fn new(pids: Vec<u32>) -> Self {
        let n = pids.len();
        ServerWatch {
            pids,
            cpu_start: vec![None; n],
            rss_start: vec![None; n],
            rss_peak: vec![0; n],
            lo_start: None,
        }
    }

    /// Window start.
    pub fn start(&mut self) {
        for (i, &p) in self.pids.iter().enumerate() {
            self.cpu_start[i] = cpu_s(p);
            self.rss_start[i] = rss_kib(p);
        }
        self.lo_start = lo_counters();
        self.sample();
    }

    /// Periodic sample (peak RSS).
    pub fn sample(&mut self) {
        for (i, &p) in self.pids.iter().enumerate() {
            if let Some(r) = rss_kib(p) {
                self.rss_peak[i] = self.rss_peak[i].max(r);
            }
        }
    }

    /// Window end: the figures as JSON.
    pub fn finish(&mut self, window_s: f64) -> Value {
        self.sample();
        let procs: Vec<Value> = self
            .pids
            .iter()
            .enumerate()
            .map(|(i, &p)| {
                let cpu = cpu_s(p).zip(self.cpu_start[i]).map(|(b, a)| b - a);
                json!({
                    "pid": p,
                    "rss_kib_start": self.rss_start[i],
                    "rss_kib_end": rss_kib(p),
                    "rss_kib_peak": self.rss_peak[i],
                    "cpu_s": cpu,
                    "cpu_s_per_min": cpu.map(|c| c * 60.0 / window_s),
                })
            })
            .collect();
        let lo = lo_counters()
            .zip(self.lo_start)
            .map(|(b, a)| json!({"bytes": b.0 - a.0, "packets": b.1 - a.1}));
        json!({ "procs": procs, "lo": lo })
    }
}
