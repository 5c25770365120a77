//! The `stsgrant` command: parse the arguments, run the command, turn the outcome into an
//! exit code. Exit codes: 0 all good, 1 findings or failed grants, 2 usage or unexpected error.

mod cli;

use std::process::ExitCode;

use clap::Parser as _;

// NOTE: validation makes many small, short-lived allocations on every core; mimalloc's
// per-thread heaps take about a fifth off its time compared with the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    cli::init_logging(args.verbose);
    match cli::run(args) {
        Ok(code) => code,
        Err(error) => {
            cli::report_error(&error);
            error.exit_code()
        }
    }
}
