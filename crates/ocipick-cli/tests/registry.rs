//! `ocipick select|rank|resolve` against a real registry: the CNCF
//! distribution registry (`docker-registry`, installed when missing), started
//! per test on a free loopback port. Covered: anonymous pulls over plain HTTP
//! (the HTTPS→HTTP loopback fallback), OCI indexes by tag and by digest,
//! Docker manifest lists, single-manifest tags, 404s, nested indexes, the
//! number of requests (from the registry's own log), HTTP Basic over TLS
//! with every credential source, and the bearer-token flow with a token
//! issuer written for the test.

mod common;
#[path = "support/registry.rs"]
mod registry_support;

use std::process::Command;

use base64::Engine as _;
use common::{argv, run_cmd, run_cmd_stdin, Run, OCI_INDEX};
use registry_support::{
    Access, Auth, Registry, TlsMaterial, TokenIssuer, DOCKER_LIST, GPU_KEY, GPU_MODEL,
};
use serde_json::{json, Value};

/// `ocipick ARGS` with no configuration file and no Docker credentials.
fn oc(args: &[&str]) -> Command {
    let mut c = common::cmd(args);
    c.env("DOCKER_CONFIG", "/nonexistent/ocipick-registry-tests");
    c
}

fn go(args: &[&str]) -> Run {
    run_cmd(oc(args))
}

/// The three images of the demo index, and the index's digest.
struct Demo {
    plain: String,
    arm: String,
    gpu: String,
    index: String,
}

/// Pushes [plain linux/amd64, linux/arm64, linux/amd64 + GPU annotation]
/// as an index (OCI, or a Docker manifest list with `docker`) under `tag`.
fn push_demo(reg: &Registry, repo: &str, tag: &str, docker: bool) -> Demo {
    let plain = reg.push_image(repo, "plain-amd64", Some("linux/amd64"), &[], docker);
    let arm = reg.push_image(repo, "arm64", Some("linux/arm64"), &[], docker);
    let gpu = reg.push_gpu_image(repo, "gpu-amd64", docker);
    let media_type = if docker { DOCKER_LIST } else { OCI_INDEX };
    let index = reg.push_index(
        repo,
        tag,
        media_type,
        &[plain.clone(), arm.clone(), gpu.clone()],
    );
    let d = |v: &Value| v["digest"].as_str().unwrap().to_owned();
    Demo {
        plain: d(&plain),
        arm: d(&arm),
        gpu: d(&gpu),
        index,
    }
}

/// Asserts that `secret` shows in none of the runs' output.
fn assert_hidden(secret: &str, runs: &[&Run]) {
    for r in runs {
        assert!(
            !r.stdout.contains(secret) && !r.stderr.contains(secret),
            "a secret leaked into the output: {r:#?}"
        );
    }
}

/// The access-log lines of ocipick's requests after the first `from`.
fn ocipick_lines(reg: &Registry, from: usize) -> Vec<Access> {
    reg.sync_log();
    reg.access_log()
        .into_iter()
        .skip(from)
        .filter(|a| a.user_agent.starts_with("ocipick/"))
        .collect()
}

/// The "response completed" lines of ocipick's requests after the first
/// `from`.
fn ocipick_completed(reg: &Registry, from: usize) -> Vec<Value> {
    reg.completed()
        .into_iter()
        .skip(from)
        .filter(|v| {
            v["http.request.useragent"]
                .as_str()
                .is_some_and(|u| u.starts_with("ocipick/"))
        })
        .collect()
}

