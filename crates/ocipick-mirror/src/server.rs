//! The HTTP side: HTTP/1.1 connections, routing, and responses — answered
//! from the mirror's state, or streamed from upstream.

use std::convert::Infallible;
use std::future::Future;
use std::io::{self, Read};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use http_body_util::{combinators::BoxBody, BodyExt, Empty, Full};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use ocipick_registry::{ForwardMethod, Reference, RegistryError, MANIFEST_ACCEPT};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::metrics::RequestLabels;
use crate::mirror::{error_kind, Failure, Mirror, Served, State};
use crate::route::{self, Resource};

type Body = BoxBody<Bytes, io::Error>;

/// Size of the chunks a streamed body is read and sent in.
const CHUNK: usize = 64 << 10;

/// Upstream response headers passed on to clients, every line of each;
/// everything else (connection handling, authentication challenges,
/// cookies) is the mirror's own business.
const PASSED_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "content-range",
    "accept-ranges",
    "docker-content-digest",
    "etag",
    "last-modified",
    "cache-control",
    "expires",
    "retry-after",
    "link",
    "oci-filters-applied",
];

/// Request headers of a passed-through request that reach the upstream as
/// the client sent them, every line of each (`Accept` lines are joined into
/// one by [`ocipick_registry::Client::forward`]). Nothing else goes
/// upstream: not the client's `Authorization` (the mirror pulls with its
/// own credentials), not its cookies, not hop-by-hop headers.
const FORWARDED_HEADERS: &[&str] = &[
    "accept",
    "range",
    "if-range",
    "if-none-match",
    "if-modified-since",
    "if-match",
    "if-unmodified-since",
];

