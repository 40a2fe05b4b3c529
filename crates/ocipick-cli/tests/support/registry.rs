//! A real registry for the integration tests: the CNCF distribution
//! registry (Debian package `docker-registry`), started on a free loopback
//! port with a temporary root directory and killed on drop; a small HTTP
//! client that pushes blobs and manifests into it; TLS material for it; and a
//! bearer-token issuer that signs ES256 JWTs the registry verifies.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::{json, Value};

use crate::common::{self, OCI_MANIFEST};

/// The annotation the registry tests prefer, and its value on their
/// "GPU" images.
pub const GPU_KEY: &str = "com.example.gpu";
pub const GPU_MODEL: &str = "example-gpu-model";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// What the harness asks manifests with (distribution 2.8 answers 404 for
/// an OCI index unless the OCI index type is named).
const ACCEPT_ALL: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// Installs `docker-registry` when it is missing, once per test binary.
pub fn ensure_installed() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        if which("docker-registry") {
            return;
        }
        let status = Command::new("sh")
            .arg("-c")
            .arg(
                "apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
                 apt-get install -y -qq --no-install-recommends docker-registry",
            )
            .stdin(Stdio::null())
            .status()
            .expect("run apt-get");
        assert!(status.success(), "installing docker-registry failed");
        assert!(which("docker-registry"), "docker-registry still missing");
    });
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    l.local_addr().expect("local addr").port()
}

/// A CA, and a server certificate for 127.0.0.1 signed by it.
pub struct TlsMaterial {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
    /// For mutual TLS: the registry then requires a client certificate
    /// signed by this CA (distribution's `http.tls.clientcas`).
    pub client: Option<ClientMaterial>,
}