#[test]
fn anonymous_oci_index_by_tag_and_by_digest() {
    let reg = Registry::anonymous();
    let demo = push_demo(&reg, "demo/app", "v1", false);
    let host = reg.host();
    let by_tag = format!("{host}/demo/app:v1");
    let by_digest = format!("{host}/demo/app@{}", demo.index);

    for src in [&by_tag, &by_digest] {
        let r = go(&argv("select --no-config -p linux/amd64 -o json", &[src]));
        let v = r.expect(0).json();
        assert_eq!(v["digest"], json!(demo.plain), "{src}");
        assert_eq!(v["position"], json!(0));
        assert_eq!(v["index"]["digest"], json!(demo.index));
        assert_eq!(v["index"]["entries"], json!(3));
        assert_eq!(v["index"]["source"], json!(src));
        assert_eq!(v["registry"]["manifestRequests"], json!(1));
        assert_eq!(v["via"], json!([]));

        let r = go(&argv(
            "select --no-config -p linux/amd64 --prefer",
            &[GPU_KEY, "-o", "json", src],
        ));
        let v = r.expect(0).json();
        assert_eq!(v["digest"], json!(demo.gpu), "{src}");
        assert_eq!(v["position"], json!(2));
        assert_eq!(v["annotations"][GPU_KEY], json!(GPU_MODEL));

        let r = go(&argv(
            "resolve --no-config -p linux/amd64 --prefer",
            &[GPU_KEY, src],
        ));
        assert_eq!(
            r.expect(0).stdout,
            format!("{host}/demo/app@{}\n", demo.gpu)
        );
        assert_eq!(r.stderr, "");

        let r = go(&["select", "--no-config", "-p", "linux/arm64", src]);
        assert!(r.expect(0).stdout.contains(&demo.arm), "{r:#?}");

        let r = go(&argv(
            "rank --no-config -p linux/amd64 --prefer",
            &[GPU_KEY, "-o", "json", src],
        ));
        let v = r.expect(0).json();
        assert_eq!(v["selected"], json!(2));
        assert_eq!(v["entries"][0]["digest"], json!(demo.gpu));
    }

    // An entry the target cannot run: exit 1, as for local sources.
    let r = go(&["select", "--no-config", "-p", "linux/s390x", &by_tag]);
    r.expect(1).stderr_has("linux/arm64");
}

#[test]
fn anonymous_docker_manifest_list() {
    let reg = Registry::anonymous();
    let demo = push_demo(&reg, "docker/list", "latest", true);
    let host = reg.host();
    // No tag: `latest`.
    let src = format!("{host}/docker/list");
    let r = go(&argv("select --no-config -p linux/amd64 -o json", &[&src]));
    let v = r.expect(0).json();
    assert_eq!(v["digest"], json!(demo.plain));
    assert_eq!(v["mediaType"], json!(registry_support::DOCKER_MANIFEST));
    assert_eq!(v["index"]["mediaType"], json!(DOCKER_LIST));
    assert_eq!(v["index"]["digest"], json!(demo.index));

    let r = go(&argv(
        "resolve --no-config -p linux/amd64 --prefer",
        &[&format!("{GPU_KEY}={GPU_MODEL}"), &src],
    ));
    assert_eq!(
        r.expect(0).stdout,
        format!("{host}/docker/list@{}\n", demo.gpu)
    );

    let by_digest = format!("docker://{host}/docker/list@{}", demo.index);
    let r = go(&["resolve", "--no-config", "-p", "linux/arm64", &by_digest]);
    assert_eq!(
        r.expect(0).stdout,
        format!("{host}/docker/list@{}\n", demo.arm)
    );
}

#[test]
fn anonymous_single_manifest_tag_is_the_only_candidate() {
    let reg = Registry::anonymous();
    let host = reg.host();
    for (repo, docker) in [("single/oci", false), ("single/docker", true)] {
        let d = reg.push_image(repo, repo, None, &[], docker);
        let digest = d["digest"].as_str().unwrap().to_owned();
        let media_type = d["mediaType"].as_str().unwrap().to_owned();
        let bytes = reg.get_manifest(repo, &digest);
        reg.push_manifest(repo, "v1", &media_type, &bytes);

        let src = format!("{host}/{repo}:v1");
        let v = go(&argv("select --no-config -p linux/amd64 -o json", &[&src]))
            .expect(0)
            .json();
        assert_eq!(v["digest"], json!(digest), "{repo}");
        assert_eq!(v["mediaType"], json!(media_type));
        assert_eq!(v["size"], json!(bytes.len()));
        assert_eq!(v["position"], json!(0));
        assert_eq!(v["index"]["entries"], json!(1));
        assert_eq!(v["registry"]["manifestRequests"], json!(1));

        let r = go(&["resolve", "--no-config", "-p", "linux/arm64", &src]);
        assert_eq!(r.expect(0).stdout, format!("{host}/{repo}@{digest}\n"));
        let r = go(&["rank", "--no-config", "-p", "linux/amd64", &src]);
        assert!(
            r.expect(0).stdout.contains(&format!("selected {digest}")),
            "{r:#?}"
        );
    }
}

