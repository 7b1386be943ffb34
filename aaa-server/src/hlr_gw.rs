//! hostapd's hlr_auc_gw protocol (the `eap_sim_db=unix:<path>` interface)
//! over our [`Hss`]: text requests in, text replies out, with a thin
//! AF_UNIX datagram shell ([`serve`]).
//!
//! - `AKA-REQ-AUTH <IMSI>` → `AKA-RESP-AUTH <IMSI> <RAND> <AUTN> <IK> <CK> <RES>`
//!   or `AKA-RESP-AUTH <IMSI> FAILURE`
//! - `AKA-AUTS <IMSI> <AUTS> <RAND>` → resynchronisation, no reply
//! - `SIM-REQ-AUTH <IMSI> [<max_chal>]` → `SIM-RESP-AUTH <IMSI> <Kc>:<SRES>:<RAND> …`
//!   (2 or 3 GSM triplets from [`Hss::triplets`]) or `SIM-RESP-AUTH <IMSI> FAILURE`
//!
//! Vectors carry the stored AMF, as hostapd's own hlr_auc_gw does; subscribers
//! made with the default AMF 8000 have the separation bit EAP-AKA' needs.

use crate::hss::{Hss, Imsi, VectorKind};
use eap::umts::Auts;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Clears `path` for binding: nothing there, or a socket file nobody
/// receives on (a datagram connect to it is refused), which is removed.
fn remove_stale_socket(path: &Path) -> std::io::Result<()> {
    use std::io::{Error, ErrorKind};
    use std::os::unix::fs::FileTypeExt;
    let meta = match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        r => r?,
    };
    if !meta.file_type().is_socket() {
        return Err(Error::new(
            ErrorKind::AlreadyExists,
            "exists and is not a socket",
        ));
    }
    // A datagram connect succeeds while a socket is bound there (a live
    // receiver) and is refused when the file is left over from a dead one.
    match UnixDatagram::unbound()?.connect(path) {
        Ok(()) => Err(Error::new(
            ErrorKind::AddrInUse,
            "another process is serving on this socket; stop it or choose another --socket",
        )),
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => std::fs::remove_file(path),
        Err(e) => Err(e),
    }
}

/// Handles one request datagram; `None` when no reply is due.
pub fn handle(hss: &dyn Hss, request: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(request).ok()?;
    let mut f = text.trim_end_matches(['\0', '\n', '\r']).split(' ');
    let cmd = f.next()?;
    match cmd {
        "AKA-REQ-AUTH" => {
            let imsi_s = f.next()?;
            if imsi_s.len() > 20 {
                return None;
            }
            let Ok(imsi) = Imsi::parse(imsi_s) else {
                return Some(format!("AKA-RESP-AUTH {imsi_s} FAILURE"));
            };
            match hss.vector(&imsi, VectorKind::Aka) {
                Ok(v) => Some(format!(
                    "AKA-RESP-AUTH {imsi} {} {} {} {} {}",
                    hex::encode(v.rand),
                    hex::encode(v.autn.0),
                    hex::encode(v.ik.expose()),
                    hex::encode(v.ck.expose()),
                    hex::encode(v.xres.as_bytes())
                )),
                Err(e) => {
                    tracing::info!(imsi = %crate::logging::imsi(&imsi), error = %e, "hlr-gw: no vector");
                    Some(format!("AKA-RESP-AUTH {imsi} FAILURE"))
                }
            }
        }
        "AKA-AUTS" => {
            let imsi = Imsi::parse(f.next()?).ok()?;
            let mut auts = [0u8; 14];
            hex::decode_to_slice(f.next()?, &mut auts).ok()?;
            let mut rand = [0u8; 16];
            hex::decode_to_slice(f.next()?, &mut rand).ok()?;
            match hss.resync(&imsi, &rand, &Auts(auts)) {
                Ok(sqn) => {
                    tracing::info!(imsi = %crate::logging::imsi(&imsi), seq = sqn.seq(), "hlr-gw: resynchronised")
                }
                Err(e) => {
                    tracing::info!(imsi = %crate::logging::imsi(&imsi), error = %e, "hlr-gw: resync refused")
                }
            }
            None
        }
        "SIM-REQ-AUTH" => {
            let imsi_s = f.next()?;
            if imsi_s.len() > 20 || !imsi_s.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            // `<max_chal>`: hostapd asks for up to 3; EAP-SIM needs 2 or 3 (RFC 4186 §9.3).
            let n = f
                .next()
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(3)
                .clamp(2, 3);
            let Ok(imsi) = Imsi::parse(imsi_s) else {
                return Some(format!("SIM-RESP-AUTH {imsi_s} FAILURE"));
            };
            match hss.triplets(&imsi, n) {
                Ok((triplets, _)) => {
                    let mut reply = format!("SIM-RESP-AUTH {imsi}");
                    for t in &triplets {
                        reply.push_str(&format!(
                            " {}:{}:{}",
                            hex::encode(t.kc.expose()),
                            hex::encode(t.sres.as_bytes()),
                            hex::encode(t.rand)
                        ));
                    }
                    Some(reply)
                }
                Err(e) => {
                    tracing::info!(imsi = %crate::logging::imsi(&imsi), error = %e, "hlr-gw: no triplets");
                    Some(format!("SIM-RESP-AUTH {imsi} FAILURE"))
                }
            }
        }
        _ => {
            tracing::debug!(len = request.len(), "hlr-gw: unknown request ignored");
            None
        }
    }
}

