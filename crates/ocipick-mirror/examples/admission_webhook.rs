//! A Kubernetes validating admission webhook that refuses a Pod whose
//! images have no build for any node the Pod may be scheduled on: what a
//! tool writer builds on ocipick's libraries (see `docs/webhook.md`).
//!
//! ```text
//! cargo run -p ocipick-mirror --example admission_webhook -- \
//!     --cert tls.crt --key tls.key --nodes nodes.json [--node FACTS.json|DIR] \
//!     [--config ocipick.toml] [--on-error allow|deny] [--fetch-timeout-ms 3000]
//! ```
//!
//! It serves HTTPS (hyper on Tokio, TLS by tokio-rustls) and answers
//! `POST` requests, on any path, carrying an `admission.k8s.io/v1`
//! `AdmissionReview`; `GET /healthz` answers `ok`. The engine is
//! [`ocipick_host::admission`]: this file reads flags and files, fetches
//! each image's index (one manifest GET, [`ocipick_registry::Client`]),
//! all of a review's images at once and within one deadline, and serves.
//!
//! Exit status: 2 for bad flags or unreadable inputs (certificate, key,
//! inventory, configuration), 1 when the listener fails, 0 after SIGINT or
//! SIGTERM.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::{Parser, ValueEnum};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use ocipick::fleet::Template;
use ocipick::media_type::{self, Kind};
use ocipick::{Descriptor, Index};
use ocipick_host::admission::{self, Fetched, Inventory, OnError, Review, MAX_REVIEW_BYTES};
use ocipick_host::inventory::{self, Node};
use ocipick_registry::{Client, ClientOptions, Reference};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OnErrorArg {
    /// Fail open: admit the Pod with a warning naming the image and error.
    Allow,
    /// Fail closed: refuse the Pod, saying which image could not be checked.
    Deny,
}

/// A validating admission webhook: refuses Pods whose images fit no node
/// matching their nodeSelector.
#[derive(Debug, Parser)]
#[command(name = "admission_webhook")]
struct Args {
    /// Address to serve HTTPS on.
    #[arg(long, default_value = "0.0.0.0:8443")]
    listen: SocketAddr,
    /// The server certificate chain, PEM.
    #[arg(long, value_name = "PEM")]
    cert: PathBuf,
    /// The server's private key, PEM (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "PEM")]
    key: PathBuf,
    /// The JSON of `kubectl get nodes -o json`. Repeatable.
    #[arg(long, value_name = "FILE")]
    nodes: Vec<PathBuf>,
    /// A node facts file (`ocipick host --output json`, `nfd export
    /// features`) or a directory of *.json ones. Repeatable.
    #[arg(long, value_name = "FILE|DIR")]
    node: Vec<PathBuf>,
    /// An ocipick configuration (preferences and rules, judged against
    /// each node's facts; hooks are not run).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// What to do with an image whose index cannot be fetched in time, or
    /// a Pod no inventory node matches.
    #[arg(long, value_enum, default_value_t = OnErrorArg::Allow)]
    on_error: OnErrorArg,
    /// The deadline for fetching all of one review's indexes (and each
    /// connection and read of a fetch). Keep it well under the webhook's
    /// timeoutSeconds (10 s by default).
    #[arg(long, value_name = "MS", default_value_t = 3000,
          value_parser = clap::value_parser!(u64).range(1..=30_000))]
    fetch_timeout_ms: u64,
    /// A PEM file of CA certificates to trust for registries instead of
    /// the system's.
    #[arg(long, value_name = "PEM")]
    ca_file: Option<PathBuf>,
    /// A registry (host[:port]) to reach over plain HTTP. Repeatable.
    #[arg(long, value_name = "HOST")]
    plain_http: Vec<String>,
}

fn fail(message: String) -> ! {
    eprintln!("admission_webhook: {message}");
    std::process::exit(2)
}

fn read_json(path: &Path, limit: u64) -> serde_json::Value {
    let bytes =
        ocipick_registry::read_file(path, limit, "").unwrap_or_else(|e| fail(format!("{e}")));
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| fail(format!("{}: not JSON: {e}", path.display())))
}

