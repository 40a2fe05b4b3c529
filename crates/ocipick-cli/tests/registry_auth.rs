//! Registry credentials and TLS as podman, skopeo, crane and Docker users
//! set them up, against the real registry (`docker-registry` on loopback):
//! auth.json files (`--authfile`, `REGISTRY_AUTH_FILE`,
//! `$XDG_RUNTIME_DIR/containers/auth.json`) and their namespaced keys,
//! `identitytoken` refresh tokens, per-registry certificate directories
//! (`/etc/docker/certs.d`, `/etc/containers/certs.d`, `--cert-dir`) with
//! mutual TLS, `--verbose` and `--quiet`, and that no secret ever shows in
//! any output.

mod common;
#[path = "support/registry.rs"]
mod registry_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use common::{argv, run_cmd, run_cmd_stdin, Run, OCI_INDEX};
use registry_support::{Auth, Registry, TlsMaterial, TokenIssuer, GPU_KEY};
use serde_json::json;

const USER: &str = "podman-user";
const PASSWORD: &str = "Authjson-pw-61c0-never-printed";

/// `ocipick ARGS` with no configuration file and no credential files but
/// those a test names.
fn oc(args: &[&str]) -> Command {
    let mut c = common::cmd(args);
    c.env("DOCKER_CONFIG", "/nonexistent/ocipick-auth-tests")
        .env("XDG_RUNTIME_DIR", "/nonexistent/ocipick-auth-tests")
        .env("XDG_CONFIG_HOME", "/nonexistent/ocipick-auth-tests")
        .env_remove("REGISTRY_AUTH_FILE");
    c
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Asserts that none of `secrets` shows in any of the runs' output.
fn assert_hidden(secrets: &[&str], runs: &[&Run]) {
    for s in secrets {
        for r in runs {
            assert!(
                !r.stdout.contains(s) && !r.stderr.contains(s),
                "a secret ({s:?}) leaked into the output: {r:#?}"
            );
        }
    }
}

/// Pushes a two-entry index (plain amd64, GPU amd64) as `repo:v1`;
/// returns the GPU image's digest.
fn push_demo(reg: &Registry, repo: &str) -> String {
    let plain = reg.push_image(repo, "plain-amd64", Some("linux/amd64"), &[], false);
    let gpu = reg.push_gpu_image(repo, "gpu-amd64", false);
    reg.push_index(repo, "v1", OCI_INDEX, &[plain, gpu.clone()]);
    gpu["digest"].as_str().unwrap().to_owned()
}

/// A TLS registry with HTTP Basic for USER/PASSWORD, holding `repos`.
fn basic_registry(repos: &[&str]) -> (Registry, Vec<String>) {
    let tls = TlsMaterial::new();
    let reg = Registry::start(
        Some(&tls),
        Auth::Htpasswd {
            username: USER.to_owned(),
            password: PASSWORD.to_owned(),
        },
    );
    let gpus = repos.iter().map(|r| push_demo(&reg, r)).collect();
    (reg, gpus)
}

fn ca(reg: &Registry) -> String {
    reg.ca_file.as_ref().unwrap().display().to_string()
}

fn write(dir: &Path, name: &str, v: &serde_json::Value) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, v.to_string()).unwrap();
    p
}

fn resolve_line(ca: &str) -> Vec<String> {
    argv(
        "resolve --no-config -p linux/amd64 --prefer",
        &[GPU_KEY, "--ca-file", ca],
    )
    .into_iter()
    .map(str::to_owned)
    .collect()
}

/// `resolve … --ca-file CA EXTRA… SRC` with the environment `env`.
fn resolve(ca: &str, extra: &[&str], src: &str, env: &[(&str, &Path)]) -> Run {
    let line = resolve_line(ca);
    let mut args: Vec<&str> = line.iter().map(String::as_str).collect();
    args.extend(extra);
    args.push(src);
    let mut c = oc(&args);
    for (k, v) in env {
        c.env(k, v);
    }
    run_cmd(c)
}

