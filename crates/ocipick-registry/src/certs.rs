//! Per-registry TLS material, as Docker and containers/image keep it: a
//! directory per registry, `/etc/containers/certs.d/HOST[:PORT]/` or
//! `/etc/docker/certs.d/HOST[:PORT]/` (the first that exists), or one
//! directory for every registry (skopeo's `--cert-dir`). In it, Docker's
//! rules: every `*.crt` holds CA certificates trusted in addition to the
//! usual roots; every `NAME.cert` is a client certificate (chain) whose
//! key is `NAME.key`, and the two must come in pairs. The first pair in
//! name order is presented (Docker offers them all; ureq takes one).

use std::path::{Path, PathBuf};

use ureq::tls::{Certificate, PemItem, PrivateKey};

/// Where per-registry directories are looked up, in order.
pub const CERTS_D: [&str; 2] = ["/etc/containers/certs.d", "/etc/docker/certs.d"];

/// The most entries a certificate directory may have.
const MAX_ENTRIES: usize = 256;
/// The largest certificate or key file read.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// What one directory holds.
pub(crate) struct CertDir {
    /// The directory.
    pub dir: PathBuf,
    /// The CA certificates of its `*.crt` files.
    pub cas: Vec<Certificate<'static>>,
    /// The `*.crt` files read.
    pub ca_files: Vec<String>,
    /// The client certificate chain and key, and the `.cert` file's name.
    pub client: Option<(Vec<Certificate<'static>>, PrivateKey<'static>, String)>,
}

impl std::fmt::Debug for CertDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: never key material.
        f.debug_struct("CertDir")
            .field("dir", &self.dir)
            .field("ca_files", &self.ca_files)
            .field("client", &self.client.as_ref().map(|c| &c.2))
            .finish()
    }
}

/// The directory for `registry`: `cert_dir` when given, else the first
/// `ROOT/registry` of `roots` that is a directory.
pub(crate) fn find(cert_dir: Option<&Path>, roots: &[PathBuf], registry: &str) -> Option<PathBuf> {
    match cert_dir {
        Some(d) => Some(d.to_owned()),
        None => roots.iter().map(|r| r.join(registry)).find(|d| d.is_dir()),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    crate::read::read_file(path, MAX_FILE_BYTES, "").map_err(|e| e.to_string())
}

/// The certificates of a PEM file; at least one.
pub(crate) fn certificates(path: &Path) -> Result<Vec<Certificate<'static>>, String> {
    let pem = read(path)?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => return Err(format!("{}: {e}", path.display())),
        }
    }
    if certs.is_empty() {
        return Err(format!("{}: no PEM certificate in it", path.display()));
    }
    // Well-framed PEM can still hold garbage: every certificate must parse.
    let mut store = rustls::RootCertStore::empty();
    for c in &certs {
        store
            .add(rustls::pki_types::CertificateDer::from(c.der()))
            .map_err(|e| format!("{}: not a valid certificate ({e})", path.display()))?;
    }
    Ok(certs)
}

/// Checks that `key_pem` holds a private key rustls can use and that it
/// belongs to the first certificate of `chain`, as ureq needs them (it
/// panics otherwise). Errors never quote the key.
fn check_pair(
    chain: &[Certificate<'static>],
    key_pem: &[u8],
    cert_path: &Path,
    key_path: &Path,
) -> Result<(), String> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|_| format!("{}: no PEM private key in it", key_path.display()))?;
    let chain: Vec<CertificateDer<'static>> = chain
        .iter()
        .map(|c| CertificateDer::from(c.der().to_vec()))
        .collect();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_client_auth_cert(chain, key)
        .map(|_| ())
        .map_err(|e| {
            format!(
                "{} and {}: not a usable client certificate and key ({e})",
                cert_path.display(),
                key_path.display()
            )
        })
}

