//! A small hlr_auc_gw stub (the AKA and SIM parts of hostapd's `eap_sim_db`
//! protocol over an AF_UNIX datagram socket), computed with `eap::umts` and
//! `eap::gsm` (GSM-Milenage triplets).
//!
//! It is the HSS of the *reference* column: wpa_supplicant → hostapd →
//! hostapd's own EAP server, whose vectors come from here. It lets the
//! testbed prove itself against tools nobody here wrote, independently of
//! `aaa-server hlr-gw` (which is what the real matrix column uses).

use crate::error::{IoContext, Result};
use crate::scenario::Subscriber;
use eap::secret::{K, Opc};
use eap::umts::{Amf, Auts, Sqn, SubscriberKeys};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

struct Entry {
    imsi: String,
    keys: SubscriberKeys,
    amf: Amf,
    sqn: u64,
}

/// The running stub; stopped (thread joined, socket removed) on drop.
pub struct HlrStub {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for HlrStub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HlrStub").field("path", &self.path).finish()
    }
}

fn parse_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    hex::decode(s).ok()?.try_into().ok()
}

fn entry(s: &Subscriber) -> Option<Entry> {
    let amf = parse_hex::<2>(&s.amf)?;
    Some(Entry {
        imsi: s.imsi.clone(),
        keys: SubscriberKeys::new(K::new(parse_hex(&s.k)?), Opc::new(parse_hex(&s.opc)?)),
        amf: Amf(amf),
        sqn: u64::from_str_radix(&s.sqn, 16).ok()?,
    })
}

impl HlrStub {
    /// Binds `path` and serves `subscribers` on a thread.
    pub fn start(path: &Path, subscribers: &[Subscriber]) -> Result<Self> {
        let mut db: Vec<Entry> = subscribers.iter().filter_map(entry).collect();
        let _ = std::fs::remove_file(path);
        let sock = UnixDatagram::bind(path).ctx(|| format!("binding {}", path.display()))?;
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .ctx(|| "setting a timeout".into())?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("hlr-stub".into())
            .spawn(move || {
                let mut buf = [0u8; 1024];
                while !stop2.load(Ordering::Relaxed) {
                    let Ok((n, from)) = sock.recv_from(&mut buf) else {
                        continue;
                    };
                    let req = String::from_utf8_lossy(&buf[..n]).into_owned();
                    if let Some(reply) = handle(&mut db, &req)
                        && let Some(p) = from.as_pathname()
                    {
                        let _ = sock.send_to(reply.as_bytes(), p);
                    }
                }
            })
            .ctx(|| "spawning the hlr stub".into())?;
        Ok(Self {
            path: path.to_owned(),
            stop,
            thread: Some(thread),
        })
    }
}

