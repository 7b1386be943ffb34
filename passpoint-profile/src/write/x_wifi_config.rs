//! Android `application/x-wifi-config` writer.

use super::Lossy;
use super::pps_mo::write_tnds;
use crate::model::Profile;
use crate::read::x_wifi_config::{CA_TYPE, PKCS12_TYPE, PROFILE_TYPE};
use base64::Engine;

const BOUNDARY: &str = "passpoint-profile-7f3a9c";

fn wrap(b64: &str) -> String {
    let mut out = String::with_capacity(b64.len() + b64.len() / 76 + 2);
    let bytes = b64.as_bytes();
    for chunk in bytes.chunks(76) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out
}

fn part(out: &mut String, ct: &str, body_b64: &str) {
    out.push_str(&format!(
        "--{BOUNDARY}\nContent-Type: {ct}\nContent-Transfer-Encoding: base64\n\n"
    ));
    out.push_str(&wrap(body_b64));
}

/// Writes one profile as x-wifi-config (the CA certificate and PKCS#12 parts
/// come from `Local/CACertificate` and `Local/PKCS12`).
pub fn write(p: &Profile, lossy: &mut Lossy) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut inner = p.clone();
    let local = inner.local.take();
    let xml = write_tnds(std::slice::from_ref(&inner), lossy);
    let mut mime = format!(
        "Content-Type: multipart/mixed; boundary={BOUNDARY}\nContent-Transfer-Encoding: base64\n\n"
    );
    part(&mut mime, PROFILE_TYPE, &b64.encode(xml.as_bytes()));
    if let Some(mut l) = local {
        if let Some(ca) = l.ca_certificate.take() {
            let compact: String = ca.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            part(&mut mime, CA_TYPE, &compact);
        } else {
            lossy.warn(
                "Local/CACertificate",
                "no CA certificate: Android installs the profile without a trust anchor only on some versions",
            );
        }
        if let Some(p12) = l.pkcs12.take() {
            let compact: String = p12.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            part(&mut mime, PKCS12_TYPE, &compact);
        }
        lossy.local(&l, "x-wifi-config");
    }
    mime.push_str(&format!("--{BOUNDARY}--\n"));
    wrap(&b64.encode(mime.as_bytes()))
}