/// A client CA and a client certificate (and key) it signed.
pub struct ClientMaterial {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

impl ClientMaterial {
    /// A new client CA, and a client certificate named `name` signed by it.
    pub fn new(name: &str) -> ClientMaterial {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
        let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("client CA key");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("client CA params");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "ocipick test client CA");
        let ca = ca.self_signed(&ca_key).expect("self-sign client CA");
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("client key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("client params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &ca, &ca_key).expect("sign client");
        ClientMaterial {
            ca_pem: ca.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

impl TlsMaterial {
    /// [`TlsMaterial::new`], for a registry that requires client
    /// certificates (mutual TLS).
    pub fn with_client_auth() -> TlsMaterial {
        TlsMaterial {
            client: Some(ClientMaterial::new("ocipick test client")),
            ..TlsMaterial::new()
        }
    }

    pub fn new() -> TlsMaterial {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
        let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("CA key");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "ocipick test CA");
        let ca = ca.self_signed(&ca_key).expect("self-sign CA");
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("server key");
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .expect("server params");
        params
            .distinguished_name
            .push(DnType::CommonName, "127.0.0.1");
        let cert = params.signed_by(&key, &ca, &ca_key).expect("sign server");
        TlsMaterial {
            ca_pem: ca.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            client: None,
        }
    }
}

impl Default for TlsMaterial {
    fn default() -> Self {
        TlsMaterial::new()
    }
}

/// How the registry authenticates.
pub enum Auth {
    /// Anonymous access.
    None,
    /// HTTP Basic against an htpasswd file with this one user (bcrypt).
    Htpasswd { username: String, password: String },
    /// Bearer tokens from this issuer.
    Token(Arc<TokenIssuer>),
}

/// A running registry, killed on drop.
pub struct Registry {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
    log: PathBuf,
    tls: bool,
    /// The CA file clients should trust (TLS registries).
    pub ca_file: Option<PathBuf>,
    agent: ureq::Agent,
    auth: Auth,
    sentinels: AtomicU64,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The harness's own HTTP client: trusting `ca_pem`, presenting the
/// client certificate of `client`.
fn agent(ca_pem: Option<&str>, client: Option<&ClientMaterial>) -> ureq::Agent {
    let mut cfg = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .user_agent("ocipick-test-harness");
    if let Some(pem) = ca_pem {
        let certs: Vec<ureq::tls::Certificate<'static>> = ureq::tls::parse_pem(pem.as_bytes())
            .filter_map(|i| match i {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        let client_cert = client.map(|c| {
            let chain =
                [ureq::tls::Certificate::from_pem(c.cert_pem.as_bytes()).expect("client cert")];
            let key = ureq::tls::PrivateKey::from_pem(c.key_pem.as_bytes()).expect("client key");
            ureq::tls::ClientCert::new_with_certs(&chain, key)
        });
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
            .client_cert(client_cert)
            .build();
        cfg = cfg.tls_config(tls);
    }
    cfg.build().into()
}

/// One line of the registry's access log (Apache combined format).
#[derive(Debug, Clone)]
pub struct Access {
    pub method: String,
    pub uri: String,
    pub status: u16,
    pub user_agent: String,
}

impl Access {
    /// `METHOD URI STATUS`.
    pub fn line(&self) -> String {
        format!("{} {} {}", self.method, self.uri, self.status)
    }
}

impl Registry {
    /// Starts an anonymous plain-HTTP registry.
    pub fn anonymous() -> Registry {
        Registry::start(None, Auth::None)
    }

    /// Starts a registry: over TLS with `tls`, authenticating with `auth`.
    /// It logs every request (access log) and every success ("response
    /// completed", JSON) to a file.
    pub fn start(tls: Option<&TlsMaterial>, auth: Auth) -> Registry {
        ensure_installed();
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let mut http_extra = String::new();
        let mut ca_file = None;
        if let Some(t) = tls {
            std::fs::write(d.join("server.pem"), &t.cert_pem).unwrap();
            std::fs::write(d.join("server-key.pem"), &t.key_pem).unwrap();
            std::fs::write(d.join("ca.pem"), &t.ca_pem).unwrap();
            ca_file = Some(d.join("ca.pem"));
            http_extra = format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                d.join("server.pem").display(),
                d.join("server-key.pem").display()
            );
            if let Some(c) = &t.client {
                std::fs::write(d.join("client-ca.pem"), &c.ca_pem).unwrap();
                http_extra.push_str(&format!(
                    "    clientcas:\n      - {}\n",
                    d.join("client-ca.pem").display()
                ));
            }
        }
        let auth_yaml = match &auth {
            Auth::None => String::new(),
            Auth::Htpasswd { username, password } => {
                let hash = bcrypt::hash(password, 4).expect("bcrypt");
                std::fs::write(d.join("htpasswd"), format!("{username}:{hash}\n")).unwrap();
                format!(
                    "auth:\n  htpasswd:\n    realm: ocipick-test\n    path: {}\n",
                    d.join("htpasswd").display()
                )
            }
            Auth::Token(issuer) => {
                std::fs::write(d.join("token-cert.pem"), &issuer.cert_pem).unwrap();
                format!(
                    "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                    issuer.realm(),
                    TokenIssuer::SERVICE,
                    TokenIssuer::ISSUER,
                    d.join("token-cert.pem").display()
                )
            }
        };
        let agent = agent(
            tls.map(|t| t.ca_pem.as_str()),
            tls.and_then(|t| t.client.as_ref()),
        );
        let scheme = if tls.is_some() { "https" } else { "http" };
        let log = d.join("registry.log");
        let mut last_log = String::new();
        for _attempt in 0..5 {
            let port = free_port();
            let config = format!(
                "version: 0.1\n\
                 log:\n  level: info\n  formatter: json\n  accesslog:\n    disabled: false\n\
                 storage:\n  cache:\n    blobdescriptor: inmemory\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                 http:\n  addr: 127.0.0.1:{port}\n{http_extra}{auth_yaml}",
                d.join("data").display()
            );
            std::fs::write(d.join("config.yml"), config).unwrap();
            let out = std::fs::File::create(&log).expect("log file");
            let mut child = Command::new("docker-registry")
                .arg("serve")
                .arg(d.join("config.yml"))
                .stdin(Stdio::null())
                .stdout(Stdio::from(out.try_clone().unwrap()))
                .stderr(Stdio::from(out))
                .spawn()
                .expect("spawn docker-registry");
            let deadline = Instant::now() + Duration::from_secs(20);
            let ready = loop {
                if child.try_wait().expect("try_wait").is_some() {
                    break false; // e.g. the port was taken meanwhile
                }
                if agent
                    .get(format!("{scheme}://127.0.0.1:{port}/v2/"))
                    .call()
                    .is_ok()
                {
                    break true;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break false;
                }
                std::thread::sleep(Duration::from_millis(25));
            };
            if ready {
                return Registry {
                    child,
                    port,
                    dir,
                    log,
                    tls: tls.is_some(),
                    ca_file,
                    agent,
                    auth,
                    sentinels: AtomicU64::new(0),
                };
            }
            let _ = child.wait();
            last_log = std::fs::read_to_string(&log).unwrap_or_default();
        }
        panic!("docker-registry did not start; its log:\n{last_log}");
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn base(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// The registry's whole log.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until everything sent so far is in the log: sends a request
    /// with a unique user agent and waits for its access-log line.
    pub fn sync_log(&self) {
        let n = self.sentinels.fetch_add(1, Ordering::SeqCst);
        let ua = format!("ocipick-test-sentinel-{n}");
        let _ = self
            .agent
            .get(format!("{}/v2/", self.base()))
            .header("User-Agent", &ua)
            .call();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.log_text().contains(&ua) {
            assert!(Instant::now() < deadline, "the registry never logged {ua}");
            std::thread::sleep(Duration::from_millis(10));
        }
        // Lines of earlier connections are written when their handlers
        // return, which can trail the responses by a moment.
        std::thread::sleep(Duration::from_millis(100));
    }

    /// Access-log lines (every request, whatever its status).
    pub fn access_log(&self) -> Vec<Access> {
        self.log_text().lines().filter_map(parse_access).collect()
    }

    /// The access log's length now, every earlier request in it: a mark
    /// for [`Registry::ocipick_since`].
    pub fn log_mark(&self) -> usize {
        self.sync_log();
        self.access_log().len()
    }

    /// ocipick's own requests (its `User-Agent`) logged after `mark`, in
    /// order, every one of them in the log.
    pub fn ocipick_since(&self, mark: usize) -> Vec<Access> {
        self.sync_log();
        self.access_log()
            .into_iter()
            .skip(mark)
            .filter(|a| a.user_agent.starts_with("ocipick/"))
            .collect()
    }

    /// The "response completed" lines (successful requests), as JSON.
    pub fn completed(&self) -> Vec<Value> {
        self.log_text()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["msg"] == "response completed")
            .collect()
    }

    fn authorization(&self, repo: &str) -> Option<String> {
        match &self.auth {
            Auth::None => None,
            Auth::Htpasswd { username, password } => Some(format!(
                "Basic {}",
                STANDARD.encode(format!("{username}:{password}"))
            )),
            Auth::Token(issuer) => Some(format!(
                "Bearer {}",
                issuer.mint("pusher", repo, &["pull", "push"])
            )),
        }
    }

    /// Pushes a blob (monolithic upload); returns its digest and size.
    pub fn push_blob(&self, repo: &str, bytes: &[u8]) -> (String, u64) {
        let digest = common::sha256(bytes);
        let auth = self.authorization(repo);
        let mut req = self
            .agent
            .post(format!("{}/v2/{repo}/blobs/uploads/", self.base()));
        if let Some(a) = &auth {
            req = req.header("Authorization", a);
        }
        let resp = req.send_empty().expect("POST blob upload");
        assert_eq!(resp.status().as_u16(), 202, "POST blobs/uploads for {repo}");
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .expect("upload Location")
            .to_owned();
        let location = if location.starts_with('/') {
            format!("{}{location}", self.base())
        } else {
            location
        };
        let sep = if location.contains('?') { '&' } else { '?' };
        let mut req = self
            .agent
            .put(format!("{location}{sep}digest={digest}"))
            .header("Content-Type", "application/octet-stream");
        if let Some(a) = &auth {
            req = req.header("Authorization", a);
        }
        let mut resp = req.send(bytes).expect("PUT blob");
        let status = resp.status().as_u16();
        let body = resp.body_mut().read_to_string().unwrap_or_default();
        assert_eq!(status, 201, "PUT blob {digest} into {repo}: {body}");
        (digest, bytes.len() as u64)
    }

    /// Pushes a manifest under `reference` (a tag or its digest); returns
    /// its digest.
    pub fn push_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> String {
        let digest = common::sha256(bytes);
        let mut req = self
            .agent
            .put(format!("{}/v2/{repo}/manifests/{reference}", self.base()))
            .header("Content-Type", media_type);
        if let Some(a) = self.authorization(repo) {
            req = req.header("Authorization", a);
        }
        let mut resp = req.send(bytes).expect("PUT manifest");
        let status = resp.status().as_u16();
        let body = resp.body_mut().read_to_string().unwrap_or_default();
        assert_eq!(status, 201, "PUT manifest {repo}:{reference}: {body}");
        digest
    }

    /// Pushes a one-layer OCI image (`config`, and `layer`, a gzipped tar)
    /// by digest; returns its index descriptor, declared as `platform`
    /// with `annotations`.
    pub fn push_layered(
        &self,
        repo: &str,
        config: &Value,
        layer: &[u8],
        platform: &str,
        annotations: &[(&str, &str)],
    ) -> Value {
        let (cd, cs) = self.push_blob(repo, &serde_json::to_vec(config).unwrap());
        let (ld, ls) = self.push_blob(repo, layer);
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": cd, "size": cs},
            "layers": [{"mediaType": OCI_LAYER, "digest": ld, "size": ls}],
        });
        let mut d = self.push_by_digest(repo, OCI_MANIFEST, &manifest);
        d["platform"] = common::platform(platform);
        if !annotations.is_empty() {
            let a: serde_json::Map<String, Value> = annotations
                .iter()
                .map(|(k, v)| ((*k).to_owned(), json!(v)))
                .collect();
            d["annotations"] = Value::Object(a);
        }
        d
    }

    /// Pushes a manifest by its own digest; returns its descriptor.
    pub fn push_by_digest(&self, repo: &str, media_type: &str, doc: &Value) -> Value {
        let bytes = serde_json::to_vec(doc).unwrap();
        let digest = common::sha256(&bytes);
        self.push_manifest(repo, &digest, media_type, &bytes);
        json!({"mediaType": media_type, "digest": digest, "size": bytes.len()})
    }

    /// GETs a manifest as the harness (to compare bytes and digests).
    pub fn get_manifest(&self, repo: &str, reference: &str) -> Vec<u8> {
        let mut req = self
            .agent
            .get(format!("{}/v2/{repo}/manifests/{reference}", self.base()))
            .header("Accept", ACCEPT_ALL);
        if let Some(a) = self.authorization(repo) {
            req = req.header("Authorization", a);
        }
        let mut resp = req.call().expect("GET manifest");
        assert_eq!(resp.status().as_u16(), 200, "GET {repo}:{reference}");
        resp.body_mut().read_to_vec().expect("body")
    }

    /// [`push_image`](Registry::push_image) for a linux/amd64 image
    /// annotated `GPU_KEY=GPU_MODEL`.
    pub fn push_gpu_image(&self, repo: &str, label: &str, docker: bool) -> Value {
        self.push_image(
            repo,
            label,
            Some("linux/amd64"),
            &[(GPU_KEY, GPU_MODEL)],
            docker,
        )
    }

    /// Pushes a one-layer image (config and layer blobs, then the manifest
    /// by digest) and returns its descriptor, with `platform` and
    /// `annotations` added for use in an index. Docker media types with
    /// `docker`.
    pub fn push_image(
        &self,
        repo: &str,
        label: &str,
        plat: Option<&str>,
        annotations: &[(&str, &str)],
        docker: bool,
    ) -> Value {
        let (os, arch) = plat
            .and_then(|p| p.split_once('/'))
            .unwrap_or(("linux", "amd64"));
        let config = json!({
            "architecture": arch,
            "os": os,
            "config": {"Labels": {"label": label}},
            "rootfs": {"type": "layers", "diff_ids": [common::sha256(label.as_bytes())]},
        });
        let (config_type, layer_type, manifest_type) = if docker {
            (DOCKER_CONFIG, DOCKER_LAYER, DOCKER_MANIFEST)
        } else {
            (OCI_CONFIG, OCI_LAYER, OCI_MANIFEST)
        };
        let (cd, cs) = self.push_blob(repo, &serde_json::to_vec(&config).unwrap());
        let (ld, ls) = self.push_blob(repo, format!("layer of {label}").as_bytes());
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": manifest_type,
            "config": {"mediaType": config_type, "digest": cd, "size": cs},
            "layers": [{"mediaType": layer_type, "digest": ld, "size": ls}],
        });
        let mut d = self.push_by_digest(repo, manifest_type, &manifest);
        if let Some(p) = plat {
            d["platform"] = common::platform(p);
        }
        if !annotations.is_empty() {
            let a: serde_json::Map<String, Value> = annotations
                .iter()
                .map(|(k, v)| ((*k).to_owned(), json!(v)))
                .collect();
            d["annotations"] = Value::Object(a);
        }
        d
    }

