//! The show view's source (`GET /api/show`): the show file the console shows — the one given
//! to `beacon console --watch FILE`, else the loaded show's source file — compiled by the same
//! `shows` compiler as `shows check`, with its hall plan and its WCAG 2.3.1 findings.
//!
//! Edit and see: every request stats the file (size, mtime, inode) and recompiles when it
//! changed, so the page's 4 Hz poll sees a save within one poll plus one compile. A file that
//! does not compile keeps the last good view and adds the errors (file:line:col). The view only
//! reads files: a show reaches the beacon only through `beacon load` (the operator path).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;
use serde_json::{Value, json};
use shows::{Problem, ShowError};

/// What identifies one version of the file on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    path: PathBuf,
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

/// One problem as the page shows it.
#[derive(Debug, Clone, Serialize)]
struct Located {
    line: usize,
    col: usize,
    /// The full line `shows check` prints.
    text: String,
}

/// The view's state: the last file version seen, the last good compile, the current errors.
#[derive(Debug, Default)]
pub struct ShowWatch {
    watch: Option<PathBuf>,
    seen: Option<Stamp>,
    /// Bumped whenever what `/api/show` answers changes.
    version: u64,
    good: Option<Value>,
    errors: Vec<Located>,
    file: Option<PathBuf>,
}

impl ShowWatch {
    /// A view of `watch`, or of the loaded show's file when `None`.
    pub fn new(watch: Option<PathBuf>) -> ShowWatch {
        ShowWatch {
            watch,
            ..ShowWatch::default()
        }
    }

    /// Brings the view up to date with `file` (the watched or loaded show's source; `None`:
    /// nothing to show). Compiles (blocking) only when the file changed.
    pub fn refresh(&mut self, file: Option<&Path>) {
        let Some(path) = file else {
            if self.file.take().is_some() || self.good.is_some() {
                self.good = None;
                self.errors.clear();
                self.seen = None;
                self.version += 1;
            }
            return;
        };
        let stamp = stamp(path);
        if self.seen.as_ref() == Some(&stamp) && self.file.as_deref() == Some(path) {
            return;
        }
        self.seen = Some(stamp);
        self.file = Some(path.to_owned());
        self.version += 1;
        let deadline = std::time::Instant::now() + shows::compile::DEFAULT_BUDGET;
        let name = path.display().to_string();
        let compiled = std::fs::read_to_string(path)
            .map_err(|source| ShowError::Io {
                path: name.clone(),
                source,
            })
            .and_then(|text| shows::compile_for_authoring(&text, &name, Some(deadline)));
        match compiled {
            Ok(authoring) => {
                self.errors.clear();
                self.good = Some(view_json(path, &authoring));
                tracing::info!(file = %name, "console: show view recompiled");
            }
            Err(e) => {
                self.errors = match &e {
                    ShowError::Invalid(problems) => problems.iter().map(located).collect(),
                    other => vec![Located {
                        line: 0,
                        col: 0,
                        text: other.to_string(),
                    }],
                };
                tracing::warn!(file = %name, problems = self.errors.len(), "console: show view keeps the last good show");
            }
        }
    }

    /// The `/api/show` answer: `{"v": N}` alone when the page already has version `known`.
    pub fn answer(&self, known: Option<u64>) -> Value {
        if known == Some(self.version) {
            return json!({ "v": self.version });
        }
        json!({
            "v": self.version,
            "file": self.file.as_ref().map(|p| p.display().to_string()),
            "watch": self.watch.is_some(),
            "view": self.good,
            "errors": self.errors,
        })
    }
}

fn stamp(path: &Path) -> Stamp {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::metadata(path).ok();
    Stamp {
        path: path.to_owned(),
        len: meta.as_ref().map_or(0, |m| m.len()),
        modified: meta.as_ref().and_then(|m| m.modified().ok()),
        inode: meta.as_ref().map_or(0, |m| m.ino()),
    }
}

fn located(p: &Problem) -> Located {
    Located {
        line: p.line,
        col: p.col,
        text: p.to_string(),
    }
}

/// The good part of the answer: the compiled show (as phones get it), its hall plan and its
/// flash findings with cue and zone indices.
fn view_json(path: &Path, a: &shows::Authoring) -> Value {
    let findings: Vec<Value> = a
        .flashes
        .iter()
        .map(|p| {
            json!({
                "cue": p.cue.as_deref().and_then(|c| a.show.cue_index(c)),
                "zone": p.zone.as_deref().and_then(|z| a.show.zone_index(z)),
                "time_ms": p.time_ms,
                "message": p.message,
                "line": p.line,
                "col": p.col,
                "text": p.to_string(),
            })
        })
        .collect();
    let show: Value = serde_json::from_str(&a.show.to_json()).unwrap_or(Value::Null);
    json!({
        "file": path.display().to_string(),
        "id": a.show.id_hex(),
        "show": show,
        "layout": a.layout,
        "findings": findings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_save_keeps_the_last_good_view_and_says_where() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.toml");
        let good = "title = \"t\"\nzones = [\"a\"]\n[[cue]]\nname = \"c\"\n[[cue.segment]]\nkind = \"strobe\"\ncolour = \"white\"\nperiod = 200\ndur = 2000\n";
        std::fs::write(&file, good).unwrap();
        let mut w = ShowWatch::new(Some(file.clone()));
        w.refresh(Some(&file));
        let a = w.answer(None);
        let v = a["v"].as_u64().unwrap();
        // 5 flashes a second: valid but for WCAG, so it is shown with its findings.
        assert_eq!(a["view"]["show"]["title"], "t");
        let finding = &a["view"]["findings"][0];
        assert_eq!(finding["cue"], 0);
        assert_eq!(finding["zone"], 0);
        assert!(
            finding["message"]
                .as_str()
                .unwrap()
                .contains("general flashes")
        );
        assert_eq!(w.answer(Some(v)), json!({ "v": v }));
        // Unchanged file: no recompile, same version.
        w.refresh(Some(&file));
        assert_eq!(w.answer(Some(v)), json!({ "v": v }));

        std::fs::write(
            &file,
            good.replace("kind = \"strobe\"", "kind = \"strobe\"\nbogus = 1"),
        )
        .unwrap();
        w.refresh(Some(&file));
        let a = w.answer(Some(v));
        assert!(a["v"].as_u64().unwrap() > v);
        assert_eq!(a["view"]["show"]["title"], "t", "last good show kept");
        let error = &a["errors"][0];
        assert_eq!(error["line"], 7);
        assert!(
            error["text"].as_str().unwrap().contains("s.toml:7:"),
            "{error}"
        );
    }
}
