//! Credentials and authentication challenges.
//!
//! Credentials come from `--username`/`--password-stdin`, or from the Docker
//! configuration file (`$DOCKER_CONFIG/config.json`, else
//! `~/.docker/config.json`): `credHelpers` for the registry, else
//! `credsStore`, else the base64 `auth` of `auths`. Helpers are the
//! `docker-credential-NAME` programs, asked with `get`. Secrets are never
//! formatted into errors or output: [`Credentials`]'s `Debug` hides them.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::Deserialize;

/// A user name and secret for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password or token.
    pub secret: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials({}, <secret>)", self.username)
    }
}

impl Credentials {
    /// The HTTP Basic `Authorization` header value.
    pub fn basic(&self) -> String {
        let raw = format!("{}:{}", self.username, self.secret);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    creds_store: Option<String>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HelperAnswer {
    username: String,
    secret: String,
}

/// Where the Docker configuration file is: `$DOCKER_CONFIG/config.json`,
/// else `$HOME/.docker/config.json`.
pub fn docker_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(Path::new(&dir).join("config.json"));
    }
    std::env::var_os("HOME").map(|h| Path::new(&h).join(".docker/config.json"))
}

/// The keys a registry may be stored under in `auths`.
fn auth_keys(registry: &str) -> Vec<String> {
    let mut keys = vec![
        registry.to_owned(),
        format!("https://{registry}"),
        format!("http://{registry}"),
        format!("https://{registry}/v1/"),
        format!("https://{registry}/v2/"),
    ];
    if registry == crate::reference::DOCKER_HUB {
        keys.push("https://index.docker.io/v1/".to_owned());
        keys.push("index.docker.io".to_owned());
    }
    keys
}

/// A problem reading credentials. The message never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("credentials for {registry}: {problem}")]
pub struct CredentialsError {
    /// The registry.
    pub registry: String,
    /// What went wrong.
    pub problem: String,
}

/// Looks up credentials for `registry` in the Docker configuration file at
/// `path`. A missing file means no credentials.
pub fn from_docker_config(
    path: &Path,
    registry: &str,
) -> Result<Option<Credentials>, CredentialsError> {
    let err = |problem: String| CredentialsError {
        registry: registry.to_owned(),
        problem,
    };
    let bytes = match crate::read::read_file(path, 1 << 20, "") {
        Ok(b) => b,
        Err(crate::SourceError::Io { err, .. }) if err.kind() == std::io::ErrorKind::NotFound => {
            return Ok(None)
        }
        Err(e) => return Err(err(e.to_string())),
    };
    let config: DockerConfig = serde_json::from_slice(&bytes)
        .map_err(|e| err(format!("{}: not a Docker config file: {e}", path.display())))?;
    let keys = auth_keys(registry);
    if let Some(helper) = keys.iter().find_map(|k| config.cred_helpers.get(k)) {
        return run_helper(helper, registry);
    }
    if let Some(store) = &config.creds_store {
        if let Some(c) = run_helper(store, registry)? {
            return Ok(Some(c));
        }
    }
    let Some(entry) = keys.iter().find_map(|k| config.auths.get(k)) else {
        return Ok(None);
    };
    if let (Some(u), Some(p)) = (&entry.username, &entry.password) {
        return Ok(Some(Credentials {
            username: u.clone(),
            secret: p.clone(),
        }));
    }
    let Some(auth) = &entry.auth else {
        return Ok(None);
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .map_err(|_| err("the auths entry is not valid base64".into()))?;
    let text =
        String::from_utf8(decoded).map_err(|_| err("the auths entry is not UTF-8".into()))?;
    let (u, p) = text
        .split_once(':')
        .ok_or_else(|| err("the auths entry is not user:password".into()))?;
    Ok(Some(Credentials {
        username: u.to_owned(),
        secret: p.to_owned(),
    }))
}

/// How long a credential helper may take.
pub const HELPER_TIMEOUT: Duration = Duration::from_secs(10);

/// Asks `docker-credential-NAME get` for `registry`'s credentials.
fn run_helper(name: &str, registry: &str) -> Result<Option<Credentials>, CredentialsError> {
    let err = |problem: String| CredentialsError {
        registry: registry.to_owned(),
        problem,
    };
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(err(format!("invalid credential helper name {name:?}")));
    }
    let program = format!("docker-credential-{name}");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| err(format!("cannot run {program}: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(registry.as_bytes());
    }
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if start.elapsed() > HELPER_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(err(format!(
                    "{program} did not answer within {HELPER_TIMEOUT:?}"
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(err(format!("{program}: {e}"))),
        }
    };
    let mut out = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        let _ = stdout.take(1 << 20).read_to_end(&mut out);
    }
    if !status.success() {
        // Helpers answer "credentials not found in native keychain" this way.
        return Ok(None);
    }
    let a: HelperAnswer = serde_json::from_slice(&out).map_err(|_| {
        err(format!(
            "{program} answered something that is not credentials JSON"
        ))
    })?;
    Ok(Some(Credentials {
        username: a.username,
        secret: a.secret,
    }))
}

/// A `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// `Bearer realm="…",service="…",scope="…"`.
    Bearer {
        /// Token endpoint URL.
        realm: String,
        /// The service name to ask a token for.
        service: Option<String>,
        /// The scope the registry asked for, if it said.
        scope: Option<String>,
    },
    /// `Basic realm="…"`.
    Basic,
}