#[test]
fn auth_json_from_authfile_registry_auth_file_and_xdg_runtime_dir() {
    let (reg, gpus) = basic_registry(&["team/app"]);
    let host = reg.host();
    let src = format!("{host}/team/app:v1");
    let want = format!("{host}/team/app@{}\n", gpus[0]);
    let ca = ca(&reg);
    let dir = tempfile::tempdir().unwrap();
    let good = json!({"auths": {host.clone(): {"auth": b64(&format!("{USER}:{PASSWORD}"))}}});
    let wrong_pw = "Authjson-wrong-pw-0e9";
    let wrong = json!({"auths": {host.clone(): {"auth": b64(&format!("{USER}:{wrong_pw}"))}}});

    // --authfile: that file only.
    let file = write(dir.path(), "flag/auth.json", &good);
    let r1 = resolve(&ca, &["--authfile", file.to_str().unwrap()], &src, &[]);
    assert_eq!(r1.expect(0).stdout, want);

    // REGISTRY_AUTH_FILE, and --authfile wins over it.
    let wrong_file = write(dir.path(), "env/auth.json", &wrong);
    let r2 = resolve(&ca, &[], &src, &[("REGISTRY_AUTH_FILE", &file)]);
    assert_eq!(r2.expect(0).stdout, want);
    let r3 = resolve(
        &ca,
        &["--authfile", file.to_str().unwrap()],
        &src,
        &[("REGISTRY_AUTH_FILE", &wrong_file)],
    );
    assert_eq!(r3.expect(0).stdout, want);
    let r4 = resolve(&ca, &[], &src, &[("REGISTRY_AUTH_FILE", &wrong_file)]);
    r4.expect(3).stderr_has("401");
    // Only that file: with none for this registry in it, the right ones
    // elsewhere are not consulted.
    let other = write(
        dir.path(),
        "other/auth.json",
        &json!({"auths": {"elsewhere.example": {"auth": b64("x:y")}}}),
    );
    let good_runtime = dir.path().join("good-runtime");
    write(&good_runtime, "containers/auth.json", &good);
    let r4b = resolve(
        &ca,
        &["--authfile", other.to_str().unwrap()],
        &src,
        &[("XDG_RUNTIME_DIR", &good_runtime)],
    );
    r4b.expect(3).stderr_has("401");
    let r4c = resolve(&ca, &[], &src, &[("XDG_RUNTIME_DIR", &good_runtime)]);
    assert_eq!(r4c.expect(0).stdout, want);

    // $XDG_RUNTIME_DIR/containers/auth.json, read before the Docker config
    // (which holds the wrong password here) and before
    // $XDG_CONFIG_HOME/containers/auth.json.
    let runtime = dir.path().join("runtime");
    write(&runtime, "containers/auth.json", &good);
    let docker = dir.path().join("docker");
    write(&docker, "config.json", &wrong);
    let config_home = dir.path().join("config-home");
    write(&config_home, "containers/auth.json", &wrong);
    let env = [
        ("XDG_RUNTIME_DIR", runtime.as_path()),
        ("XDG_CONFIG_HOME", config_home.as_path()),
        ("DOCKER_CONFIG", docker.as_path()),
    ];
    let r5 = resolve(&ca, &[], &src, &env);
    assert_eq!(r5.expect(0).stdout, want);
    // Without it, $XDG_CONFIG_HOME's (wrong) comes before the Docker
    // config (now right): 401.
    std::fs::remove_file(runtime.join("containers/auth.json")).unwrap();
    write(&docker, "config.json", &good);
    let r6 = resolve(&ca, &[], &src, &env);
    r6.expect(3).stderr_has("401");
    // Then the Docker config still works, as before.
    std::fs::remove_file(config_home.join("containers/auth.json")).unwrap();
    let r7 = resolve(&ca, &[], &src, &env);
    assert_eq!(r7.expect(0).stdout, want);

    assert_hidden(
        &[PASSWORD, wrong_pw],
        &[&r1, &r2, &r3, &r4, &r4b, &r4c, &r5, &r6, &r7],
    );
}

#[test]
fn auth_json_namespaced_keys_most_specific_wins() {
    let (reg, gpus) = basic_registry(&["team/app", "team/other", "solo/app"]);
    let host = reg.host();
    let ca = ca(&reg);
    let dir = tempfile::tempdir().unwrap();
    let right = b64(&format!("{USER}:{PASSWORD}"));
    let wrong = b64(&format!("{USER}:Authjson-wrong-ns-4c"));
    // team/app has its own (right) entry; the rest of team/ a wrong one;
    // the registry's own entry is right again.
    let file = write(
        dir.path(),
        "auth.json",
        &json!({"auths": {
            format!("{host}/team/app"): {"auth": right},
            format!("{host}/team"): {"auth": wrong},
            host.clone(): {"auth": right},
        }}),
    );
    let flag = ["--authfile", file.to_str().unwrap()];
    let run = |repo: &str| resolve(&ca, &flag, &format!("{host}/{repo}:v1"), &[]);
    let r1 = run("team/app");
    assert_eq!(
        r1.expect(0).stdout,
        format!("{host}/team/app@{}\n", gpus[0])
    );
    let r2 = run("team/other");
    r2.expect(3).stderr_has("401");
    let r3 = run("solo/app");
    assert_eq!(
        r3.expect(0).stdout,
        format!("{host}/solo/app@{}\n", gpus[2])
    );
    assert_hidden(&[PASSWORD, "Authjson-wrong-ns-4c"], &[&r1, &r2, &r3]);
}

