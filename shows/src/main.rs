//! Thin `shows` binary: parses arguments and hands off to [`shows::cli`].

use clap::Parser;

fn main() {
    let cli = shows::cli::Cli::parse();
    std::process::exit(shows::cli::run(cli));
}
