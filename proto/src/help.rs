//! `--help` defaults read from the configuration a daemon really starts with, so that a default
//! is written once (in the daemon's config code) and the help text can never disagree with it.

/// Appends `[default: VALUE]` to the help of each `(argument id, value)` in `defaults`.
///
/// Panics (at start-up, caught by each daemon's tests) when an id names no argument: a renamed
/// flag must take its default along.
pub fn with_defaults(cmd: clap::Command, defaults: &[(&'static str, String)]) -> clap::Command {
    defaults.iter().fold(cmd, |cmd, (id, value)| {
        cmd.mut_arg(*id, |arg| {
            let short = arg.get_help().map(ToString::to_string).unwrap_or_default();
            let arg = arg.help(format!("{short} [default: {value}]"));
            match arg.get_long_help().map(ToString::to_string) {
                Some(long) => arg.long_help(format!("{long} [default: {value}]")),
                None => arg,
            }
        })
    })
}

/// The `[default: …]` values `--help` shows, parsed back out of rendered help text: argument
/// long name (without `--`) → value. For tests comparing the help with the real defaults.
pub fn shown_defaults(help: &str) -> Vec<(String, String)> {
    let mut shown = Vec::new();
    let mut flag: Option<String> = None;
    for line in help.lines() {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("--") {
            flag = Some(
                rest.split([' ', '=', '<', ','])
                    .next()
                    .unwrap_or("")
                    .to_owned(),
            );
        } else if trimmed.starts_with('-') && trimmed.contains(", --") {
            let long = trimmed.split(", --").nth(1).unwrap_or("");
            flag = Some(long.split([' ', '=', '<']).next().unwrap_or("").to_owned());
        }
        if let (Some(name), Some(start)) = (&flag, line.find("[default: ")) {
            let value = &line[start + "[default: ".len()..];
            let value = value.split(']').next().unwrap_or(value);
            shown.push((name.clone(), value.to_owned()));
        }
    }
    shown
}