#[test]
fn malformed_or_missing_auth_files_are_exit_2_naming_the_file() {
    let (reg, _) = basic_registry(&["team/app"]);
    let host = reg.host();
    let src = format!("{host}/team/app:v1");
    let ca = ca(&reg);
    let dir = tempfile::tempdir().unwrap();
    let secret = b64(&format!("{USER}:{PASSWORD}"));
    let bad = dir.path().join("auth.json");
    // The value is where an entry object should be: serde would quote it.
    std::fs::write(&bad, format!(r#"{{"auths": {{"{host}": "{secret}"}}}}"#)).unwrap();
    let r1 = resolve(&ca, &["--authfile", bad.to_str().unwrap()], &src, &[]);
    r1.expect(2)
        .stderr_has(&bad.display().to_string())
        .stderr_has("line 1");
    // The same file found through XDG_RUNTIME_DIR.
    let runtime = dir.path().join("runtime");
    std::fs::create_dir_all(runtime.join("containers")).unwrap();
    std::fs::copy(&bad, runtime.join("containers/auth.json")).unwrap();
    let r2 = resolve(&ca, &[], &src, &[("XDG_RUNTIME_DIR", &runtime)]);
    r2.expect(2).stderr_has("containers/auth.json");
    // Not base64.
    std::fs::write(
        &bad,
        format!(r#"{{"auths": {{"{host}": {{"auth": "%%{secret}"}}}}}}"#),
    )
    .unwrap();
    let r3 = resolve(&ca, &["--authfile", bad.to_str().unwrap()], &src, &[]);
    r3.expect(2)
        .stderr_has(&bad.display().to_string())
        .stderr_has("base64");
    // A missing --authfile.
    let r4 = resolve(&ca, &["--authfile", "/nonexistent/auth.json"], &src, &[]);
    r4.expect(2).stderr_has("/nonexistent/auth.json");
    assert_eq!(r1.stdout, "");
    assert_hidden(&[PASSWORD, &secret], &[&r1, &r2, &r3, &r4]);
}

// ---------------------------------------------------------------------------
// identitytoken: OAuth2 refresh tokens

const TOKEN_USER: &str = "token-user";
const TOKEN_PASSWORD: &str = "Issuer-pw-27d1-never-printed";
const REFRESH_TOKEN: &str = "Refresh-tok-8e5a-never-printed";

fn assert_tokens_hidden(issuer: &TokenIssuer, runs: &[&Run]) {
    for t in issuer.issued.lock().unwrap().iter() {
        // The whole token, and its signature alone.
        assert_hidden(&[t, t.rsplit('.').next().unwrap()], runs);
    }
}

#[test]
fn identity_token_is_exchanged_at_the_token_endpoint() {
    let (issuer, _guard) =
        TokenIssuer::start_with_refresh_token(TOKEN_USER, TOKEN_PASSWORD, REFRESH_TOKEN);
    let reg = Registry::start(None, Auth::Token(issuer.clone()));
    let gpu = push_demo(&reg, "private/app");
    let host = reg.host();
    let src = format!("{host}/private/app:v1");
    let dir = tempfile::tempdir().unwrap();
    let run = |env: (&str, &Path), extra: &[&str]| {
        let mut args = argv("resolve --no-config -p linux/amd64 --prefer", &[GPU_KEY]);
        args.extend(extra);
        args.push(&src);
        let mut c = oc(&args);
        c.env(env.0, env.1);
        run_cmd(c)
    };
    // In a Docker config (Docker writes the user name beside it), and in
    // an auth.json (the token alone).
    let docker = dir.path().join("docker");
    write(
        &docker,
        "config.json",
        &json!({"auths": {host.clone(): {"auth": b64(&format!("{TOKEN_USER}:")), "identitytoken": REFRESH_TOKEN}}}),
    );
    let runtime = dir.path().join("runtime");
    write(
        &runtime,
        "containers/auth.json",
        &json!({"auths": {format!("{host}/private"): {"identitytoken": REFRESH_TOKEN}}}),
    );
    let mut runs = Vec::new();
    for env in [
        ("DOCKER_CONFIG", docker.as_path()),
        ("XDG_RUNTIME_DIR", runtime.as_path()),
    ] {
        let before = issuer.requests.lock().unwrap().len();
        let r = run(env, &["-v"]);
        assert_eq!(
            r.expect(0).stdout,
            format!("{host}/private/app@{gpu}\n"),
            "{env:?}"
        );
        let asked: Vec<_> = issuer.requests.lock().unwrap()[before..].to_vec();
        assert_eq!(asked.len(), 1, "{asked:#?}");
        let q = &asked[0];
        assert_eq!(q.method, "POST");
        assert_eq!(q.status, 200);
        assert_eq!(
            q.username, None,
            "no Basic credentials beside the refresh token"
        );
        assert!(q.query.is_empty(), "the parameters are in the body: {q:#?}");
        let field = |k: &str| q.form.get(k).map(String::as_str);
        assert_eq!(field("grant_type"), Some("refresh_token"));
        assert_eq!(field("refresh_token"), Some(REFRESH_TOKEN));
        assert_eq!(field("service"), Some(TokenIssuer::SERVICE));
        assert_eq!(field("scope"), Some("repository:private/app:pull"));
        assert_eq!(field("client_id"), Some("ocipick"));
        // -v shows the exchange, without the query or the body.
        assert!(
            r.stderr
                .contains(&format!("POST {} -> 200", issuer.realm())),
            "{r:#?}"
        );
        runs.push(r);
    }

    // A refresh token the issuer does not know: 401 from it, exit 3.
    let wrong = "Refresh-wrong-31f0-never-printed";
    write(
        &docker,
        "config.json",
        &json!({"auths": {host.clone(): {"identitytoken": wrong}}}),
    );
    let before = issuer.requests.lock().unwrap().len();
    let r = run(("DOCKER_CONFIG", docker.as_path()), &["-v"]);
    r.expect(3).stderr_has("401").stderr_has("identity token");
    assert_eq!(r.stdout, "");
    let asked: Vec<_> = issuer.requests.lock().unwrap()[before..].to_vec();
    assert_eq!(asked.len(), 1, "{asked:#?}");
    assert_eq!((asked[0].method.as_str(), asked[0].status), ("POST", 401));
    assert_eq!(
        asked[0].form.get("refresh_token").map(String::as_str),
        Some(wrong)
    );
    runs.push(r);
    let runs: Vec<&Run> = runs.iter().collect();
    assert_hidden(&[REFRESH_TOKEN, wrong, TOKEN_PASSWORD], &runs);
    assert_tokens_hidden(&issuer, &runs);
}

// ---------------------------------------------------------------------------
// Per-registry TLS material and mutual TLS

/// A registry's directory under a real certs.d root
/// (`/etc/docker/certs.d/127.0.0.1:PORT`: the port is this test's
/// registry's, so no other run shares it), removed when dropped.
struct HostCertDir(PathBuf);

impl HostCertDir {
    fn create(root: &str, host: &str, files: &[(&str, &str)]) -> HostCertDir {
        let dir = Path::new(root).join(host);
        std::fs::create_dir_all(&dir).unwrap();
        fill(&dir, files);
        HostCertDir(dir)
    }
}

impl Drop for HostCertDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fill(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

/// The lines of a PEM document that carry its base64 body.
fn pem_body(pem: &str) -> Vec<&str> {
    pem.lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 20)
        .collect()
}

#[test]
fn mutual_tls_with_certs_d_and_cert_dir() {
    let tls = TlsMaterial::with_client_auth();
    let client = tls.client.as_ref().unwrap();
    let reg = Registry::start(Some(&tls), Auth::None);
    let gpu = push_demo(&reg, "mtls/app");
    let host = reg.host();
    let src = format!("{host}/mtls/app:v1");
    let want = format!("{host}/mtls/app@{gpu}\n");
    let ca = ca(&reg);
    let run = |extra: &[&str]| {
        let mut args = argv("resolve --no-config -p linux/amd64 --prefer", &[GPU_KEY]);
        args.extend(extra);
        args.push(&src);
        run_cmd(oc(&args))
    };
    let right = [
        ("ca.crt", tls.ca_pem.as_str()),
        ("client.cert", client.cert_pem.as_str()),
        ("client.key", client.key_pem.as_str()),
    ];
    // Another client certificate, from a CA the registry does not know.
    let stranger = registry_support::ClientMaterial::new("stranger");
    let wrong = [
        ("ca.crt", tls.ca_pem.as_str()),
        ("client.cert", stranger.cert_pem.as_str()),
        ("client.key", stranger.key_pem.as_str()),
    ];
    let mut runs = Vec::new();

    // The server is trusted, but without a client certificate the
    // handshake fails: exit 3.
    let r = run(&["--ca-file", &ca]);
    r.expect(3)
        .stderr_has(&host)
        .stderr_has("may require a client certificate");
    runs.push(r);

    // --cert-dir: the CA and the client certificate from there.
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), &right);
    let cert_dir = dir.path().to_str().unwrap();
    let r = run(&["--cert-dir", cert_dir]);
    assert_eq!(r.expect(0).stdout, want);
    runs.push(r);

    // /etc/docker/certs.d/HOST:PORT, with nothing on the command line.
    let docker = HostCertDir::create("/etc/docker/certs.d", &host, &right);
    let r = run(&["-v"]);
    assert_eq!(r.expect(0).stdout, want);
    assert!(
        r.stderr.contains(&format!(
            "TLS for {host}: /etc/docker/certs.d/{host} (CA files: ca.crt; client certificate: client.cert)"
        )),
        "{r:#?}"
    );
    runs.push(r);

    // /etc/containers/certs.d comes first: its (right) certificate wins
    // over Docker's (wrong) one, and without it Docker's is used (refused).
    fill(&docker.0, &wrong);
    let containers = HostCertDir::create("/etc/containers/certs.d", &host, &right);
    let r = run(&[]);
    assert_eq!(r.expect(0).stdout, want);
    runs.push(r);
    // --cert-dir wins over both.
    fill(&containers.0, &wrong);
    let r = run(&["--cert-dir", cert_dir]);
    assert_eq!(r.expect(0).stdout, want);
    runs.push(r);
    drop(containers);
    let r = run(&[]);
    r.expect(3)
        .stderr_has(&host)
        .stderr_has("refused the client certificate");
    runs.push(r);
    drop(docker);

    // A certificate without its key, a key without its certificate: exit 2
    // naming the file.
    std::fs::remove_file(dir.path().join("client.key")).unwrap();
    let r = run(&["--cert-dir", cert_dir]);
    r.expect(2)
        .stderr_has(&format!("{cert_dir}/client.cert"))
        .stderr_has("client.key");
    runs.push(r);
    fill(dir.path(), &[("client.key", &client.key_pem)]);
    std::fs::remove_file(dir.path().join("client.cert")).unwrap();
    let r = run(&["--cert-dir", cert_dir]);
    r.expect(2).stderr_has(&format!("{cert_dir}/client.key"));
    runs.push(r);
    // Well-framed PEM around garbage, a key that is not one, the key of
    // another certificate, a CA file of garbage: exit 2 naming the files,
    // never a panic.
    let garbage = "-----BEGIN CERTIFICATE-----\nAAAAAAAA\n-----END CERTIFICATE-----\n";
    let bad_key = "-----BEGIN PRIVATE KEY-----\nAAAAAAAA\n-----END PRIVATE KEY-----\n";
    for (files, names) in [
        (vec![("client.cert", garbage)], vec!["client.cert"]),
        (
            vec![
                ("client.cert", client.cert_pem.as_str()),
                ("client.key", bad_key),
            ],
            vec!["client.key"],
        ),
        (
            vec![("client.key", stranger.key_pem.as_str())],
            vec!["client.cert", "client.key"],
        ),
        (
            vec![
                ("client.key", client.key_pem.as_str()),
                ("extra.crt", garbage),
            ],
            vec!["extra.crt"],
        ),
    ] {
        fill(dir.path(), &files);
        let r = run(&["--cert-dir", cert_dir]);
        r.expect(2);
        for n in names {
            r.stderr_has(&format!("{cert_dir}/{n}"));
        }
        runs.push(r);
    }
    std::fs::remove_file(dir.path().join("extra.crt")).unwrap();
    let r = run(&["--cert-dir", cert_dir]);
    assert_eq!(r.expect(0).stdout, want);
    runs.push(r);
    // The same check for --ca-file.
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, garbage).unwrap();
    let r = run(&["--ca-file", junk.to_str().unwrap()]);
    r.expect(2)
        .stderr_has(junk.to_str().unwrap())
        .stderr_has("not a valid certificate");
    runs.push(r);
    let r = run(&["--cert-dir", "/nonexistent/ocipick-certs"]);
    r.expect(2).stderr_has("/nonexistent/ocipick-certs");
    runs.push(r);

    let runs: Vec<&Run> = runs.iter().collect();
    for key in [&client.key_pem, &stranger.key_pem] {
        assert_hidden(&pem_body(key), &runs);
    }
}

