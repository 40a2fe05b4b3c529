//! `ocipick compat attach`: writes an NFD image compatibility artifact
//! from a YAML or TOML specification (`ocipick::nfd::artifact`) and
//! attaches it to an image in an OCI layout or a registry
//! (`ocipick_registry::attach`). The CLI only wires them.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use ocipick::nfd::artifact::{self, Format};
use ocipick::Digest;
use ocipick_registry::attach::{self as engine, Attached, LayoutSubject};
use ocipick_registry::source::Source;
use serde_json::{json, Value};

use crate::args::{Output, RegistryArgs};
use crate::run::Failure;

/// Flags of `ocipick compat attach`.
#[derive(Debug, Args)]
pub struct AttachArgs {
    /// The specification: NFD's YAML (kept byte for byte as the layer), or
    /// the same structure in TOML (`.toml`; written as YAML).
    #[arg(value_name = "SPEC")]
    pub spec: PathBuf,
    /// The image to attach it to: an OCI layout as DIR, DIR:TAG,
    /// oci:DIR[:TAG], or a registry reference (REPO:TAG or REPO@DIGEST).
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// In a layout: the manifest (or index) to attach to, by digest (an
    /// index.json entry or any manifest blob, e.g. one platform's image).
    #[arg(long, value_name = "DIGEST")]
    pub subject: Option<String>,
    /// How SPEC is spelled. Default: toml for a .toml file, else yaml.
    #[arg(long, value_enum)]
    pub format: Option<SpecFormat>,
    /// The org.opencontainers.image.created annotation (RFC 3339). Default:
    /// $SOURCE_DATE_EPOCH when set (reproducible builds), else now (UTC).
    #[arg(long, value_name = "TIME")]
    pub created: Option<String>,
    /// Another annotation of the artifact manifest. Repeatable.
    #[arg(long = "annotation", value_name = "KEY=VALUE")]
    pub annotations: Vec<String>,
    /// Build and check the artifact, print it, and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Output format: text prints the artifact's digest on standard output
    /// (what was written goes to standard error).
    #[arg(short, long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SpecFormat {
    /// NFD's own YAML.
    Yaml,
    /// TOML with the same keys.
    Toml,
}

fn invalid(m: impl Into<String>) -> Failure {
    Failure::Invalid(m.into())
}

