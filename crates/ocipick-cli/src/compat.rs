//! `ocipick compat`: node-feature-discovery's image compatibility
//! artifacts. `validate-node` reads an artifact's specification (a YAML
//! file, or the newest NFD artifact of an OCI image layout), evaluates it
//! with `ocipick::nfd` against this host's facts or a `--node` file, and
//! prints each compatibility set, rule and expression with its answer.
//! `attach` (in `compat_attach`) writes and attaches an artifact.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use ocipick::nfd::{self, CompatibilityReport, ExpressionReport, Outcome, TermsReport};
use ocipick::Digest;
use serde_json::json;

use crate::args::Output;
use crate::cli::Deferred;
use crate::run::Failure;

/// The largest artifact manifest read from a layout.
const MAX_MANIFEST_BYTES: u64 = 4 << 20;

/// `ocipick compat …`.
#[derive(Debug, Subcommand)]
pub enum CompatCommand {
    /// Validate a node against an image's NFD compatibility specification,
    /// as `nfd compat validate-node` does: every compatibility set, rule
    /// and expression with pass, fail or unknown.
    ///
    /// SOURCE is the specification (a YAML file, `application/vnd.nfd.
    /// image-compatibility.spec.v1alpha1+yaml`) or an OCI image layout
    /// directory, whose newest artifact of type `application/vnd.nfd.
    /// image-compatibility.v1alpha1` (by org.opencontainers.image.created)
    /// is read (`--subject DIGEST`: of those attached to that manifest).
    /// The node is this host, or --node FILE (`ocipick host
    /// --output json` or `nfd export features`). Exit status: 0 every set
    /// evaluated passes, 1 some set fails or is unknown (or none is left
    /// after --tags), 2 usage error or invalid input.
    ValidateNode(Deferred<ValidateNodeArgs>),
    /// Write an NFD image compatibility artifact from a specification
    /// (NFD's YAML, or the same structure in TOML) and attach it to an
    /// image without rebuilding it: in an OCI layout (blobs written, the
    /// artifact listed in index.json, where validate-node --subject finds
    /// it) or in a registry (blobs pushed, the manifest pushed by digest,
    /// and the referrers tag schema index sha256-HEX created or extended,
    /// unless the registry answers OCI-Subject).
    ///
    /// The specification is checked as validate-node reads it before
    /// anything is written. Prints the artifact's digest. Exit status: 0
    /// attached (or --dry-run), 2 invalid specification, flags or layout,
    /// unknown subject in a layout, 3 network, registry or authentication
    /// failure (an unknown image in a registry included).
    Attach(Deferred<crate::compat_attach::AttachArgs>),
}

/// Flags of `ocipick compat validate-node`.
#[derive(Debug, Args)]
pub struct ValidateNodeArgs {
    /// The specification: a YAML file, or an OCI image layout directory.
    #[arg(value_name = "SOURCE")]
    pub source: PathBuf,
    /// The node's facts: `ocipick host --output json` or `nfd export
    /// features` JSON. Default: this host.
    #[arg(long, value_name = "FILE")]
    pub node: Option<PathBuf>,
    /// Read this host's /proc, /sys and /etc under DIR instead of /.
    #[arg(long, value_name = "DIR", conflicts_with = "node")]
    pub root: Option<PathBuf>,
    /// With a layout: only artifacts whose `subject` is this manifest
    /// (sha256:…), as the referrers of that image.
    #[arg(long, value_name = "DIGEST")]
    pub subject: Option<String>,
    /// Evaluate only the sets with this tag (repeatable), as NFD's --tags.
    #[arg(
        long = "tags",
        alias = "compat-tag",
        value_name = "TAG",
        value_delimiter = ','
    )]
    pub tags: Vec<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// Runs a `compat` subcommand: the text to print and the exit status.
pub fn run(cmd: &CompatCommand) -> Result<(String, u8), Failure> {
    match cmd {
        CompatCommand::ValidateNode(a) => validate_node(a),
        CompatCommand::Attach(a) => crate::compat_attach::run(a),
    }
}

/// Where the specification came from.
struct Found {
    bytes: Vec<u8>,
    /// The artifact manifest's digest and created time, from a layout.
    artifact: Option<(String, Option<String>)>,
    /// How many NFD artifacts the layout held.
    candidates: usize,
}

