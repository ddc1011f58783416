//! `beacon validate CONFIG`: checks a config file without starting the daemon — syntax and
//! unknown keys, the key file (readable, private, not the development key), addresses, the
//! show (present and compiling), the OSC port and the sending interface (by binding them),
//! and whether a beacon already answers on the operator socket. Each problem is one line
//! naming the option.

use crowdlight_proto::report::Report;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};

use crate::config::{self, ConfigError, InitialShow, RunOptions, Settings};
use crate::daemon::operator;

/// Why the config could not be checked at all (a usage error, not an invalid config).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct Unreadable(#[from] ConfigError);

/// Checks the config file at `path` (`dev`: as `beacon run --dev --config` would read it).
pub fn check_file(path: &Path, dev: bool) -> Result<Report, Unreadable> {
    let options = match config::read_file(path) {
        Ok(o) => o,
        Err(e @ ConfigError::Read { .. }) => return Err(e.into()),
        Err(e) => {
            return Ok(Report {
                problems: vec![e.to_string()],
                notes: Vec::new(),
            });
        }
    };
    Ok(check_options(options, dev))
}

/// Checks already parsed options (relative paths are taken from the working directory, as
/// the daemon takes them).
pub fn check_options(options: RunOptions, dev: bool) -> Report {
    let mut report = Report::default();
    let settings = match Settings::resolve(dev, RunOptions::default(), Some(options.clone()), None)
    {
        Ok(s) => Some(s),
        Err(e) => {
            report.problems.push(describe(&e));
            None
        }
    };
    // The checks below need no valid key, so they run even when resolving failed.
    check_show(&options, settings.as_ref(), &mut report);
    if let Some(interface) = options.interface
        && let Err(e) = UdpSocket::bind(SocketAddr::from((interface, 0)))
    {
        report.problems.push(format!(
            "interface: {interface} is not usable on this machine ({e}); give the IPv4 address of the wired LAN interface"
        ));
    }
    if let Some(listen) = options.osc {
        match UdpSocket::bind(listen) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => report.problems.push(format!(
                "osc: UDP {listen} is already in use (another beacon or program listens there)"
            )),
            Err(e) => report
                .problems
                .push(format!("osc: cannot listen on UDP {listen}: {e}")),
        }
    }
    if let Some(s) = &settings {
        check_socket(&s.socket, &mut report);
        check_state_file(&s.state_file, &mut report);
    }
    report
}

fn describe(e: &ConfigError) -> String {
    match e {
        ConfigError::NoKey => "key-file: missing: production needs a venue key".to_owned(),
        ConfigError::Key(k) => format!("key-file: {k}"),
        ConfigError::DevKey => format!("key-file: {e}"),
        other => other.to_string(),
    }
}

fn check_show(options: &RunOptions, settings: Option<&Settings>, report: &mut Report) {
    let path: PathBuf = match (settings.map(|s| &s.show), &options.show) {
        (Some(InitialShow::Explicit(p) | InitialShow::DevDefault(p)), _) | (None, Some(p)) => {
            p.clone()
        }
        _ => {
            report.notes.push(
                "show: none configured: the beacon starts without a show (use `beacon load FILE`)"
                    .to_owned(),
            );
            return;
        }
    };
    if !path.exists() {
        report.problems.push(format!(
            "show: {} does not exist{}",
            path.display(),
            if path.is_relative() {
                " (relative paths are taken from the daemon's working directory: prefer an absolute path)"
            } else {
                ""
            }
        ));
        return;
    }
    match operator::compile_blocking(&path) {
        Ok(show) => {
            report.notes.push(format!(
                "show: {:?} ({} cues: {}), id {}",
                show.title,
                show.cues.len(),
                show.cue_names().join(", "),
                show.id_hex()
            ));
            match settings.and_then(|s| s.desk.as_ref()) {
                Some(desk) => check_patch(&desk.desk.patch, &show, report),
                // The settings were refused (perhaps for the patch's ranges): still name the
                // zones the show lacks, so that one run lists every patch problem.
                None => {
                    let zones = options
                        .patch
                        .iter()
                        .flatten()
                        .filter_map(|p| p.parse::<crate::desk::ZonePatch>().ok())
                        .collect();
                    let patch = crate::desk::Patch {
                        zones,
                        ..Default::default()
                    };
                    for problem in patch.check(Some(&show.zones)) {
                        if matches!(problem, crate::desk::PatchError::UnknownZone { .. }) {
                            report.problems.push(format!("patch: {problem}"));
                        }
                    }
                }
            }
        }
        Err(e) => report.problems.push(format!("show: {e}")),
    }
}