/// The created time: the flag, $SOURCE_DATE_EPOCH, or now.
fn created(flag: Option<&str>) -> Result<String, Failure> {
    if let Some(c) = flag {
        artifact::check_rfc3339(c).map_err(|e| invalid(format!("--created: {e}")))?;
        return Ok(c.to_owned());
    }
    if let Ok(s) = std::env::var("SOURCE_DATE_EPOCH") {
        let secs: u64 = s.trim().parse().map_err(|_| {
            invalid(format!(
                "SOURCE_DATE_EPOCH={s:?} is not a number of seconds since 1970"
            ))
        })?;
        return Ok(artifact::rfc3339_utc(secs));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Ok(artifact::rfc3339_utc(now))
}

/// Runs `ocipick compat attach`.
pub fn run(a: &AttachArgs) -> Result<(String, u8), Failure> {
    let format = match a.format {
        Some(SpecFormat::Yaml) => Format::Yaml,
        Some(SpecFormat::Toml) => Format::Toml,
        None => Format::of_path(&a.spec),
    };
    let bytes = ocipick_registry::read_file(&a.spec, artifact::MAX_SOURCE_BYTES as u64, "")?;
    let authored = artifact::author(&bytes, format)
        .map_err(|e| invalid(format!("{}: {e}", a.spec.display())))?;
    let created = created(a.created.as_deref())?;
    let mut extra = Vec::new();
    for kv in &a.annotations {
        let (k, v) = kv
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| invalid(format!("--annotation {kv:?}: KEY=VALUE expected")))?;
        if k == ocipick::nfd::CREATED {
            return Err(invalid(format!(
                "--annotation {k}: use --created for the creation time"
            )));
        }
        extra.push((k.to_owned(), v.to_owned()));
    }
    let subject = match &a.subject {
        Some(s) => Some(
            Digest::parse(s.clone())
                .map_err(|e| invalid(format!("--subject {s}: {e}")))?
                .into_owned(),
        ),
        None => None,
    };
    let build = |s: &ocipick::Descriptor<'_>| artifact::build(&authored.yaml, s, &created, &extra);
    let src = crate::run::parse_source(&a.image, None)?;
    let (where_, attached) = match src {
        Source::Layout(dir, tag) => {
            let which = match (tag, subject) {
                (Some(_), Some(_)) => {
                    return Err(invalid("name the subject with DIR:TAG or --subject, not both"))
                }
                (Some(t), None) => LayoutSubject::Tag(t),
                (None, Some(d)) => LayoutSubject::Digest(d),
                (None, None) => LayoutSubject::Only,
            };
            let attached = if a.dry_run {
                engine::plan(engine::find_layout_subject(&dir, &which)?, build)?
            } else {
                engine::attach_layout(&dir, &which, build)?
            };
            (dir.display().to_string(), attached)
        }
        Source::Registry(r) => {
            if subject.is_some() {
                return Err(invalid(
                    "--subject is for layouts; name a registry image as REPO@DIGEST",
                ));
            }
            let client = crate::run::client(&a.registry, engine::MAX_SUBJECT_BYTES)?;
            let attached = if a.dry_run {
                engine::plan(engine::registry_subject(&client, &r)?, build)?
            } else {
                engine::attach_registry(&client, &r, build)?
            };
            let stats = client.stats();
            return Ok((report(a, &r.to_string(), &attached, Some(stats.requests)), 0));
        }
        Source::Stdin | Source::File(_) | Source::Archive(..) => {
            return Err(invalid(format!(
                "{}: attach to an OCI layout directory or a registry image (files and archives are not rewritten)",
                a.image
            )))
        }
    };
    Ok((report(a, &where_, &attached, None), 0))
}

fn report(a: &AttachArgs, target: &str, at: &Attached, requests: Option<u32>) -> String {
    let art = &at.artifact;
    match a.output {
        Output::Json => {
            let mut v = json!({
                "spec": a.spec.display().to_string(),
                "image": target,
                "dryRun": a.dry_run,
                "artifact": {
                    "mediaType": ocipick::media_type::OCI_MANIFEST,
                    "artifactType": ocipick::nfd::ARTIFACT_TYPE,
                    "digest": art.digest.as_str(),
                    "size": art.manifest.len(),
                    "annotations": art.annotations,
                },
                "subject": {
                    "mediaType": at.subject.media_type,
                    "digest": at.subject.digest.as_str(),
                    "size": at.subject.size,
                },
                "layer": {
                    "mediaType": ocipick::nfd::SPEC_MEDIA_TYPE,
                    "digest": Digest::sha256_of(&art.layer).as_str(),
                    "size": art.layer.len(),
                },
                "blobsWritten": at.blobs_written,
            });
            if let Some(t) = &at.tag_schema {
                v["tagSchema"] = json!({"tag": t.tag, "action": t.action, "entries": t.entries});
            }
            if let Some(n) = requests {
                v["requests"] = json!(n);
            }
            if a.dry_run {
                v["manifest"] = serde_json::from_slice(&art.manifest).unwrap_or(Value::Null);
                v["specYaml"] = json!(String::from_utf8_lossy(&art.layer));
            }
            let mut s = serde_json::to_string_pretty(&v).expect("JSON values serialize");
            s.push('\n');
            s
        }
        Output::Text => {
            let verb = if a.dry_run {
                "would attach"
            } else {
                "attached"
            };
            crate::say::note(&format!(
                "{verb} {} to {} ({}) in {target}",
                art.digest, at.subject.digest, at.subject.media_type
            ));
            if let Some(t) = &at.tag_schema {
                crate::say::note(&format!(
                    "referrers tag schema {}: {} ({} entries)",
                    t.tag, t.action, t.entries
                ));
            }
            if a.dry_run {
                let mut s = String::from_utf8_lossy(&art.manifest).into_owned();
                s.push('\n');
                return s;
            }
            format!("{}\n", art.digest)
        }
    }
}
