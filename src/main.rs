//! The `stsgrant` command: parse the arguments, run the command, turn the outcome into an
//! exit code. Exit codes: 0 all good, 1 findings or failed grants, 2 usage or unexpected error.

mod cli;

use std::process::ExitCode;

use clap::Parser as _;

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