#[test]
fn missing_repository_and_missing_tag_exit_3() {
    let reg = Registry::anonymous();
    push_demo(&reg, "demo/app", "v1", false);
    let host = reg.host();
    for (src, repo) in [
        (format!("{host}/nope/absent:v1"), "nope/absent"),
        (format!("{host}/demo/app:absent"), "demo/app"),
        (
            format!("{host}/demo/app@{}", common::fake_digest("absent")),
            "demo/app",
        ),
    ] {
        for mode in ["select", "rank", "resolve"] {
            let r = go(&[mode, "--no-config", "-p", "linux/amd64", &src]);
            r.expect(3)
                .stderr_has(&format!("{host}/{repo}"))
                .stderr_has("404");
            assert_eq!(r.stdout, "", "{r:#?}");
        }
    }
}

#[test]
fn nested_index_costs_exactly_one_more_get() {
    let reg = Registry::anonymous();
    let host = reg.host();
    let repo = "nested/app";
    let arm = reg.push_image(repo, "arm64", Some("linux/arm64"), &[], false);
    let plain = reg.push_image(repo, "plain-amd64", Some("linux/amd64"), &[], false);
    let gpu = reg.push_gpu_image(repo, "gpu-amd64", false);
    let inner_doc = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [plain, gpu]});
    let mut inner = reg.push_by_digest(repo, OCI_INDEX, &inner_doc);
    inner["platform"] = common::platform("linux/amd64");
    let inner_digest = inner["digest"].as_str().unwrap().to_owned();
    let outer = reg.push_index(repo, "v1", OCI_INDEX, &[arm.clone(), inner]);
    let src = format!("{host}/{repo}:v1");

    reg.sync_log();
    let before = reg.access_log().len();
    let completed_before = reg.completed().len();
    let v = go(&argv(
        "select --no-config -p linux/amd64 --prefer",
        &[GPU_KEY, "-o", "json", &src],
    ))
    .expect(0)
    .json();
    assert_eq!(v["digest"], gpu["digest"]);
    assert_eq!(v["position"], json!(1));
    assert_eq!(v["via"], json!([{"position": 1, "digest": inner_digest}]));
    assert_eq!(v["index"]["digest"], json!(inner_digest));
    assert_eq!(
        v["index"]["source"],
        json!(format!("{host}/{repo}@{inner_digest}"))
    );
    assert_eq!(v["registry"]["manifestRequests"], json!(2));
    let lines = ocipick_lines(&reg, before);
    let got: Vec<(String, String, u16)> = lines
        .iter()
        .map(|a| (a.method.clone(), a.uri.clone(), a.status))
        .collect();
    assert_eq!(
        got,
        vec![
            ("GET".to_owned(), format!("/v2/{repo}/manifests/v1"), 200),
            (
                "GET".to_owned(),
                format!("/v2/{repo}/manifests/{inner_digest}"),
                200
            ),
        ]
    );
    assert_eq!(ocipick_completed(&reg, completed_before).len(), 2);

    // resolve pins the image inside; text shows the hop.
    let r = go(&argv(
        "resolve --no-config -p linux/amd64 --prefer",
        &[GPU_KEY, &src],
    ));
    assert_eq!(
        r.expect(0).stdout,
        format!("{host}/{repo}@{}\n", gpu["digest"].as_str().unwrap())
    );
    let r = go(&["select", "--no-config", "-p", "linux/amd64", &src]);
    r.expect(0);
    // (The label wraps the long line: compare without the line breaks.)
    let flat = r.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(&format!("via nested index #1 {inner_digest}")),
        "{r:#?}"
    );
    assert!(
        r.stdout.contains(plain["digest"].as_str().unwrap()),
        "{r:#?}"
    );
    // arm64 stops at the outer index: one GET.
    let v = go(&argv("select --no-config -p linux/arm64 -o json", &[&src]))
        .expect(0)
        .json();
    assert_eq!(v["digest"], arm["digest"]);
    assert_eq!(v["via"], json!([]));
    assert_eq!(v["index"]["digest"], json!(outer));
    assert_eq!(v["registry"]["manifestRequests"], json!(1));
}