/// Reads `dir` by Docker's rules. Errors name the file; they never quote
/// a key.
pub(crate) fn load(dir: &Path) -> Result<CertDir, String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("certificate directory {}: {e}", dir.display()))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("certificate directory {}: {e}", dir.display()))?;
        if let Ok(name) = entry.file_name().into_string() {
            names.push(name);
        }
        if names.len() > MAX_ENTRIES {
            return Err(format!(
                "certificate directory {}: more than {MAX_ENTRIES} entries",
                dir.display()
            ));
        }
    }
    names.sort();
    let mut out = CertDir {
        dir: dir.to_owned(),
        cas: Vec::new(),
        ca_files: Vec::new(),
        client: None,
    };
    for name in &names {
        let path = dir.join(name);
        if name.ends_with(".crt") {
            out.cas.extend(certificates(&path)?);
            out.ca_files.push(name.clone());
        } else if let Some(stem) = name.strip_suffix(".cert") {
            let key_name = format!("{stem}.key");
            if !names.contains(&key_name) {
                return Err(format!(
                    "{}: client certificate without its key {key_name} (CA certificates end in .crt)",
                    path.display()
                ));
            }
            if out.client.is_none() {
                let chain = certificates(&path)?;
                let key_path = dir.join(&key_name);
                let key_pem = read(&key_path)?;
                check_pair(&chain, &key_pem, &path, &key_path)?;
                let key = PrivateKey::from_pem(&key_pem)
                    .map_err(|_| format!("{}: no PEM private key in it", key_path.display()))?;
                out.client = Some((chain, key, name.clone()));
            }
        } else if let Some(stem) = name.strip_suffix(".key") {
            let cert_name = format!("{stem}.cert");
            if !names.contains(&cert_name) {
                return Err(format!(
                    "{}: key without its client certificate {cert_name}",
                    path.display()
                ));
            }
        }
    }
    Ok(out)
}

/// The system's CA certificates (the files and directories OpenSSL would
/// read, `SSL_CERT_FILE`/`SSL_CERT_DIR` included), for adding to.
pub(crate) fn system_roots() -> Vec<Certificate<'static>> {
    rustls_native_certs::load_native_certs()
        .certs
        .iter()
        .map(|c| Certificate::from_der(c.as_ref()).to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // Nothing: no CAs, no client certificate.
        let c = load(d).unwrap();
        assert!(c.cas.is_empty() && c.client.is_none());
        // (Never parsed: pairs are checked before any file is read.)
        let key = "-----BEGIN PRIVATE KEY-----\nplaceholder\n-----END PRIVATE KEY-----\n";
        // A key alone, a certificate alone: errors naming the file.
        std::fs::write(d.join("client.key"), key).unwrap();
        let e = load(d).unwrap_err();
        assert!(e.contains("client.key") && e.contains("client.cert"), "{e}");
        assert!(!e.contains("placeholder"), "{e}");
        std::fs::remove_file(d.join("client.key")).unwrap();
        std::fs::write(d.join("client.cert"), "x").unwrap();
        let e = load(d).unwrap_err();
        assert!(e.contains("client.cert") && e.contains("client.key"), "{e}");
        // A .crt without a certificate in it.
        std::fs::remove_file(d.join("client.cert")).unwrap();
        std::fs::write(d.join("ca.crt"), "not PEM").unwrap();
        let e = load(d).unwrap_err();
        assert!(
            e.contains("ca.crt") && e.contains("no PEM certificate"),
            "{e}"
        );
        // Other files are ignored.
        std::fs::remove_file(d.join("ca.crt")).unwrap();
        std::fs::write(d.join("README"), "notes").unwrap();
        assert!(load(d).unwrap().ca_files.is_empty());
    }

    #[test]
    fn lookup_order() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        std::fs::create_dir(b.path().join("reg.example:5000")).unwrap();
        let roots = [a.path().to_owned(), b.path().to_owned()];
        assert_eq!(
            find(None, &roots, "reg.example:5000"),
            Some(b.path().join("reg.example:5000"))
        );
        std::fs::create_dir(a.path().join("reg.example:5000")).unwrap();
        assert_eq!(
            find(None, &roots, "reg.example:5000"),
            Some(a.path().join("reg.example:5000"))
        );
        assert_eq!(find(None, &roots, "other.example"), None);
        let flag = Path::new("/some/dir");
        assert_eq!(find(Some(flag), &roots, "x"), Some(flag.to_owned()));
    }
}