/// One request of the hlr_auc_gw protocol → the reply (none for AKA-AUTS).
fn handle(db: &mut [Entry], req: &str) -> Option<String> {
    let mut f = req.split_whitespace();
    match f.next()? {
        "AKA-REQ-AUTH" => {
            let imsi = f.next()?;
            let Some(e) = db.iter_mut().find(|e| e.imsi == imsi) else {
                return Some(format!("AKA-RESP-AUTH {imsi} FAILURE"));
            };
            // hlr_auc_gw: SEQ + 1 per vector, IND stays (SQN + 32).
            e.sqn += 1 << Sqn::IND_BITS;
            let sqn = Sqn::new(e.sqn)?;
            let mut rand = [0u8; 16];
            getrandom::fill(&mut rand).ok()?;
            let v = e.keys.generate_vector(sqn, e.amf, rand);
            Some(format!(
                "AKA-RESP-AUTH {imsi} {} {} {} {} {}",
                hex::encode(v.rand),
                hex::encode(v.autn.0),
                hex::encode(v.ik.expose()),
                hex::encode(v.ck.expose()),
                hex::encode(v.xres.as_bytes())
            ))
        }
        // hlr_auc_gw: `SIM-REQ-AUTH <IMSI> <max_chal>` →
        // `SIM-RESP-AUTH <IMSI> Kc:SRES:RAND …` (one triplet per challenge).
        "SIM-REQ-AUTH" => {
            let imsi = f.next()?;
            let n: usize = f
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(3)
                .clamp(1, 3);
            let Some(e) = db.iter().find(|e| e.imsi == imsi) else {
                return Some(format!("SIM-RESP-AUTH {imsi} FAILURE"));
            };
            let mut reply = format!("SIM-RESP-AUTH {imsi}");
            for _ in 0..n {
                let mut rand = [0u8; 16];
                getrandom::fill(&mut rand).ok()?;
                let t = e.keys.gsm_triplet(rand);
                reply.push_str(&format!(
                    " {}:{}:{}",
                    hex::encode(t.kc.expose()),
                    hex::encode(t.sres.as_bytes()),
                    hex::encode(t.rand)
                ));
            }
            Some(reply)
        }
        "AKA-AUTS" => {
            let imsi = f.next()?;
            let auts: [u8; 14] = parse_hex(f.next()?)?;
            let rand: [u8; 16] = parse_hex(f.next()?)?;
            let e = db.iter_mut().find(|e| e.imsi == imsi)?;
            if let Ok(sqn_ms) = e.keys.resync(&rand, &Auts(auts)) {
                e.sqn = sqn_ms.value();
            }
            None
        }
        _ => None,
    }
}

impl Drop for HlrStub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sim_triplets_are_gsm_milenage() {
        let s = Subscriber::demo();
        let mut db = vec![entry(&s).unwrap()];
        let r = handle(&mut db, &format!("SIM-REQ-AUTH {} 3", s.imsi)).unwrap();
        let f: Vec<&str> = r.split_whitespace().collect();
        assert_eq!(f.len(), 5, "{r}");
        for t in &f[2..] {
            let p: Vec<&str> = t.split(':').collect();
            let rand: [u8; 16] = parse_hex(p[2]).unwrap();
            let want = db[0].keys.gsm_triplet(rand);
            assert_eq!(p[0], hex::encode(want.kc.expose()));
            assert_eq!(p[1], hex::encode(want.sres.as_bytes()));
        }
        assert_eq!(
            handle(&mut db, "SIM-REQ-AUTH 999 2").unwrap(),
            "SIM-RESP-AUTH 999 FAILURE"
        );
    }

    #[test]
    fn vectors_verify_at_the_usim_and_resync_moves_sqn() {
        let s = Subscriber::demo();
        let mut db = vec![entry(&s).unwrap()];
        let r = handle(&mut db, &format!("AKA-REQ-AUTH {}", s.imsi)).unwrap();
        let f: Vec<&str> = r.split(' ').collect();
        assert_eq!(f[0], "AKA-RESP-AUTH");
        assert_eq!(f.len(), 7);
        let rand: [u8; 16] = parse_hex(f[2]).unwrap();
        let autn: [u8; 16] = parse_hex(f[3]).unwrap();
        let usim = entry(&s).unwrap().keys;
        let got = usim.authenticate(&rand, &eap::umts::Autn(autn)).unwrap();
        assert_eq!(got.sqn.value(), 0x20 + 32);
        assert_eq!(hex::encode(got.res.as_bytes()), f[6]);
        // Resync to a higher SQN_MS.
        let auts = usim.auts(&rand, Sqn::new(0x1000).unwrap());
        assert!(
            handle(
                &mut db,
                &format!("AKA-AUTS {} {} {}", s.imsi, hex::encode(auts.0), f[2])
            )
            .is_none()
        );
        assert_eq!(db[0].sqn, 0x1000);
        assert!(
            handle(&mut db, "AKA-REQ-AUTH 999")
                .unwrap()
                .ends_with("FAILURE")
        );
    }
}
