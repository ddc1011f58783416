//! The shows catalog compiles off the async runtime: the real portal answers `/healthz` while
//! a heavy shows directory compiles, shows appear as they are ready, and SIGTERM during a
//! compile stops the portal.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use shows::testing::heavy_show;

fn heavy_dir(heavy_files: usize) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..heavy_files {
        std::fs::write(
            dir.path().join(format!("a-heavy-{i}.toml")),
            heavy_show(HEAVY_CUES),
        )
        .unwrap();
    }
    let small = repo().join("shows/examples/minimal.toml");
    std::fs::copy(&small, dir.path().join("b-small.toml")).unwrap();
    let id = shows::compile_file(&small).unwrap().id_hex();
    (dir, id)
}

/// Cues per heavy file: about a second of checking each on this machine (not asserted).
const HEAVY_CUES: usize = 40;

#[test]
fn healthz_answers_while_the_shows_directory_compiles() {
    let (dir, small_id) = heavy_dir(3);
    let p = PortalProcess::start_with(&["--shows", dir.path().to_str().unwrap()], false);
    // No beacon runs here: /healthz answers 503 "no beacon", which is an answer.
    let r = get(p.http, "127.0.0.1", "/healthz", &[]);
    assert!(matches!(r.status, 200 | 503), "{} {}", r.status, r.text());
    // The small show sorts after the heavy ones: it is not served yet, but appears later.
    let path = format!("/show/{small_id}.json");
    assert_eq!(get(p.http, "127.0.0.1", &path, &[]).status, 404);
    poll_until(Duration::from_secs(120), || {
        (get(p.http, "127.0.0.1", &path, &[]).status == 200).then_some(())
    })
    .expect("the small show appears once compiled");
}

#[test]
fn sigterm_during_a_compile_stops_the_portal() {
    let (dir, _) = heavy_dir(6);
    let mut p = PortalProcess::start_with(&["--shows", dir.path().to_str().unwrap()], false);
    assert!(matches!(
        get(p.http, "127.0.0.1", "/healthz", &[]).status,
        200 | 503
    ));
    let status = Command::new("kill")
        .args(["-TERM", &p.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exited = poll_until(Duration::from_secs(60), || p.child.try_wait().unwrap());
    assert!(exited.is_some(), "portal still running after SIGTERM");
    let log: Vec<String> = p.drain_log();
    assert!(
        !log.iter().any(|l| l.contains("catalog ready")),
        "the catalog was still compiling at SIGTERM: {log:?}"
    );
}