    /// Pushes an index of `entries` under `tag`; returns its digest.
    pub fn push_index(&self, repo: &str, tag: &str, media_type: &str, entries: &[Value]) -> String {
        let doc = json!({"schemaVersion": 2, "mediaType": media_type, "manifests": entries});
        let bytes = serde_json::to_vec(&doc).unwrap();
        self.push_manifest(repo, tag, media_type, &bytes)
    }
}

/// Parses `IP - - [date] "GET /uri HTTP/1.1" 200 123 "referer" "agent"`.
fn parse_access(line: &str) -> Option<Access> {
    let parts: Vec<&str> = line.split('"').collect();
    if parts.len() < 6 || !parts[0].contains(" - ") {
        return None;
    }
    let mut request = parts[1].split(' ');
    let method = request.next()?.to_owned();
    let uri = request.next()?.to_owned();
    let status = parts[2].split_whitespace().next()?.parse().ok()?;
    Some(Access {
        method,
        uri,
        status,
        user_agent: parts[5].to_owned(),
    })
}

/// One request the token issuer answered.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// `GET` or `POST`.
    pub method: String,
    /// Decoded query parameters.
    pub query: BTreeMap<String, String>,
    /// Decoded form fields of a POST (`application/x-www-form-urlencoded`).
    pub form: BTreeMap<String, String>,
    /// The Basic user name sent, if any.
    pub username: Option<String>,
    /// The status answered.
    pub status: u16,
}

