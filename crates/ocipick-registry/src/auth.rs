//! Credentials and authentication challenges.
//!
//! Credentials come from `--username`/`--password-stdin`, or from
//! credential files ([`default_auth_files`]): the podman/skopeo
//! `auth.json` (containers-auth.json(5)) and the Docker configuration file,
//! which share one format. In each file, `credHelpers` for the registry,
//! else `credsStore`, else `auths`, keyed by `REGISTRY/NAMESPACE…` (the most
//! specific key wins) or by the registry; an entry holds a base64
//! `user:password` in `auth` (or `username` and `password`), and may hold an
//! `identitytoken`: an OAuth2 refresh token exchanged at the token
//! endpoint. Helpers are the `docker-credential-NAME` programs, asked with
//! `get`. Secrets are never formatted into errors or output:
//! [`Credentials`]'s `Debug` hides them, and errors about a file give its
//! path, the key and a line and column, never a value.

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
    /// An OAuth2 refresh token (`identitytoken`): token endpoints get it
    /// in a `grant_type=refresh_token` POST instead of Basic credentials.
    pub identity_token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.identity_token.is_some() {
            "<identity token>"
        } else {
            "<secret>"
        };
        write!(f, "Credentials({}, {kind})", self.username)
    }
}

impl Credentials {
    /// A user name and password.
    pub fn new(username: impl Into<String>, secret: impl Into<String>) -> Credentials {
        Credentials {
            username: username.into(),
            secret: secret.into(),
            identity_token: None,
        }
    }

    /// The HTTP Basic `Authorization` header value.
    pub fn basic(&self) -> String {
        let raw = format!("{}:{}", self.username, self.secret);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

/// Credentials found in a file, and where: the file and the key, or the
/// helper (for `--verbose`; never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The credentials.
    pub credentials: Credentials,
    /// `FILE auths["KEY"]`, `FILE credHelpers: docker-credential-NAME`, …
    pub origin: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct AuthFile {
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
    identitytoken: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HelperAnswer {
    username: String,
    secret: String,
}

/// The largest credential file read (reading stops there).
pub const MAX_AUTH_FILE_BYTES: u64 = 1 << 20;

/// Where the Docker configuration file is: `$DOCKER_CONFIG/config.json`,
/// else `$HOME/.docker/config.json`.
pub fn docker_config_path() -> Option<PathBuf> {
    if let Some(dir) = env_path("DOCKER_CONFIG") {
        return Some(dir.join("config.json"));
    }
    env_path("HOME").map(|h| h.join(".docker/config.json"))
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
}

/// The credential files read when no `--authfile` is given, in order, as
/// containers-auth.json(5) orders them: `$REGISTRY_AUTH_FILE` alone when it
/// is set; else `$XDG_RUNTIME_DIR/containers/auth.json` (without
/// `XDG_RUNTIME_DIR`: `/run/containers/UID/auth.json`), then
/// `$XDG_CONFIG_HOME/containers/auth.json` (default
/// `~/.config/containers/auth.json`), then the Docker configuration file
/// ([`docker_config_path`]). Files that do not exist are skipped.
pub fn default_auth_files() -> Vec<PathBuf> {
    if let Some(f) = env_path("REGISTRY_AUTH_FILE") {
        return vec![f];
    }
    let mut files = Vec::new();
    match env_path("XDG_RUNTIME_DIR") {
        Some(d) => files.push(d.join("containers/auth.json")),
        None => {
            // The user this process runs as: the owner of /proc/self.
            #[cfg(unix)]
            if let Ok(m) = std::fs::metadata("/proc/self") {
                use std::os::unix::fs::MetadataExt as _;
                files.push(PathBuf::from(format!(
                    "/run/containers/{}/auth.json",
                    m.uid()
                )));
            }
        }
    }
    match env_path("XDG_CONFIG_HOME") {
        Some(d) => files.push(d.join("containers/auth.json")),
        None => {
            if let Some(h) = env_path("HOME") {
                files.push(h.join(".config/containers/auth.json"));
            }
        }
    }
    files.extend(docker_config_path());
    files
}

/// The keys a registry may be stored under in `auths` and `credHelpers`.
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

/// The host a URL-shaped key (`https://host/v1/`) names, as Docker and
/// containers/image read such keys; `None` for a plain key.
fn url_key_host(key: &str) -> Option<&str> {
    let rest = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))?;
    let host = rest.split('/').next().unwrap_or("");
    Some(match host {
        "index.docker.io" | "registry-1.docker.io" => crate::reference::DOCKER_HUB,
        h => h,
    })
}

/// A problem reading credentials. The message never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("credentials for {registry}: {problem}")]
pub struct CredentialsError {
    /// The registry.
    pub registry: String,
    /// What went wrong.
    pub problem: String,
    /// Whether a credential file is unreadable or malformed (invalid
    /// input), rather than a helper failing.
    pub malformed: bool,
}

/// Reads one credential file; `None` when it does not exist.
fn read_auth_file(path: &Path) -> Result<Option<Vec<u8>>, String> {
    match crate::read::read_file(path, MAX_AUTH_FILE_BYTES, "") {
        Ok(b) => Ok(Some(b)),
        Err(crate::SourceError::Io { err, .. }) if err.kind() == std::io::ErrorKind::NotFound => {
            Ok(None)
        }
        Err(e) => Err(e.to_string()),
    }
}

/// What one credential file (`auth.json` or Docker's `config.json`) says
/// for a registry and repository, before any helper is run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileChoice {
    /// The `credHelpers` entry naming the registry: when set, only that
    /// helper is asked, and when it has nothing the next file is read.
    pub cred_helper: Option<String>,
    /// `credsStore`, asked first when no `credHelpers` entry applies.
    pub creds_store: Option<String>,
    /// The `auths` key and its credentials, used when no helper answers
    /// (never read when `cred_helper` is set).
    pub entry: Option<(String, Credentials)>,
}