/// The nodes of `--nodes` and `--node`, as `ocipick check` reads them.
fn load_nodes(args: &Args) -> Vec<Node> {
    let mut nodes = Vec::new();
    for path in &args.nodes {
        let v = read_json(path, 256 << 20);
        nodes.extend(
            inventory::nodes_from_kubectl(&v)
                .unwrap_or_else(|e| fail(format!("{}: {e}", path.display()))),
        );
    }
    for p in &args.node {
        let files = if p.is_dir() {
            let mut f: Vec<PathBuf> = std::fs::read_dir(p)
                .unwrap_or_else(|e| fail(format!("{}: {e}", p.display())))
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "json") && f.is_file())
                .collect();
            f.sort();
            f
        } else {
            vec![p.clone()]
        };
        for path in files {
            let v = read_json(&path, 16 << 20);
            let (facts, platform) = ocipick_host::Facts::from_nfd_json(&v)
                .unwrap_or_else(|e| fail(format!("{}: {e}", path.display())));
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            nodes.push(
                inventory::node_from_facts(&name, facts, platform)
                    .unwrap_or_else(|e| fail(format!("{}: {e}", path.display()))),
            );
        }
    }
    if nodes.is_empty() {
        fail("no nodes: give --nodes FILE (kubectl get nodes -o json) or --node FILE|DIR".into());
    }
    nodes
}

fn tls_acceptor(cert: &Path, key: &Path) -> TlsAcceptor {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|i| i.collect::<Result<_, _>>())
        .unwrap_or_else(|e| fail(format!("{}: {e}", cert.display())));
    if certs.is_empty() {
        fail(format!("{}: no certificate in it", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .unwrap_or_else(|e| fail(format!("{}: {e}", key.display())));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key))
        .unwrap_or_else(|e| fail(format!("TLS: {e}")));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    TlsAcceptor::from(Arc::new(config))
}

struct State {
    inventory: Inventory,
    client: Arc<Client>,
    on_error: OnError,
    deadline: Duration,
}

/// One image's index: one manifest GET (a single manifest becomes an
/// index of one, as `ocipick check` reads it).
fn fetch(client: &Client, image: &str) -> Fetched {
    let r: Reference = image.parse().map_err(|e| format!("{e}"))?;
    let f = client
        .fetch_manifest(&r, &r.manifest_ref())
        .map_err(|e| e.to_string())?;
    match media_type::kind(&f.media_type) {
        Kind::Index => Index::parse(&f.bytes)
            .map(|i| Arc::new(i.into_owned()))
            .map_err(|e| format!("{image}: {e}")),
        _ => Ok(Arc::new(Index::single(Descriptor::new(
            f.media_type,
            f.digest,
            f.bytes.len() as u64,
        )))),
    }
}

/// Every image's index, fetched at once; those not back by the deadline
/// are errors (their threads finish on their own, bounded by the client's
/// timeouts).
async fn fetch_all(state: &Arc<State>, images: &[&str]) -> BTreeMap<String, Fetched> {
    let mut set = tokio::task::JoinSet::new();
    for image in images {
        let (client, image) = (state.client.clone(), (*image).to_owned());
        set.spawn_blocking(move || {
            let got = fetch(&client, &image);
            (image, got)
        });
    }
    let mut out = BTreeMap::new();
    let stop = tokio::time::Instant::now() + state.deadline;
    while let Ok(Some(joined)) = tokio::time::timeout_at(stop, set.join_next()).await {
        if let Ok((image, got)) = joined {
            out.insert(image, got);
        }
    }
    for image in images {
        out.entry((*image).to_owned()).or_insert_with(|| {
            Err(format!(
                "its index was not fetched within {} ms",
                state.deadline.as_millis()
            ))
        });
    }
    out
}

