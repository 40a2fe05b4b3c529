//! The `ocipick` command: a thin layer over the `ocipick` library.

mod annotate;
mod args;
mod check;
mod cli;
mod compat;
mod compat_attach;
mod discover;
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
        Generated::Man => man_page(cmd, &mut buf),
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

/// The man page: clap_mangen's sections of `ocipick` (the global flags and
/// the list of commands), then one section per command and subcommand with
/// its synopsis, description and every flag, headed `OCIPICK SELECT` and so
/// on, then the version.
/// clap_mangen's own page stops at the list of commands, so without these
/// sections the page would show none of the flags `--help` shows.
fn man_page(mut cmd: clap::Command, out: &mut Vec<u8>) -> std::io::Result<()> {
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone());
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    man.render_subcommands_section(out)?;
    for sub in cmd.get_subcommands() {
        man_sections(sub, out)?;
    }
    man.render_version_section(out)
}

/// [`man_page`]'s section for `cmd` (already built, so named with its
/// parents: `ocipick config check`), then those of its subcommands. The
/// subcommand's own page sections become subsections of it.
fn man_sections(cmd: &clap::Command, out: &mut Vec<u8>) -> std::io::Result<()> {
    if cmd.get_name() == "help" {
        return Ok(());
    }
    let name = cmd.get_bin_name().unwrap_or_else(|| cmd.get_name());
    let man = clap_mangen::Man::new(cmd.clone());
    let mut part = Vec::new();
    man.render_synopsis_section(&mut part)?;
    man.render_description_section(&mut part)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut part)?;
    }
    writeln!(out, ".SH \"{}\"", name.to_uppercase())?;
    for line in String::from_utf8_lossy(&part).lines() {
        match line.strip_prefix(".SH ").map(|h| h.trim_matches('"')) {
            Some("SYNOPSIS" | "DESCRIPTION") => writeln!(out, ".PP")?,
            Some(heading) => writeln!(out, ".SS \"{heading}\"")?,
            None => writeln!(out, "{line}")?,
        }
    }
    for sub in cmd.get_subcommands() {
        man_sections(sub, out)?;
    }
    Ok(())
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