/// Parses one credential file's bytes and picks what applies to
/// `repository` of `registry` (see [`lookup`] for the order). No helper
/// is run and nothing is read. Errors give a position or the `auths` key,
/// never a value: serde's messages may quote one, which may be a secret.
///
/// ```
/// use ocipick_registry::auth::choose_in;
/// let file = br#"{"auths": {"127.0.0.1:5000/team": {"auth": "dTpw"}}}"#;
/// let c = choose_in(file, "127.0.0.1:5000", "team/app").unwrap();
/// let (key, creds) = c.entry.unwrap();
/// assert_eq!(key, "127.0.0.1:5000/team");
/// assert_eq!((creds.username.as_str(), creds.secret.as_str()), ("u", "p"));
/// ```
pub fn choose_in(bytes: &[u8], registry: &str, repository: &str) -> Result<FileChoice, String> {
    let file: AuthFile = serde_json::from_slice(bytes).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Data => "a value of the wrong type",
            serde_json::error::Category::Eof => "unexpected end of the file",
            _ => "invalid JSON",
        };
        format!(
            "not a valid auth.json/config.json file ({what} at line {} column {})",
            e.line(),
            e.column()
        )
    })?;
    let keys = auth_keys(registry);
    if let Some(helper) = keys.iter().find_map(|k| file.cred_helpers.get(k)) {
        return Ok(FileChoice {
            cred_helper: Some(helper.clone()),
            ..FileChoice::default()
        });
    }
    let mut candidates: Vec<String> = Vec::new();
    let mut namespace = format!("{registry}/{repository}");
    while namespace.len() > registry.len() && !repository.is_empty() {
        candidates.push(namespace.clone());
        match namespace.rsplit_once('/') {
            Some((up, _)) => namespace = up.to_owned(),
            None => break,
        }
    }
    candidates.extend(keys);
    let key = candidates
        .iter()
        .find(|k| file.auths.contains_key(k.as_str()))
        .cloned()
        .or_else(|| {
            file.auths
                .keys()
                .find(|k| url_key_host(k) == Some(registry))
                .cloned()
        });
    let entry = match key {
        Some(key) => decode_entry(&file.auths[&key])
            .map_err(|p| format!("auths[{key:?}]: {p}"))?
            .map(|c| (key, c)),
        None => None,
    };
    Ok(FileChoice {
        cred_helper: None,
        creds_store: file.creds_store,
        entry,
    })
}