#[test]
fn anonymous_selection_is_one_manifest_get() {
    let reg = Registry::anonymous();
    let demo = push_demo(&reg, "count/app", "v1", false);
    let host = reg.host();
    let by_tag = format!("{host}/count/app:v1");
    let by_digest = format!("{host}/count/app@{}", demo.index);
    let runs: Vec<(Vec<&str>, &str)> = vec![
        (vec!["select", "-o", "json"], "v1"),
        (vec!["rank", "-o", "json"], "v1"),
        (vec!["resolve", "-o", "json"], "v1"),
        (vec!["select"], "v1"),
        (vec!["select", "-o", "json", "--prefer", GPU_KEY], "digest"),
        (vec!["select", "-o", "json", "--plain-http", "HOST"], "v1"),
    ];
    for (args, which) in runs {
        let src = if which == "v1" { &by_tag } else { &by_digest };
        let manifest_ref = if which == "v1" {
            "v1".to_owned()
        } else {
            demo.index.clone()
        };
        reg.sync_log();
        let before = reg.access_log().len();
        let completed_before = reg.completed().len();
        let host_arg = host.clone();
        let mut full: Vec<&str> = args
            .iter()
            .map(|a| if *a == "HOST" { host_arg.as_str() } else { a })
            .collect();
        full.extend(["--no-config", "-p", "linux/amd64", src.as_str()]);
        let r = go(&full);
        r.expect(0);
        if full.contains(&"json") {
            let v = r.json();
            assert_eq!(v["registry"]["manifestRequests"], json!(1), "{full:?}");
            if full.contains(&"--plain-http") {
                // No HTTPS attempt first: one request in all.
                assert_eq!(v["registry"]["requests"], json!(1), "{full:?}");
            }
        }
        let lines = ocipick_lines(&reg, before);
        assert_eq!(lines.len(), 1, "{full:?}: {lines:#?}");
        assert_eq!(lines[0].method, "GET");
        assert_eq!(
            lines[0].uri,
            format!("/v2/count/app/manifests/{manifest_ref}")
        );
        assert_eq!(lines[0].status, 200);
        // Nothing else at all since, from anyone but the sentinel: no
        // blobs, no referrers, no /v2/ ping.
        let all: Vec<Access> = reg.access_log().into_iter().skip(before).collect();
        assert!(
            all.iter().all(|a| a.user_agent.starts_with("ocipick/")
                || a.user_agent.starts_with("ocipick-test-sentinel")),
            "{all:#?}"
        );
        assert!(
            all.iter()
                .all(|a| !a.uri.contains("/blobs/") && !a.uri.contains("/referrers")),
            "{all:#?}"
        );
        let completed = ocipick_completed(&reg, completed_before);
        assert_eq!(completed.len(), 1, "{completed:#?}");
        assert_eq!(completed[0]["http.request.method"], json!("GET"));
        assert_eq!(
            completed[0]["http.request.uri"],
            json!(format!("/v2/count/app/manifests/{manifest_ref}"))
        );
        assert_eq!(completed[0]["http.response.status"], json!(200));
    }
}

// ---------------------------------------------------------------------------
// HTTP Basic over TLS

const BASIC_USER: &str = "tester";
const BASIC_PASSWORD: &str = "Pw-4f1c2e-never-printed";

fn tls_registry() -> (Registry, Demo) {
    let tls = TlsMaterial::new();
    let reg = Registry::start(
        Some(&tls),
        Auth::Htpasswd {
            username: BASIC_USER.to_owned(),
            password: BASIC_PASSWORD.to_owned(),
        },
    );
    let demo = push_demo(&reg, "secure/app", "v1", false);
    (reg, demo)
}

fn ca(reg: &Registry) -> String {
    reg.ca_file.as_ref().unwrap().display().to_string()
}

/// `LINE --ca-file CA --username BASIC_USER --password-stdin SRC`: a run
/// against the TLS registry with basic credentials (the password on stdin).
fn basic_auth<'a>(line: &'a str, ca: &'a str, src: &'a str) -> Vec<&'a str> {
    argv(
        line,
        &[
            "--ca-file",
            ca,
            "--username",
            BASIC_USER,
            "--password-stdin",
            src,
        ],
    )
}