// ---------------------------------------------------------------------------
// --verbose: one line per request, and no secret on any credential path

/// Writes `docker-credential-NAME` into `bin`: it answers `get` with
/// `username`/`secret` for `server` and "not found" otherwise.
fn helper(bin: &Path, name: &str, server: &str, username: &str, secret: &str) {
    std::fs::create_dir_all(bin).unwrap();
    let script = format!(
        "#!/bin/sh\n\
         read -r server\n\
         if [ \"$1\" = get ] && [ \"$server\" = \"{server}\" ]; then\n\
           printf '{{\"ServerURL\":\"%s\",\"Username\":\"{username}\",\"Secret\":\"{secret}\"}}' \"$server\"\n\
         else\n\
           echo 'credentials not found in native keychain'; exit 1\n\
         fi\n"
    );
    let path = bin.join(format!("docker-credential-{name}"));
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The `--verbose` request lines of `stderr`, parsed: (method, URL,
/// status or `None` for a failed request). Panics on a request line that
/// lacks the status, the length or the time.
fn request_lines(stderr: &str) -> Vec<(String, String, Option<u16>)> {
    let mut out = Vec::new();
    for line in stderr.lines() {
        let Some(rest) = line.strip_prefix("ocipick: ") else {
            continue;
        };
        let Some((method, rest)) = rest.split_once(' ') else {
            continue;
        };
        if !["GET", "HEAD", "PUT", "POST"].contains(&method) {
            continue;
        }
        let (url, answer) = rest.split_once(" -> ").expect(line);
        assert!(
            url.starts_with("http://") || url.starts_with("https://"),
            "{line}"
        );
        assert!(answer.ends_with(" ms)"), "no time taken: {line}");
        let status = if answer.starts_with("failed: ") {
            None
        } else {
            let (status, detail) = answer.split_once(" (").expect(line);
            assert!(
                detail.contains(" bytes, ") || detail.starts_with("length unknown, "),
                "no body length: {line}"
            );
            Some(status.parse().expect(line))
        };
        out.push((method.to_owned(), url.to_owned(), status));
    }
    out
}

/// One credential path: how to run it, and what it must do.
struct Path1<'a> {
    name: &'a str,
    args: Vec<String>,
    env: Vec<(&'a str, PathBuf)>,
    stdin: Option<String>,
    code: i32,
}

/// Runs `resolve -o json -v|--debug` for `p` against `src`; checks the
/// request lines against the registry's own count, and returns the run.
fn run_path(p: &Path1<'_>, src: &str, verbose_flag: &str) -> Run {
    let mut args = argv(
        "resolve --no-config -p linux/amd64 -o json --prefer",
        &[GPU_KEY, verbose_flag],
    );
    args.extend(p.args.iter().map(String::as_str));
    args.push(src);
    let mut c = oc(&args);
    for (k, v) in &p.env {
        c.env(k, v);
    }
    let r = match &p.stdin {
        Some(s) => run_cmd_stdin(c, s.as_bytes()),
        None => run_cmd(c),
    };
    assert_eq!(r.code, p.code, "{}: {r:#?}", p.name);
    let lines = request_lines(&r.stderr);
    assert!(!lines.is_empty(), "{}: no request lines: {r:#?}", p.name);
    if p.code == 0 {
        // One line per request: as many as the run counted.
        let v = r.json();
        assert_eq!(
            lines.len() as u64,
            v["registry"]["requests"].as_u64().unwrap(),
            "{}: {r:#?}",
            p.name
        );
        assert_eq!(lines.last().unwrap().2, Some(200), "{}", p.name);
    }
    for bad in [
        "Authorization",
        "Basic ",
        "Bearer ",
        "scope=",
        "service=",
        "refresh_token",
        "password=",
    ] {
        assert!(!r.stderr.contains(bad), "{}: {bad:?} in {r:#?}", p.name);
    }
    r
}

#[test]
fn verbose_shows_every_request_and_no_secret_on_any_credential_path() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    let path_env = PathBuf::from(format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    ));
    let wrong_pw = "Verbose-wrong-pw-a07c";
    let mut secrets: Vec<String> = vec![
        PASSWORD.into(),
        TOKEN_PASSWORD.into(),
        REFRESH_TOKEN.into(),
        wrong_pw.into(),
        b64(&format!("{USER}:{PASSWORD}")),
        b64(&format!("{TOKEN_USER}:{TOKEN_PASSWORD}")),
        b64(&format!("{USER}:{wrong_pw}")),
    ];
    let mut runs = Vec::new();

    // HTTP Basic over TLS.
    let (reg, gpus) = basic_registry(&["basic/app"]);
    let host = reg.host();
    let ca = ca(&reg);
    let ca_args = |extra: &[&str]| {
        let mut v = vec!["--ca-file".to_owned(), ca.clone()];
        v.extend(extra.iter().map(|s| (*s).to_owned()));
        v
    };
    let docker = dir.path().join("basic-docker");
    write(
        &docker,
        "config.json",
        &json!({"auths": {host.clone(): {"auth": b64(&format!("{USER}:{PASSWORD}"))}}}),
    );
    let authjson = write(
        dir.path(),
        "basic-auth.json",
        &json!({"auths": {format!("{host}/basic"): {"username": USER, "password": PASSWORD}}}),
    );
    let helpers = dir.path().join("basic-helpers");
    write(
        &helpers,
        "config.json",
        &json!({"credHelpers": {host.clone(): "ocipick-verbose-helper"}}),
    );
    helper(&bin, "ocipick-verbose-helper", &host, USER, PASSWORD);
    let store = dir.path().join("basic-store");
    write(
        &store,
        "config.json",
        &json!({"credsStore": "ocipick-verbose-store"}),
    );
    helper(&bin, "ocipick-verbose-store", &host, USER, PASSWORD);
    let basic_paths = [
        Path1 {
            name: "--password-stdin",
            args: ca_args(&["--username", USER, "--password-stdin"]),
            env: vec![],
            stdin: Some(format!("{PASSWORD}\n")),
            code: 0,
        },
        Path1 {
            name: "Docker config auths",
            args: ca_args(&[]),
            env: vec![("DOCKER_CONFIG", docker.clone())],
            stdin: None,
            code: 0,
        },
        Path1 {
            name: "auth.json username/password",
            args: ca_args(&[]),
            env: vec![("REGISTRY_AUTH_FILE", authjson.clone())],
            stdin: None,
            code: 0,
        },
        Path1 {
            name: "credHelpers",
            args: ca_args(&[]),
            env: vec![
                ("DOCKER_CONFIG", helpers.clone()),
                ("PATH", path_env.clone()),
            ],
            stdin: None,
            code: 0,
        },
        Path1 {
            name: "credsStore",
            args: ca_args(&[]),
            env: vec![("DOCKER_CONFIG", store.clone()), ("PATH", path_env.clone())],
            stdin: None,
            code: 0,
        },
        Path1 {
            name: "wrong password",
            args: ca_args(&["--username", USER, "--password-stdin"]),
            env: vec![],
            stdin: Some(format!("{wrong_pw}\n")),
            code: 3,
        },
    ];
    for (i, p) in basic_paths.iter().enumerate() {
        let flag = if i % 2 == 0 { "-v" } else { "--debug" };
        let r = run_path(p, &format!("{host}/basic/app:v1"), flag);
        if p.code == 0 {
            assert_eq!(
                r.json()["reference"],
                json!(format!("{host}/basic/app@{}", gpus[0])),
                "{}",
                p.name
            );
            // The challenge and the authenticated GET, over HTTPS.
            let lines = request_lines(&r.stderr);
            let url = format!("https://{host}/v2/basic/app/manifests/v1");
            assert_eq!(
                lines,
                vec![
                    ("GET".to_owned(), url.clone(), Some(401)),
                    ("GET".to_owned(), url, Some(200))
                ],
                "{}",
                p.name
            );
            assert!(r.stderr.contains("credentials for"), "{}: {r:#?}", p.name);
        }
        runs.push(r);
    }

    // Bearer tokens.
    let (issuer, _guard) =
        TokenIssuer::start_with_refresh_token(TOKEN_USER, TOKEN_PASSWORD, REFRESH_TOKEN);
    let treg = Registry::start(None, Auth::Token(issuer.clone()));
    let tgpu = push_demo(&treg, "private/app");
    let thost = treg.host();
    let tdocker = dir.path().join("token-docker");
    write(
        &tdocker,
        "config.json",
        &json!({"auths": {thost.clone(): {"auth": b64(&format!("{TOKEN_USER}:{TOKEN_PASSWORD}"))}}}),
    );
    let tidentity = write(
        dir.path(),
        "token-identity.json",
        &json!({"auths": {thost.clone(): {"identitytoken": REFRESH_TOKEN}}}),
    );
    let thelper = dir.path().join("token-helper");
    write(
        &thelper,
        "config.json",
        &json!({"credHelpers": {thost.clone(): "ocipick-verbose-token"}}),
    );
    // Docker's convention: the user name "<token>" says the secret is an
    // identity token.
    helper(
        &bin,
        "ocipick-verbose-token",
        &thost,
        "<token>",
        REFRESH_TOKEN,
    );
    let token_paths = [
        Path1 {
            name: "token: --password-stdin",
            args: argv("--username", &[TOKEN_USER, "--password-stdin"])
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            env: vec![],
            stdin: Some(format!("{TOKEN_PASSWORD}\n")),
            code: 0,
        },
        Path1 {
            name: "token: Docker config auths",
            args: vec![],
            env: vec![("DOCKER_CONFIG", tdocker.clone())],
            stdin: None,
            code: 0,
        },
        Path1 {
            name: "token: identitytoken in auth.json",
            args: vec!["--authfile".into(), tidentity.display().to_string()],
            env: vec![],
            stdin: None,
            code: 0,
        },
        Path1 {
            name: "token: helper answering <token>",
            args: vec![],
            env: vec![
                ("DOCKER_CONFIG", thelper.clone()),
                ("PATH", path_env.clone()),
            ],
            stdin: None,
            code: 0,
        },
        Path1 {
            name: "token: wrong password",
            args: argv("--username", &[TOKEN_USER, "--password-stdin"])
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            env: vec![],
            stdin: Some(format!("{wrong_pw}\n")),
            code: 3,
        },
    ];
    for (i, p) in token_paths.iter().enumerate() {
        let flag = if i % 2 == 0 { "--verbose" } else { "--debug" };
        let before = issuer.requests.lock().unwrap().len();
        let r = run_path(p, &format!("{thost}/private/app:v1"), flag);
        let asked: Vec<_> = issuer.requests.lock().unwrap()[before..].to_vec();
        assert_eq!(asked.len(), 1, "{}: {asked:#?}", p.name);
        let method = if p.name.contains("identity") || p.name.contains("<token>") {
            "POST"
        } else {
            "GET"
        };
        assert_eq!(asked[0].method, method, "{}", p.name);
        let lines = request_lines(&r.stderr);
        let token_line = lines
            .iter()
            .find(|l| l.1.starts_with(&issuer.realm()))
            .expect(p.name);
        assert_eq!(token_line.0, method, "{}", p.name);
        // The token URL without its query string.
        assert!(
            token_line.1 == issuer.realm() || token_line.1 == format!("{}?…", issuer.realm()),
            "{token_line:?}"
        );
        if p.code == 0 {
            assert_eq!(
                r.json()["reference"],
                json!(format!("{thost}/private/app@{tgpu}")),
                "{}",
                p.name
            );
        }
        runs.push(r);
    }
    for t in issuer.issued.lock().unwrap().iter() {
        secrets.push(t.clone());
        secrets.push(t.rsplit('.').next().unwrap().to_owned());
    }
    let runs: Vec<&Run> = runs.iter().collect();
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    assert_hidden(&secrets, &runs);
}