/// A token server: `GET /token?service=..&scope=repository:NAME:ACTIONS`
/// answers `{"token": JWT}` signed ES256 with a key whose self-signed
/// certificate the registry trusts (`rootcertbundle`), the certificate in
/// the JWT's `x5c` header.
///
/// Policy: with the right Basic credentials, every action asked for; with
/// wrong ones, 401; with none, `pull` on `public/…` repositories and 401
/// elsewhere.
///
/// It also takes OAuth2 refresh tokens as distribution's token spec
/// ("oauth.md") has them: `POST /token` with an
/// `application/x-www-form-urlencoded` body of `grant_type=refresh_token`,
/// `refresh_token`, `service`, `scope` and `client_id`, answered with
/// `{"access_token": JWT}` granting every action asked for when the refresh
/// token is the one it was started with, and 401 otherwise.
pub struct TokenIssuer {
    pub port: u16,
    pub cert_pem: String,
    cert_der_b64: String,
    key: ring::signature::EcdsaKeyPair,
    username: String,
    password: String,
    /// The refresh token POSTs must carry (none accepted when empty).
    refresh_token: String,
    pub requests: Mutex<Vec<TokenRequest>>,
    /// Every token minted, for checking they never leak into output.
    pub issued: Mutex<Vec<String>>,
    stop: AtomicBool,
    counter: AtomicU64,
}

