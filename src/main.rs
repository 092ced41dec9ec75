use std::process::ExitCode;

fn main() -> ExitCode {
    capsule::cli::run()
}