impl Mirror {
    /// Serves on `listener` until `shutdown` completes, and `/metrics`
    /// (with `/healthz` and `/readyz`) alone on `metrics` if given. Then
    /// drains: `listener` is closed, `/readyz` answers 503, and the
    /// requests in progress may finish for up to
    /// [`Options::drain_timeout`](crate::Options::drain_timeout); the
    /// connections still open then are dropped.
    pub async fn serve(
        self,
        listener: TcpListener,
        metrics: Option<TcpListener>,
        shutdown: impl Future<Output = ()>,
    ) -> io::Result<()> {
        let state = self.state;
        if let Some(m) = metrics {
            tokio::spawn(serve_metrics(state.clone(), m));
        }
        let total = u32::try_from(state.opts.max_connections.max(1)).unwrap_or(u32::MAX);
        let permits = Arc::new(Semaphore::new(total as usize));
        tokio::pin!(shutdown);
        loop {
            let permit = tokio::select! {
                p = permits.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => return Ok(()),
                },
                _ = &mut shutdown => break,
            };
            let stream = tokio::select! {
                r = listener.accept() => match r {
                    Ok((s, _)) => s,
                    Err(e) => {
                        // Out of descriptors, say: wait a little, go on.
                        eprintln!("ocipick serve: accept: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let state = state.clone();
            let mut drain = state.health.subscribe();
            tokio::spawn(async move {
                let timeout = state.opts.client_timeout;
                let svc = hyper::service::service_fn(move |req| {
                    let state = state.clone();
                    async move { Ok::<_, Infallible>(handle(state, req).await) }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(timeout)
                    .serve_connection(TokioIo::new(stream), svc);
                tokio::pin!(conn);
                let drained = async move { drain.wait_for(|d| *d).await.is_ok() };
                tokio::select! {
                    _ = conn.as_mut() => {}
                    true = drained => {
                        // Finish the request in progress, then close.
                        conn.as_mut().graceful_shutdown();
                        let _ = conn.await;
                    }
                }
                drop(permit);
            });
        }
        // New connections are refused from here on.
        drop(listener);
        crate::probe::drain(&state.health, permits, total, state.opts.drain_timeout).await;
        Ok(())
    }

    /// Serves on `listener` (and `/metrics` alone on `metrics`) on a new
    /// Tokio runtime until SIGINT or SIGTERM.
    pub fn run(
        self,
        listener: std::net::TcpListener,
        metrics: Option<std::net::TcpListener>,
    ) -> io::Result<()> {
        listener.set_nonblocking(true)?;
        if let Some(m) = &metrics {
            m.set_nonblocking(true)?;
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("ocipick-serve")
            .build()?;
        rt.block_on(async move {
            let listener = TcpListener::from_std(listener)?;
            let metrics = metrics.map(TcpListener::from_std).transpose()?;
            self.serve(listener, metrics, shutdown_signal()).await
        })?;
        rt.shutdown_timeout(std::time::Duration::from_secs(1));
        Ok(())
    }
}

/// Answers `/metrics` (and 404 for anything else) on its own listener,
/// for scraping from outside the node while the mirror listens on loopback.
async fn serve_metrics(state: Arc<State>, listener: TcpListener) {
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let state = state.clone();
        tokio::spawn(async move {
            let timeout = state.opts.client_timeout;
            let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                let state = state.clone();
                async move {
                    let head = req.method() == Method::HEAD;
                    let read = matches!(*req.method(), Method::GET | Method::HEAD);
                    let probe = crate::probe::answer(&state.health, req.uri().path());
                    let resp = if let (Some((status, text)), true) = (probe, read) {
                        sized(
                            status,
                            Bytes::from_static(text.as_bytes()),
                            "text/plain; charset=utf-8",
                            head,
                        )
                    } else if req.uri().path() == "/metrics" && read {
                        let text = state.metrics.render();
                        sized(200, Bytes::from(text), crate::metrics::CONTENT_TYPE, head)
                    } else {
                        error(
                            404,
                            "UNSUPPORTED",
                            "only /metrics, /healthz and /readyz are served here",
                            head,
                        )
                    };
                    Ok::<_, Infallible>(resp)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(timeout)
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// A response with the API version header every answer carries.
fn response(status: u16, body: Body) -> Response<Body> {
    let mut r = Response::new(body);
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    r.headers_mut().insert(
        "docker-distribution-api-version",
        HeaderValue::from_static("registry/2.0"),
    );
    r
}

fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

fn full(bytes: Bytes) -> Body {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

/// A body of `bytes`, or none for HEAD, with its `Content-Length` either
/// way (a HEAD answer says how long the GET's body is).
fn sized(status: u16, bytes: Bytes, content_type: &str, head: bool) -> Response<Body> {
    let len = bytes.len();
    let mut r = response(status, if head { empty() } else { full(bytes) });
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        h.insert("content-type", v);
    }
    h.insert("content-length", HeaderValue::from(len));
    r
}

/// A distribution-spec error: `{"errors":[{"code","message"}]}`.
fn error(status: u16, code: &str, message: &str, head: bool) -> Response<Body> {
    let body = serde_json::json!({
        "errors": [{ "code": code, "message": message }]
    });
    sized(
        status,
        Bytes::from(body.to_string()),
        "application/json",
        head,
    )
}

/// The distribution-spec error code of an upstream refusal's status;
/// `not_found` names what a 404 did not find.
fn error_code(status: u16, not_found: &'static str) -> &'static str {
    match status {
        401 => "UNAUTHORIZED",
        403 => "DENIED",
        404 => not_found,
        429 => "TOOMANYREQUESTS",
        _ => "UNKNOWN",
    }
}

/// The answer for a failure upstream: its own error passed on, or a
/// gateway error in the distribution format.
fn failure(f: Failure, head: bool) -> Response<Body> {
    match f {
        Failure::Refused(rf) => {
            let is_errors = serde_json::from_slice::<serde_json::Value>(&rf.body)
                .ok()
                .is_some_and(|v| v.get("errors").is_some_and(|e| e.is_array()));
            if is_errors {
                let ct = rf.content_type.as_deref().unwrap_or("application/json");
                sized(rf.status, Bytes::from(rf.body.clone()), ct, head)
            } else {
                let code = error_code(rf.status, "MANIFEST_UNKNOWN");
                error(rf.status, code, &rf.error.to_string(), head)
            }
        }
        Failure::Registry(e) => registry_error(&e, head),
    }
}

fn registry_error(e: &RegistryError, head: bool) -> Response<Body> {
    let message = format!("upstream: {e}");
    match e {
        RegistryError::Transport {
            timed_out: true, ..
        } => error(504, "UNAVAILABLE", &message, head),
        RegistryError::Transport { .. } => error(502, "UNAVAILABLE", &message, head),
        RegistryError::Invalid { .. } => error(502, "MANIFEST_INVALID", &message, head),
        RegistryError::Auth(_) => error(502, "UNAUTHORIZED", &message, head),
        // A refusal the client met before any answer could be passed on
        // (a Basic-auth upstream and no credentials): its status stays.
        RegistryError::Status { status, .. } if (400..500).contains(status) => {
            error(*status, error_code(*status, "NAME_UNKNOWN"), &message, head)
        }
        RegistryError::Status { .. } | RegistryError::Setup(_) => {
            error(502, "UNKNOWN", &message, head)
        }
    }
}

/// The mirror's own answer with a manifest (a selected child, a reordered
/// or passed-on index, a manifest from its cache): its bytes, type and
/// digest, and `Etag: "DIGEST"` for these bytes, as distribution sends it.
/// A request whose `If-None-Match` names that entity tag (or `*`) is answered
/// `304 Not Modified`, with the same `Etag` and digest, without a body.
fn served(s: Served, req: &Request<Incoming>, head: bool) -> Response<Body> {
    let etag = format!("\"{}\"", s.digest);
    let mut r = if none_match(req.headers(), &etag) {
        response(304, empty())
    } else {
        sized(200, s.bytes, &s.media_type, head)
    };
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&s.digest) {
        h.insert("docker-content-digest", v);
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert("etag", v);
    }
    r
}

/// Whether a request's `If-None-Match` lines name the entity tag `etag`
/// (compared weakly, as RFC 9110 says for `If-None-Match`), or are `*`.
fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all("if-none-match")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
}

/// The request headers passed on upstream ([`FORWARDED_HEADERS`]), every
/// line (each name's lines in the order the client sent them); values
/// that are not visible ASCII are left out.
fn forwarded_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| FORWARDED_HEADERS.contains(&name.as_str()))
        .filter_map(|(name, v)| Some((name.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect()
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Response<Body> {
    let head = req.method() == Method::HEAD;
    let method = match *req.method() {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        _ => "other",
    };
    let began = Instant::now();
    let (kind, resp) = answer(&state, &req, head).await;
    if state.opts.log_requests {
        let len = resp
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        eprintln!(
            "ocipick serve: request method={} path={:?} status={} length={len} ms={:.1}",
            req.method(),
            req.uri().path_and_query().map_or("", |p| p.as_str()),
            resp.status().as_u16(),
            began.elapsed().as_secs_f64() * 1000.0
        );
    }
    state
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            kind,
            method,
            code: resp.status().as_u16(),
        })
        .inc();
    resp
}

async fn answer(
    state: &Arc<State>,
    req: &Request<Incoming>,
    head: bool,
) -> (&'static str, Response<Body>) {
    let path = req.uri().path();
    let query = req.uri().query().unwrap_or("");
    let read = matches!(*req.method(), Method::GET | Method::HEAD);
    if let (Some((status, text)), true) = (crate::probe::answer(&state.health, path), read) {
        let body = Bytes::from_static(text.as_bytes());
        return (
            "probe",
            sized(status, body, "text/plain; charset=utf-8", head),
        );
    }
    if path == "/metrics" && read {
        let text = state.metrics.render();
        return (
            "metrics",
            sized(200, Bytes::from(text), crate::metrics::CONTENT_TYPE, head),
        );
    }
    let Some(route) = route::parse(path) else {
        return (
            "unknown",
            error(404, "NAME_UNKNOWN", "not a distribution API path", head),
        );
    };
    let kind = match route.resource {
        Resource::Base => "base",
        Resource::ManifestByTag(_) => "manifest_tag",
        Resource::ManifestByDigest(_) => "manifest_digest",
        Resource::Blob(_) => "blob",
        Resource::Other | Resource::Catalog | Resource::Upload => "other",
    };
    if !read || route.resource == Resource::Upload {
        return (
            kind,
            error(405, "UNSUPPORTED", "this mirror is read-only", head),
        );
    }
    if route.resource == Resource::Base {
        return (
            kind,
            sized(200, Bytes::from_static(b"{}"), "application/json", head),
        );
    }
    let (ns, rest_query) = route::take_query_param(query, "ns");
    let (upstream, repo) = match route.resource {
        Resource::Catalog if !state.opts.upstreams.is_empty() => (0, ""),
        _ => match route::pick_upstream(&state.opts.upstreams, ns, route.name) {
            Ok(x) => x,
            Err(e) => return (kind, error(404, "NAME_UNKNOWN", &e.0, head)),
        },
    };
    let repo = repo.to_owned();
    match route.resource {
        Resource::ManifestByTag(tag) => {
            let st = state.clone();
            let key = (upstream, repo, tag.to_owned());
            let (r, t) = (key.1.clone(), key.2.clone());
            let job = tokio::task::spawn_blocking(move || st.resolve_tag(upstream, &r, &t));
            let result = crate::stale::within_deadline(state, &key, job).await;
            let resp = match result {
                Ok(Ok(s)) => served(s, req, head),
                Ok(Err(f)) => failure(f, head),
                Err(_) => error(500, "UNKNOWN", "internal error while selecting", head),
            };
            (kind, resp)
        }
        Resource::ManifestByDigest(digest) => {
            if let Some(s) = state.cached_manifest(digest) {
                return (kind, served(s, req, head));
            }
            let mut headers = forwarded_headers(req.headers());
            if !headers.iter().any(|(n, _)| n == "accept") {
                // A client that names no type still gets any manifest.
                headers.push(("accept".to_owned(), MANIFEST_ACCEPT.to_owned()));
            }
            let rest = with_query(route.rest, &rest_query);
            (
                kind,
                forward(state, upstream, repo, rest, head, headers, "manifest").await,
            )
        }
        _ => {
            let headers = forwarded_headers(req.headers());
            let rest = with_query(route.rest, &rest_query);
            let up_kind = if kind == "blob" { "blob" } else { "other" };
            (
                kind,
                forward(state, upstream, repo, rest, head, headers, up_kind).await,
            )
        }
    }
}

fn with_query(rest: &str, query: &str) -> String {
    if query.is_empty() {
        rest.to_owned()
    } else {
        format!("{rest}?{query}")
    }
}

/// A body fed by a blocking thread that reads the upstream's body.
struct ChannelBody {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    len: Option<u64>,
}

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.rx.poll_recv(cx).map(|o| o.map(|r| r.map(Frame::data)))
    }

    fn size_hint(&self) -> SizeHint {
        match self.len {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}

/// Passes a request on to the upstream and its answer back, streamed: a
/// blocking thread reads the upstream body in chunks into a bounded
/// channel, so a slow client slows the upstream read instead of filling
/// memory, and a client that stops reading for the client timeout ends the
/// transfer. `headers` are the client's, to pass on ([`FORWARDED_HEADERS`]).
async fn forward(
    state: &Arc<State>,
    upstream: usize,
    repo: String,
    rest: String,
    head: bool,
    headers: Vec<(String, String)>,
    kind: &'static str,
) -> Response<Body> {
    let (head_tx, head_rx) = oneshot::channel();
    let depth = (state.opts.stream_buffer / CHUNK).max(1);
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(depth);
    let st = state.clone();
    let rt = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let r = Reference {
            registry: st.opts.upstreams[upstream].clone(),
            repository: repo,
            tag: None,
            digest: None,
        };
        let method = if head {
            ForwardMethod::Head
        } else {
            ForwardMethod::Get
        };
        let began = Instant::now();
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let result = st.client.forward(&r, method, &rest, &headers);
        st.metrics.upstream(kind, began.elapsed());
        let resp = match result {
            Ok(resp) => resp,
            Err(e) => {
                st.metrics.error(error_kind(&e));
                let _ = head_tx.send(Err(e));
                return;
            }
        };
        if resp.status().as_u16() >= 400 {
            st.metrics.error("status");
        }
        let (parts, body) = resp.into_parts();
        if head_tx.send(Ok(parts)).is_err() || head {
            return;
        }
        let mut reader = body.into_reader();
        let stall = st.opts.client_timeout;
        loop {
            let mut buf = BytesMut::zeroed(CHUNK);
            let item = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    buf.truncate(n);
                    Ok(buf.freeze())
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
            };
            let last = item.is_err();
            // Waits while the client is slow; gives up when it stalls.
            if rt.block_on(tx.send_timeout(item, stall)).is_err() || last {
                break;
            }
        }
    });
    let parts = match head_rx.await {
        Ok(Ok(parts)) => parts,
        Ok(Err(e)) => return registry_error(&e, head),
        Err(_) => return error(500, "UNKNOWN", "internal error while forwarding", head),
    };
    let status = parts.status.as_u16();
    let len = parts
        .headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let body = if head || status == 204 || status == 304 {
        empty()
    } else {
        ChannelBody { rx, len }.boxed()
    };
    let mut resp = response(status, body);
    let h = resp.headers_mut();
    for name in PASSED_HEADERS {
        for v in parts.headers.get_all(*name) {
            h.append(HeaderName::from_static(name), v.clone());
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(lines: &[(&'static str, &[u8])]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in lines {
            h.append(*k, HeaderValue::from_bytes(v).unwrap());
        }
        h
    }

    #[test]
    fn every_line_of_the_forwarded_headers_and_nothing_else() {
        let h = map(&[
            (
                "accept",
                b"application/vnd.docker.distribution.manifest.v2+json",
            ),
            ("authorization", b"Basic Y2xpZW50OnNlY3JldA=="),
            ("accept", b"application/vnd.oci.image.manifest.v1+json"),
            ("cookie", b"a=b"),
            ("connection", b"keep-alive"),
            ("range", b"bytes=0-9"),
            ("if-none-match", b"\"sha256:x\""),
            ("accept", b"application/vnd.oci.image.index.v1+json"),
            // Not visible ASCII: left out rather than mangled.
            ("if-match", b"\"caf\xe9\""),
        ]);
        let got = forwarded_headers(&h);
        let want: Vec<(String, String)> = [
            (
                "accept",
                "application/vnd.docker.distribution.manifest.v2+json",
            ),
            ("accept", "application/vnd.oci.image.manifest.v1+json"),
            ("accept", "application/vnd.oci.image.index.v1+json"),
            ("range", "bytes=0-9"),
            ("if-none-match", "\"sha256:x\""),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let mut got_sorted = got.clone();
        got_sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let mut want_sorted = want.clone();
        want_sorted.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(got_sorted, want_sorted);
        // Each name's lines keep the client's order.
        let accepts: Vec<&str> = got
            .iter()
            .filter(|(k, _)| k == "accept")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(
            accepts,
            [
                "application/vnd.docker.distribution.manifest.v2+json",
                "application/vnd.oci.image.manifest.v1+json",
                "application/vnd.oci.image.index.v1+json"
            ]
        );
    }

    #[test]
    fn if_none_match_compares_entity_tags_weakly() {
        let tag = "\"sha256:abc\"";
        for (lines, want) in [
            (vec![("if-none-match", &b"\"sha256:abc\""[..])], true),
            (vec![("if-none-match", &b"W/\"sha256:abc\""[..])], true),
            (vec![("if-none-match", &b"*"[..])], true),
            (vec![("if-none-match", &b"\"x\", \"sha256:abc\""[..])], true),
            (
                vec![
                    ("if-none-match", &b"\"x\""[..]),
                    ("if-none-match", b"\"sha256:abc\""),
                ],
                true,
            ),
            (vec![("if-none-match", &b"\"sha256:abd\""[..])], false),
            (vec![("if-none-match", &b"sha256:abc"[..])], false),
            (vec![("if-match", &b"\"sha256:abc\""[..])], false),
            (vec![], false),
        ] {
            assert_eq!(none_match(&map(&lines), tag), want, "{lines:?}");
        }
    }
}
