//! A registry client that does exactly what selection needs: fetch one
//! manifest (the index) by tag or digest, authenticated, verified and
//! bounded.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ocipick::media_type;
use ocipick::Digest;
use ureq::http::Response;

use crate::auth::{self, Challenge, Credentials};
use crate::reference::Reference;

mod upload;
pub use upload::Pushed;

/// The `Accept` header of manifest requests: indexes first, then single
/// manifests, so a registry that stores only one can still answer.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// Where `--verbose` lines go: one per HTTP request and answer, and one
/// for each credential and TLS source used. Lines never hold a secret:
/// no headers, no bodies, and URLs without their query strings or user
/// information.
#[derive(Clone, Default)]
pub struct Trace(Option<Arc<TraceSink>>);

/// What receives [`Trace`] lines.
type TraceSink = dyn Fn(&str) + Send + Sync;

impl Trace {
    /// Sends every line to `sink`.
    pub fn new(sink: impl Fn(&str) + Send + Sync + 'static) -> Trace {
        Trace(Some(Arc::new(sink)))
    }

    /// Whether lines go anywhere.
    pub fn enabled(&self) -> bool {
        self.0.is_some()
    }

    fn line(&self, text: impl FnOnce() -> String) {
        if let Some(sink) = &self.0 {
            sink(&text());
        }
    }
}

impl std::fmt::Debug for Trace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.enabled() {
            "Trace(on)"
        } else {
            "Trace(off)"
        })
    }
}

/// A URL fit for a log line: without user information and with any query
/// string replaced by `?…` (token realms and redirects may carry secrets
/// there).
///
/// ```
/// use ocipick_registry::redact_url;
/// assert_eq!(redact_url("https://u:p@a.example/token?scope=x"), "https://…@a.example/token?…");
/// assert_eq!(redact_url("http://127.0.0.1:5000/v2/a/manifests/v1"), "http://127.0.0.1:5000/v2/a/manifests/v1");
/// ```
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, _)) => (b, "?…"),
        None => (url, ""),
    };
    let (scheme, rest) = base.split_once("://").unwrap_or(("", base));
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((_, host)) => format!("…@{host}"),
        None => authority.to_owned(),
    };
    let sep = if scheme.is_empty() { "" } else { "://" };
    format!("{scheme}{sep}{authority}{path}{query}")
}

/// The OAuth2 `client_id` of refresh-token requests.
pub const OAUTH_CLIENT_ID: &str = "ocipick";

/// How the client talks to registries.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// PEM file of the CA certificates to trust instead of the system's.
    pub ca_file: Option<PathBuf>,
    /// Registries (`host[:port]`) to reach over plain HTTP.
    pub plain_http: BTreeSet<String>,
    /// Credentials given on the command line; they win over the Docker
    /// configuration file.
    pub credentials: Option<Credentials>,
    /// The one registry `credentials` are for; `None` sends them to any
    /// registry that asks (a command that talks to one registry).
    pub credentials_registry: Option<String>,
    /// The credential files to read, in order ([`auth::lookup`]): by
    /// default [`auth::default_auth_files`].
    pub auth_files: Vec<PathBuf>,
    /// The largest manifest body accepted; reading stops past it.
    pub max_bytes: u64,
    /// Connection timeout.
    pub connect_timeout: Duration,
    /// Timeout for each read of a response; one whole request (connect,
    /// answer, body) may take at most twice this.
    pub read_timeout: Duration,
    /// Retries after connection errors, 429 and 5xx answers.
    pub retries: u32,
    /// First backoff delay; doubles on every retry.
    pub backoff: Duration,
    /// The longest `Retry-After` honoured; a longer one ends the retries.
    pub max_retry_after: Duration,
    /// Where `--verbose` lines go (nowhere by default).
    pub trace: Trace,
    /// One directory of TLS material for every registry (skopeo's
    /// `--cert-dir`), instead of the `certs_d` directories.
    pub cert_dir: Option<PathBuf>,
    /// Where each registry's TLS directory `ROOT/HOST[:PORT]` is looked up,
    /// in order, the first that exists winning: by default
    /// [`crate::CERTS_D`].
    pub certs_d: Vec<PathBuf>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            ca_file: None,
            plain_http: BTreeSet::new(),
            credentials: None,
            credentials_registry: None,
            auth_files: auth::default_auth_files(),
            max_bytes: 4 << 20,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            retries: 3,
            backoff: Duration::from_millis(200),
            max_retry_after: Duration::from_secs(10),
            trace: Trace::default(),
            cert_dir: None,
            certs_d: crate::certs::CERTS_D.iter().map(PathBuf::from).collect(),
        }
    }
}

/// A failure talking to a registry. Messages name the registry, repository
/// and HTTP status; they never contain credentials or tokens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// The registry could not be reached or the connection failed.
    #[error("{registry}/{repository}: {detail}")]
    Transport {
        /// Registry host.
        registry: String,
        /// Repository.
        repository: String,
        /// What failed.
        detail: String,
        /// Whether the last attempt failed by timing out (rather than being
        /// refused or cut off).
        timed_out: bool,
    },
    /// The registry answered with an error status.
    #[error("{registry}/{repository}: {what}: HTTP {status}{detail}")]
    Status {
        /// Registry host.
        registry: String,
        /// Repository.
        repository: String,
        /// What was asked for.
        what: String,
        /// HTTP status.
        status: u16,
        /// The registry's error code and message, if it sent some.
        detail: String,
    },
    /// The answer broke a rule (digest, media type, size).
    #[error("{registry}/{repository}: {what}: {problem}")]
    Invalid {
        /// Registry host.
        registry: String,
        /// Repository.
        repository: String,
        /// What was asked for.
        what: String,
        /// What is wrong.
        problem: String,
    },
    /// Credentials could not be read or were refused.
    #[error("{0}")]
    Auth(String),
    /// The TLS configuration could not be built (e.g. a bad `--ca-file`).
    #[error("{0}")]
    Setup(String),
}