#[test]
fn basic_tls_with_ca_file_and_password_stdin() {
    let (reg, demo) = tls_registry();
    let host = reg.host();
    let src = format!("{host}/secure/app:v1");
    let ca = ca(&reg);
    let stdin = format!("{BASIC_PASSWORD}\n");

    reg.sync_log();
    let before = reg.access_log().len();
    let r = run_cmd_stdin(
        oc(&basic_auth(
            &format!("select --no-config -p linux/amd64 --prefer {GPU_KEY} -o json"),
            &ca,
            &src,
        )),
        stdin.as_bytes(),
    );
    let v = r.expect(0).json();
    assert_eq!(v["digest"], json!(demo.gpu));
    assert_eq!(v["registry"]["manifestRequests"], json!(1));
    // The challenge, then the authenticated GET; nothing else.
    let got: Vec<u16> = ocipick_lines(&reg, before)
        .iter()
        .map(|a| a.status)
        .collect();
    assert_eq!(got, vec![401, 200]);

    let r2 = run_cmd_stdin(
        oc(&basic_auth(
            &format!("resolve --no-config -p linux/amd64 --prefer {GPU_KEY}"),
            &ca,
            &src,
        )),
        stdin.as_bytes(),
    );
    assert_eq!(
        r2.expect(0).stdout,
        format!("{host}/secure/app@{}\n", demo.gpu)
    );
    // Without a trailing newline, too.
    let r3 = run_cmd_stdin(
        oc(&basic_auth("select --no-config -p linux/arm64", &ca, &src)),
        BASIC_PASSWORD.as_bytes(),
    );
    assert!(r3.expect(0).stdout.contains(&demo.arm), "{r3:#?}");
    assert_hidden(BASIC_PASSWORD, &[&r, &r2, &r3]);
}

#[test]
fn basic_tls_wrong_or_missing_password_is_401_exit_3() {
    let (reg, _demo) = tls_registry();
    let host = reg.host();
    let src = format!("{host}/secure/app:v1");
    let ca = ca(&reg);
    let wrong = "Wrong-pw-77aa-never-printed";
    let r = run_cmd_stdin(
        oc(&basic_auth("select --no-config -p linux/amd64", &ca, &src)),
        format!("{wrong}\n").as_bytes(),
    );
    r.expect(3)
        .stderr_has("401")
        .stderr_has(&format!("{host}/secure/app"));
    assert_eq!(r.stdout, "");
    // No credentials at all.
    let r2 = go(&argv(
        "select --no-config -p linux/amd64 --ca-file",
        &[&ca, &src],
    ));
    r2.expect(3).stderr_has("401");
    assert_hidden(wrong, &[&r, &r2]);
    assert_hidden(BASIC_PASSWORD, &[&r, &r2]);
}

#[test]
fn basic_tls_without_ca_file_fails_cleanly() {
    let (reg, _demo) = tls_registry();
    let src = format!("{}/secure/app:v1", reg.host());
    // The system roots do not know the test CA; the loopback fallback to
    // plain HTTP then meets a TLS port. Both must fail, promptly (the run
    // guard kills ocipick after 10 s).
    let started = std::time::Instant::now();
    let r = run_cmd_stdin(
        oc(&argv(
            "select --no-config -p linux/amd64 --username",
            &[BASIC_USER, "--password-stdin", &src],
        )),
        format!("{BASIC_PASSWORD}\n").as_bytes(),
    );
    r.expect(3).stderr_has(&reg.host());
    assert_eq!(r.stdout, "");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert_hidden(BASIC_PASSWORD, &[&r]);
}

/// The failure that matters without `--ca-file` is the certificate: the
/// message should say so. Today the loopback fallback's plain-HTTP attempt
/// replaces it, and the user reads "HTTP 400" (what a TLS port answers to
/// plain HTTP).
#[test]
fn basic_tls_without_ca_file_names_the_certificate_problem() {
    let (reg, _demo) = tls_registry();
    let src = format!("{}/secure/app:v1", reg.host());
    let r = go(&["select", "--no-config", "-p", "linux/amd64", &src]);
    r.expect(3);
    assert!(
        r.stderr.to_ascii_lowercase().contains("certificate"),
        "stderr should name the TLS certificate failure: {r:#?}"
    );
}

