//! The roaming column: the eapol_test cell's authentication through a
//! visited network's proxy.
//!
//! ```text
//! eapol_test ──UDP──▶ aaa-server serve (proxy: [[realm]] action = "proxy",
//!   (NAS + peer)       radsec://127.0.0.1:2083, operator_name)
//!                        ──RadSec (TLS, SSLKEYLOGFILE)──▶ aaa-server serve (home: [radsec])
//! ```
//!
//! Everything runs in the AAA namespace on loopback. Two captures: the
//! usual one (RADIUS/UDP, judged like every cell), and one of the RadSec
//! hop (`tcp port 2083`), which tshark decrypts with the proxy's TLS key
//! log. The RADIUS inside is checked here: Access-Requests carrying
//! EAP-Message and the proxy's Operator-Name (RFC 5580), and for an accepted
//! row Access-Accepts with MS-MPPE-Send-Key and MS-MPPE-Recv-Key (RFC 2548),
//! which the proxy re-encrypts for eapol_test ("MPPE keys OK").

use super::launch::{eapol_test_against, provision_aaa};
use super::{Observed, Row};
use crate::bed::{Bed, RADIUS_PORT};
use crate::error::{Error, Result};
use crate::pki::Pki;
use crate::process::{Probe, Process, Spec};
use crate::scenario;
use crate::tools;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The home server's RadSec port (RFC 6614 §2.1).
pub const RADSEC_PORT: u16 = 2083;
/// The home server's own RADIUS/UDP port (unused by the cell; `serve` needs one).
const HOME_UDP_PORT: u16 = 11812;
/// What the proxy puts in Operator-Name (RFC 5580 §4.1: namespace `1` = realm).
pub const OPERATOR_NAME: &str = "1visited.example";
/// The proxy's certificate name, which the home server's `[[radsec.client]]` requires.
const PROXY_SAN: &str = "proxy.visited.example";

/// The rows the roaming column runs: one per method, each kind of reject,
/// an AUTS round and fast re-authentication through the proxy.
pub fn runs(row: Row) -> bool {
    matches!(
        row,
        Row::AkaFull
            | Row::AkaPrimeFull
            | Row::SqnResync
            | Row::WrongK
            | Row::UnknownSubscriber
            | Row::SimFull
            | Row::FastReauth
    )
}

/// Why the other rows are n/a in the roaming column.
pub fn not_applicable_reason(row: Row) -> String {
    format!(
        "the roaming column runs one row per method, the rejects, SQN resync and fast re-auth; {} changes nothing the proxy sees (EAP passes through untouched) and runs in eapol_test>aaa-server",
        row.label()
    )
}