/// Looks up credentials for `repository` of `registry` in `files`, in
/// order: the first file that has some wins. In each file: the registry's
/// `credHelpers` entry, else `credsStore`, else `auths`, where
/// `REGISTRY/NAMESPACE/…` keys are tried most specific first, then the
/// registry's own keys (plain or URL-shaped). An entry without `auth`,
/// `username`/`password` or `identitytoken` (Docker writes `{}` next to a
/// helper) does not count. Missing files are skipped.
pub fn lookup(
    files: &[PathBuf],
    registry: &str,
    repository: &str,
) -> Result<Option<Found>, CredentialsError> {
    let err = |problem: String| CredentialsError {
        registry: registry.to_owned(),
        problem,
        malformed: true,
    };
    for path in files {
        let Some(bytes) = read_auth_file(path).map_err(err)? else {
            continue;
        };
        let choice = choose_in(&bytes, registry, repository)
            .map_err(|p| err(format!("{}: {p}", path.display())))?;
        if let Some(helper) = choice.cred_helper {
            if let Some(c) = run_helper(&helper, registry)? {
                return Ok(Some(Found {
                    credentials: c,
                    origin: format!("{} credHelpers: docker-credential-{helper}", path.display()),
                }));
            }
            continue;
        }
        if let Some(store) = &choice.creds_store {
            if let Some(c) = run_helper(store, registry)? {
                return Ok(Some(Found {
                    credentials: c,
                    origin: format!("{} credsStore: docker-credential-{store}", path.display()),
                }));
            }
        }
        if let Some((key, credentials)) = choice.entry {
            return Ok(Some(Found {
                credentials,
                origin: format!("{} auths[{key:?}]", path.display()),
            }));
        }
    }
    Ok(None)
}

/// The credentials of one `auths` entry; `None` for an empty one.
fn decode_entry(entry: &AuthEntry) -> Result<Option<Credentials>, String> {
    let identity_token = entry.identitytoken.clone().filter(|t| !t.is_empty());
    let (username, secret) = match (&entry.username, &entry.password, &entry.auth) {
        (Some(u), Some(p), _) if !u.is_empty() || !p.is_empty() => (u.clone(), p.clone()),
        (_, _, Some(auth)) if !auth.trim().is_empty() => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|_| "the auth field is not valid base64".to_owned())?;
            let text =
                String::from_utf8(decoded).map_err(|_| "the auth field is not UTF-8".to_owned())?;
            let (u, p) = text
                .split_once(':')
                .ok_or_else(|| "the auth field is not base64 of user:password".to_owned())?;
            (u.to_owned(), p.trim_end_matches('\0').to_owned())
        }
        _ if identity_token.is_some() => (String::new(), String::new()),
        _ => return Ok(None),
    };
    Ok(Some(Credentials {
        username,
        secret,
        identity_token,
    }))
}

/// Looks up credentials for `registry` in the one Docker configuration
/// file at `path` (see [`lookup`]). A missing file means no credentials.
pub fn from_docker_config(
    path: &Path,
    registry: &str,
) -> Result<Option<Credentials>, CredentialsError> {
    Ok(lookup(&[path.to_owned()], registry, "")?.map(|f| f.credentials))
}

/// How long a credential helper may take.
pub const HELPER_TIMEOUT: Duration = Duration::from_secs(10);

