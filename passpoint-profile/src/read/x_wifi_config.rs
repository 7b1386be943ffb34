//! Android `application/x-wifi-config` reader: base64 of a MIME
//! multipart/mixed whose parts are base64 too.

use super::{Document, ReadError, pps_mo};
use crate::diag::{Applies, Diagnostic, Location};
use base64::Engine;

/// MIME type of the profile part.
pub const PROFILE_TYPE: &str = "application/x-passpoint-profile";
/// MIME type of the CA certificate part.
pub const CA_TYPE: &str = "application/x-x509-ca-cert";
/// MIME type of the PKCS#12 part.
pub const PKCS12_TYPE: &str = "application/x-pkcs12";
/// Most parts accepted.
pub const MAX_PARTS: usize = 16;

/// Decodes base64 after removing ASCII whitespace (Android wraps lines).
pub fn decode_b64(text: &[u8]) -> Result<Vec<u8>, String> {
    let compact: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if !compact.len().is_multiple_of(4) {
        return Err(format!(
            "base64 length {} is not a multiple of 4",
            compact.len()
        ));
    }
    base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .map_err(|e| format!("invalid base64: {e}"))
}

struct Headers {
    content_type: Option<String>,
    boundary: Option<String>,
    transfer_encoding: Option<String>,
}

fn parse_headers<'a>(
    lines: &mut impl Iterator<Item = (usize, &'a str)>,
    part: usize,
    diags: &mut Vec<Diagnostic>,
) -> Result<Headers, ReadError> {
    let mut raw: Vec<(String, String)> = Vec::new();
    for (_, line) in lines.by_ref() {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            match raw.last_mut() {
                Some(last) if !line.contains(':') => {
                    last.1.push(' ');
                    last.1.push_str(line.trim());
                }
                _ => {
                    return Err(ReadError::syntax(
                        format!("bad MIME header continuation line '{}'", line.trim()),
                        Some(mime_loc(part, "headers")),
                    ));
                }
            }
            continue;
        }
        match line.split_once(':') {
            Some((k, v)) => raw.push((k.trim().to_string(), v.trim().to_string())),
            None => {
                return Err(ReadError::syntax(
                    format!("bad MIME header line '{line}'"),
                    Some(mime_loc(part, "headers")),
                ));
            }
        }
    }
    let mut h = Headers {
        content_type: None,
        boundary: None,
        transfer_encoding: None,
    };
    for (k, v) in raw {
        if k.eq_ignore_ascii_case("Content-Type") {
            let mut it = v.split(';');
            h.content_type = it.next().map(|s| s.trim().to_string());
            for attr in it {
                if let Some((an, av)) = attr.trim().split_once('=')
                    && an.trim().eq_ignore_ascii_case("boundary")
                {
                    let av = av.trim();
                    let av = av
                        .strip_prefix('"')
                        .and_then(|s| s.strip_suffix('"'))
                        .unwrap_or(av);
                    h.boundary = Some(av.to_string());
                }
            }
        } else if k.eq_ignore_ascii_case("Content-Transfer-Encoding") {
            if v != "base64" {
                diags.push(
                    Diagnostic::new(
                        Applies::ANDROID_ERROR,
                        "",
                        format!("Content-Transfer-Encoding must be exactly 'base64', is '{v}'"),
                    )
                    .at(Some(mime_loc(part, "headers"))),
                );
            }
            h.transfer_encoding = Some(v);
        }
    }
    Ok(h)
}

fn mime_loc(part: usize, ct: &str) -> Location {
    Location::MimePart {
        part,
        content_type: ct.to_string(),
        inner: None,
    }
}

fn remap(loc: Option<Location>, part: usize) -> Option<Location> {
    match loc {
        Some(Location::Text { line, column }) => Some(Location::MimePart {
            part,
            content_type: PROFILE_TYPE.to_string(),
            inner: Some((line, column)),
        }),
        None => Some(mime_loc(part, PROFILE_TYPE)),
        other => other,
    }
}

