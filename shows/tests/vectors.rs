//! The checked-in shared vectors (`shows/vectors/*.json`) must match the evaluator and examples.
//! Regenerate with `SHOWS_REGEN_VECTORS=1 cargo test -p shows --test vectors`.

use std::path::PathBuf;

/// (vector file name, source path relative to the repository root).
const SHOWS: [(&str, &str); 5] = [
    ("minimal", "shows/examples/minimal.toml"),
    ("intermission", "shows/examples/intermission.toml"),
    ("edges", "shows/vectors/edges.toml"),
    ("torch", "shows/vectors/torch.toml"),
    ("sync", "shows/vectors/sync.toml"),
];

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn vectors_match_evaluator() {
    let regen = std::env::var_os("SHOWS_REGEN_VECTORS").is_some();
    for (name, source) in SHOWS {
        let file = crate_dir().join(source.trim_start_matches("shows/"));
        let show = shows::compile_file(&file).unwrap();
        let expected = shows::vectors::vector_file(source, &show);
        let path = crate_dir().join(format!("vectors/{name}.json"));
        if regen {
            std::fs::write(&path, &expected).unwrap();
            continue;
        }
        let actual = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (regenerate: SHOWS_REGEN_VECTORS=1)",
                path.display()
            )
        });
        assert!(
            actual == expected,
            "{} drifted from the evaluator; if intended, regenerate with SHOWS_REGEN_VECTORS=1 cargo test -p shows --test vectors",
            path.display()
        );
    }
}

/// Reads the vector files the way the page does (embedded compiled show + cases) and replays them.
#[test]
fn vector_files_replay_through_compiled_json() {
    if std::env::var_os("SHOWS_REGEN_VECTORS").is_some() {
        return; // the other test is rewriting the files
    }
    let mut total_bytes = 0;
    for (name, _) in SHOWS {
        let text =
            std::fs::read_to_string(crate_dir().join(format!("vectors/{name}.json"))).unwrap();
        total_bytes += text.len();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let show = shows::CompiledShow::from_json(&v["show"].to_string()).unwrap();
        assert_eq!(v["id"].as_str().unwrap(), show.id_hex());
        let cases = v["cases"].as_array().unwrap();
        assert!(cases.len() > 20);
        for case in cases {
            let (c, z, t) = (
                case["c"].as_u64().unwrap() as usize,
                case["z"].as_u64().unwrap() as usize,
                case["t"].as_u64().unwrap(),
            );
            assert_eq!(show.cue_names()[c], case["cue"].as_str().unwrap());
            assert_eq!(show.zone_names()[z], case["zone"].as_str().unwrap());
            let rgb: [u8; 3] = shows::eval::colour_at(&show, z, c, t).into();
            let want: Vec<u8> = case["rgb"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as u8)
                .collect();
            assert_eq!(rgb.to_vec(), want, "{case}");
            let torch = shows::eval::torch_at(&show, z, c, t);
            assert_eq!(torch, case["torch"].as_bool().unwrap_or(false), "{case}");
        }
    }
    assert!(
        total_bytes < 300_000,
        "vector files are {total_bytes} bytes"
    );
}