/// A manifest as the registry served it.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The body, byte for byte.
    pub bytes: Vec<u8>,
    /// The media type (from `Content-Type`, checked against the body).
    pub media_type: String,
    /// The digest of the body (sha256, or the algorithm of the digest
    /// asked for).
    pub digest: Digest<'static>,
}

/// What a registry answered to a manifest request.
#[derive(Debug, Clone)]
pub enum ManifestAnswer {
    /// The manifest, checked.
    Manifest(Fetched),
    /// An HTTP error status.
    Refused(Refusal),
}

/// A registry's refusal of a request, as it sent it.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The HTTP status (not 200).
    pub status: u16,
    /// Its `Content-Type`.
    pub content_type: Option<String>,
    /// The first 16 KiB of its body (usually `{"errors":[…]}`).
    pub body: Vec<u8>,
    /// The same refusal as an error, for messages.
    pub error: RegistryError,
}

thread_local! {
    /// Where [`counting_requests`] counts this thread's requests.
    static REQUEST_SINK: RefCell<Option<Arc<AtomicU32>>> = const { RefCell::new(None) };
}

/// Runs `f`, adding to `sink` every HTTP request (token requests and
/// retries included) that this thread sends meanwhile through any
/// [`Client`]. Unlike a difference of [`Client::stats`], the count is
/// exact while other threads use the same client (the mirror's
/// signature reads), and `sink` can be read from another thread while `f`
/// runs.
pub(crate) fn counting_requests<T>(sink: &Arc<AtomicU32>, f: impl FnOnce() -> T) -> T {
    let before = REQUEST_SINK.with(|s| s.replace(Some(sink.clone())));
    let out = f();
    REQUEST_SINK.with(|s| *s.borrow_mut() = before);
    out
}

/// Request counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Every HTTP request sent, retries and token requests included.
    pub requests: u32,
    /// Manifest GETs that returned a manifest.
    pub manifests: u32,
}

/// A registry client. One per run; it remembers tokens, which loopback
/// registries speak plain HTTP and which have no referrers API.
pub struct Client {
    agent: ureq::Agent,
    opts: ClientOptions,
    stats: Mutex<Stats>,
    auth_headers: Mutex<BTreeMap<String, String>>,
    plain: Mutex<BTreeSet<String>>,
    /// Registries whose referrers API answered 404: they lack it (a
    /// registry that has it never answers 404 there, distribution-spec
    /// 1.1), so later listings go to the tag schema at once.
    no_referrers_api: Mutex<BTreeSet<String>>,
    creds: Mutex<BTreeMap<String, Option<Credentials>>>,
    /// The roots every request trusts: `--ca-file`'s, or the platform's.
    roots: ureq::tls::RootCerts,
    /// `--ca-file`'s certificates, which a certs.d directory's add to.
    ca_certs: Option<Vec<ureq::tls::Certificate<'static>>>,
    /// Each registry's own TLS configuration, from its certificate
    /// directory (`None`: the agent's).
    tls: Mutex<BTreeMap<String, Option<ureq::tls::TlsConfig>>>,
}

/// `req` with `tls` as its TLS configuration, when there is one.
fn with_tls<B>(
    req: ureq::RequestBuilder<B>,
    tls: &Option<ureq::tls::TlsConfig>,
) -> ureq::RequestBuilder<B> {
    match tls {
        Some(t) => req.config().tls_config(t.clone()).build(),
        None => req,
    }
}

/// The request methods the client sends.
#[derive(Clone, Copy)]
enum Method<'b> {
    Get,
    Head,
    Put {
        body: &'b [u8],
        content_type: &'b str,
    },
    /// A POST without a body (a blob upload's start).
    Post,
    /// A GET or HEAD whose body is read by the caller, as long as it
    /// takes: no per-call deadline, only the per-read timeout; `headers`
    /// (checked by [`Client::forward`]) are sent as well.
    Stream {
        head: bool,
        headers: &'b [(&'b str, &'b str)],
    },
}

impl Method<'_> {
    fn name(&self) -> &'static str {
        match self {
            Method::Get | Method::Stream { head: false, .. } => "GET",
            Method::Head | Method::Stream { head: true, .. } => "HEAD",
            Method::Put { .. } => "PUT",
            Method::Post => "POST",
        }
    }
}

/// `N ms` of an elapsed time.
fn millis(started: std::time::Instant) -> String {
    format!("{} ms", started.elapsed().as_millis())
}

struct Target<'r> {
    reference: &'r Reference,
    what: String,
}

