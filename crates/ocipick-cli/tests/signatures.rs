//! Signature-aware selection against a real registry (the CNCF
//! distribution registry). The signatures are made by an independent
//! implementation, the `openssl` command line (ECDSA P-256 / SHA-256,
//! DER), over simple-signing payloads written here per cosign's
//! SIGNATURE_SPEC.md, and pushed under cosign's `sha256-<hex>.sig` tag
//! the way cosign stores them. On every case openssl's own verdict on the
//! signature is checked too, so ocipick is seen to agree with it where
//! the signature is the question, and to refuse where only the payload's
//! claims (digest, repository) are wrong.
//!
//! The demo index is [plain linux/amd64, linux/arm64, linux/amd64 with
//! the GPU annotation]; every run prefers the GPU annotation, so the GPU
//! entry (position 2) wins only when the annotations are honoured, and
//! the plain one (position 0, first match) when they are ignored.

mod common;
#[path = "support/registry.rs"]
mod registry_support;
#[path = "support/signing.rs"]
mod signing;

use common::{run_cmd, OCI_MANIFEST};
use registry_support::{Registry, GPU_KEY};
use serde_json::json;
use signing::{
    assert_honoured, assert_ignored, keypair, openssl_verifies, payload, push_demo, push_signature,
    select, sign, Demo, SIG_ANNOTATION, SIMPLE_SIGNING,
};

