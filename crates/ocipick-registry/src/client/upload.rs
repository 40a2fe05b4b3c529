//! Writing artifacts to a registry: blobs (HEAD, then a POST and a PUT
//! of the whole blob when it is missing), a manifest by digest with the
//! registry's `OCI-Subject` answer, and reading a blob back within a
//! limit. Every request is authenticated for `push,pull` once, and
//! counted in [`Client::stats`].

use std::io::Read;

use ocipick::{Descriptor, Digest};

use super::{error_detail, header, Client, Method, RegistryError, Target};
use crate::reference::Reference;

/// What the registry answered to a manifest PUT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The manifest's digest (checked against `Docker-Content-Digest`).
    pub digest: Digest<'static>,
    /// Its `OCI-Subject` header: set by a registry that processed the
    /// manifest's `subject` through the referrers API (distribution-spec
    /// 1.1), so that the tag schema needs no update.
    pub oci_subject: Option<String>,
}

impl Client {
    fn push_key(r: &Reference) -> String {
        format!("{}/{}#push", r.registry, r.repository)
    }

    /// Whether the repository holds the blob `digest` (HEAD; `Ok(false)`
    /// on 404).
    pub fn has_blob(&self, r: &Reference, digest: &Digest<'_>) -> Result<bool, RegistryError> {
        let t = Target {
            reference: r,
            what: format!("blob {digest}"),
        };
        let host = r.api_host().to_owned();
        let path = format!("/v2/{}/blobs/{digest}", r.repository);
        let url_for = |scheme: &str| format!("{scheme}://{host}{path}");
        let resp =
            self.send_authorized(&t, &url_for, Method::Head, Self::push_key(r), "push,pull")?;
        match resp.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            status => Err(t.err_status(status, String::new())),
        }
    }

    /// Uploads `bytes` as a blob unless the repository has it already
    /// (HEAD first); returns its sha256 digest and whether it was sent.
    /// The upload is a POST to `blobs/uploads/` and one PUT of the whole
    /// blob to the `Location` answered (which must be on the registry's
    /// own host).
    pub fn push_blob(
        &self,
        r: &Reference,
        bytes: &[u8],
    ) -> Result<(Digest<'static>, bool), RegistryError> {
        let digest = Digest::sha256_of(bytes);
        if self.has_blob(r, &digest)? {
            return Ok((digest, false));
        }
        let t = Target {
            reference: r,
            what: format!("blob upload {digest}"),
        };
        let host = r.api_host().to_owned();
        let path = format!("/v2/{}/blobs/uploads/", r.repository);
        let url_for = |scheme: &str| format!("{scheme}://{host}{path}");
        let mut resp =
            self.send_authorized(&t, &url_for, Method::Post, Self::push_key(r), "push,pull")?;
        let status = resp.status().as_u16();
        if status != 202 {
            let detail = error_detail(&mut resp);
            return Err(t.err_status(status, detail));
        }
        let location = header(&resp, "location")
            .filter(|l| !l.is_empty())
            .ok_or_else(|| t.err_invalid("the upload answer has no Location".into()))?;
        let absolute = location.starts_with("http://") || location.starts_with("https://");
        if absolute {
            let rest = location.split_once("://").map_or("", |(_, rest)| rest);
            let loc_host = rest.split(['/', '?']).next().unwrap_or("");
            if loc_host != host {
                return Err(t.err_invalid(format!(
                    "the upload Location is on another host ({loc_host}); not sending the blob there"
                )));
            }
        } else if !location.starts_with('/') {
            return Err(t.err_invalid("the upload Location is not a path or URL".into()));
        }
        let sep = if location.contains('?') { '&' } else { '?' };
        let target = format!("{location}{sep}digest={digest}");
        let put_url = |scheme: &str| {
            if absolute {
                target.clone()
            } else {
                format!("{scheme}://{host}{target}")
            }
        };
        let t = Target {
            reference: r,
            what: format!("PUT blob {digest}"),
        };
        let mut resp = self.send_authorized(
            &t,
            &put_url,
            Method::Put {
                body: bytes,
                content_type: "application/octet-stream",
            },
            Self::push_key(r),
            "push,pull",
        )?;
        let status = resp.status().as_u16();
        if status != 201 {
            let detail = error_detail(&mut resp);
            return Err(t.err_status(status, detail));
        }
        Ok((digest, true))
    }

    /// PUTs `bytes` as a manifest under `reference` (a tag, or the
    /// manifest's own digest to push by digest) with `Content-Type:
    /// media_type`; returns its digest and the `OCI-Subject` header.
    pub fn push_manifest(
        &self,
        r: &Reference,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Pushed, RegistryError> {
        let t = Target {
            reference: r,
            what: format!("PUT manifest {reference}"),
        };
        let host = r.api_host().to_owned();
        let path = format!("/v2/{}/manifests/{reference}", r.repository);
        let url_for = |scheme: &str| format!("{scheme}://{host}{path}");
        let mut resp = self.send_authorized(
            &t,
            &url_for,
            Method::Put {
                body: bytes,
                content_type: media_type,
            },
            Self::push_key(r),
            "push,pull",
        )?;
        let status = resp.status().as_u16();
        if status != 201 && status != 200 {
            let detail = error_detail(&mut resp);
            return Err(t.err_status(status, detail));
        }
        let digest = Digest::sha256_of(bytes);
        if let Some(h) = header(&resp, "docker-content-digest").filter(|h| !h.is_empty()) {
            if let Ok(claimed) = Digest::parse(h.clone()) {
                if claimed.compute_like(bytes).is_some_and(|a| a != claimed) {
                    return Err(t.err_invalid(format!(
                        "the registry stored it as {claimed}, but the bytes sent hash to {digest}"
                    )));
                }
            }
        }
        Ok(Pushed {
            digest,
            oci_subject: header(&resp, "oci-subject").filter(|h| !h.is_empty()),
        })
    }

    /// GETs the blob `d` describes, reading at most its declared size
    /// (refused above `limit`) and checking size and digest.
    pub fn fetch_blob(
        &self,
        r: &Reference,
        d: &Descriptor<'_>,
        limit: u64,
    ) -> Result<Vec<u8>, RegistryError> {
        let t = Target {
            reference: r,
            what: format!("blob {}", d.digest),
        };
        if d.size > limit {
            return Err(t.err_invalid(format!(
                "its descriptor says {} bytes, more than the {limit} read",
                d.size
            )));
        }
        let host = r.api_host().to_owned();
        let path = format!("/v2/{}/blobs/{}", r.repository, d.digest);
        let url_for = |scheme: &str| format!("{scheme}://{host}{path}");
        let key = format!("{}/{}", r.registry, r.repository);
        let mut resp = self.send_authorized(&t, &url_for, Method::Get, key, "pull")?;
        let status = resp.status().as_u16();
        if status != 200 {
            let detail = error_detail(&mut resp);
            return Err(t.err_status(status, detail));
        }
        let mut bytes = Vec::new();
        resp.body_mut()
            .as_reader()
            .take(d.size + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| t.err_transport(format!("{}: reading the body: {e}", t.what)))?;
        if bytes.len() as u64 > d.size {
            return Err(t.err_invalid(format!("longer than its declared {} bytes", d.size)));
        }
        if bytes.len() as u64 != d.size {
            return Err(t.err_invalid(format!(
                "{} bytes, its descriptor says {}",
                bytes.len(),
                d.size
            )));
        }
        match d.digest.compute_like(&bytes) {
            Some(a) if a == d.digest => Ok(bytes),
            Some(a) => Err(t.err_invalid(format!("content hashes to {a}"))),
            None => Err(t.err_invalid(format!(
                "cannot verify digests of algorithm {}",
                d.digest.algorithm()
            ))),
        }
    }
}
