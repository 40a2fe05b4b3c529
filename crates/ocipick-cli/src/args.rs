//! The flag groups commands share (target, policy, registry transport,
//! output format) and the argument structs of `select`/`rank`/`resolve`
//! and `lint`: a leaf module, which every command module may use without
//! reaching back into the module of the commands.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use ocipick::Preference;

/// `ocipick lint` output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LintOutput {
    /// One line a finding.
    Text,
    /// One JSON object, for CI.
    Json,
    /// SARIF 2.1.0, for code-scanning dashboards.
    Sarif,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// The index, as for select.
    pub source: String,
    /// Exit 1 when there are warnings (and no errors).
    #[arg(long)]
    pub strict: bool,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = LintOutput::Text)]
    pub output: LintOutput,
    /// In an OCI layout, the tag to use.
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// Refuse index documents larger than this, while reading them. [default: 4MiB]
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub max_index_bytes: Option<u64>,
    /// Flag entries whose declared size is larger than this. [default: 4MiB]
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub max_manifest_bytes: Option<u64>,
    /// With --trust-key: report (SIG001) a registry index whose entries
    /// carry annotations but that has no valid signature by those keys.
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Aligned text for people.
    Text,
    /// One JSON object, for scripts.
    Json,
}

#[derive(Debug, Args)]
pub struct SelectArgs {
    /// The index: a JSON file (an OCI image index or a Docker manifest list),
    /// `-` for standard input, an OCI image layout directory as DIR, DIR:TAG,
    /// oci:DIR[:TAG] or ocidir://DIR[:TAG], a tar of one as
    /// oci-archive:FILE[:TAG], or a registry reference
    /// [docker://][REGISTRY/]REPO[:TAG|@DIGEST]. An existing path is always
    /// local.
    pub source: String,

    #[command(flatten)]
    pub target: TargetArgs,

    #[command(flatten)]
    pub policy: PolicyArgs,

    #[command(flatten)]
    pub trust: TrustArgs,

    /// In an OCI layout, the tag (org.opencontainers.image.ref.name) to use.
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,

    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Output::Text)]
    pub output: Output,

    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Signature-aware selection: which registry indexes must be signed
/// before their annotations may steer the choice (docs/security.md).
#[derive(Debug, Args)]
#[command(next_help_heading = "Trust options")]
pub struct TrustArgs {
    /// Trust this cosign public key (PEM, ECDSA P-256, as `cosign
    /// generate-key-pair` writes cosign.pub). Repeatable; replaces the
    /// config file's [trust] keys. With a key, registry indexes and OCI
    /// layouts or archives need a valid key-based signature (the
    /// sha256-<hex>.sig tag or a Sigstore bundle referrer) for
    /// annotations to count.
    #[arg(long, value_name = "FILE")]
    pub trust_key: Vec<PathBuf>,

    /// Only indexes of repositories matching REGISTRY/REPOSITORY patterns
    /// (`*`, `?`) must be signed. Repeatable; replaces the config file's.
    /// [default: every registry index]
    #[arg(long, value_name = "PATTERN")]
    pub trust_repository: Vec<String>,

    /// Also accept signatures whose payload names a repository matching
    /// this REGISTRY/REPOSITORY pattern instead of the index's own (an
    /// index served from a mirror or promoted copy). Repeatable; replaces
    /// the config file's accept-references. The digest must still match.
    #[arg(long, value_name = "PATTERN")]
    pub trust_accept_reference: Vec<String>,

    /// Without a valid signature: select on platform alone (first match;
    /// preferences, rules and hooks ignored) or refuse (exit 3). serve:
    /// ignore-annotations answers the first-match child (child mode) or
    /// passes the index through (reorder mode); refuse passes it through.
    /// [default: ignore-annotations]
    #[arg(long, value_name = "WHAT", value_parser = ["ignore-annotations", "refuse"])]
    pub on_unsigned: Option<String>,

    /// Seconds all signature reads of one index (signature manifest,
    /// payloads, bundle referrers, token requests, retries) may take;
    /// past it the index
    /// counts as unsigned (--on-unsigned decides), said on standard error
    /// and in the output. 0: no deadline but the registry timeouts.
    /// Replaces the config file's signature-deadline. [default: 5]
    #[arg(long, value_name = "SECONDS", value_parser = parse_deadline)]
    pub signature_deadline: Option<f64>,
}

/// A number of seconds from 0 to 3600 (`--signature-deadline`, serve's
/// `--drain-timeout`).
pub(crate) fn parse_deadline(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=3600.0).contains(&v) => Ok(v),
        _ => Err(format!(
            "{s:?} is not a number of seconds between 0 and 3600"
        )),
    }
}

/// Whom a command selects for, and the index size limit: shared by
/// select, rank, resolve and serve.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Target platform, in any of these spellings:
    /// os[(osversion+feature…)]/arch[/variant] (containerd, Docker, Podman:
    /// linux/arm64, linux/amd64/v3, windows(10.0.20348)/amd64);
    /// os/arch[/variant]:osversion (crane, oras: windows/amd64:10.0.20348);
    /// os/arch[/variant],osver=osversion (regctl); a lone OS or architecture
    /// (linux, arm64: the rest is this machine's); `local` for this machine.
    /// [default: this machine, e.g. linux/amd64/v3 on an x86-64-v3 CPU]
    #[arg(short, long, value_name = "PLATFORM")]
    pub platform: Option<String>,

    /// Select for another node instead of this host: a facts file written by
    /// `ocipick host --output json`, or the JSON of `nfd export features`.
    /// Its facts feed the config file's rules and hooks; its platform (if it
    /// names one) is the target unless --platform is given.
    #[arg(long, value_name = "FILE")]
    pub node: Option<PathBuf>,

    /// Refuse index documents larger than this, while reading them.
    /// Accepts KiB/MiB suffixes. [default: 4MiB]
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub max_index_bytes: Option<u64>,
}

