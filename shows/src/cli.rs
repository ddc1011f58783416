//! The `shows` command line: argument definitions and the command implementations the thin
//! binary calls. Exit codes: 0 ok, 1 invalid show, 2 usage or I/O error.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

use crate::error::ShowError;
use crate::model::CompiledShow;
use crate::preview::{self, PreviewOptions};

/// Exit code: success.
pub const EXIT_OK: i32 = 0;
/// Exit code: a show is invalid.
pub const EXIT_INVALID: i32 = 1;
/// Exit code: bad usage or an I/O error.
pub const EXIT_USAGE: i32 = 2;

/// Crowdlight show tool: check, compile, preview and evaluate light shows.
#[derive(Debug, Parser)]
#[command(name = "shows", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate show files (incl. WCAG 2.3.1 flash limits); prints each problem as file:line:col.
    Check {
        /// Show source files (.toml).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Compile a show to its canonical JSON (default output: <id_hex>.json).
    Compile {
        /// Show source file (.toml).
        file: PathBuf,
        /// Output path; "-" writes to stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Draw one cue as a PNG: time on x, one band per zone, segment edges and loop points marked.
    Preview {
        /// Show source (.toml) or compiled show (.json).
        file: PathBuf,
        /// Cue name (or index).
        #[arg(long)]
        cue: String,
        /// Output PNG path.
        #[arg(short, long)]
        output: PathBuf,
        /// Image width in pixels.
        #[arg(long, default_value_t = 1200)]
        width: u32,
        /// Time span to draw in ms (default: two passes of a loop, else one pass plus a tail).
        #[arg(long)]
        span: Option<u64>,
    },
    /// List the show's cues in order, one name per line.
    Cues {
        /// Show source (.toml) or compiled show (.json).
        file: PathBuf,
        /// Also print each cue's one-pass length in ms and its end rule, tab-separated:
        /// `NAME<TAB>DUR_MS<TAB>hold|loop|end`.
        #[arg(long, conflicts_with = "json")]
        long: bool,
        /// Print one JSON array of `{"name", "dur", "end"}` objects instead.
        #[arg(long)]
        json: bool,
    },
    /// Check a show again on every save, until interrupted: one line per save on stdout
    /// (`ok: ...`) or its problems on stderr (file:line:col); `-o` also writes the compiled
    /// JSON of each good save. `beacon console --watch FILE` draws the same file.
    Watch {
        /// Show source file (.toml).
        file: PathBuf,
        /// Where to write the compiled JSON after each good save.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Turn a cue list (CSV with a header row: cue, start, duration, colour, zones, fade, end)
    /// into show source; each problem is printed as file:line.
    Import {
        /// The cue list (.csv).
        file: PathBuf,
        /// The show source to write (.toml); "-" writes to stdout.
        #[arg(short, long)]
        output: PathBuf,
        /// Show title (default: the CSV file's name without extension).
        #[arg(long)]
        title: Option<String>,
        /// Zones in sweep order, separated by commas (default: the zones the list names, in
        /// order of first use; "hall" when it names none).
        #[arg(long, value_delimiter = ',')]
        zones: Option<Vec<String>>,
    },
    /// Print the colour of a zone at a time into a cue as #rrggbb.
    Eval {
        /// Show source (.toml) or compiled show (.json).
        file: PathBuf,
        /// Cue name (or index).
        #[arg(long)]
        cue: String,
        /// Zone name (or index).
        #[arg(long)]
        zone: String,
        /// Milliseconds since the cue started.
        #[arg(long = "t")]
        t: u64,
    },
}

/// Runs a parsed command line, printing to stdout/stderr; returns the exit code.
pub fn run(cli: Cli) -> i32 {
    match cli.command {
        Command::Check { files } => run_check(&files),
        Command::Compile { file, output } => run_compile(&file, output.as_deref()),
        Command::Preview {
            file,
            cue,
            output,
            width,
            span,
        } => run_preview(&file, &cue, &output, width, span),
        Command::Cues { file, long, json } => run_cues(&file, long, json),
        Command::Eval { file, cue, zone, t } => run_eval(&file, &cue, &zone, t),
        Command::Watch { file, output } => run_watch(&file, output.as_deref()),
        Command::Import {
            file,
            output,
            title,
            zones,
        } => run_import(&file, &output, title, zones),
    }
}

/// Prints an error the way the CLI does and returns its exit code.
fn report(err: &ShowError) -> i32 {
    eprintln!("{err}");
    match err {
        ShowError::Invalid(_) => EXIT_INVALID,
        _ => EXIT_USAGE,
    }
}

/// Loads a show: `.json` files as compiled shows, everything else as TOML source.
pub fn load(path: &Path) -> Result<CompiledShow, ShowError> {
    if path.extension().is_some_and(|e| e == "json") {
        let text = std::fs::read_to_string(path).map_err(|source| ShowError::Io {
            path: path.display().to_string(),
            source,
        })?;
        CompiledShow::from_json(&text)
    } else {
        crate::compile_file(path)
    }
}

/// The line `shows check` (and `shows watch`) prints for a valid show.
fn ok_line(file: &Path, show: &CompiledShow) -> String {
    format!(
        "{}: ok: '{}', {} cues, {} zones, id {}",
        file.display(),
        show.title(),
        show.cues.len(),
        show.zones.len(),
        show.id_hex()
    )
}

/// `shows check FILE...`.
pub fn run_check(files: &[PathBuf]) -> i32 {
    let mut code = EXIT_OK;
    for file in files {
        match crate::compile_file(file) {
            Ok(show) => println!("{}", ok_line(file, &show)),
            Err(e) => code = code.max(report(&e)),
        }
    }
    code
}

/// `shows compile FILE [-o OUT]`.
pub fn run_compile(file: &Path, output: Option<&Path>) -> i32 {
    let show = match crate::compile_file(file) {
        Ok(s) => s,
        Err(e) => return report(&e),
    };
    let json = show.to_json();
    if output == Some(Path::new("-")) {
        let mut out = std::io::stdout().lock();
        return match out.write_all(json.as_bytes()).and_then(|()| out.flush()) {
            Ok(()) => EXIT_OK,
            Err(e) => {
                eprintln!("shows: stdout: {e}");
                EXIT_USAGE
            }
        };
    }
    let path = output.map_or_else(
        || PathBuf::from(format!("{}.json", show.id_hex())),
        Path::to_path_buf,
    );
    wrote(
        &path,
        std::fs::write(&path, json).map_err(|e| e.to_string()),
    )
}

/// Prints the file written, or why it could not be; returns the exit code.
fn wrote(path: &Path, written: Result<(), String>) -> i32 {
    match written {
        Ok(()) => {
            println!("{}", path.display());
            EXIT_OK
        }
        Err(e) => {
            eprintln!("shows: cannot write {}: {e}", path.display());
            EXIT_USAGE
        }
    }
}

/// Finds an index by name, or by number when no name matches.
fn find(names: &[&str], wanted: &str) -> Option<usize> {
    names
        .iter()
        .position(|n| *n == wanted)
        .or_else(|| wanted.parse::<usize>().ok().filter(|&i| i < names.len()))
}

/// Loads a show and finds a cue in it; on failure prints why and gives the exit code.
fn load_cue(file: &Path, cue: &str) -> Result<(CompiledShow, usize), i32> {
    let show = load(file).map_err(|e| report(&e))?;
    let index = find(&show.cue_names(), cue).ok_or_else(|| {
        eprintln!(
            "shows: unknown cue '{cue}' (cues: {})",
            show.cue_names().join(", ")
        );
        EXIT_USAGE
    })?;
    Ok((show, index))
}

/// `shows preview FILE --cue CUE -o OUT.png`.
pub fn run_preview(file: &Path, cue: &str, output: &Path, width: u32, span: Option<u64>) -> i32 {
    let (show, cue) = match load_cue(file, cue) {
        Ok(found) => found,
        Err(code) => return code,
    };
    let opts = PreviewOptions {
        width,
        span_ms: span,
        ..PreviewOptions::default()
    };
    let img = preview::render(&show, cue, &opts);
    let written = std::fs::File::create(output)
        .map_err(|e| e.to_string())
        .and_then(|f| {
            img.write_png(std::io::BufWriter::new(f))
                .map_err(|e| e.to_string())
        });
    wrote(output, written)
}

/// `shows eval FILE --cue CUE --zone ZONE --t MS`.
pub fn run_eval(file: &Path, cue: &str, zone: &str, t: u64) -> i32 {
    let (show, cue) = match load_cue(file, cue) {
        Ok(found) => found,
        Err(code) => return code,
    };
    let Some(zone_index) = find(&show.zone_names(), zone) else {
        eprintln!(
            "shows: unknown zone '{zone}' (zones: {})",
            show.zone_names().join(", ")
        );
        return EXIT_USAGE;
    };
    println!("{}", crate::eval::colour_at(&show, zone_index, cue, t));
    EXIT_OK
}

/// `shows cues FILE [--long | --json]`: what scripts need to drive a show without parsing its
/// compiled JSON themselves.
pub fn run_cues(file: &Path, long: bool, json: bool) -> i32 {
    let show = match load(file) {
        Ok(s) => s,
        Err(e) => return report(&e),
    };
    let end_label = |end: crate::model::CueEnd| match end {
        crate::model::CueEnd::Hold => "hold",
        crate::model::CueEnd::Loop => "loop",
        crate::model::CueEnd::End => "end",
    };
    let text = if json {
        let list: Vec<serde_json::Value> = show
            .cues
            .iter()
            .map(|c| serde_json::json!({"name": c.name, "dur": c.dur, "end": end_label(c.end)}))
            .collect();
        format!("{}\n", serde_json::Value::Array(list))
    } else {
        show.cues
            .iter()
            .map(|c| {
                if long {
                    format!("{}\t{}\t{}\n", c.name, c.dur, end_label(c.end))
                } else {
                    format!("{}\n", c.name)
                }
            })
            .collect()
    };
    match std::io::stdout().write_all(text.as_bytes()) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("shows: cannot write to stdout: {e}");
            EXIT_USAGE
        }
    }
}