#[test]
fn default_credential_files_in_order_and_identity_token_against_basic() {
    let (reg, _) = basic_registry(&["team/app"]);
    let host = reg.host();
    let src = format!("{host}/team/app:v1");
    let ca = ca(&reg);
    let home = tempfile::tempdir().unwrap();
    let h = home.path().display();
    // No environment at all but HOME: the default files, in order, as
    // -v lists them when none has credentials.
    let mut c = oc(&argv(
        "select --no-config -p linux/amd64 -v --ca-file",
        &[&ca, &src],
    ));
    c.env_remove("XDG_RUNTIME_DIR")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("DOCKER_CONFIG")
        .env("HOME", home.path());
    let r = run_cmd(c);
    use std::os::unix::fs::MetadataExt as _;
    let uid = std::fs::metadata("/proc/self").unwrap().uid();
    r.expect(3).stderr_has(&format!(
        "credentials for {host}/team/app: none in /run/containers/{uid}/auth.json, \
         {h}/.config/containers/auth.json, {h}/.docker/config.json"
    ));
    // With the variables set, theirs.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let mut c = oc(&argv(
        "select --no-config -p linux/amd64 -v --ca-file",
        &[&ca, &src],
    ));
    c.env("XDG_RUNTIME_DIR", dir.path().join("run"))
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .env("DOCKER_CONFIG", dir.path().join("docker"));
    let r = run_cmd(c);
    r.expect(3).stderr_has(&format!(
        "none in {d}/run/containers/auth.json, {d}/config/containers/auth.json, {d}/docker/config.json"
    ));
    // REGISTRY_AUTH_FILE alone.
    let mut c = oc(&argv(
        "select --no-config -p linux/amd64 -v --ca-file",
        &[&ca, &src],
    ));
    c.env("REGISTRY_AUTH_FILE", dir.path().join("only.json"));
    let r = run_cmd(c);
    r.expect(3).stderr_has(&format!("none in {d}/only.json\n"));

    // An identity token cannot answer a Basic challenge: a clear 401.
    let file = write(
        dir.path(),
        "identity.json",
        &json!({"auths": {host.clone(): {"identitytoken": REFRESH_TOKEN}}}),
    );
    let r = resolve(&ca, &["--authfile", file.to_str().unwrap()], &src, &[]);
    r.expect(3)
        .stderr_has("401")
        .stderr_has("only an identity token");
    assert_hidden(&[REFRESH_TOKEN], &[&r]);
}