impl Target<'_> {
    fn err_status(&self, status: u16, detail: String) -> RegistryError {
        RegistryError::Status {
            registry: self.reference.registry.clone(),
            repository: self.reference.repository.clone(),
            what: self.what.clone(),
            status,
            detail,
        }
    }
    fn err_transport(&self, detail: String) -> RegistryError {
        self.err_transport_timed(detail, false)
    }
    fn err_transport_timed(&self, detail: String, timed_out: bool) -> RegistryError {
        RegistryError::Transport {
            registry: self.reference.registry.clone(),
            repository: self.reference.repository.clone(),
            detail,
            timed_out,
        }
    }
    fn err_invalid(&self, problem: String) -> RegistryError {
        RegistryError::Invalid {
            registry: self.reference.registry.clone(),
            repository: self.reference.repository.clone(),
            what: self.what.clone(),
            problem,
        }
    }
}

/// Locks a mutex of the client's caches; a thread that panicked while
/// holding one left plain data behind, still usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn header(resp: &Response<ureq::Body>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The registry's `{"errors":[{"code","message"}]}`, shortened, if any.
fn error_detail(resp: &mut Response<ureq::Body>) -> String {
    let mut buf = Vec::new();
    let _ = resp
        .body_mut()
        .as_reader()
        .take(16 * 1024)
        .read_to_end(&mut buf);
    error_detail_of(&buf)
}

/// [`error_detail`] of a body already read.
fn error_detail_of(buf: &[u8]) -> String {
    let v: serde_json::Value = match serde_json::from_slice(buf) {
        Ok(v) => v,
        Err(_) => return String::new(),
    };
    let Some(first) = v.get("errors").and_then(|e| e.get(0)) else {
        return String::new();
    };
    let code = first.get("code").and_then(|c| c.as_str()).unwrap_or("");
    let msg = first.get("message").and_then(|c| c.as_str()).unwrap_or("");
    let mut s = format!(" ({code}: {msg})");
    s.truncate(200);
    s
}

/// A transport error for messages: timeouts read "timed out (PHASE)".
fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(t) => format!("timed out ({t})"),
        other => other.to_string(),
    }
}

/// [`describe`], with a hint when the server refused the handshake over
/// the client certificate: none was presented, or this one was refused.
fn describe_tls(e: &ureq::Error, tls: &Option<ureq::tls::TlsConfig>) -> String {
    let text = describe(e);
    if !(text.contains("BadCertificate") || text.contains("CertificateRequired")) {
        return text;
    }
    match tls.as_ref().and_then(|t| t.client_cert()) {
        None => format!(
            "{text} (the registry may require a client certificate: put client.cert and client.key in its certs.d directory or --cert-dir)"
        ),
        Some(_) => format!("{text} (the registry refused the client certificate)"),
    }
}