#[test]
fn basic_tls_credentials_from_docker_config() {
    let (reg, demo) = tls_registry();
    let host = reg.host();
    let src = format!("{host}/secure/app:v1");
    let ca = ca(&reg);
    let dir = tempfile::tempdir().unwrap();
    let auth =
        base64::engine::general_purpose::STANDARD.encode(format!("{BASIC_USER}:{BASIC_PASSWORD}"));
    registry_support::write_file(
        dir.path(),
        "config.json",
        &json!({"auths": {host.clone(): {"auth": auth}}}).to_string(),
    );
    let mut c = oc(&argv(
        "resolve --no-config -p linux/amd64 --prefer",
        &[GPU_KEY, "--ca-file", &ca, &src],
    ));
    c.env("DOCKER_CONFIG", dir.path());
    let r = run_cmd(c);
    assert_eq!(
        r.expect(0).stdout,
        format!("{host}/secure/app@{}\n", demo.gpu)
    );

    // A wrong entry: 401, and neither password shows.
    let wrong = "Docker-config-wrong-pw-31";
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{BASIC_USER}:{wrong}"));
    registry_support::write_file(
        dir.path(),
        "config.json",
        &json!({"auths": {format!("https://{host}"): {"auth": auth}}}).to_string(),
    );
    let mut c = oc(&argv(
        "select --no-config -p linux/amd64 --ca-file",
        &[&ca, &src],
    ));
    c.env("DOCKER_CONFIG", dir.path());
    let r2 = run_cmd(c);
    r2.expect(3).stderr_has("401");
    assert_hidden(BASIC_PASSWORD, &[&r, &r2]);
    assert_hidden(wrong, &[&r, &r2]);
    assert_hidden(&auth, &[&r, &r2]);
}

#[test]
fn basic_tls_credentials_from_credential_helper() {
    let (reg, demo) = tls_registry();
    let host = reg.host();
    let src = format!("{host}/secure/app:v1");
    let ca = ca(&reg);
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    // Answers only `get` for this registry; records what it was asked.
    let script = format!(
        "#!/bin/sh\n\
         read -r server\n\
         echo \"$1 $server\" >> {log}\n\
         if [ \"$1\" = get ] && [ \"$server\" = \"{host}\" ]; then\n\
           printf '{{\"ServerURL\":\"%s\",\"Username\":\"{BASIC_USER}\",\"Secret\":\"{BASIC_PASSWORD}\"}}' \"$server\"\n\
         else\n\
           echo 'credentials not found in native keychain'; exit 1\n\
         fi\n",
        log = dir.path().join("helper.log").display()
    );
    let helper = bin.join("docker-credential-ocipicktest");
    std::fs::write(&helper, script).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    registry_support::write_file(
        dir.path(),
        "config.json",
        &json!({"credHelpers": {host.clone(): "ocipicktest"}}).to_string(),
    );
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let with_helper = |args: &[&str]| {
        let mut c = oc(args);
        c.env("DOCKER_CONFIG", dir.path()).env("PATH", &path);
        run_cmd(c)
    };
    let r = with_helper(&argv(
        "select --no-config -p linux/amd64 --prefer",
        &[GPU_KEY, "-o", "json", "--ca-file", &ca, &src],
    ));
    assert_eq!(r.expect(0).json()["digest"], json!(demo.gpu));
    let asked = std::fs::read_to_string(dir.path().join("helper.log")).unwrap();
    assert_eq!(asked, format!("get {host}\n"));

    // A registry the helper does not know: no credentials, 401.
    registry_support::write_file(
        dir.path(),
        "config.json",
        &json!({"credHelpers": {host.clone(): "ocipicktest-absent"}}).to_string(),
    );
    let r2 = with_helper(&argv(
        "select --no-config -p linux/amd64 --ca-file",
        &[&ca, &src],
    ));
    r2.expect(3)
        .stderr_has("docker-credential-ocipicktest-absent");
    assert_hidden(BASIC_PASSWORD, &[&r, &r2]);
}

// ---------------------------------------------------------------------------
// Bearer tokens

const TOKEN_USER: &str = "tokenuser";
const TOKEN_PASSWORD: &str = "Token-pw-9d3b-never-printed";

fn token_registry() -> (
    std::sync::Arc<TokenIssuer>,
    registry_support::IssuerGuard,
    Registry,
) {
    let (issuer, guard) = TokenIssuer::start(TOKEN_USER, TOKEN_PASSWORD);
    let reg = Registry::start(None, Auth::Token(issuer.clone()));
    (issuer, guard, reg)
}

fn assert_tokens_hidden(issuer: &TokenIssuer, runs: &[&Run]) {
    for t in issuer.issued.lock().unwrap().iter() {
        assert_hidden(t, runs);
        // The signature part alone, too.
        assert_hidden(t.rsplit('.').next().unwrap(), runs);
    }
}