/// What selects among the entries that fit: preferences, the
/// configuration file (preferences, rules, hooks), the size limit. Shared
/// by every command that selects.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// Prefer entries with an annotation: KEY (any value) or KEY=VALUE, each
    /// optionally with :WEIGHT (default 1; negative to avoid). Repeatable;
    /// adds to the config file's preferences.
    #[arg(long, value_name = "KEY[=VALUE][:WEIGHT]", value_parser = parse_preference)]
    pub prefer: Vec<Preference>,

    /// Configuration file (TOML) with [[prefer]], [[rule]] and [[hook]]
    /// entries and defaults.
    /// [default: $OCIPICK_CONFIG, else /etc/ocipick/config.toml if present]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Ignore configuration files.
    #[arg(long, conflicts_with = "config")]
    pub no_config: bool,

    /// Entries whose declared size is larger than this are not eligible.
    /// Accepts KiB/MiB suffixes. [default: 4MiB]
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub max_manifest_bytes: Option<u64>,

    /// Select with image compatibility artifacts: `nfd` reads
    /// node-feature-discovery's (artifact type application/vnd.nfd.
    /// image-compatibility.v1alpha1, attached to the index or to its
    /// entries; found with the referrers API, the sha256-<hex> tag schema,
    /// or in an OCI layout). Each set that passes on the target adds its
    /// weight to its entry's score; a failing or unknown set adds nothing
    /// and is reported. Costs requests beyond the index GET, counted in
    /// the JSON output. Also `[compat] artifacts = "nfd"` in the
    /// configuration.
    #[arg(long, value_name = "KIND", value_parser = ["nfd"])]
    pub compat: Option<String>,

    /// With --compat: only the compatibility sets with this tag
    /// (repeatable or comma-separated), as NFD's --tags.
    #[arg(long = "compat-tag", value_name = "TAG", value_delimiter = ',')]
    pub compat_tags: Vec<String>,
}

/// How to reach registries.
#[derive(Debug, Args)]
#[command(next_help_heading = "Registry options")]
pub struct RegistryArgs {
    /// Reach this registry (HOST[:PORT]) over plain HTTP. Repeatable.
    /// Loopback registries fall back to plain HTTP by themselves.
    #[arg(long, value_name = "REGISTRY")]
    pub plain_http: Vec<String>,

    /// Trust the CA certificates in this PEM file instead of the system's.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,

    /// TLS material for every registry, from this directory (skopeo's
    /// --cert-dir), instead of the registry's own directory: the first of
    /// /etc/containers/certs.d/HOST[:PORT]/ and
    /// /etc/docker/certs.d/HOST[:PORT]/ that exists. In either, Docker's
    /// rules: each *.crt holds CA certificates trusted besides the usual
    /// roots (--ca-file's, or the system's); NAME.cert with NAME.key
    /// (client.cert, client.key) is the client certificate and its key.
    #[arg(long, value_name = "DIR")]
    pub cert_dir: Option<PathBuf>,

    /// User name for the registry (with --password-stdin; for serve, the
    /// first --upstream). Without it, credentials come from the files that
    /// --authfile lists.
    #[arg(long, value_name = "USER", requires = "password_stdin")]
    pub username: Option<String>,

    /// Read registry credentials from this file only: podman/skopeo's
    /// auth.json (containers-auth.json(5)), whose format Docker's
    /// config.json shares. Without it: $REGISTRY_AUTH_FILE only, when set;
    /// else these, in this order, the first with credentials for the
    /// registry winning: $XDG_RUNTIME_DIR/containers/auth.json
    /// (/run/containers/UID/auth.json without XDG_RUNTIME_DIR),
    /// $XDG_CONFIG_HOME/containers/auth.json (~/.config/containers/auth.json),
    /// $DOCKER_CONFIG/config.json (~/.docker/config.json). In each file:
    /// credHelpers for the registry, else credsStore, else auths, keyed by
    /// REGISTRY/NAMESPACE (most specific first) or REGISTRY; an entry's
    /// identitytoken is exchanged at the token endpoint. --username wins
    /// over every file.
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,

    /// Read the password (or token) from the first line of standard input.
    #[arg(long, requires = "username")]
    pub password_stdin: bool,

    /// Connect and read timeout, in seconds; one request may take twice this in all.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0, value_parser = parse_timeout)]
    pub timeout: f64,

    /// Retries after connection errors, HTTP 429 and 5xx (with backoff,
    /// honouring Retry-After up to 10 s).
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=10))]
    pub retries: u32,
}

fn parse_timeout(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 3600.0 => Ok(v),
        _ => Err(format!(
            "{s:?} is not a number of seconds between 0 and 3600"
        )),
    }
}

fn parse_preference(s: &str) -> Result<Preference, String> {
    s.parse::<Preference>().map_err(|e| e.problem)
}

/// Parses a byte count: digits with an optional `K`, `KiB`, `M`, `MiB`,
/// `G` or `GiB` suffix (powers of 1024).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let (num, unit) = t.split_at(digits);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a byte count (e.g. 4194304 or 4MiB)"))?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "K" | "KiB" | "k" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        other => return Err(format!("unknown unit {other:?} (use KiB, MiB or GiB)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))
}