/// Starts home and proxy, runs eapol_test through them, then checks the
/// RadSec hop's capture.
pub(super) fn run(
    bed: &mut Bed,
    row: Row,
    aaa: &Path,
    bins: &[(&str, PathBuf)],
) -> Result<Observed> {
    let pki_dir = bed.dir.subdir("pki")?;
    let pki = Pki::new(&pki_dir).map_err(Error::Invalid)?;
    let home_leaf = pki
        .leaf(
            "home",
            "aaa.home.example",
            &["DNS:aaa.home.example", "IP:127.0.0.1"],
        )
        .map_err(Error::Invalid)?;
    let proxy_leaf = pki
        .leaf("visited", PROXY_SAN, &[&format!("DNS:{PROXY_SAN}")])
        .map_err(Error::Invalid)?;

    // The home server: the row's subscriber store and EAP settings, RadSec.
    let db = provision_aaa(bed, row, aaa)?;
    let mut home = scenario::aaa_server_toml(
        &format!("127.0.0.1:{HOME_UDP_PORT}"),
        &db,
        &row.server_methods(),
        &["127.0.0.1/32"],
    );
    if row.is_privacy() {
        home.push_str(&scenario::aaa_privacy_toml(
            row == Row::ResultIndication,
            None,
        ));
    }
    home.push_str(&format!(
        "\n[radsec]\nlisten = \"127.0.0.1:{RADSEC_PORT}\"\ncertificate = \"{}\"\nprivate_key = \"{}\"\n\
         ca = \"{}\"\n\n[[radsec.client]]\nname = \"visited\"\nsubject_alt_name = \"{PROXY_SAN}\"\n",
        home_leaf.cert.display(),
        home_leaf.key.display(),
        pki.ca.display()
    ));
    let home_conf = bed.dir.write("aaa-home.toml", &home)?;
    let spec = Spec::new("aaa-server-home", aaa)
        .netns(bed.net.aaa.name())
        .args(["serve", "--config"])
        .arg(&home_conf)
        .env("RUST_LOG", "debug");
    bed.start(&spec, &Probe::TcpListen(RADSEC_PORT))?;

    // The RadSec capture, before the proxy opens its connection.
    let radsec_pcap = bed.dir.join("radsec.pcap");
    let mut capture = start_capture(bed, &radsec_pcap)?;

    // The proxy: its own (unused) store, the realm to the home server, the rest refused.
    let proxy_db = bed.dir.join("proxy-hss.db");
    let add = Spec::new("aaa-server-subscriber-add-proxy", aaa)
        .args(["subscriber", "add", "--db"])
        .arg(&proxy_db)
        .args([
            "--imsi",
            "001010999999998",
            "--k",
            &scenario::Subscriber::demo().k,
            "--opc",
            &scenario::Subscriber::demo().opc,
        ]);
    let (st, out) = bed.run(&add, Duration::from_secs(10))?;
    if !st.success() {
        return Err(Error::Command {
            cmd: add.command_line(),
            detail: out,
        });
    }
    let realm = row
        .sim_subscriber()
        .permanent_nai(row.method())
        .rsplit_once('@')
        .map(|(_, r)| r.to_owned())
        .unwrap_or_default();
    let mut proxy = scenario::aaa_server_toml(
        &format!("127.0.0.1:{RADIUS_PORT}"),
        &proxy_db,
        &row.server_methods(),
        &["127.0.0.1/32"],
    );
    proxy.push_str(&format!(
        "\n[[realm]]\nname = \"{realm}\"\naction = \"proxy\"\nservers = [\"radsec://127.0.0.1:{RADSEC_PORT}\"]\n\n\
         [[realm]]\nname = \"*\"\naction = \"reject\"\n\n\
         [tls_client]\ncertificate = \"{}\"\nprivate_key = \"{}\"\nca = \"{}\"\n\n\
         [proxy]\ntimeout = 3\nretries = 0\noperator_name = \"{OPERATOR_NAME}\"\n",
        proxy_leaf.cert.display(),
        proxy_leaf.key.display(),
        pki.ca.display()
    ));
    let proxy_conf = bed.dir.write("aaa-proxy.toml", &proxy)?;
    let keylog = bed.dir.join("radsec-keys.log");
    let spec = Spec::new("aaa-server-proxy", aaa)
        .netns(bed.net.aaa.name())
        .args(["serve", "--config"])
        .arg(&proxy_conf)
        .env("RUST_LOG", "debug")
        .env("SSLKEYLOGFILE", &keylog);
    bed.start(&spec, &Probe::UdpBound(RADIUS_PORT))?;

    let mut obs = eapol_test_against(bed, row, bins)?;
    let pcap = finish_capture(&mut capture, &radsec_pcap);
    if obs.success != row.expect_success() {
        // The judge reports the wrong outcome; the hop has nothing to add.
        return Ok(obs);
    }
    let hop = decode(&pcap, &keylog)?;
    let want_accepts = match (obs.success, row) {
        (false, _) => 0,
        (true, Row::FastReauth) => 3,
        (true, _) => 1,
    };
    let summary = hop.check(want_accepts).map_err(|e| {
        Error::Invalid(format!(
            "RadSec hop (tshark with the TLS key log): {e} ({})",
            obs.detail
        ))
    })?;
    obs.detail = format!("{}; RadSec hop: {summary}", obs.detail);
    Ok(obs)
}

