//! Thin `beacon` binary: parses arguments and hands off to the library.

use clap::Parser;

/// Crowdlight `beacon`.
#[derive(Parser)]
#[command(version, about)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
}