/// Parses `Retry-After` as delay-seconds (HTTP dates are not honoured).
fn retry_after(resp: &Response<ureq::Body>) -> Option<Duration> {
    header(resp, "retry-after")?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

impl Client {
    /// Builds a client. Fails only on a bad `ca_file`; a registry's bad
    /// certificate directory fails its requests.
    pub fn new(opts: ClientOptions) -> Result<Client, RegistryError> {
        let ca_certs = match &opts.ca_file {
            None => None,
            Some(path) => Some(
                crate::certs::certificates(path)
                    .map_err(|e| RegistryError::Setup(format!("--ca-file {e}")))?,
            ),
        };
        let roots = match &ca_certs {
            None => ureq::tls::RootCerts::PlatformVerifier,
            Some(certs) => ureq::tls::RootCerts::new_with_certs(certs),
        };
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(roots.clone())
            .build();
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .tls_config(tls)
            .timeout_connect(Some(opts.connect_timeout))
            .timeout_per_read(Some(opts.read_timeout))
            .timeout_recv_response(Some(opts.read_timeout))
            // A server that trickles bytes cannot stretch one request past
            // twice the timeout.
            .timeout_per_call(Some(opts.read_timeout * 2))
            .user_agent(concat!("ocipick/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Client {
            agent: config.into(),
            opts,
            stats: Mutex::new(Stats::default()),
            auth_headers: Mutex::new(BTreeMap::new()),
            plain: Mutex::new(BTreeSet::new()),
            no_referrers_api: Mutex::new(BTreeSet::new()),
            creds: Mutex::new(BTreeMap::new()),
            roots,
            ca_certs,
            tls: Mutex::new(BTreeMap::new()),
        })
    }

    /// The `--verbose` line of one answer: method, URL (redacted), status,
    /// body length (its `Content-Length`) and time taken, or the error.
    fn trace_answer(
        &self,
        method: &str,
        url: &str,
        result: &Result<Response<ureq::Body>, ureq::Error>,
        started: std::time::Instant,
    ) {
        self.opts.trace.line(|| match result {
            Ok(resp) => format!(
                "{method} {} -> {} ({}, {})",
                redact_url(url),
                resp.status().as_u16(),
                match header(resp, "content-length") {
                    Some(n) => format!("{n} bytes"),
                    None => "length unknown".to_owned(),
                },
                millis(started)
            ),
            Err(e) => format!(
                "{method} {} -> failed: {} ({})",
                redact_url(url),
                describe(e),
                millis(started)
            ),
        });
    }

    /// `registry`'s TLS configuration from its certificate directory
    /// (read once; `None` when it has none): the directory's `*.crt` CAs
    /// added to the usual roots, and its client certificate.
    fn tls_for(&self, registry: &str) -> Result<Option<ureq::tls::TlsConfig>, RegistryError> {
        if let Some(t) = lock(&self.tls).get(registry) {
            return Ok(t.clone());
        }
        let Some(dir) =
            crate::certs::find(self.opts.cert_dir.as_deref(), &self.opts.certs_d, registry)
        else {
            lock(&self.tls).insert(registry.to_owned(), None);
            return Ok(None);
        };
        let found = crate::certs::load(&dir).map_err(RegistryError::Setup)?;
        self.opts.trace.line(|| {
            format!(
                "TLS for {registry}: {} (CA files: {}; client certificate: {})",
                found.dir.display(),
                if found.ca_files.is_empty() {
                    "none".to_owned()
                } else {
                    found.ca_files.join(", ")
                },
                found.client.as_ref().map_or("none", |c| c.2.as_str())
            )
        });
        let tls = if found.cas.is_empty() && found.client.is_none() {
            None
        } else {
            let roots = if found.cas.is_empty() {
                self.roots.clone()
            } else {
                let mut all = match &self.ca_certs {
                    Some(c) => c.clone(),
                    None => crate::certs::system_roots(),
                };
                all.extend(found.cas);
                ureq::tls::RootCerts::new_with_certs(&all)
            };
            let client = found
                .client
                .map(|(chain, key, _)| ureq::tls::ClientCert::new_with_certs(&chain, key));
            Some(
                ureq::tls::TlsConfig::builder()
                    .root_certs(roots)
                    .client_cert(client)
                    .build(),
            )
        };
        lock(&self.tls).insert(registry.to_owned(), tls.clone());
        Ok(tls)
    }

    /// The largest manifest body accepted ([`ClientOptions::max_bytes`]).
    pub fn max_bytes(&self) -> u64 {
        self.opts.max_bytes
    }

    /// Requests made so far.
    pub fn stats(&self) -> Stats {
        *lock(&self.stats)
    }

    /// Whether `registry`'s referrers API answered 404 before.
    pub(crate) fn lacks_referrers_api(&self, registry: &str) -> bool {
        lock(&self.no_referrers_api).contains(registry)
    }

    /// Remembers that `registry` has no referrers API.
    pub(crate) fn note_no_referrers_api(&self, registry: &str) {
        lock(&self.no_referrers_api).insert(registry.to_owned());
    }

    fn count(&self, manifest: bool) {
        let mut s = lock(&self.stats);
        if manifest {
            s.manifests += 1;
        } else {
            s.requests += 1;
            REQUEST_SINK.with(|sink| {
                if let Some(c) = sink.borrow().as_ref() {
                    c.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    }

    fn scheme(&self, r: &Reference) -> &'static str {
        if self.opts.plain_http.contains(&r.registry) || lock(&self.plain).contains(&r.registry) {
            "http"
        } else {
            "https"
        }
    }

    /// The credentials for `r`'s repository: the command line's, else the
    /// first the credential files hold (looked up once per repository).
    fn credentials(&self, r: &Reference) -> Result<Option<Credentials>, RegistryError> {
        if let Some(c) = &self.opts.credentials {
            match &self.opts.credentials_registry {
                Some(only) if *only != r.registry => {}
                _ => {
                    self.opts.trace.line(|| {
                        format!(
                            "credentials for {}/{}: --username {}",
                            r.registry, r.repository, c.username
                        )
                    });
                    return Ok(Some(c.clone()));
                }
            }
        }
        let key = format!("{}/{}", r.registry, r.repository);
        if let Some(c) = lock(&self.creds).get(&key) {
            return Ok(c.clone());
        }
        let found =
            auth::lookup(&self.opts.auth_files, &r.registry, &r.repository).map_err(|e| {
                if e.malformed {
                    RegistryError::Setup(e.to_string())
                } else {
                    RegistryError::Auth(e.to_string())
                }
            })?;
        self.opts.trace.line(|| match &found {
            Some(f) => format!(
                "credentials for {key}: {}{}",
                f.origin,
                if f.credentials.identity_token.is_some() {
                    " (identity token)"
                } else {
                    ""
                }
            ),
            None => format!(
                "credentials for {key}: none in {}",
                if self.opts.auth_files.is_empty() {
                    "(no credential files)".to_owned()
                } else {
                    self.opts
                        .auth_files
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ),
        });
        let found = found.map(|f| f.credentials);
        lock(&self.creds).insert(key, found.clone());
        Ok(found)
    }

    /// One request with retries on connection errors, 429 and 5xx, and
    /// the HTTPS→HTTP fallback for loopback registries: GET, HEAD, a PUT
    /// of a body, or a streamed GET/HEAD.
    fn send_method(
        &self,
        t: &Target<'_>,
        url_for: &dyn Fn(&str) -> String,
        method: Method<'_>,
        accept: &str,
        authorization: Option<&str>,
    ) -> Result<Response<ureq::Body>, RegistryError> {
        let r = t.reference;
        let tls = self.tls_for(&r.registry)?;
        let mut attempt = 0;
        // The HTTPS error of a loopback registry, while plain HTTP is tried.
        let mut https_error: Option<String> = None;
        loop {
            let scheme = if https_error.is_some() {
                "http"
            } else {
                self.scheme(r)
            };
            self.count(false);
            let url = url_for(scheme);
            let started = std::time::Instant::now();
            let result = match method {
                Method::Get | Method::Head => {
                    let mut req = match method {
                        Method::Head => self.agent.head(&url),
                        _ => self.agent.get(&url),
                    }
                    .header("Accept", accept);
                    if let Some(a) = authorization {
                        req = req.header("Authorization", a);
                    }
                    with_tls(req, &tls).call()
                }
                Method::Stream { head, headers } => {
                    let mut req = if head {
                        self.agent.head(&url)
                    } else {
                        self.agent.get(&url)
                    }
                    .header("Accept", accept);
                    if let Some(a) = authorization {
                        req = req.header("Authorization", a);
                    }
                    for (name, value) in headers {
                        req = req.header(*name, *value);
                    }
                    with_tls(req, &tls)
                        .config()
                        .timeout_per_call(None)
                        .build()
                        .call()
                }
                Method::Put { body, content_type } => {
                    let mut req = self
                        .agent
                        .put(&url)
                        .header("Accept", accept)
                        .header("Content-Type", content_type);
                    if let Some(a) = authorization {
                        req = req.header("Authorization", a);
                    }
                    with_tls(req, &tls).send(body)
                }
                Method::Post => {
                    let mut req = self.agent.post(&url).header("Accept", accept);
                    if let Some(a) = authorization {
                        req = req.header("Authorization", a);
                    }
                    with_tls(req, &tls).send_empty()
                }
            };
            self.trace_answer(method.name(), &url, &result, started);
            match result {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    if let Some(e) = &https_error {
                        if status == 400 {
                            // A TLS port answers plain HTTP with 400: the
                            // HTTPS failure is the one worth reporting.
                            return Err(t.err_transport(format!(
                                "{}: https: {e}; plain HTTP answered 400",
                                t.what
                            )));
                        }
                        // Plain HTTP works here: use it for the rest of the run.
                        lock(&self.plain).insert(r.registry.clone());
                        https_error = None;
                    }
                    if (status == 429 || status >= 500) && attempt < self.opts.retries {
                        let wait =
                            retry_after(&resp).unwrap_or(self.opts.backoff * 2u32.pow(attempt));
                        if wait > self.opts.max_retry_after {
                            return Ok(resp);
                        }
                        std::thread::sleep(wait);
                        attempt += 1;
                        continue;
                    }
                    return Ok(resp);
                }
                Err(e) => {
                    if scheme == "https" && r.is_loopback() && https_error.is_none() {
                        // As Docker does for loopback registries: plain HTTP
                        // after HTTPS fails.
                        https_error = Some(describe_tls(&e, &tls));
                        continue;
                    }
                    let transient = matches!(
                        e,
                        ureq::Error::ConnectionFailed
                            | ureq::Error::Io(_)
                            | ureq::Error::HostNotFound
                    );
                    if let Some(he) = &https_error {
                        if !(transient && attempt < self.opts.retries) {
                            return Err(t.err_transport_timed(
                                format!("{}: https: {he}; plain HTTP: {}", t.what, describe(&e)),
                                matches!(e, ureq::Error::Timeout(_)),
                            ));
                        }
                    }
                    if transient && attempt < self.opts.retries {
                        std::thread::sleep(self.opts.backoff * 2u32.pow(attempt));
                        attempt += 1;
                        continue;
                    }
                    return Err(t.err_transport_timed(
                        format!("{}: {}", t.what, describe_tls(&e, &tls)),
                        matches!(e, ureq::Error::Timeout(_)),
                    ));
                }
            }
        }
    }

    /// Answers a 401 challenge with a header to retry with: credentials,
    /// or a bearer token for the scope `actions` (`pull`, or `push,pull`
    /// to write).
    fn authenticate_for(
        &self,
        t: &Target<'_>,
        challenge: Option<Challenge>,
        actions: &str,
    ) -> Result<String, RegistryError> {
        let r = t.reference;
        let creds = self.credentials(r)?;
        match challenge {
            Some(Challenge::Basic) => match creds {
                Some(c) if c.identity_token.is_some() && c.secret.is_empty() => Err(t.err_status(
                    401,
                    " (the registry asks for a password, and its credentials hold only an identity token, which token endpoints take)".into(),
                )),
                Some(c) => Ok(c.basic()),
                None => Err(t.err_status(401, " (the registry needs credentials: --username/--password-stdin, --authfile or a Docker config)".into())),
            },
            Some(Challenge::Bearer { realm, service, .. }) => {
                let scope = format!("repository:{}:{actions}", r.repository);
                let realm_is_safe = realm.starts_with("https://")
                    || url_host_is_loopback(&realm)
                    || self.opts.plain_http.iter().any(|h| realm.starts_with(&format!("http://{h}/")));
                // Secrets go only where they cannot be read on the way.
                let creds = creds.filter(|_| realm_is_safe);
                // The token endpoint gets the registry's TLS material, as
                // Docker sends it.
                let tls = self.tls_for(&r.registry)?;
                let refresh = creds.as_ref().and_then(|c| c.identity_token.as_deref());
                let started = std::time::Instant::now();
                self.count(false);
                let (method, sent_to, result) = match refresh {
                    // An identity token is an OAuth2 refresh token: POSTed
                    // as distribution's token spec (oauth.md) says, as
                    // Docker does.
                    Some(refresh_token) => {
                        let mut form = format!(
                            "grant_type=refresh_token&refresh_token={}&client_id={}&scope={}",
                            encode(refresh_token),
                            encode(OAUTH_CLIENT_ID),
                            encode(&scope)
                        );
                        if let Some(s) = &service {
                            form.push_str(&format!("&service={}", encode(s)));
                        }
                        let req = self
                            .agent
                            .post(&realm)
                            .header("Content-Type", "application/x-www-form-urlencoded");
                        ("POST", realm.clone(), with_tls(req, &tls).send(form.as_bytes()))
                    }
                    None => {
                        let mut url = realm.clone();
                        url.push(if realm.contains('?') { '&' } else { '?' });
                        if let Some(s) = &service {
                            url.push_str(&format!("service={}&", encode(s)));
                        }
                        url.push_str(&format!("scope={}", encode(&scope)));
                        let mut req = self.agent.get(&url);
                        if let Some(c) = &creds {
                            req = req.header("Authorization", c.basic());
                        }
                        let result = with_tls(req, &tls).call();
                        ("GET", url, result)
                    }
                };
                self.trace_answer(method, &sent_to, &result, started);
                let mut resp = result
                    .map_err(|e| t.err_transport(format!("token request to {}: {e}", strip_query(&realm))))?;
                let status = resp.status().as_u16();
                if status != 200 {
                    return Err(RegistryError::Auth(format!(
                        "{}/{}: token endpoint {} answered HTTP {status}{}",
                        r.registry,
                        r.repository,
                        strip_query(&realm),
                        if refresh.is_some() { " to the identity token (refresh token)" } else { "" }
                    )));
                }
                let mut body = Vec::new();
                resp.body_mut()
                    .as_reader()
                    .take(1 << 20)
                    .read_to_end(&mut body)
                    .map_err(|e| t.err_transport(format!("token response: {e}")))?;
                #[derive(serde::Deserialize)]
                struct Token {
                    token: Option<String>,
                    access_token: Option<String>,
                }
                let tok: Token = serde_json::from_slice(&body).map_err(|_| {
                    RegistryError::Auth(format!(
                        "{}/{}: the token endpoint answered something that is not a token",
                        r.registry, r.repository
                    ))
                })?;
                let token = tok.token.or(tok.access_token).filter(|t| !t.is_empty()).ok_or_else(|| {
                    RegistryError::Auth(format!("{}/{}: the token endpoint sent no token", r.registry, r.repository))
                })?;
                Ok(format!("Bearer {token}"))
            }
            None => Err(t.err_status(401, " (no usable WWW-Authenticate challenge)".into())),
        }
    }

    /// GETs a manifest of `reference`'s repository by `what` (a tag or a
    /// digest), following one authentication challenge, and checks it:
    /// size within the limit (stopping the read there), the body's digest
    /// against a requested digest and against `Docker-Content-Digest`, and
    /// the `Content-Type` against the body's own `mediaType`.
    pub fn fetch_manifest(
        &self,
        reference: &Reference,
        what: &str,
    ) -> Result<Fetched, RegistryError> {
        match self.fetch_manifest_answer(reference, what)? {
            ManifestAnswer::Manifest(f) => Ok(f),
            ManifestAnswer::Refused(r) => Err(r.error),
        }
    }

    /// [`Client::fetch_manifest`], but a registry's refusal (an HTTP error
    /// status) comes back as [`ManifestAnswer::Refused`] with the status and
    /// the start of the body as the registry sent them, for a mirror to pass
    /// on.
    pub fn fetch_manifest_answer(
        &self,
        reference: &Reference,
        what: &str,
    ) -> Result<ManifestAnswer, RegistryError> {
        let t = Target {
            reference,
            what: format!("manifest {what}"),
        };
        let host = reference.api_host().to_owned();
        let path = format!("/v2/{}/manifests/{what}", reference.repository);
        let url_for = |scheme: &str| format!("{scheme}://{host}{path}");
        let key = format!("{}/{}", reference.registry, reference.repository);
        let mut resp = self.send_authorized(&t, &url_for, Method::Get, key, "pull")?;
        let status = resp.status().as_u16();
        if status != 200 {
            let content_type = header(&resp, "content-type");
            let mut body = Vec::new();
            let _ = resp
                .body_mut()
                .as_reader()
                .take(16 * 1024)
                .read_to_end(&mut body);
            let detail = error_detail_of(&body);
            return Ok(ManifestAnswer::Refused(Refusal {
                status,
                content_type,
                body,
                error: t.err_status(status, detail),
            }));
        }
        let limit = self.opts.max_bytes;
        if let Some(len) = header(&resp, "content-length").and_then(|l| l.parse::<u64>().ok()) {
            if len > limit {
                return Err(t.err_invalid(format!(
                    "Content-Length {len} exceeds the {limit}-byte limit (--max-index-bytes)"
                )));
            }
        }
        let content_type = header(&resp, "content-type")
            .map(|c| c.split(';').next().unwrap_or("").trim().to_owned())
            .unwrap_or_default();
        let header_digest = header(&resp, "docker-content-digest");
        let mut bytes = Vec::new();
        resp.body_mut()
            .as_reader()
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| {
                let timed_out = e.kind() == std::io::ErrorKind::TimedOut
                    || e.get_ref()
                        .and_then(|x| x.downcast_ref::<ureq::Error>())
                        .is_some_and(|u| matches!(u, ureq::Error::Timeout(_)));
                t.err_transport_timed(format!("{}: reading the body: {e}", t.what), timed_out)
            })?;
        if bytes.len() as u64 > limit {
            return Err(t.err_invalid(format!(
                "body exceeds the {limit}-byte limit (--max-index-bytes)"
            )));
        }
        self.count(true);
        let asked = Digest::parse(what.to_owned()).ok();
        let digest = match &asked {
            Some(d) => {
                let actual = d.compute_like(&bytes).ok_or_else(|| {
                    t.err_invalid(format!("cannot verify digest algorithm {}", d.algorithm()))
                })?;
                if &actual != d {
                    return Err(t.err_invalid(format!(
                        "body hashes to {actual}, not the requested digest"
                    )));
                }
                actual
            }
            None => Digest::sha256_of(&bytes),
        };
        if let Some(h) = header_digest.as_deref().filter(|h| !h.is_empty()) {
            let claimed = Digest::parse(h.to_owned()).map_err(|_| {
                t.err_invalid(format!("Docker-Content-Digest {h:?} is not a digest"))
            })?;
            match claimed.compute_like(&bytes) {
                Some(actual) if actual == claimed => {}
                Some(actual) => {
                    return Err(t.err_invalid(format!(
                        "Docker-Content-Digest says {claimed} but the body hashes to {actual}"
                    )))
                }
                None => {}
            }
        }
        let body_type = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| {
                v.get("mediaType")
                    .and_then(|m| m.as_str())
                    .map(str::to_owned)
            });
        let media_type = match (body_type, content_type.is_empty()) {
            (Some(b), false) if b != content_type => {
                return Err(t.err_invalid(format!(
                    "Content-Type {content_type} disagrees with the body's mediaType {b}"
                )))
            }
            (Some(b), _) => b,
            (None, false) => content_type,
            (None, true) => media_type::OCI_INDEX.to_owned(),
        };
        Ok(ManifestAnswer::Manifest(Fetched {
            bytes,
            media_type,
            digest,
        }))
    }
}

impl Client {
    /// Sends a request that may need credentials: with the cached
    /// authorization for `key`, then, after a 401, once more with the
    /// answer to its challenge (a bearer token for `actions`).
    fn send_authorized(
        &self,
        t: &Target<'_>,
        url_for: &dyn Fn(&str) -> String,
        method: Method<'_>,
        key: String,
        actions: &str,
    ) -> Result<Response<ureq::Body>, RegistryError> {
        let cached = lock(&self.auth_headers).get(&key).cloned();
        let mut resp = self.send_method(t, url_for, method, MANIFEST_ACCEPT, cached.as_deref())?;
        if resp.status().as_u16() == 401 {
            let challenge =
                header(&resp, "www-authenticate").and_then(|h| auth::parse_challenge(&h));
            let a = self.authenticate_for(t, challenge, actions)?;
            lock(&self.auth_headers).insert(key, a.clone());
            resp = self.send_method(t, url_for, method, MANIFEST_ACCEPT, Some(&a))?;
        }
        Ok(resp)
    }

    /// Whether `reference`'s repository holds the manifest `digest`: a
    /// HEAD request (authenticated for pull as [`Client::fetch_manifest`]
    /// is). `Ok(false)` on 404; other failures are errors.
    pub fn has_manifest(
        &self,
        reference: &Reference,
        digest: &Digest<'_>,
    ) -> Result<bool, RegistryError> {
        let t = Target {
            reference,
            what: format!("manifest {digest}"),
        };
        let host = reference.api_host().to_owned();
        let path = format!("/v2/{}/manifests/{digest}", reference.repository);
        let url_for = |scheme: &str| format!("{scheme}://{host}{path}");
        let key = format!("{}/{}", reference.registry, reference.repository);
        let resp = self.send_authorized(&t, &url_for, Method::Head, key, "pull")?;
        match resp.status().as_u16() {
            200 => {
                if let Some(h) = header(&resp, "docker-content-digest").filter(|h| !h.is_empty()) {
                    if h != digest.as_str() {
                        return Err(
                            t.err_invalid(format!("HEAD answered Docker-Content-Digest {h}"))
                        );
                    }
                }
                Ok(true)
            }
            404 => Ok(false),
            status => Err(t.err_status(status, String::new())),
        }
    }

    /// PUTs `bytes` as a manifest of `reference`'s repository under `tag`
    /// with `Content-Type: media_type`, authenticated for `push,pull`,
    /// and returns its digest (checked against `Docker-Content-Digest`).
    pub fn put_manifest(
        &self,
        reference: &Reference,
        tag: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Digest<'static>, RegistryError> {
        self.push_manifest(reference, tag, media_type, bytes)
            .map(|p| p.digest)
    }
}

/// How [`Client::forward`] asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardMethod {
    /// GET: the caller reads the body.
    Get,
    /// HEAD.
    Head,
}

/// Request headers [`Client::forward`] never sends from its caller: the
/// client's own credentials, identity and connection handling are the
/// client's business (it authenticates with its own credentials), and
/// `Accept` is gathered into one line.
const NOT_FORWARDED: &[&str] = &[
    "accept",
    "authorization",
    "proxy-authorization",
    "cookie",
    "host",
    "user-agent",
    "content-length",
    "content-type",
    "expect",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// A header line: name, value.
type Line<'h> = (&'h str, &'h str);

/// The `Accept` line (every `Accept` value of `headers`, joined; `*/*`
/// when there is none) and the other headers [`Client::forward`] sends
/// from `headers`, or why one cannot be sent.
fn forward_headers<'h>(headers: &[Line<'h>]) -> Result<(String, Vec<Line<'h>>), String> {
    let mut accept = Vec::new();
    let mut pass = Vec::new();
    for &(name, value) in headers {
        let valid = ureq::http::HeaderName::from_bytes(name.as_bytes()).is_ok()
            && ureq::http::HeaderValue::from_str(value).is_ok();
        if !valid {
            return Err(format!(
                "request header {name:?} cannot be sent: not a valid HTTP header"
            ));
        }
        let lower = name.to_ascii_lowercase();
        if lower == "accept" {
            let v = value.trim();
            if !v.is_empty() {
                accept.push(v);
            }
        } else if !NOT_FORWARDED.contains(&lower.as_str()) {
            pass.push((name, value));
        }
    }
    let accept = if accept.is_empty() {
        "*/*".to_owned()
    } else {
        accept.join(", ")
    };
    Ok((accept, pass))
}