/// Reads an x-wifi-config file.
pub fn read(bytes: &[u8]) -> Result<Document, ReadError> {
    let mut diags = Vec::new();
    let trimmed = bytes.trim_ascii_start();
    let mime = if trimmed.len() >= 13 && trimmed[..13].eq_ignore_ascii_case(b"content-type:")
        || trimmed.len() >= 13 && trimmed[..13].eq_ignore_ascii_case(b"mime-version:")
    {
        diags.push(Diagnostic::new(
            Applies::ANDROID_ERROR,
            "",
            "MIME body is not base64-encoded (Android decodes the whole file as base64)",
        ));
        bytes.to_vec()
    } else {
        decode_b64(bytes)
            .map_err(|e| ReadError::syntax(format!("x-wifi-config outer encoding: {e}"), None))?
    };
    // ISO-8859-1: every byte is a char.
    let text: String = mime.iter().map(|&b| char::from(b)).collect();
    let mut lines = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .enumerate();
    let outer = parse_headers(&mut lines, 0, &mut diags)?;
    match outer.content_type.as_deref() {
        Some(t) if t.eq_ignore_ascii_case("multipart/mixed") => {}
        other => {
            return Err(ReadError::syntax(
                format!(
                    "outer Content-Type must be multipart/mixed, is {}",
                    other.unwrap_or("(missing)")
                ),
                Some(mime_loc(0, "headers")),
            ));
        }
    }
    let boundary = match outer.boundary {
        Some(b) if !b.is_empty() => b,
        _ => {
            return Err(ReadError::syntax(
                "multipart/mixed without a boundary",
                Some(mime_loc(0, "headers")),
            ));
        }
    };
    if outer.transfer_encoding.is_none() {
        diags.push(
            Diagnostic::new(
                Applies::ANDROID_ERROR,
                "",
                "outer Content-Transfer-Encoding: base64 missing",
            )
            .at(Some(mime_loc(0, "headers"))),
        );
    }
    let delim = format!("--{boundary}");
    let close = format!("--{boundary}--");
    // Skip the preamble.
    let mut found = false;
    for (_, l) in lines.by_ref() {
        if l.starts_with(&delim) {
            found = true;
            if l.starts_with(&close) {
                return Err(ReadError::syntax(
                    "multipart has no parts",
                    Some(mime_loc(0, "body")),
                ));
            }
            break;
        }
    }
    if !found {
        return Err(ReadError::syntax(
            format!("boundary '{boundary}' not found"),
            Some(mime_loc(0, "body")),
        ));
    }
    let mut profile_part: Option<(usize, Vec<u8>)> = None;
    let mut ca: Option<Vec<u8>> = None;
    let mut p12: Option<Vec<u8>> = None;
    let mut part = 0;
    let mut closed = false;
    while !closed {
        part += 1;
        if part > MAX_PARTS {
            return Err(ReadError::syntax(
                format!("more than {MAX_PARTS} MIME parts"),
                Some(mime_loc(part, "")),
            ));
        }
        let h = parse_headers(&mut lines, part, &mut diags)?;
        let mut body = String::new();
        let mut ended = false;
        for (_, l) in lines.by_ref() {
            if l.starts_with(&delim) {
                ended = true;
                closed = l.starts_with(&close);
                break;
            }
            body.push_str(l);
        }
        if !ended {
            return Err(ReadError::syntax(
                "end of file before the closing boundary",
                Some(mime_loc(part, h.content_type.as_deref().unwrap_or(""))),
            ));
        }
        let ct = h.content_type.unwrap_or_default();
        if h.transfer_encoding.is_none() {
            diags.push(
                Diagnostic::new(
                    Applies::ANDROID_ERROR,
                    "",
                    "part without Content-Transfer-Encoding: base64",
                )
                .at(Some(mime_loc(part, &ct))),
            );
        }
        let decoded = decode_b64(body.as_bytes())
            .map_err(|e| ReadError::syntax(format!("part body: {e}"), Some(mime_loc(part, &ct))))?;
        match ct.to_ascii_lowercase().as_str() {
            PROFILE_TYPE => profile_part = Some((part, decoded)),
            CA_TYPE => ca = Some(decoded),
            PKCS12_TYPE => p12 = Some(decoded),
            _ => diags.push(
                Diagnostic::new(
                    Applies::ANDROID_ERROR,
                    "",
                    format!("unknown MIME part type '{ct}'"),
                )
                .at(Some(mime_loc(part, &ct))),
            ),
        }
    }
    let Some((ppart, xml)) = profile_part else {
        return Err(ReadError::syntax(
            "missing application/x-passpoint-profile part",
            None,
        ));
    };
    let xml_text = String::from_utf8(xml).map_err(|e| {
        ReadError::syntax(
            format!(
                "profile part is not UTF-8 at byte {}",
                e.utf8_error().valid_up_to()
            ),
            Some(mime_loc(ppart, PROFILE_TYPE)),
        )
    })?;
    let xml_text = xml_text.strip_prefix('\u{feff}').unwrap_or(&xml_text);
    let mut doc = pps_mo::read_tnds(xml_text).map_err(|e| match e {
        ReadError::Syntax { message, location } => ReadError::Syntax {
            message,
            location: remap(location, ppart),
        },
        other => other,
    })?;
    for d in &mut doc.diagnostics {
        d.location = remap(d.location.take(), ppart);
    }
    for m in &mut doc.source_maps {
        let mut new = crate::diag::SourceMap::default();
        // Re-insert each entry with a remapped location.
        for path in m.paths() {
            if let Some(l) = m.lookup(&path) {
                new.insert(
                    path,
                    remap(Some(l), ppart).unwrap_or(mime_loc(ppart, PROFILE_TYPE)),
                );
            }
        }
        *m = new;
    }
    if ca.is_none() {
        diags.push(Diagnostic::new(
            Applies::WARNING,
            "",
            "no CA certificate part: the AAA server certificate cannot be checked",
        ));
    }
    let enc = |b: Vec<u8>| base64::engine::general_purpose::STANDARD.encode(b);
    for p in &mut doc.profiles {
        if ca.is_some() || p12.is_some() {
            let l = p.local_mut();
            l.ca_certificate = ca.clone().map(enc);
            l.pkcs12 = p12.clone().map(enc);
        }
    }
    diags.append(&mut doc.diagnostics);
    doc.diagnostics = diags;
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = "<MgmtTree><VerDTD>1.2</VerDTD><Node><NodeName>PerProviderSubscription</NodeName><RTProperties><Type><DDFName>urn:wfa:mo:hotspot2dot0-perprovidersubscription:1.0</DDFName></Type></RTProperties><Node><NodeName>i001</NodeName><Node><NodeName>HomeSP</NodeName><Node><NodeName>FriendlyName</NodeName><Value>X</Value></Node><Node><NodeName>FQDN</NodeName><Value>x.example</Value></Node></Node><Node><NodeName>Credential</NodeName><Node><NodeName>Realm</NodeName><Value>x.example</Value></Node><Node><NodeName>SIM</NodeName><Node><NodeName>IMSI</NodeName><Value>310026*</Value></Node><Node><NodeName>EAPType</NodeName><Value>23</Value></Node></Node></Node></Node></Node></MgmtTree>";

    fn b64(b: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(b)
    }

    fn wrapped(s: &str) -> String {
        s.as_bytes()
            .chunks(60)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("\r\n")
    }

    #[test]
    fn generator_quirks_are_accepted() {
        // CRLF, quoted literal "{boundary}", preamble, wrapped part bodies,
        // charset attribute, CA part, no MIME-Version.
        let mime = format!(
            "Content-Type: multipart/mixed; charset=UTF-8;\r\n boundary=\"{{boundary}}\"\r\nContent-Transfer-Encoding: base64\r\n\r\npreamble\r\n--{{boundary}}\r\nContent-Type: application/x-passpoint-profile\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--{{boundary}}\r\nContent-Type: application/x-x509-ca-cert\r\nContent-Transfer-Encoding: base64\r\n\r\nQUJD\r\n--{{boundary}}--\r\n",
            wrapped(&b64(XML.as_bytes()))
        );
        let file = wrapped(&b64(mime.as_bytes()));
        let doc = read(file.as_bytes()).expect("read");
        assert_eq!(doc.profiles.len(), 1);
        assert_eq!(doc.profiles[0].imsi(), Some("310026*"));
        let local = doc.profiles[0].local.as_ref().expect("local");
        assert_eq!(local.ca_certificate.as_deref(), Some("QUJD"));
    }

    #[test]
    fn structural_errors() {
        let enc = |s: &str| b64(s.as_bytes());
        // Not multipart.
        assert!(read(enc("Content-Type: text/plain\n\nx").as_bytes()).is_err());
        // No boundary.
        assert!(read(enc("Content-Type: multipart/mixed\n\n").as_bytes()).is_err());
        // No profile part.
        let m = "Content-Type: multipart/mixed; boundary=b\nContent-Transfer-Encoding: base64\n\n--b\nContent-Type: application/x-x509-ca-cert\nContent-Transfer-Encoding: base64\n\nQUJD\n--b--\n";
        let e = read(enc(m).as_bytes()).expect_err("missing profile");
        assert!(
            e.to_string()
                .contains("missing application/x-passpoint-profile")
        );
        // Bad outer base64.
        assert!(read(b"QUJ").is_err());
        assert!(read(b"Q!==").is_err());
        // Bad part base64 names the part.
        let m = "Content-Type: multipart/mixed; boundary=b\nContent-Transfer-Encoding: base64\n\n--b\nContent-Type: application/x-passpoint-profile\nContent-Transfer-Encoding: base64\n\n@@@@\n--b--\n";
        let e = read(enc(m).as_bytes()).expect_err("bad part");
        assert!(e.render("f").contains("MIME part 1"), "{}", e.render("f"));
    }
}
