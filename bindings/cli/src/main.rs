//! The `harmoni` binary: parses the command line, installs the Ctrl-C handler, runs the
//! command, and turns its outcome into an exit code (see `harmoni --help`).

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::Parser;
use harmoni_cli::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse(); // a usage error exits with 2
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    let installed = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            // A second Ctrl-C: stop at once.
            std::process::exit(i32::from(harmoni_cli::exit::CANCELLED));
        }
        eprintln!("\ncancelling: the run stops at the next stage (Ctrl-C again to stop at once)");
    });
    if let Err(e) = installed {
        eprintln!("harmoni: warning: Ctrl-C cannot be handled ({e})");
    }
    match cli::run(cli, &cancel) {
        Ok(()) => ExitCode::from(harmoni_cli::exit::SUCCESS),
        Err(failure) => {
            eprintln!("harmoni: error: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}