#[test]
fn signed_unsigned_and_forged_indexes() {
    let reg = Registry::anonymous();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key_a, pub_a) = keypair(d, "a");
    let (key_b, pub_b) = keypair(d, "b");
    let host = reg.host();
    let trust_a = ["--trust-key", pub_a.to_str().unwrap()];

    // Signed by A: honoured, at the cost of two requests (the .sig
    // manifest and its payload blob), seen in the registry's own log.
    let signed = push_demo(&reg, "team/signed", "v1", "s");
    let p = payload(&format!("{host}/team/signed"), &signed.index);
    let sig = sign(d, &key_a, &p);
    assert!(openssl_verifies(d, &pub_a, &p, &sig));
    push_signature(&reg, "team/signed", &signed.index, &p, &sig, None);
    let src = format!("{host}/team/signed:v1");
    let before = reg.log_mark();
    let v = assert_honoured(&select(&src, &trust_a), &signed, &pub_a);
    assert_eq!(v["trust"]["requests"], json!(2), "{v:#}");
    assert_eq!(v["registry"]["signatureRequests"], json!(2));
    let seen: Vec<String> = reg
        .ocipick_since(before)
        .into_iter()
        .map(|a| format!("{} {}", a.method, a.uri))
        .collect();
    let hex = signed.index.strip_prefix("sha256:").unwrap();
    assert!(
        seen.contains(&format!("GET /v2/team/signed/manifests/sha256-{hex}.sig")),
        "{seen:?}"
    );
    assert_eq!(
        seen.len() as u64,
        v["registry"]["requests"].as_u64().unwrap(),
        "{seen:?}"
    );
    // Several keys: B first, A second, still signed (by A).
    let both = [
        "--trust-key",
        pub_b.to_str().unwrap(),
        "--trust-key",
        pub_a.to_str().unwrap(),
    ];
    assert_honoured(&select(&src, &both), &signed, &pub_a);
    // Refuse mode lets a signed index through.
    let mut refuse = trust_a.to_vec();
    refuse.extend(["--on-unsigned", "refuse"]);
    assert_honoured(&select(&src, &refuse), &signed, &pub_a);

    // No policy, or one that names other repositories: no signature
    // request at all, annotations count as ever.
    for extra in [&[][..], &["--trust-repository", "elsewhere.example/*"][..]] {
        let mut args = if extra.is_empty() {
            vec![]
        } else {
            trust_a.to_vec()
        };
        args.extend_from_slice(extra);
        let v = select(&src, &args).expect(0).json();
        assert_eq!(v["digest"], json!(signed.gpu));
        assert_eq!(v["registry"]["signatureRequests"], json!(0));
        assert_eq!(
            v["registry"]["requests"],
            json!(1),
            "the one-GET path: {v:#}"
        );
        assert!(v.get("trust").is_none());
    }

    // Signed by B only, trusted A: openssl agrees the signature is not A's.
    let by_b = push_demo(&reg, "team/by-b", "v1", "b");
    let p = payload(&format!("{host}/team/by-b"), &by_b.index);
    let sig = sign(d, &key_b, &p);
    assert!(!openssl_verifies(d, &pub_a, &p, &sig) && openssl_verifies(d, &pub_b, &p, &sig));
    push_signature(&reg, "team/by-b", &by_b.index, &p, &sig, None);
    let src_b = format!("{host}/team/by-b:v1");
    assert_ignored(&select(&src_b, &trust_a), &by_b, "no trusted key");
    select(&src_b, &refuse)
        .expect(3)
        .stderr_has("refused (on-unsigned = refuse)");

    // Unsigned: no .sig tag.
    let unsigned = push_demo(&reg, "team/unsigned", "v1", "u");
    let src_u = format!("{host}/team/unsigned:v1");
    let r = select(&src_u, &trust_a);
    assert_ignored(&r, &unsigned, "no signature");
    assert_eq!(
        r.json()["trust"]["requests"],
        json!(3),
        "an unsigned index costs three 404s: the .sig tag, the referrers API (this registry has none) and the referrers tag schema"
    );
    select(&src_u, &refuse).expect(3).stderr_has("no signature");
    // `rank` says so on every entry, and in its header.
    let mut c = common::cmd(&[
        "rank",
        "--no-config",
        "-p",
        "linux/amd64",
        "--prefer",
        GPU_KEY,
        "--trust-key",
        pub_a.to_str().unwrap(),
        &src_u,
    ]);
    c.env("DOCKER_CONFIG", "/nonexistent/ocipick-signature-tests");
    let r = run_cmd(c);
    r.expect(0);
    assert_eq!(
        r.stdout
            .matches("annotations ignored: the index has no valid")
            .count(),
        3,
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(&format!("selected {}", unsigned.plain)),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("trust  not signed (no signature"),
        "{}",
        r.stdout
    );

    // Wrongly signed: a valid signature by A, but over other bytes.
    let wrong = push_demo(&reg, "team/wrong", "v1", "w");
    let p = payload(&format!("{host}/team/wrong"), &wrong.index);
    let sig = sign(d, &key_a, b"something else");
    assert!(!openssl_verifies(d, &pub_a, &p, &sig));
    push_signature(&reg, "team/wrong", &wrong.index, &p, &sig, None);
    assert_ignored(
        &select(&format!("{host}/team/wrong:v1"), &trust_a),
        &wrong,
        "no trusted key",
    );

    // A's valid signature of a payload naming another digest.
    let other = push_demo(&reg, "team/other-digest", "v1", "o");
    let p = payload(&format!("{host}/team/other-digest"), &signed.index);
    let sig = sign(d, &key_a, &p);
    assert!(openssl_verifies(d, &pub_a, &p, &sig));
    push_signature(&reg, "team/other-digest", &other.index, &p, &sig, None);
    assert_ignored(
        &select(&format!("{host}/team/other-digest:v1"), &trust_a),
        &other,
        "not the index fetched",
    );

    // A's valid signature naming another repository (team/signed's own
    // signature, copied next to an index with the same content elsewhere
    // would be caught the same way).
    let repo_x = push_demo(&reg, "team/repo-x", "v1", "x");
    let p = payload(&format!("{host}/team/repo-y"), &repo_x.index);
    let sig = sign(d, &key_a, &p);
    assert!(openssl_verifies(d, &pub_a, &p, &sig));
    push_signature(&reg, "team/repo-x", &repo_x.index, &p, &sig, None);
    assert_ignored(
        &select(&format!("{host}/team/repo-x:v1"), &trust_a),
        &repo_x,
        "names repository",
    );
    // …unless an explicit policy accepts that repository's signatures
    // (the digest must still be this index's).
    let accept_y = format!("{host}/team/repo-*");
    let mut accepting = trust_a.to_vec();
    accepting.extend(["--trust-accept-reference", accept_y.as_str()]);
    assert_honoured(
        &select(&format!("{host}/team/repo-x:v1"), &accepting),
        &repo_x,
        &pub_a,
    );

    // A replayed signature: v1 was signed; the tag now names v2 and
    // v1's signature manifest is copied to v2's .sig tag.
    let old = push_demo(&reg, "team/replay", "v1", "r1");
    let p_old = payload(&format!("{host}/team/replay"), &old.index);
    let sig_old = sign(d, &key_a, &p_old);
    push_signature(&reg, "team/replay", &old.index, &p_old, &sig_old, None);
    let new = push_demo(&reg, "team/replay", "v1", "r2");
    assert_ne!(old.index, new.index);
    push_signature(&reg, "team/replay", &new.index, &p_old, &sig_old, None);
    assert_ignored(
        &select(&format!("{host}/team/replay:v1"), &trust_a),
        &new,
        "not the index fetched",
    );
    // …while the old index, pinned, is still honoured.
    assert_honoured(
        &select(&format!("{host}/team/replay@{}", old.index), &trust_a),
        &old,
        &pub_a,
    );
}