/// Serves `hss` on an AF_UNIX datagram socket at `path` until `stop` is set
/// (checked every 200 ms). The socket file is removed on return.
///
/// A socket file already at `path` is removed only when stale (nobody
/// receives on it); a live one, another hlr-gw's, is refused with `AddrInUse`.
pub fn serve(hss: &dyn Hss, path: &Path, stop: &AtomicBool) -> std::io::Result<()> {
    remove_stale_socket(path)?;
    let sock = UnixDatagram::bind(path)?;
    struct Unlink<'a>(&'a Path);
    impl Drop for Unlink<'_> {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(self.0);
        }
    }
    let _unlink = Unlink(path);
    sock.set_read_timeout(Some(Duration::from_millis(200)))?;
    let mut buf = [0u8; 1024];
    while !stop.load(Ordering::Relaxed) {
        let (n, from) = match sock.recv_from(&mut buf) {
            Ok(x) => x,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(e) => return Err(e),
        };
        if let Some(reply) = handle(hss, &buf[..n]) {
            match from.as_pathname() {
                Some(p) => {
                    if let Err(e) = sock.send_to(reply.as_bytes(), p) {
                        tracing::warn!(error = %e, "hlr-gw: reply not delivered");
                    }
                }
                None => tracing::warn!("hlr-gw: request from an unbound socket, no reply possible"),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hss::SqliteStore;
    use crate::hss::sqlite::NewSubscriber;
    use eap::secret::{Ck, Ik, K, Opc};
    use eap::umts::{Amf, Autn, Sqn, SubscriberKeys};
    use std::sync::Arc;

    fn keys() -> SubscriberKeys {
        SubscriberKeys::new(K::new([7; 16]), Opc::new([8; 16]))
    }

    fn store() -> SqliteStore {
        let s = SqliteStore::open_in_memory().unwrap();
        s.add(&NewSubscriber {
            imsi: Imsi::parse("001010000000009").unwrap(),
            keys: keys(),
            amf: Amf([0x80, 0]),
            sqn: Sqn::default(),
        })
        .unwrap();
        s
    }

    fn h<const N: usize>(s: &str) -> [u8; N] {
        let mut o = [0; N];
        hex::decode_to_slice(s, &mut o).unwrap();
        o
    }

    #[test]
    fn req_auth_gives_a_vector_the_usim_accepts_and_auts_resyncs() {
        let s = store();
        let r = handle(&s, b"AKA-REQ-AUTH 001010000000009").unwrap();
        let f: Vec<&str> = r.split(' ').collect();
        assert_eq!(f.len(), 7, "{r}");
        assert_eq!(&f[..2], ["AKA-RESP-AUTH", "001010000000009"]);
        let rand = h::<16>(f[2]);
        let u = keys().authenticate(&rand, &Autn(h(f[3]))).unwrap();
        assert_eq!(u.ik, Ik::new(h(f[4])));
        assert_eq!(u.ck, Ck::new(h(f[5])));
        assert_eq!(hex::encode(u.res.as_bytes()), f[6]);
        assert!(u.amf.separation_bit());

        let ms = Sqn::from_seq_ind(500, 4);
        let auts = keys().auts(&rand, ms);
        let req = format!("AKA-AUTS 001010000000009 {} {}", hex::encode(auts.0), f[2]);
        assert_eq!(handle(&s, req.as_bytes()), None);
        assert_eq!(s.sqn(&Imsi::parse("001010000000009").unwrap()).unwrap(), ms);
    }

    /// SIM-REQ-AUTH: GSM-Milenage triplets (TS 55.205) of the stored K/OPc,
    /// distinct RANDs, as many as asked within 2..=3.
    #[test]
    fn sim_req_auth_gives_gsm_milenage_triplets() {
        let s = store();
        for (ask, want) in [("3", 3), ("2", 2), ("7", 3), ("1", 2)] {
            let r = handle(&s, format!("SIM-REQ-AUTH 001010000000009 {ask}").as_bytes()).unwrap();
            let f: Vec<&str> = r.split(' ').collect();
            assert_eq!(&f[..2], ["SIM-RESP-AUTH", "001010000000009"], "{r}");
            assert_eq!(f.len(), 2 + want, "{r}");
            let mut rands = Vec::new();
            for t in &f[2..] {
                let p: Vec<&str> = t.split(':').collect();
                let rand = h::<16>(p[2]);
                let g = keys().gsm_triplet(rand);
                assert_eq!(p[0], hex::encode(g.kc.expose()));
                assert_eq!(p[1], hex::encode(g.sres.as_bytes()));
                assert!(!rands.contains(&rand));
                rands.push(rand);
            }
        }
    }

    #[test]
    fn failures_and_garbage() {
        let s = store();
        assert_eq!(
            handle(&s, b"AKA-REQ-AUTH 001010000000001").as_deref(),
            Some("AKA-RESP-AUTH 001010000000001 FAILURE")
        );
        assert_eq!(
            handle(&s, b"SIM-REQ-AUTH 001010000000001 3").as_deref(),
            Some("SIM-RESP-AUTH 001010000000001 FAILURE")
        );
        assert_eq!(handle(&s, b"SIM-REQ-AUTH 00101000000000x 3"), None);
        assert_eq!(handle(&s, b"AKA-AUTS 001010000000009 zz 00"), None);
        assert_eq!(handle(&s, b"\xff\xfe"), None);
        assert_eq!(handle(&s, b""), None);
    }

    #[test]
    fn over_a_real_datagram_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hlr.sock");
        let stop = Arc::new(AtomicBool::new(false));
        let s = Arc::new(store());
        let t = {
            let (s, p, stop) = (s.clone(), path.clone(), stop.clone());
            std::thread::spawn(move || serve(&*s, &p, &stop))
        };
        for _ in 0..100 {
            if path.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let client_path = dir.path().join("client.sock");
        let c = UnixDatagram::bind(&client_path).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.send_to(b"AKA-REQ-AUTH 001010000000009", &path).unwrap();
        let mut buf = [0u8; 512];
        let n = c.recv(&mut buf).unwrap();
        let reply = std::str::from_utf8(&buf[..n]).unwrap();
        assert!(
            reply.starts_with("AKA-RESP-AUTH 001010000000009 "),
            "{reply}"
        );
        // A second server on the same path must not take the live socket away.
        let e = serve(&*s, &path, &AtomicBool::new(false)).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse, "{e}");
        c.send_to(b"AKA-REQ-AUTH 001010000000009", &path).unwrap();
        c.recv(&mut buf).expect("the first server still answers");
        stop.store(true, Ordering::Relaxed);
        t.join().unwrap().unwrap();
        assert!(!path.exists(), "socket removed on exit");
    }

    #[test]
    fn a_stale_socket_is_replaced_and_other_files_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hlr.sock");
        drop(UnixDatagram::bind(&path).unwrap()); // left behind by a dead server
        assert!(path.exists());
        remove_stale_socket(&path).unwrap();
        assert!(!path.exists());
        remove_stale_socket(&path).unwrap();
        std::fs::write(&path, b"not a socket").unwrap();
        let e = remove_stale_socket(&path).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert!(path.exists(), "a regular file is never removed");
    }
}