/// tcpdump on the namespace's loopback, `tcp port 2083` only.
fn start_capture(bed: &Bed, pcap: &Path) -> Result<Process> {
    let spec = Spec::new("tcpdump-radsec", tools::find("tcpdump")?)
        .netns(bed.net.aaa.name())
        .args([
            "-i",
            "lo",
            "--immediate-mode",
            "-U",
            "-n",
            "-s",
            "0",
            "-Z",
            "root",
            "-w",
        ])
        .arg(pcap)
        .arg(format!("tcp port {RADSEC_PORT}"));
    Process::start(
        &spec,
        bed.dir.path(),
        &Probe::LogLine("listening on".into()),
        Duration::from_secs(5),
    )
}

/// Waits until the pcap has not grown for 200 ms (at most 3 s), then stops tcpdump.
fn finish_capture(p: &mut Process, pcap: &Path) -> PathBuf {
    let size = || std::fs::metadata(pcap).map_or(0, |m| m.len());
    let deadline = Instant::now() + Duration::from_secs(3);
    let (mut last, mut since) = (size(), Instant::now());
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        let now = size();
        if now != last {
            (last, since) = (now, Instant::now());
        } else if since.elapsed() >= Duration::from_millis(200) {
            break;
        }
    }
    p.stop();
    pcap.to_path_buf()
}

/// The RADIUS packets tshark decrypted, per direction.
#[derive(Debug, Default)]
pub struct Hop {
    /// Proxy → home (RADIUS packets, whole).
    pub requests: Vec<Vec<u8>>,
    /// Home → proxy.
    pub answers: Vec<Vec<u8>>,
    /// The TLS version tshark saw in the handshake, if any.
    pub tls_version: Option<String>,
}