/// Asks `docker-credential-NAME get` for `registry`'s credentials.
fn run_helper(name: &str, registry: &str) -> Result<Option<Credentials>, CredentialsError> {
    let err = |problem: String| CredentialsError {
        registry: registry.to_owned(),
        problem,
        malformed: false,
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
    if a.username == "<token>" {
        // Docker's convention: the secret is an identity token.
        return Ok(Some(Credentials {
            username: String::new(),
            secret: String::new(),
            identity_token: Some(a.secret).filter(|t| !t.is_empty()),
        }));
    }
    Ok(Some(Credentials::new(a.username, a.secret)))
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
        assert_eq!(c.identity_token, None);
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

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn user_of(found: Option<Found>) -> Option<String> {
        found.map(|f| f.credentials.username)
    }

    #[test]
    fn auth_json_most_specific_key_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.json");
        std::fs::write(
            &path,
            format!(
                r#"{{"auths":{{
                "reg.example/team/app":{{"auth":"{}"}},
                "reg.example/team":{{"auth":"{}"}},
                "reg.example":{{"auth":"{}"}},
                "https://other.example/v1/":{{"auth":"{}"}}}}}}"#,
                b64("app:1"),
                b64("team:2"),
                b64("reg:3"),
                b64("url:4")
            ),
        )
        .unwrap();
        let files = [path.clone()];
        let user = |reg: &str, repo: &str| user_of(lookup(&files, reg, repo).unwrap());
        assert_eq!(user("reg.example", "team/app").as_deref(), Some("app"));
        assert_eq!(user("reg.example", "team/app/sub").as_deref(), Some("app"));
        assert_eq!(user("reg.example", "team/other").as_deref(), Some("team"));
        // A key is a whole path component, never a prefix of one.
        assert_eq!(user("reg.example", "teamwork/x").as_deref(), Some("reg"));
        assert_eq!(user("reg.example", "").as_deref(), Some("reg"));
        // URL-shaped keys name their host.
        assert_eq!(user("other.example", "a/b").as_deref(), Some("url"));
        assert_eq!(user("third.example", "a/b"), None);
        let found = lookup(&files, "reg.example", "team/x").unwrap().unwrap();
        assert_eq!(
            found.origin,
            format!("{} auths[\"reg.example/team\"]", path.display())
        );
        assert_eq!(found.credentials.secret, "2");
    }

    #[test]
    fn files_are_read_in_order_and_empty_entries_do_not_count() {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("first.json");
        let second = dir.path().join("second.json");
        let missing = dir.path().join("missing.json");
        std::fs::write(
            &first,
            format!(
                r#"{{"auths":{{"a.example":{{"auth":"{}"}},"b.example":{{}}}}}}"#,
                b64("first:x")
            ),
        )
        .unwrap();
        std::fs::write(
            &second,
            format!(
                r#"{{"auths":{{"a.example":{{"auth":"{}"}},"b.example":{{"auth":"{}"}}}}}}"#,
                b64("second:y"),
                b64("second-b:z")
            ),
        )
        .unwrap();
        let files = [missing, first, second];
        let user = |reg: &str| user_of(lookup(&files, reg, "x/y").unwrap());
        assert_eq!(user("a.example").as_deref(), Some("first"));
        assert_eq!(user("b.example").as_deref(), Some("second-b"));
        assert_eq!(user("c.example"), None);
    }

    #[test]
    fn identity_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            format!(
                r#"{{"auths":{{"a.example":{{"auth":"{}","identitytoken":"refresh-1"}},
                "b.example":{{"identitytoken":"refresh-2"}}}}}}"#,
                b64("alice:")
            ),
        )
        .unwrap();
        let files = [path];
        let a = lookup(&files, "a.example", "r")
            .unwrap()
            .unwrap()
            .credentials;
        assert_eq!(a.username, "alice");
        assert_eq!(a.identity_token.as_deref(), Some("refresh-1"));
        let b = lookup(&files, "b.example", "r")
            .unwrap()
            .unwrap()
            .credentials;
        assert_eq!(b.identity_token.as_deref(), Some("refresh-2"));
        assert!(!format!("{b:?}").contains("refresh-2"));
    }

    #[test]
    fn malformed_files_name_the_file_and_never_a_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.json");
        for (text, needle) in [
            (
                r#"{"auths":{"a.example":"c2VjcmV0LXZhbHVl"}}"#,
                "wrong type",
            ),
            (
                r#"{"auths":{"a.example":{"auth":"c2VjcmV0LXZhbHVl""#,
                "end of the file",
            ),
            (r#"{"auths": c2VjcmV0LXZhbHVl}"#, "invalid JSON"),
            (
                r#"{"auths":{"a.example":{"auth":"%%c2VjcmV0LXZhbHVl"}}}"#,
                "not valid base64",
            ),
            (
                r#"{"auths":{"a.example":{"auth":"c2VjcmV0LXZhbHVl"}}}"#,
                "user:password",
            ),
        ] {
            std::fs::write(&path, text).unwrap();
            let e = lookup(std::slice::from_ref(&path), "a.example", "r").unwrap_err();
            let msg = e.to_string();
            assert!(e.malformed, "{msg}");
            assert!(msg.contains(&path.display().to_string()), "{msg}");
            assert!(msg.contains(needle), "{text}: {msg}");
            assert!(
                !msg.contains("c2VjcmV0LXZhbHVl") && !msg.contains("secret-value"),
                "{msg}"
            );
        }
        // Over the size limit: refused while reading.
        std::fs::write(&path, vec![b' '; MAX_AUTH_FILE_BYTES as usize + 1]).unwrap();
        let e = lookup(std::slice::from_ref(&path), "a.example", "r").unwrap_err();
        assert!(e.to_string().contains("limit"), "{e}");
    }
}