/// Parses a `WWW-Authenticate` header value (one challenge).
///
/// ```
/// use ocipick_registry::auth::{parse_challenge, Challenge};
/// let c = parse_challenge(r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#).unwrap();
/// assert_eq!(c, Challenge::Bearer { realm: "https://auth.example/token".into(), service: Some("registry.example".into()), scope: Some("repository:a/b:pull".into()) });
/// assert_eq!(parse_challenge("Basic realm=\"x\""), Some(Challenge::Basic));
/// ```
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let (scheme, rest) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
    let params = parse_params(rest);
    match scheme.to_ascii_lowercase().as_str() {
        "bearer" => Some(Challenge::Bearer {
            realm: params.get("realm")?.clone(),
            service: params.get("service").cloned(),
            scope: params.get("scope").cloned(),
        }),
        "basic" => Some(Challenge::Basic),
        _ => None,
    }
}

/// Parses `k="v", k2=v2` auth parameters (quoted strings may hold commas
/// and escaped quotes).
fn parse_params(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String =
            std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ',')).collect();
        if key.is_empty() {
            break;
        }
        if chars.next() != Some('=') {
            continue;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            value.push(n);
                        }
                    }
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = std::iter::from_fn(|| chars.next_if(|c| *c != ',')).collect();
        }
        out.insert(key.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        let rows = [
            (
                r#"Bearer realm="https://a/token",service="reg",scope="repository:x:pull,push""#,
                Some(Challenge::Bearer {
                    realm: "https://a/token".into(),
                    service: Some("reg".into()),
                    scope: Some("repository:x:pull,push".into()),
                }),
            ),
            (
                r#"bearer realm=https://a/token"#,
                Some(Challenge::Bearer {
                    realm: "https://a/token".into(),
                    service: None,
                    scope: None,
                }),
            ),
            (r#"Bearer service="x""#, None),
            ("Basic realm=\"Registry Realm\"", Some(Challenge::Basic)),
            ("Negotiate", None),
            ("", None),
        ];
        for (h, want) in rows {
            assert_eq!(parse_challenge(h), want, "{h}");
        }
    }

    #[test]
    fn docker_config_sources() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let b64 = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
        std::fs::write(
            &path,
            format!(r#"{{"auths":{{"127.0.0.1:5000":{{"auth":"{b64}"}},"https://index.docker.io/v1/":{{"username":"bob","password":"pw"}}}}}}"#),
        )
        .unwrap();
        let c = from_docker_config(&path, "127.0.0.1:5000")
            .unwrap()
            .unwrap();
        assert_eq!(
            (c.username.as_str(), c.secret.as_str()),
            ("alice", "s3cret")
        );
        let c = from_docker_config(&path, "docker.io").unwrap().unwrap();
        assert_eq!(c.username, "bob");
        assert_eq!(from_docker_config(&path, "ghcr.io").unwrap(), None);
        assert_eq!(
            from_docker_config(&dir.path().join("missing.json"), "x").unwrap(),
            None
        );
        // Secrets never show in Debug output.
        assert!(!format!("{c:?}").contains("pw"));
        // A missing helper is an error that names the helper, not a secret.
        std::fs::write(
            &path,
            r#"{"credHelpers":{"ghcr.io":"ocipick-test-absent"}}"#,
        )
        .unwrap();
        let e = from_docker_config(&path, "ghcr.io").unwrap_err();
        assert!(
            e.problem.contains("docker-credential-ocipick-test-absent"),
            "{e}"
        );
    }
}