/// Decrypts the RadSec capture with `tshark -o tls.keylog_file:…` and
/// splits each direction's plaintext into RADIUS packets by Length.
/// Wireshark 4.0 has no RADIUS-over-TLS dissector, so the records come out
/// as data, framed here.
pub fn decode(pcap: &Path, keylog: &Path) -> Result<Hop> {
    let tshark = tools::find("tshark")?;
    let out = std::process::Command::new(&tshark)
        .arg("-r")
        .arg(pcap)
        .arg("-o")
        .arg(format!("tls.keylog_file:{}", keylog.display()))
        .args(["-d", &format!("tcp.port=={RADSEC_PORT},tls")])
        .args([
            "-Y",
            "tls",
            "-T",
            "fields",
            "-E",
            "separator=/t",
            "-e",
            "tcp.srcport",
            "-e",
            "tls.handshake.type",
            "-e",
            "tls.handshake.extensions.supported_version",
            "-e",
            "data.data",
        ])
        .output()
        .map_err(|e| Error::Command {
            cmd: format!("tshark -r {}", pcap.display()),
            detail: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(Error::Capture {
            path: pcap.to_owned(),
            what: format!(
                "tshark failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Hop::from_fields(&String::from_utf8_lossy(&out.stdout)).map_err(|what| Error::Capture {
        path: pcap.to_owned(),
        what,
    })
}

/// RADIUS attribute types and codes the check reads (RFC 2865, 3579, 5580, 2548).
mod attr {
    pub const VENDOR_SPECIFIC: u8 = 26;
    pub const EAP_MESSAGE: u8 = 79;
    pub const OPERATOR_NAME: u8 = 126;
    pub const MICROSOFT: u32 = 311;
    pub const MS_MPPE_SEND_KEY: u8 = 16;
    pub const MS_MPPE_RECV_KEY: u8 = 17;
}

/// The attributes of a RADIUS packet (type, value), or `None` when malformed.
fn attributes(p: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    let len = usize::from(u16::from_be_bytes([*p.get(2)?, *p.get(3)?]));
    let mut rest = p.get(20..len)?;
    let mut v = Vec::new();
    while !rest.is_empty() {
        let l = usize::from(*rest.get(1)?);
        if l < 2 || l > rest.len() {
            return None;
        }
        v.push((rest[0], &rest[2..l]));
        rest = &rest[l..];
    }
    Some(v)
}

/// Microsoft vendor attribute types inside the Vendor-Specific attributes.
fn ms_vendor_types(attrs: &[(u8, &[u8])]) -> Vec<u8> {
    attrs
        .iter()
        .filter(|(t, _)| *t == attr::VENDOR_SPECIFIC)
        .filter_map(|(_, v)| {
            let vendor = u32::from_be_bytes(v.get(..4)?.try_into().ok()?);
            (vendor == attr::MICROSOFT).then(|| v.get(4).copied())?
        })
        .collect()
}

impl Hop {
    /// From tshark's tab-separated fields (source port, handshake types,
    /// supported versions, decrypted data as hex, comma-separated per record).
    pub fn from_fields(text: &str) -> std::result::Result<Self, String> {
        let (mut up, mut down) = (Vec::new(), Vec::new());
        let mut hop = Hop::default();
        for line in text.lines() {
            let f: Vec<&str> = line.split('\t').collect();
            let port = f.first().and_then(|p| p.trim().parse::<u16>().ok());
            // The ServerHello (type 2) names the version chosen (0x0304: TLS 1.3).
            if port == Some(RADSEC_PORT) && f.get(1).is_some_and(|t| t.split(',').any(|x| x == "2"))
            {
                let v = f.get(2).copied().unwrap_or_default();
                hop.tls_version = Some(if v.contains("0x0304") {
                    "TLS 1.3".into()
                } else {
                    "TLS 1.2".into()
                });
            }
            let Some(hexes) = f.get(3) else { continue };
            let into = if port == Some(RADSEC_PORT) {
                &mut down
            } else {
                &mut up
            };
            for h in hexes.split(',').map(str::trim).filter(|h| !h.is_empty()) {
                into.extend(hex::decode(h).map_err(|e| format!("tshark data {h:?}: {e}"))?);
            }
        }
        hop.requests = split(&up)?;
        hop.answers = split(&down)?;
        Ok(hop)
    }

    /// The check of the cell: Access-Requests with EAP-Message and
    /// Operator-Name, `accepts` Access-Accepts each with both MS-MPPE keys
    /// (none: the last answer is an Access-Reject). Returns the summary.
    pub fn check(&self, accepts: usize) -> std::result::Result<String, String> {
        let access_requests: Vec<&Vec<u8>> = self.requests.iter().filter(|p| p[0] == 1).collect();
        if access_requests.is_empty() {
            return Err(format!(
                "no Access-Request decrypted ({} packets proxy→home, {} home→proxy: is the key log empty?)",
                self.requests.len(),
                self.answers.len()
            ));
        }
        for p in &access_requests {
            let a = attributes(p).ok_or("a malformed Access-Request")?;
            if !a.iter().any(|(t, _)| *t == attr::EAP_MESSAGE) {
                return Err(format!("Access-Request id {} without EAP-Message", p[1]));
            }
            match a.iter().find(|(t, _)| *t == attr::OPERATOR_NAME) {
                Some((_, v)) if *v == OPERATOR_NAME.as_bytes() => {}
                Some((_, v)) => {
                    return Err(format!(
                        "Operator-Name {:?}, expected {OPERATOR_NAME:?}",
                        String::from_utf8_lossy(v)
                    ));
                }
                None => return Err(format!("Access-Request id {} without Operator-Name", p[1])),
            }
        }
        let accepted: Vec<&Vec<u8>> = self.answers.iter().filter(|p| p[0] == 2).collect();
        if accepted.len() != accepts {
            return Err(format!(
                "{} Access-Accept(s) on the RadSec hop, expected {accepts}",
                accepted.len()
            ));
        }
        for p in &accepted {
            let a = attributes(p).ok_or("a malformed Access-Accept")?;
            let ms = ms_vendor_types(&a);
            if !(ms.contains(&attr::MS_MPPE_SEND_KEY) && ms.contains(&attr::MS_MPPE_RECV_KEY)) {
                return Err(format!(
                    "Access-Accept id {} without MS-MPPE-Send-Key and MS-MPPE-Recv-Key",
                    p[1]
                ));
            }
        }
        let rejects = self.answers.iter().filter(|p| p[0] == 3).count();
        if accepts == 0 && rejects == 0 {
            return Err("no Access-Reject on the RadSec hop".into());
        }
        let challenges = self.answers.iter().filter(|p| p[0] == 11).count();
        Ok(format!(
            "{}{} Access-Requests with EAP-Message and Operator-Name \"{OPERATOR_NAME}\", {challenges} Access-Challenges, {}",
            self.tls_version
                .as_deref()
                .map(|v| format!("{v}, "))
                .unwrap_or_default(),
            access_requests.len(),
            if accepts > 0 {
                format!("{accepts} Access-Accept with MS-MPPE-Send/Recv-Key")
            } else {
                format!("{rejects} Access-Reject")
            }
        ))
    }
}

/// Cuts a direction's plaintext into RADIUS packets by their Length (RFC 6613 §2.1).
fn split(stream: &[u8]) -> std::result::Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        if rest.len() < 20 {
            return Err(format!("{} trailing bytes", rest.len()));
        }
        let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
        if !(20..=rest.len()).contains(&len) {
            return Err(format!(
                "RADIUS framing: Length {len} with {} bytes",
                rest.len()
            ));
        }
        out.push(rest[..len].to_vec());
        rest = &rest[len..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(code: u8, id: u8, attrs: &[(u8, Vec<u8>)]) -> Vec<u8> {
        let mut p = vec![code, id, 0, 0];
        p.extend([0u8; 16]);
        for (t, v) in attrs {
            p.push(*t);
            p.push(2 + v.len() as u8);
            p.extend(v);
        }
        let l = p.len() as u16;
        p[2..4].copy_from_slice(&l.to_be_bytes());
        p
    }

    fn ms(t: u8) -> (u8, Vec<u8>) {
        let mut v = 311u32.to_be_bytes().to_vec();
        v.extend([t, 4, 0xaa, 0xbb]);
        (26, v)
    }

    #[test]
    fn a_proxied_accept_passes_and_a_missing_operator_name_fails() {
        let req = packet(
            1,
            7,
            &[
                (79, vec![2, 0, 0, 5, 1]),
                (126, OPERATOR_NAME.as_bytes().to_vec()),
            ],
        );
        let acc = packet(2, 7, &[(79, vec![3, 0, 0, 4]), ms(16), ms(17)]);
        let fields = format!(
            "40000\t1\t\t\n2083\t2\t0x0304\t\n40000\t\t\t{}\n2083\t\t\t{},{}\n",
            hex::encode(&req),
            hex::encode(&acc[..10]),
            hex::encode(&acc[10..])
        );
        let hop = Hop::from_fields(&fields).unwrap();
        assert_eq!(hop.tls_version.as_deref(), Some("TLS 1.3"));
        assert_eq!((hop.requests.len(), hop.answers.len()), (1, 1));
        let s = hop.check(1).unwrap();
        assert!(
            s.contains("1 Access-Requests") && s.contains("MS-MPPE"),
            "{s}"
        );
        assert!(hop.check(0).is_err());

        let bare = packet(1, 8, &[(79, vec![2, 0, 0, 5, 1])]);
        let hop = Hop::from_fields(&format!("40000\t\t\t{}\n", hex::encode(&bare))).unwrap();
        assert!(hop.check(0).unwrap_err().contains("Operator-Name"));

        let no_keys = packet(2, 7, &[(79, vec![3, 0, 0, 4]), ms(16)]);
        let hop = Hop::from_fields(&format!(
            "40000\t\t\t{}\n2083\t\t\t{}\n",
            hex::encode(&req),
            hex::encode(&no_keys)
        ))
        .unwrap();
        assert!(hop.check(1).unwrap_err().contains("MS-MPPE"));
        assert!(Hop::from_fields("2083\t\t\t0102\n").is_err());
        assert!(
            Hop::default()
                .check(1)
                .unwrap_err()
                .contains("no Access-Request")
        );
    }
}