#[test]
fn oversized_and_truncated_signatures_and_the_config_file() {
    let reg = Registry::anonymous();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key_a, pub_a) = keypair(d, "a");
    let host = reg.host();
    let trust_a = ["--trust-key", pub_a.to_str().unwrap()];

    // A signature manifest over the 64 KiB limit, its signature valid.
    let big = push_demo(&reg, "team/big", "v1", "g");
    let p = payload(&format!("{host}/team/big"), &big.index);
    let sig = sign(d, &key_a, &p);
    push_signature(
        &reg,
        "team/big",
        &big.index,
        &p,
        &sig,
        Some(&"x".repeat(70 * 1024)),
    );
    assert_ignored(
        &select(&format!("{host}/team/big:v1"), &trust_a),
        &big,
        "larger than the 65536-byte limit",
    );

    // A signature manifest whose layer declares fewer bytes than the
    // payload blob has (a truncated descriptor): never read past it.
    let short = push_demo(&reg, "team/short", "v1", "t");
    let p = payload(&format!("{host}/team/short"), &short.index);
    let sig = sign(d, &key_a, &p);
    {
        use base64::Engine as _;
        let (cd, cs) = reg.push_blob("team/short", b"{}");
        let (pd, ps) = reg.push_blob("team/short", &p);
        let m = json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
            "layers": [{"mediaType": SIMPLE_SIGNING, "digest": pd, "size": ps - 10,
                        "annotations": {SIG_ANNOTATION: base64::engine::general_purpose::STANDARD.encode(&sig)}}],
        });
        let tag = format!(
            "sha256-{}.sig",
            short.index.strip_prefix("sha256:").unwrap()
        );
        reg.push_manifest(
            "team/short",
            &tag,
            OCI_MANIFEST,
            &serde_json::to_vec(&m).unwrap(),
        );
    }
    assert_ignored(
        &select(&format!("{host}/team/short:v1"), &trust_a),
        &short,
        "longer than its declared",
    );

    // The same policy from the config file, refusing.
    let cfg = d.join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[trust]\nkeys = [{:?}]\nrepositories = [\"{host}/team/*\"]\non-unsigned = \"refuse\"\n",
            pub_a.display().to_string()
        ),
    )
    .unwrap();
    let mut c = common::cmd(&[
        "select",
        "--config",
        cfg.to_str().unwrap(),
        "-p",
        "linux/amd64",
        "--prefer",
        GPU_KEY,
        &format!("{host}/team/big:v1"),
    ]);
    c.env("DOCKER_CONFIG", "/nonexistent/ocipick-signature-tests");
    run_cmd(c)
        .expect(3)
        .stderr_has("refused (on-unsigned = refuse)");

    // A local file is not covered, and the run says so.
    let file = d.join("index.json");
    std::fs::write(&file, reg.get_manifest("team/big", "v1")).unwrap();
    let r = select(file.to_str().unwrap(), &trust_a);
    assert_eq!(r.expect(0).json()["digest"], json!(big.gpu));
    r.stderr_has("is a bare index, not verified");

    // A key that is not a P-256 PEM public key: exit 2 before any request.
    let bad = d.join("bad.pub");
    std::fs::write(
        &bad,
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    )
    .unwrap();
    select(
        &format!("{host}/team/big:v1"),
        &["--trust-key", bad.to_str().unwrap()],
    )
    .expect(2)
    .stderr_has("not a PEM ECDSA P-256 public key");
}

/// `lint --trust-key`: SIG001 on an annotated index without a valid
/// signature; none on a signed one, and none (no signature request)
/// without a key.
#[test]
fn lint_reports_annotations_without_a_signature() {
    let reg = Registry::anonymous();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key_a, pub_a) = keypair(d, "a");
    let host = reg.host();
    let signed = push_demo(&reg, "team/signed", "v1", "s");
    let p = payload(&format!("{host}/team/signed"), &signed.index);
    let sig = sign(d, &key_a, &p);
    push_signature(&reg, "team/signed", &signed.index, &p, &sig, None);
    push_demo(&reg, "team/unsigned", "v1", "u");
    let lint = |src: &str, trust: &[&str]| -> Vec<String> {
        let mut args = vec!["lint", "-o", "json", "--plain-http", host.as_str()];
        args.extend_from_slice(trust);
        args.push(src);
        let mut c = common::cmd(&args);
        c.env("DOCKER_CONFIG", "/nonexistent/ocipick-signature-tests");
        let r = run_cmd(c);
        assert!(r.code == 0 || r.code == 1, "{r:#?}");
        r.json()["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                format!(
                    "{} {}",
                    f["id"].as_str().unwrap(),
                    f["message"].as_str().unwrap()
                )
            })
            .collect()
    };
    let key = ["--trust-key", pub_a.to_str().unwrap()];
    let sig001 = |v: &[String]| v.iter().filter(|f| f.starts_with("SIG001")).count();
    let unsigned = lint(&format!("{host}/team/unsigned:v1"), &key);
    assert_eq!(sig001(&unsigned), 1, "{unsigned:?}");
    assert!(
        unsigned
            .iter()
            .any(|f| f.contains("1 entries carry annotations")),
        "{unsigned:?}"
    );
    assert_eq!(sig001(&lint(&format!("{host}/team/signed:v1"), &key)), 0);
    assert_eq!(sig001(&lint(&format!("{host}/team/unsigned:v1"), &[])), 0);
}

