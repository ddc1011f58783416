//! Compiled shows served at `/show/<id_hex>.json`: every `*.toml` in the shows directory is
//! compiled at start, and rescanned (rate-limited) when the beacon announces an unknown id.
//! Scans run on their own thread ([`off_runtime`]) while the portal serves; each show appears
//! as soon as it is compiled, and a show over its time budget ([`COMPILE_BUDGET`]) is skipped.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::HeaderValue;

/// Minimum time between two rescans.
pub const RESCAN_INTERVAL: Duration = Duration::from_secs(2);

/// Longest compile of one show; a show over it is refused (logged) and the scan goes on.
pub const COMPILE_BUDGET: Duration = shows::compile::DEFAULT_BUDGET;

/// Runs blocking work on a thread of its own and awaits its result (`None` if it panicked).
/// Not tokio's blocking pool: a runtime shutting down waits for those tasks, and SIGTERM must
/// not wait for a compile.
pub async fn off_runtime<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("catalog".into())
        .spawn(move || {
            let _ = tx.send(f());
        });
    if let Err(error) = spawned {
        tracing::error!(%error, "catalog: cannot start a thread");
        return None;
    }
    rx.await.ok()
}

/// One compiled show, ready to serve.
#[derive(Clone, Debug)]
pub struct ShowEntry {
    /// Title, for logs.
    pub title: String,
    /// Canonical compiled JSON.
    pub json: Bytes,
    /// `"<id_hex>"` (the id is a hash of the JSON).
    pub etag: HeaderValue,
    /// Gzip of `json` (compiled shows compress ~5-10x; 2,500 phones fetch it at once).
    pub gzip: Option<Bytes>,
    /// `"<id_hex>-gz"`.
    pub gzip_etag: HeaderValue,
    /// Source file.
    pub source: PathBuf,
    /// Zone names in show order (the beacon's live layer names zones by index).
    pub zones: Arc<[String]>,
}

/// The catalog: id_hex → show.
#[derive(Debug)]
pub struct Catalog {
    dir: PathBuf,
    shows: RwLock<Arc<HashMap<String, ShowEntry>>>,
    last_scan: std::sync::Mutex<Option<Instant>>,
    /// Held by the running scan: scans never overlap.
    scanning: std::sync::Mutex<()>,
    /// Set once the first scan has finished.
    ready: std::sync::atomic::AtomicBool,
}

/// Outcome of a scan (for logs and tests).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ScanReport {
    /// Shows compiled.
    pub compiled: usize,
    /// Files that failed, with their one-line errors.
    pub failed: Vec<String>,
}

impl Catalog {
    /// An empty catalog over `dir` (call [`Catalog::scan`] to fill it).
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            shows: RwLock::new(Arc::default()),
            last_scan: std::sync::Mutex::new(None),
            scanning: std::sync::Mutex::new(()),
            ready: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// True once the first scan has finished (shows keep appearing while it runs).
    pub fn is_ready(&self) -> bool {
        self.ready.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The shows directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Looks up a show by id hex.
    pub fn get(&self, id_hex: &str) -> Option<ShowEntry> {
        self.shows.read().ok()?.get(id_hex).cloned()
    }

    /// The zone names of show `id_hex`, if known.
    pub fn zones(&self, id_hex: &str) -> Option<Arc<[String]>> {
        self.shows.read().ok()?.get(id_hex).map(|e| e.zones.clone())
    }

    /// True if `id_hex` is known.
    pub fn contains(&self, id_hex: &str) -> bool {
        self.shows.read().is_ok_and(|m| m.contains_key(id_hex))
    }

    /// Number of shows.
    pub fn len(&self) -> usize {
        self.shows.read().map_or(0, |m| m.len())
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Compiles every `*.toml` in the directory (blocking; call it through [`off_runtime`]
    /// from async code) and replaces the table. Each show is published as soon as it compiles;
    /// shows whose file went away disappear at the end. Bad files and shows over
    /// [`COMPILE_BUDGET`] are logged and skipped; they never stop the portal.
    pub fn scan(&self) -> ScanReport {
        let _running = self.scanning.lock();
        self.scan_locked()
    }

    fn scan_locked(&self) -> ScanReport {
        if let Ok(mut t) = self.last_scan.lock() {
            *t = Some(Instant::now());
        }
        let mut report = ScanReport::default();
        let mut map = HashMap::new();
        let mut files: Vec<PathBuf> = match std::fs::read_dir(&self.dir) {
            Ok(rd) => rd
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "toml") && p.is_file())
                .collect(),
            Err(error) => {
                tracing::warn!(dir = %self.dir.display(), %error, "catalog: cannot read shows dir");
                Vec::new()
            }
        };
        files.sort();
        for path in files {
            let deadline = Instant::now() + COMPILE_BUDGET;
            match shows::compile_file_within(&path, Some(deadline)) {
                Ok(show) => {
                    let id = show.id_hex();
                    let etag = HeaderValue::from_str(&format!("\"{id}\""))
                        .unwrap_or_else(|_| HeaderValue::from_static("\"show\""));
                    let gzip_etag = HeaderValue::from_str(&format!("\"{id}-gz\""))
                        .unwrap_or_else(|_| HeaderValue::from_static("\"show-gz\""));
                    let json = show.to_json();
                    let gzip = gzip(json.as_bytes())
                        .filter(|g| g.len() < json.len())
                        .map(Bytes::from);
                    tracing::info!(file = %path.display(), id, title = show.title(), "catalog: compiled show");
                    let entry = ShowEntry {
                        title: show.title().to_string(),
                        json: Bytes::from(json),
                        etag,
                        gzip,
                        gzip_etag,
                        source: path,
                        zones: show.zones.clone().into(),
                    };
                    if let Ok(mut g) = self.shows.write() {
                        let mut now = HashMap::clone(&g);
                        now.insert(id.clone(), entry.clone());
                        *g = Arc::new(now);
                    }
                    map.insert(id, entry);
                    report.compiled += 1;
                }
                Err(error) => {
                    let line = format!(
                        "{}: {}",
                        path.display(),
                        error.to_string().replace('\n', "; ")
                    );
                    tracing::warn!(error = line, "catalog: show does not compile, skipped");
                    report.failed.push(line);
                }
            }
        }
        if let Ok(mut g) = self.shows.write() {
            *g = Arc::new(map);
        }
        self.ready.store(true, std::sync::atomic::Ordering::Release);
        report
    }

    /// Rescans unless the last scan was less than [`RESCAN_INTERVAL`] before `now` or a scan
    /// is running (it will find new files). Returns `None` when skipped.
    pub fn rescan_if_due(&self, now: Instant) -> Option<ScanReport> {
        let _running = self.scanning.try_lock().ok()?;
        let due = self
            .last_scan
            .lock()
            .map(|t| t.is_none_or(|t| now.saturating_duration_since(t) >= RESCAN_INTERVAL))
            .unwrap_or(false);
        due.then(|| self.scan_locked())
    }
}

fn gzip(data: &[u8]) -> Option<Vec<u8>> {
    use std::io::Write as _;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).ok()?;
    e.finish().ok()
}

/// Resolves the shows directory: `dir` as given if it exists (relative to the cwd), else the
/// same relative path under the repository this binary was built from.
pub fn resolve_dir(dir: &Path) -> PathBuf {
    if dir.is_absolute() || dir.exists() {
        return dir.to_path_buf();
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir);
    if repo.exists() {
        repo
    } else {
        dir.to_path_buf()
    }
}
