//! The `ocipick` command: a thin layer over the `ocipick` library.

mod annotate;
mod args;
mod check;
mod cli;
mod compat;
mod compat_attach;
mod lint_nfd;
mod output;
mod run;
mod say;
mod serve;
mod trust;

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use cli::{Cli, Command, Generated};
use run::{Failure, Mode};

fn print(text: &str) {
    // A closed pipe (`ocipick rank … | head`) is not an error worth a panic.
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
}

fn generate(what: Generated) -> ExitCode {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    let result = match what {
        Generated::Man => clap_mangen::Man::new(cmd).render(&mut buf),
        Generated::Bash => {
            clap_complete::generate(clap_complete::Shell::Bash, &mut cmd, "ocipick", &mut buf);
            Ok(())
        }
        Generated::Zsh => {
            clap_complete::generate(clap_complete::Shell::Zsh, &mut cmd, "ocipick", &mut buf);
            Ok(())
        }
        Generated::Fish => {
            clap_complete::generate(clap_complete::Shell::Fish, &mut cmd, "ocipick", &mut buf);
            Ok(())
        }
    };
    match result {
        Ok(()) => {
            print(&String::from_utf8_lossy(&buf));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ocipick: {e}");
            ExitCode::from(2)
        }
    }
}

/// Prints a command's output and turns its status into the exit code:
/// the command's own status on success, 3 for registry failures, 2 for
/// usage errors and invalid input.
fn finish(result: Result<(String, u8), Failure>) -> ExitCode {
    match result {
        Ok((text, status)) => {
            print(&text);
            ExitCode::from(status)
        }
        Err(Failure::Registry(m)) => {
            eprintln!("ocipick: {m}");
            ExitCode::from(3)
        }
        Err(Failure::Invalid(m) | Failure::NoMatch { message: m, .. }) => {
            eprintln!("ocipick: {m}");
            ExitCode::from(2)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.verbose && cli.quiet {
        // clap checks the conflict where both are given on one side of the
        // subcommand; this catches `ocipick -v select -q`.
        Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "the argument '--quiet' cannot be used with '--verbose'",
            )
            .exit();
    }
    say::set(cli.verbose, cli.quiet);
    let (args, mode) = match &cli.command {
        Command::Select(a) => (&a.args, Mode::Select { raw: a.raw }),
        Command::Rank(a) => (&a.0, Mode::Rank),
        Command::Resolve(a) => (&a.0, Mode::Resolve),
        Command::Digest(a) => (
            &a.args,
            Mode::Digest {
                full_ref: a.full_ref,
            },
        ),
        Command::Generate { what } => return generate(*what),
        Command::Config(cli::ConfigCommand::Check { file }) => {
            return match run::config_check(file.as_deref()) {
                Ok(text) => {
                    print(&text);
                    ExitCode::SUCCESS
                }
                Err(Failure::Invalid(m) | Failure::Registry(m)) => {
                    eprintln!("ocipick: {m}");
                    ExitCode::from(2)
                }
                Err(Failure::NoMatch { message, .. }) => {
                    eprintln!("ocipick: {message}");
                    ExitCode::from(1)
                }
            };
        }
        Command::Annotate(a) => return finish(annotate::run(a)),
        Command::Check(a) => return finish(check::run(a)),
        Command::Compat(c) => return finish(compat::run(c)),
        Command::Lint(a) => return finish(run::lint(a)),
        Command::Serve(a) => return finish(serve::run(a)),
        Command::Host { output, root } => {
            print(&output::host(root, *output));
            return ExitCode::SUCCESS;
        }
    };
    match run::run(args, mode) {
        Ok(text) => {
            print(&text);
            ExitCode::SUCCESS
        }
        Err(Failure::NoMatch { stdout, message }) => {
            print(&stdout);
            eprintln!("ocipick: {message}");
            ExitCode::from(1)
        }
        Err(Failure::Invalid(message)) => {
            eprintln!("ocipick: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Registry(message)) => {
            eprintln!("ocipick: {message}");
            ExitCode::from(3)
        }
    }
}