/// `serve` enforces the trust policy (tests/serve_trust.rs), so it reads
/// every key before it listens: a missing key stops it (exit 2) instead
/// of a mirror that would let unsigned annotations through.
#[test]
fn serve_reads_the_trust_keys_before_it_listens() {
    let serve = |more: &[&str]| {
        let base = [
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            "127.0.0.1:1",
        ];
        run_cmd(common::cmd(&[&base[..], more].concat()))
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, "[trust]\nkeys = [\"/nonexistent/cosign.pub\"]\n").unwrap();
    let r = serve(&["--config", cfg.to_str().unwrap()]);
    r.expect(2).stderr_has("/nonexistent/cosign.pub");
    assert!(!r.stderr.contains("listening on"), "{r:#?}");
    assert!(!r.stderr.contains("panicked"), "{r:#?}");
    // A key file that is not a P-256 public key, given as a flag.
    let bad = dir.path().join("bad.pub");
    std::fs::write(&bad, "not a key\n").unwrap();
    let r = serve(&["--no-config", "--trust-key", bad.to_str().unwrap()]);
    r.expect(2)
        .stderr_has("bad.pub: not a PEM ECDSA P-256 public key");
    assert!(!r.stderr.contains("listening on"), "{r:#?}");
    // The trust flags without a key.
    let r = serve(&["--no-config", "--signature-deadline", "2"]);
    r.expect(2).stderr_has("need a key");
}

/// `annotate` on a signed registry index: the new index is not covered by
/// the old signature (annotations ignored under a trust policy), the
/// warning names it ready to sign, and once it is signed (by openssl, for
/// the digest printed) its annotations count.
#[test]
fn annotate_names_the_digest_to_sign_and_signing_it_restores_trust() {
    let reg = Registry::anonymous();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key_a, pub_a) = keypair(d, "a");
    let host = reg.host();
    let trust_a = ["--trust-key", pub_a.to_str().unwrap()];
    let signed = push_demo(&reg, "team/app", "v1", "s");
    let p = payload(&format!("{host}/team/app"), &signed.index);
    let sig = sign(d, &key_a, &p);
    push_signature(&reg, "team/app", &signed.index, &p, &sig, None);
    assert_honoured(
        &select(&format!("{host}/team/app:v1"), &trust_a),
        &signed,
        &pub_a,
    );

    let mut c = common::cmd(&[
        "annotate",
        &format!("{host}/team/app:v1"),
        "--to",
        &format!("{host}/team/app:v2"),
        "--set",
        "0",
        "com.example.note=rebuilt",
    ]);
    c.env("DOCKER_CONFIG", "/nonexistent/ocipick-signature-tests");
    let r = run_cmd(c);
    let marker = format!("cosign sign --key cosign.key {host}/team/app@");
    r.expect(0).stderr_has(&marker);
    let at = r.stderr.find(&marker).unwrap() + marker.len();
    let new_digest: String = r.stderr[at..].chars().take(71).collect();
    assert!(
        new_digest.starts_with("sha256:") && new_digest != signed.index,
        "{r:#?}"
    );
    let v2 = Demo {
        plain: signed.plain.clone(),
        gpu: signed.gpu.clone(),
        index: new_digest.clone(),
    };
    let src2 = format!("{host}/team/app:v2");
    assert_ignored(&select(&src2, &trust_a), &v2, "no signature");
    let p2 = payload(&format!("{host}/team/app"), &new_digest);
    let sig2 = sign(d, &key_a, &p2);
    push_signature(&reg, "team/app", &new_digest, &p2, &sig2, None);
    assert_honoured(&select(&src2, &trust_a), &v2, &pub_a);
}