impl TokenIssuer {
    pub const SERVICE: &'static str = "test-registry";
    pub const ISSUER: &'static str = "test-issuer";

    /// Starts the issuer on a free port, serving on a thread until dropped
    /// (see [`IssuerGuard`]).
    pub fn start(username: &str, password: &str) -> (Arc<TokenIssuer>, IssuerGuard) {
        TokenIssuer::start_with_refresh_token(username, password, "")
    }

    /// [`TokenIssuer::start`], also accepting `refresh_token` in
    /// `grant_type=refresh_token` POSTs.
    pub fn start_with_refresh_token(
        username: &str,
        password: &str,
        refresh_token: &str,
    ) -> (Arc<TokenIssuer>, IssuerGuard) {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("token key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "ocipick test token issuer");
        let cert = params.self_signed(&key).expect("self-sign");
        let rng = ring::rand::SystemRandom::new();
        let signer = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &key.serialize_der(),
            &rng,
        )
        .expect("ring key");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind issuer");
        let port = listener.local_addr().unwrap().port();
        let issuer = Arc::new(TokenIssuer {
            port,
            cert_pem: cert.pem(),
            cert_der_b64: STANDARD.encode(cert.der()),
            key: signer,
            username: username.to_owned(),
            password: password.to_owned(),
            refresh_token: refresh_token.to_owned(),
            requests: Mutex::new(Vec::new()),
            issued: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            counter: AtomicU64::new(0),
        });
        let served = Arc::clone(&issuer);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if served.stop.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(s) = stream {
                    served.serve(s);
                }
            }
        });
        let guard = IssuerGuard(Arc::clone(&issuer));
        (issuer, guard)
    }

    /// `http://127.0.0.1:PORT/token`.
    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    /// A signed token granting `actions` on repository `name`.
    pub fn mint(&self, subject: &str, name: &str, actions: &[&str]) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        let header = json!({"typ": "JWT", "alg": "ES256", "x5c": [self.cert_der_b64]});
        let claims = json!({
            "iss": Self::ISSUER,
            "sub": subject,
            "aud": Self::SERVICE,
            "exp": now + 600,
            "nbf": now - 10,
            "iat": now - 10,
            "jti": format!("ocipick-test-{}-{n}", self.port),
            "access": [{"type": "repository", "name": name, "actions": actions}],
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap()),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap())
        );
        let sig = self
            .key
            .sign(&ring::rand::SystemRandom::new(), input.as_bytes())
            .expect("sign");
        let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()));
        self.issued.lock().unwrap().push(token.clone());
        token
    }

    fn serve(&self, stream: TcpStream) {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let mut reader = BufReader::new(match stream.try_clone() {
            Ok(s) => s,
            Err(_) => return,
        });
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).is_err() {
            return;
        }
        let mut authorization = None;
        let mut content_length = 0usize;
        let mut content_type = String::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("authorization") {
                    authorization = Some(v.trim().to_owned());
                } else if k.eq_ignore_ascii_case("content-length") {
                    content_length = v.trim().parse().unwrap_or(0);
                } else if k.eq_ignore_ascii_case("content-type") {
                    content_type = v.trim().to_owned();
                }
            }
        }
        let method = request_line.split(' ').next().unwrap_or("").to_owned();
        let target = request_line.split(' ').nth(1).unwrap_or("");
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let query = parse_form(query);
        let mut body = vec![0u8; content_length.min(64 * 1024)];
        if method == "POST" && reader.read_exact(&mut body).is_err() {
            return;
        }
        let form = if method == "POST" && content_type == "application/x-www-form-urlencoded" {
            parse_form(&String::from_utf8_lossy(&body))
        } else {
            BTreeMap::new()
        };
        let basic = authorization
            .as_deref()
            .and_then(|a| a.strip_prefix("Basic "))
            .and_then(|b| STANDARD.decode(b.trim()).ok())
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.split_once(':').map(|(u, p)| (u.to_owned(), p.to_owned())));
        // A POST's parameters are its form fields; a GET's, its query.
        let params = if method == "POST" { &form } else { &query };
        let scope = params.get("scope").cloned().unwrap_or_default();
        let (name, actions) = parse_scope(&scope);
        let granted: Option<Vec<&str>> = if path != "/token"
            || params.get("service").map(String::as_str) != Some(Self::SERVICE)
            || name.is_empty()
        {
            None
        } else if method == "POST" {
            let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
            let ok = field("grant_type") == "refresh_token"
                && !self.refresh_token.is_empty()
                && field("refresh_token") == self.refresh_token
                && !field("client_id").is_empty();
            ok.then(|| actions.iter().map(String::as_str).collect())
        } else {
            match &basic {
                Some((u, p)) if *u == self.username && *p == self.password => {
                    Some(actions.iter().map(String::as_str).collect())
                }
                Some(_) => None,
                None if name.starts_with("public/") && actions.iter().any(|a| a == "pull") => {
                    Some(vec!["pull"])
                }
                None => None,
            }
        };
        let (status, body) = match granted {
            Some(acts) if method == "POST" => {
                let token = self.mint("refresh-token-holder", &name, &acts);
                (
                    200,
                    json!({"access_token": token, "scope": scope, "expires_in": 600}).to_string(),
                )
            }
            Some(acts) => {
                let subject = basic.as_ref().map_or("anonymous", |(u, _)| u.as_str());
                let token = self.mint(subject, &name, &acts);
                (200, json!({"token": token, "expires_in": 600}).to_string())
            }
            None => (
                401,
                json!({"errors": [{"code": "UNAUTHORIZED", "message": "access denied"}]})
                    .to_string(),
            ),
        };
        self.requests.lock().unwrap().push(TokenRequest {
            method,
            query,
            form,
            username: basic.map(|(u, _)| u),
            status,
        });
        let reason = if status == 200 { "OK" } else { "Unauthorized" };
        let mut s = stream;
        let _ = write!(
            s,
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = s.flush();
        // Drain what the client may still send, so closing does not reset.
        let _ = s.set_read_timeout(Some(Duration::from_millis(50)));
        let _ = (&s).read(&mut [0u8; 512]);
    }
}

/// Stops the issuer's thread when dropped.
pub struct IssuerGuard(Arc<TokenIssuer>);

impl Drop for IssuerGuard {
    fn drop(&mut self) {
        self.0.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.0.port));
    }
}

/// `repository:NAME:a,b` → (NAME, [a, b]).
fn parse_scope(scope: &str) -> (String, Vec<String>) {
    let Some(rest) = scope.strip_prefix("repository:") else {
        return (String::new(), Vec::new());
    };
    match rest.rsplit_once(':') {
        Some((name, actions)) => (
            name.to_owned(),
            actions.split(',').map(str::to_owned).collect(),
        ),
        None => (String::new(), Vec::new()),
    }
}

/// `a=1&b=x%20y` → {a: 1, b: "x y"}.
fn parse_form(s: &str) -> BTreeMap<String, String> {
    s.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}