fn validate_node(a: &ValidateNodeArgs) -> Result<(String, u8), Failure> {
    if a.subject.is_some() && !a.source.is_dir() {
        return Err(Failure::Invalid(
            "--subject needs an OCI image layout as SOURCE".into(),
        ));
    }
    let found = read_source(&a.source, a.subject.as_deref())?;
    let spec = nfd::parse_spec(&found.bytes)
        .map_err(|e| Failure::Invalid(format!("{}: {e}", a.source.display())))?;
    let (facts, node_name) = match &a.node {
        Some(path) => (crate::run::load_node(path)?.0, path.display().to_string()),
        None => {
            let root = a.root.clone().unwrap_or_else(|| PathBuf::from("/"));
            let name = if root == Path::new("/") {
                "this host".to_owned()
            } else {
                format!("the host under {}", root.display())
            };
            (ocipick_host::Facts::detect(&root), name)
        }
    };
    let reports = nfd::evaluate(&spec, &facts.nfd_features(), &a.tags);
    let overall = if reports.is_empty() {
        Outcome::Unknown
    } else {
        reports
            .iter()
            .fold(Outcome::Pass, |acc, r| acc.and(r.outcome))
    };
    let status = u8::from(overall != Outcome::Pass);
    let text = match a.output {
        Output::Json => {
            let v = json!({
                "source": a.source.display().to_string(),
                "artifact": found.artifact.as_ref().map(|(d, c)| json!({
                    "digest": d, "created": c, "candidates": found.candidates,
                })),
                "node": node_name,
                "tags": a.tags,
                "outcome": overall,
                "compatibilities": reports,
            });
            let mut s = serde_json::to_string_pretty(&v).expect("JSON values serialize");
            s.push('\n');
            s
        }
        Output::Text => text(a, &found, &node_name, &reports, overall),
    };
    Ok((text, status))
}

fn read_source(path: &Path, subject: Option<&str>) -> Result<Found, Failure> {
    if path.is_dir() {
        return read_layout(path, subject);
    }
    let bytes = ocipick_registry::read_file(path, nfd::MAX_SPEC_BYTES as u64, "")?;
    Ok(Found {
        bytes,
        artifact: None,
        candidates: 0,
    })
}

/// The specification of the newest NFD artifact listed in a layout's
/// index.json (of those whose subject is `subject`, when given), as
/// `select --compat nfd` finds it ([`ocipick_registry::compat::discover_in_layout`]).
fn read_layout(dir: &Path, subject: Option<&str>) -> Result<Found, Failure> {
    let bad = |m: String| Failure::Invalid(format!("{}: {m}", dir.display()));
    let layout = ocipick_registry::Layout::open(dir, MAX_MANIFEST_BYTES)?;
    let subject = subject
        .map(|s| Digest::parse(s.to_owned()).map_err(|e| bad(format!("--subject: {e}"))))
        .transpose()?;
    let discovery = ocipick_registry::compat::discover_in_layout(&layout, subject.as_ref())?;
    let Some(f) = discovery.found else {
        let of = subject.map_or(String::new(), |s| format!(" with subject {s}"));
        return Err(bad(format!(
            "no manifest of artifact type {}{of} in index.json",
            nfd::ARTIFACT_TYPE
        )));
    };
    Ok(Found {
        bytes: f.spec,
        artifact: Some((f.artifact.to_string(), f.created)),
        candidates: f.candidates,
    })
}

fn text(
    a: &ValidateNodeArgs,
    found: &Found,
    node: &str,
    reports: &[CompatibilityReport],
    overall: Outcome,
) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = write!(s, "specification: {}", a.source.display());
    if let Some((d, c)) = &found.artifact {
        let _ = write!(s, " (artifact {d}");
        if let Some(c) = c {
            let _ = write!(s, ", created {c}");
        }
        if found.candidates > 1 {
            let _ = write!(s, ", newest of {}", found.candidates);
        }
        s.push(')');
    }
    let _ = writeln!(s, "\nnode: {node}");
    if reports.is_empty() {
        let _ = writeln!(s, "no compatibility set has the tags {:?}", a.tags);
    }
    for c in reports {
        let _ = write!(s, "\ncompatibility {}", c.index + 1);
        if let Some(d) = &c.description {
            let _ = write!(s, " {d:?}");
        }
        let mut extra = Vec::new();
        if let Some(t) = &c.tag {
            extra.push(format!("tag {t}"));
        }
        if let Some(w) = c.weight {
            extra.push(format!("weight {w}"));
        }
        if !extra.is_empty() {
            let _ = write!(s, " ({})", extra.join(", "));
        }
        let _ = writeln!(s, ": {}", c.outcome.as_str().to_uppercase());
        for r in &c.rules {
            let _ = writeln!(s, "  rule {:?}: {}", r.name, r.outcome.as_str());
            for n in &r.notes {
                let _ = writeln!(s, "    note: {n}");
            }
            if let Some(m) = &r.match_features {
                terms(&mut s, m, "    ");
            }
            for (i, m) in r.match_any.iter().enumerate() {
                let _ = writeln!(s, "    matchAny {}: {}", i + 1, m.outcome.as_str());
                terms(&mut s, m, "      ");
            }
        }
    }
    let _ = writeln!(s, "\nresult: {}", overall.as_str());
    s
}

fn terms(s: &mut String, t: &TermsReport, indent: &str) {
    use std::fmt::Write;
    for e in &t.expressions {
        let _ = writeln!(s, "{indent}{:<7} {}", e.outcome.as_str(), expression(e));
    }
}

fn expression(e: &ExpressionReport) -> String {
    let mut out = e.words();
    if let Some(p) = &e.problem {
        out.push_str(&format!(" ({p})"));
    }
    out
}