impl Client {
    /// Sends a read request for `path` (everything after `/v2/NAME/`, with
    /// its query, e.g. `blobs/sha256:…` or `tags/list?n=10`) of
    /// `reference`'s repository, authenticated for pull, and returns the
    /// registry's answer unread, whatever its status (a `304` included):
    /// a mirror passes it on as it streams in. The body has no overall
    /// deadline (a large blob takes as long as it takes) but every read
    /// times out.
    ///
    /// `headers` are request headers to pass on, as a mirror's client sent
    /// them (a name may repeat): every `Accept` value goes upstream, joined
    /// into one `Accept` line (`*/*` when there is none); the others
    /// (`Range`, `If-None-Match`, …) are sent as given, line for line.
    /// Names that are the client's own business are never sent from
    /// `headers`: `Authorization` and `Proxy-Authorization` (the client
    /// authenticates with its own credentials), `Cookie`, `Host`,
    /// `User-Agent`, `Content-Length`, `Content-Type`, `Expect` and the
    /// hop-by-hop headers (`Connection`, `Keep-Alive`, `TE`, `Trailer`,
    /// `Transfer-Encoding`, `Upgrade`, `Proxy-Connection`). A name or value
    /// that is not a valid HTTP header is an error.
    pub fn forward(
        &self,
        reference: &Reference,
        method: ForwardMethod,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<Response<ureq::Body>, RegistryError> {
        let t = Target {
            reference,
            what: path.split('?').next().unwrap_or(path).to_owned(),
        };
        let (accept, pass) = forward_headers(headers)
            .map_err(|e| RegistryError::Setup(format!("{}: {e}", t.what)))?;
        let host = reference.api_host().to_owned();
        let full = if reference.repository.is_empty() {
            format!("/v2/{path}")
        } else {
            format!("/v2/{}/{path}", reference.repository)
        };
        let url_for = |scheme: &str| format!("{scheme}://{host}{full}");
        let key = format!("{}/{}", reference.registry, reference.repository);
        let method = Method::Stream {
            head: method == ForwardMethod::Head,
            headers: &pass,
        };
        let cached = lock(&self.auth_headers).get(&key).cloned();
        let mut resp = self.send_method(&t, &url_for, method, &accept, cached.as_deref())?;
        if resp.status().as_u16() == 401 {
            let challenge =
                header(&resp, "www-authenticate").and_then(|h| auth::parse_challenge(&h));
            // Without a usable challenge or credentials, the 401 is the answer.
            if let Ok(a) = self.authenticate_for(&t, challenge, "pull") {
                lock(&self.auth_headers).insert(key, a.clone());
                resp = self.send_method(&t, &url_for, method, &accept, Some(&a))?;
            }
        }
        Ok(resp)
    }
}

/// Percent-encodes a path segment or query value (RFC 3986 unreserved
/// characters kept).
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn strip_query(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

fn url_host_is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split('/').next().unwrap_or("");
    format!("{host}/x")
        .parse::<Reference>()
        .is_ok_and(|r| r.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_headers_join_accept_and_never_carry_credentials() {
        let (accept, pass) = forward_headers(&[
            ("Accept", "application/vnd.docker.distribution.manifest.v2+json"),
            ("Authorization", "Basic Y2xpZW50OnNlY3JldA=="),
            ("accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"),
            ("Proxy-Authorization", "Basic eA=="),
            ("Cookie", "a=b"),
            ("Host", "evil.example"),
            ("User-Agent", "docker/27"),
            ("Connection", "keep-alive"),
            ("Transfer-Encoding", "chunked"),
            ("TE", "trailers"),
            ("Range", "bytes=0-9"),
            ("If-None-Match", "\"a\""),
            ("If-None-Match", "\"b\""),
            ("Accept", " "),
        ])
        .unwrap();
        assert_eq!(
            accept,
            "application/vnd.docker.distribution.manifest.v2+json, \
             application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"
        );
        assert_eq!(
            pass,
            [
                ("Range", "bytes=0-9"),
                ("If-None-Match", "\"a\""),
                ("If-None-Match", "\"b\"")
            ]
        );
        assert_eq!(forward_headers(&[]).unwrap().0, "*/*");
        for bad in [("Bad Name", "x"), ("Range", "a\r\nInjected: 1")] {
            let e = forward_headers(&[bad]).unwrap_err();
            assert!(e.contains("not a valid HTTP header"), "{e}");
        }
    }
}