/// `shows import FILE.csv -o SHOW.toml`: converts, then compiles the result (a cue list that
/// imports is a show that `shows check` accepts; anything else is a bug reported as such).
pub fn run_import(
    file: &Path,
    output: &Path,
    title: Option<String>,
    zones: Option<Vec<String>>,
) -> i32 {
    let text = match std::fs::read(file) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => {
            eprintln!("shows: {}: {e}", file.display());
            return EXIT_USAGE;
        }
    };
    let title = title.unwrap_or_else(|| {
        file.file_stem()
            .map_or("Imported".into(), |s| s.to_string_lossy().into_owned())
    });
    let options = crate::import::ImportOptions {
        title,
        zones: zones.map(|z| z.into_iter().map(|s| s.trim().to_string()).collect()),
    };
    let imported = match crate::import::import_csv(&text, &file.display().to_string(), &options) {
        Ok(i) => i,
        Err(problems) => {
            for p in problems {
                eprintln!("{p}");
            }
            return EXIT_INVALID;
        }
    };
    if !imported.ignored_columns.is_empty() {
        eprintln!(
            "shows: {}: ignored columns: {}",
            file.display(),
            imported.ignored_columns.join(", ")
        );
    }
    let name = output.display().to_string();
    if let Err(e) = crate::compile_str(&imported.toml, &name) {
        // The title or zone list came from the command line, or a rule the importer does not
        // pre-check: the show's own located problems say what.
        eprintln!("{e}");
        return report(&e);
    }
    if output == Path::new("-") {
        print!("{}", imported.toml);
        return EXIT_OK;
    }
    match std::fs::write(output, &imported.toml) {
        Ok(()) => {
            println!("{name}: {} cues from {}", imported.cues, file.display());
            EXIT_OK
        }
        Err(e) => {
            eprintln!("shows: cannot write {name}: {e}");
            EXIT_USAGE
        }
    }
}

/// `shows watch FILE [-o OUT]`: polls the file's size, mtime and inode every 100 ms (editors
/// that save by renaming a new file over the old one change the inode) and checks it again on
/// every change. Runs until killed.
pub fn run_watch(file: &Path, output: Option<&Path>) -> i32 {
    use std::os::unix::fs::MetadataExt as _;
    let stamp = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .map(|m| (m.len(), m.modified().ok(), m.ino()))
    };
    let mut seen = None;
    let mut first = true;
    loop {
        let now = stamp(file);
        if first || now != seen {
            first = false;
            seen = now;
            match crate::compile_file(file) {
                Ok(show) => {
                    let mut line = ok_line(file, &show);
                    if let Some(out) = output {
                        match std::fs::write(out, show.to_json()) {
                            Ok(()) => line += &format!(" -> {}", out.display()),
                            Err(e) => eprintln!("shows: cannot write {}: {e}", out.display()),
                        }
                    }
                    println!("{line}");
                }
                Err(e) => {
                    eprintln!("{e}");
                    println!(
                        "{}: {} problem(s)",
                        file.display(),
                        e.problems().len().max(1)
                    );
                }
            }
            let _ = std::io::stdout().flush();
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