fn plain(status: StatusCode, text: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(text + "\n")));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if req.method() == Method::GET && req.uri().path() == "/healthz" {
        return plain(StatusCode::OK, "ok".into());
    }
    if req.method() != Method::POST {
        return plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "POST an admission.k8s.io/v1 AdmissionReview".into(),
        );
    }
    let too_large = || {
        plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            admission::ReviewError::TooLarge.to_string(),
        )
    };
    let declared = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_REVIEW_BYTES as u64) {
        return too_large();
    }
    // The limit holds while reading: a body is never read past it.
    let body = Limited::new(req.into_body(), MAX_REVIEW_BYTES);
    let bytes = match tokio::time::timeout(Duration::from_secs(10), body.collect()).await {
        Err(_) => {
            return plain(
                StatusCode::REQUEST_TIMEOUT,
                "the body took over 10 s".into(),
            )
        }
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => return too_large(),
        Ok(Err(e)) => return plain(StatusCode::BAD_REQUEST, format!("reading the body: {e}")),
        Ok(Ok(c)) => c.to_bytes(),
    };
    let started = Instant::now();
    let review = match Review::parse(&bytes) {
        Ok(r) => r,
        Err(e) => {
            let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
            return plain(status, e.to_string());
        }
    };
    let images = review.images();
    let fetched = fetch_all(&state, &images).await;
    let decision = admission::decide(&review, &state.inventory, &fetched, state.on_error);
    eprintln!(
        "admission_webhook: uid {:?}: {} ({} images, {} ms)",
        review.uid,
        if decision.allowed {
            "allowed"
        } else {
            "refused"
        },
        images.len(),
        started.elapsed().as_millis()
    );
    let mut r = Response::new(Full::new(Bytes::from(
        serde_json::to_vec(&review.response(&decision)).unwrap_or_default(),
    )));
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

async fn serve(state: Arc<State>, listener: TcpListener, tls: TlsAcceptor) {
    // Registered once, so that a signal between two accepts is not lost.
    let stop = shutdown();
    tokio::pin!(stop);
    loop {
        let (stream, _) = tokio::select! {
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    eprintln!("admission_webhook: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut stop => return,
        };
        let (state, tls) = (state.clone(), tls.clone());
        tokio::spawn(async move {
            let Ok(Ok(stream)) =
                tokio::time::timeout(Duration::from_secs(10), tls.accept(stream)).await
            else {
                return;
            };
            let svc = hyper::service::service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(state, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

async fn shutdown() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

fn main() {
    let args = Args::parse();
    let template = match &args.config {
        None => Template::new(),
        Some(path) => {
            let bytes = ocipick_registry::read_file(path, 1 << 20, "")
                .unwrap_or_else(|e| fail(format!("{e}")));
            let text = std::str::from_utf8(&bytes)
                .unwrap_or_else(|_| fail(format!("{}: not UTF-8 text", path.display())));
            let config = ocipick::Config::parse(text)
                .unwrap_or_else(|e| fail(format!("{}: {e}", path.display())));
            Template::from_config(&config)
        }
    };
    let inventory = Inventory::new(load_nodes(&args), &template)
        .unwrap_or_else(|e| fail(format!("inventory: {e}")));
    let tls = tls_acceptor(&args.cert, &args.key);
    let timeout = Duration::from_millis(args.fetch_timeout_ms);
    let client = Client::new(ClientOptions {
        ca_file: args.ca_file.clone(),
        plain_http: args.plain_http.iter().cloned().collect(),
        connect_timeout: timeout,
        read_timeout: timeout,
        // A webhook answers within its deadline: no retries.
        retries: 0,
        ..ClientOptions::default()
    })
    .unwrap_or_else(|e| fail(format!("registry client: {e}")));
    let state = Arc::new(State {
        inventory,
        client: Arc::new(client),
        on_error: match args.on_error {
            OnErrorArg::Allow => OnError::Allow,
            OnErrorArg::Deny => OnError::Deny,
        },
        deadline: timeout,
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(format!("runtime: {e}")));
    rt.block_on(async {
        let listener = match TcpListener::bind(args.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("admission_webhook: {}: {e}", args.listen);
                std::process::exit(1);
            }
        };
        let addr = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        eprintln!(
            "admission_webhook: serving https://{addr} for {} nodes in {} classes",
            state.inventory.nodes().len(),
            state.inventory.fleet().classes().len()
        );
        serve(state, listener, tls).await;
    });
}