/// The patch against the show: unknown zones are problems; the trigger's reach is a note.
fn check_patch(patch: &crate::desk::Patch, show: &crate::engine::ShowInfo, report: &mut Report) {
    for problem in patch.check(Some(&show.zones)) {
        report.problems.push(format!("patch: {problem}"));
    }
    if let Some(a) = patch.trigger {
        report.notes.push(format!(
            "desk: trigger channel {a}: values 1-{} fire cues {}; higher values fire nothing",
            show.cues.len().min(255),
            show.cue_names()
                .iter()
                .take(255)
                .enumerate()
                .map(|(i, c)| format!("{}={c}", i + 1))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for z in &patch.zones {
        report.notes.push(format!(
            "desk: zone {:?} at {}-{}",
            z.zone,
            z.address,
            z.address + z.mode.footprint() - 1
        ));
    }
}

/// A directory group or others may write to is refused by the daemon at start (the owner is
/// not checked here: `validate` may run as another user than the service).
fn check_dir_mode(option: &str, file: &Path, report: &mut Report) {
    use std::os::unix::fs::MetadataExt;
    let dir = crate::paths::parent_dir(file);
    if let Ok(meta) = std::fs::metadata(dir)
        && meta.mode() & 0o022 != 0
    {
        report.problems.push(format!(
            "{option}: directory {} is writable by group or others (mode {:o}): the daemon refuses it (chmod go-w)",
            dir.display(),
            meta.mode() & 0o7777
        ));
    }
}

fn check_socket(socket: &Path, report: &mut Report) {
    check_dir_mode("socket", socket, report);
    if std::os::unix::net::UnixStream::connect(socket).is_ok() {
        report.problems.push(format!(
            "socket: a beacon is already running on {} (stop it first, or give another socket)",
            socket.display()
        ));
    }
}

fn check_state_file(state: &Path, report: &mut Report) {
    check_dir_mode("state-file", state, report);
    let dir = state.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir
        && !dir.exists()
    {
        report.notes.push(format!(
            "state-file: {} does not exist yet (the daemon creates it; under systemd StateDirectory= does)",
            dir.display()
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn key_file(dir: &Path, mode: u32) -> PathBuf {
        let path = dir.join(format!("venue-{mode:o}.key"));
        std::fs::write(&path, "ab".repeat(32)).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    fn show() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/show.toml")
    }

    fn options(dir: &Path) -> RunOptions {
        RunOptions {
            key_file: Some(key_file(dir, 0o600)),
            show: Some(show()),
            socket: Some(dir.join("run/beacon.sock")),
            ..Default::default()
        }
    }

    #[test]
    fn a_good_config_passes() {
        let dir = tempfile::tempdir().unwrap();
        let r = check_options(options(dir.path()), false);
        assert!(r.is_valid(), "{r:?}");
        assert!(r.notes.iter().any(|n| n.contains("intro")), "{r:?}");
    }

    #[test]
    fn the_patch_is_checked_against_the_show() {
        let dir = tempfile::tempdir().unwrap();
        let show_zone = crate::daemon::operator::compile_blocking(&show())
            .unwrap()
            .zones[0]
            .clone();
        let o = RunOptions {
            sacn: Some(1),
            trigger_address: Some(1),
            patch: Some(vec![format!("{show_zone}=2"), "nowhere=5".into()]),
            ..options(dir.path())
        };
        let r = check_options(o, false);
        assert_eq!(r.problems.len(), 1, "{r:?}");
        assert!(
            r.problems[0].starts_with("patch: zone \"nowhere\" is not in the show"),
            "{r:?}"
        );
        assert!(
            r.notes
                .iter()
                .any(|n| n.starts_with("desk: trigger channel 1: values 1-")),
            "{r:?}"
        );
        let overlap = RunOptions {
            sacn: Some(1),
            trigger_address: Some(3),
            patch: Some(vec![format!("{show_zone}=2")]),
            ..options(dir.path())
        };
        let r = check_options(overlap, false);
        assert!(
            r.problems
                .iter()
                .any(|p| p.contains("overlap at address 3")),
            "{r:?}"
        );
    }

    #[test]
    fn writable_socket_and_state_directories_are_problems() {
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
        let o = RunOptions {
            socket: Some(shared.join("beacon.sock")),
            ..options(dir.path())
        };
        let r = check_options(o, false);
        assert!(
            r.problems
                .iter()
                .any(|p| p.starts_with("socket:") && p.contains("go-w"))
                && r.problems.iter().any(|p| p.starts_with("state-file:")),
            "{r:?}"
        );
    }

    #[test]
    fn each_problem_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let open_key = RunOptions {
            key_file: Some(key_file(dir.path(), 0o644)),
            ..options(dir.path())
        };
        let r = check_options(open_key, false);
        assert!(r.problems[0].contains("key-file") && r.problems[0].contains("chmod 600"));

        let missing_show = RunOptions {
            show: Some(dir.path().join("nope.toml")),
            ..options(dir.path())
        };
        let r = check_options(missing_show, false);
        assert!(
            r.problems.iter().any(|p| p.contains("does not exist")),
            "{r:?}"
        );

        let bad_show = RunOptions {
            show: Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad.toml")),
            ..options(dir.path())
        };
        let r = check_options(bad_show, false);
        assert!(r.problems.iter().any(|p| p.starts_with("show: ")), "{r:?}");

        let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
        let busy = RunOptions {
            osc: Some(taken.local_addr().unwrap()),
            ..options(dir.path())
        };
        let r = check_options(busy, false);
        assert!(
            r.problems.iter().any(|p| p.contains("already in use")),
            "{r:?}"
        );

        let foreign = RunOptions {
            interface: Some("192.0.2.1".parse().unwrap()),
            ..options(dir.path())
        };
        let r = check_options(foreign, false);
        assert!(
            r.problems.iter().any(|p| p.starts_with("interface:")),
            "{r:?}"
        );

        let open_osc = RunOptions {
            osc: Some("0.0.0.0:9000".parse().unwrap()),
            ..options(dir.path())
        };
        let r = check_options(open_osc, false);
        assert!(r.problems.iter().any(|p| p.contains("osc-allow")), "{r:?}");
    }
}