#[test]
fn bearer_token_flow_with_credentials() {
    let (issuer, _guard, reg) = token_registry();
    let demo = push_demo(&reg, "private/app", "v1", false);
    let host = reg.host();
    let src = format!("{host}/private/app:v1");
    let before = issuer.requests.lock().unwrap().len();
    let r = run_cmd_stdin(
        oc(&argv(
            "select --no-config -p linux/amd64 --prefer",
            &[
                GPU_KEY,
                "-o",
                "json",
                "--username",
                TOKEN_USER,
                "--password-stdin",
                &src,
            ],
        )),
        format!("{TOKEN_PASSWORD}\n").as_bytes(),
    );
    let v = r.expect(0).json();
    assert_eq!(v["digest"], json!(demo.gpu));
    assert_eq!(v["registry"]["manifestRequests"], json!(1));
    let asked: Vec<_> = issuer.requests.lock().unwrap()[before..].to_vec();
    assert_eq!(asked.len(), 1, "{asked:#?}");
    assert_eq!(
        asked[0].query.get("scope").map(String::as_str),
        Some("repository:private/app:pull")
    );
    assert_eq!(
        asked[0].query.get("service").map(String::as_str),
        Some(TokenIssuer::SERVICE)
    );
    assert_eq!(asked[0].username.as_deref(), Some(TOKEN_USER));
    assert_eq!(asked[0].status, 200);

    // Nested fetches reuse the token: resolve by digest, one token request.
    let by_digest = format!("{host}/private/app@{}", demo.index);
    let r2 = run_cmd_stdin(
        oc(&argv(
            "resolve --no-config -p linux/arm64 --username",
            &[TOKEN_USER, "--password-stdin", &by_digest],
        )),
        format!("{TOKEN_PASSWORD}\n").as_bytes(),
    );
    assert_eq!(
        r2.expect(0).stdout,
        format!("{host}/private/app@{}\n", demo.arm)
    );
    assert_hidden(TOKEN_PASSWORD, &[&r, &r2]);
    assert_tokens_hidden(&issuer, &[&r, &r2]);
}

#[test]
fn bearer_token_refused_is_exit_3() {
    let (issuer, _guard, reg) = token_registry();
    push_demo(&reg, "private/app", "v1", false);
    let host = reg.host();
    let src = format!("{host}/private/app:v1");
    // Anonymous: the issuer refuses, so there is no token.
    let r = go(&["select", "--no-config", "-p", "linux/amd64", &src]);
    r.expect(3)
        .stderr_has("401")
        .stderr_has(&format!("{host}/private/app"));
    // Wrong password.
    let wrong = "Token-wrong-pw-5e";
    let r2 = run_cmd_stdin(
        oc(&argv(
            "resolve --no-config -p linux/amd64 --username",
            &[TOKEN_USER, "--password-stdin", &src],
        )),
        format!("{wrong}\n").as_bytes(),
    );
    r2.expect(3).stderr_has("401");
    assert_eq!(r2.stdout, "");
    let asked = issuer.requests.lock().unwrap().clone();
    let refused: Vec<_> = asked.iter().filter(|q| q.status == 401).collect();
    assert_eq!(refused.len(), 2, "{asked:#?}");
    for q in refused {
        assert_eq!(
            q.query.get("scope").map(String::as_str),
            Some("repository:private/app:pull")
        );
    }
    assert_hidden(wrong, &[&r, &r2]);
    assert_tokens_hidden(&issuer, &[&r, &r2]);
}

#[test]
fn bearer_token_anonymous_pull_of_a_public_repository() {
    let (issuer, _guard, reg) = token_registry();
    let demo = push_demo(&reg, "public/app", "v1", false);
    let host = reg.host();
    let src = format!("{host}/public/app:v1");
    let before = issuer.requests.lock().unwrap().len();
    let r = go(&argv(
        "resolve --no-config -p linux/amd64 --prefer",
        &[GPU_KEY, &src],
    ));
    assert_eq!(
        r.expect(0).stdout,
        format!("{host}/public/app@{}\n", demo.gpu)
    );
    let asked: Vec<_> = issuer.requests.lock().unwrap()[before..].to_vec();
    assert_eq!(asked.len(), 1, "{asked:#?}");
    assert_eq!(asked[0].username, None);
    assert_eq!(
        asked[0].query.get("scope").map(String::as_str),
        Some("repository:public/app:pull")
    );
    assert_tokens_hidden(&issuer, &[&r]);
}
