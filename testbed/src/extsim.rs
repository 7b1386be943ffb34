//! Answers wpa_supplicant's / eapol_test's external-SIM requests
//! (`CTRL-REQ-SIM-<id>:UMTS-AUTH:<RAND>:<AUTN>` for EAP-AKA/AKA',
//! `CTRL-REQ-SIM-<id>:GSM-AUTH:<RAND1>:<RAND2>[:<RAND3>]` for EAP-SIM) on
//! their control socket, with a soft USIM computed by `eap::umts` and
//! `eap::gsm` (GSM-Milenage: the USIM's GSM context).
//!
//! This stands in for `supplicant wifi` (the wpa_supplicant bridge of the
//! supplicant issue) until that lands. SQN freshness is simplified to "SQN
//! must be above the highest accepted one" (no per-IND array); a stale SQN
//! gets `UMTS-AUTS`, a bad MAC-A gets `UMTS-FAIL`.

use crate::ctrl::Ctrl;
use crate::error::{Error, Result};
use crate::scenario::Subscriber;
use eap::secret::{K, Opc};
use eap::umts::{Autn, Sqn, SubscriberKeys};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The soft USIM behind the responder.
pub struct SoftUsim {
    keys: SubscriberKeys,
    sqn_max: u64,
}

impl SoftUsim {
    /// From a subscriber description (its SQN is the highest accepted one).
    pub fn new(s: &Subscriber) -> Result<Self> {
        let bad = |what: &str| Error::Invalid(format!("subscriber {}: bad {what}", s.imsi));
        let k: [u8; 16] = hex::decode(&s.k)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| bad("K"))?;
        let opc: [u8; 16] = hex::decode(&s.opc)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| bad("OPc"))?;
        let sqn_max = u64::from_str_radix(&s.sqn, 16).map_err(|_| bad("SQN"))?;
        Ok(Self {
            keys: SubscriberKeys::new(K::new(k), Opc::new(opc)),
            sqn_max,
        })
    }

    /// The answer to one `UMTS-AUTH` request, as the text after `CTRL-RSP-SIM-<id>:`.
    pub fn answer(&mut self, rand_hex: &str, autn_hex: &str) -> String {
        let rand: Option<[u8; 16]> = hex::decode(rand_hex).ok().and_then(|v| v.try_into().ok());
        let autn: Option<[u8; 16]> = hex::decode(autn_hex).ok().and_then(|v| v.try_into().ok());
        let (Some(rand), Some(autn)) = (rand, autn) else {
            return "UMTS-FAIL".into();
        };
        match self.keys.authenticate(&rand, &Autn(autn)) {
            Err(_) => "UMTS-FAIL".into(),
            Ok(r) if r.sqn.value() <= self.sqn_max => {
                let sqn_ms = Sqn::new(self.sqn_max).unwrap_or_default();
                format!("UMTS-AUTS:{}", hex::encode(self.keys.auts(&rand, sqn_ms).0))
            }
            Ok(r) => {
                self.sqn_max = r.sqn.value();
                format!(
                    "UMTS-AUTH:{}:{}:{}",
                    hex::encode(r.ik.expose()),
                    hex::encode(r.ck.expose()),
                    hex::encode(r.res.as_bytes())
                )
            }
        }
    }
}

impl SoftUsim {
    /// The answer to one `GSM-AUTH` request (`GSM-AUTH:<Kc1>:<SRES1>:…`, as
    /// wpa_supplicant's `eap_sim` external-SIM code parses it), or
    /// `GSM-FAIL` for a RAND that is not 16 bytes of hex.
    pub fn answer_gsm(&self, rands_hex: &[&str]) -> String {
        let mut out = String::from("GSM-AUTH");
        for r in rands_hex {
            let Some(rand) = hex::decode(r)
                .ok()
                .and_then(|v| <[u8; 16]>::try_from(v).ok())
            else {
                return "GSM-FAIL".into();
            };
            let t = self.keys.gsm_triplet(rand);
            out.push_str(&format!(
                ":{}:{}",
                hex::encode(t.kc.expose()),
                hex::encode(t.sres.as_bytes())
            ));
        }
        out
    }
}

/// Parses `CTRL-REQ-SIM-<id>:GSM-AUTH:<RAND1>:<RAND2>[:<RAND3>][ needed for …]`.
pub fn parse_gsm_request(ev: &str) -> Option<(&str, Vec<&str>)> {
    let rest = ev.strip_prefix("CTRL-REQ-SIM-")?;
    let (id, rest) = rest.split_once(':')?;
    let rands = rest.strip_prefix("GSM-AUTH:")?.split_whitespace().next()?;
    let rands: Vec<&str> = rands.split(':').collect();
    (2..=3).contains(&rands.len()).then_some((id, rands))
}

/// Parses `CTRL-REQ-SIM-<id>:UMTS-AUTH:<RAND>:<AUTN>[ needed for …]`.
pub fn parse_sim_request(ev: &str) -> Option<(&str, &str, &str)> {
    let rest = ev.strip_prefix("CTRL-REQ-SIM-")?;
    let mut f = rest.splitn(4, ':');
    let id = f.next()?;
    if f.next()? != "UMTS-AUTH" {
        return None;
    }
    let rand = f.next()?;
    let autn = f.next()?.split_whitespace().next()?;
    Some((id, rand, autn))
}

/// A thread attached to a control socket: answers SIM requests and records
/// every event.
pub struct Responder {
    stop: Arc<AtomicBool>,
    events: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Responder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Responder").finish_non_exhaustive()
    }
}

impl Responder {
    /// Attaches to `ctrl_path` (retrying until `timeout`) and starts answering.
    pub fn start(ctrl_path: &Path, mut usim: SoftUsim, timeout: Duration) -> Result<Self> {
        let deadline = Instant::now() + timeout;
        let mut ctrl = loop {
            match Ctrl::open(ctrl_path).and_then(|mut c| c.attach().map(|()| c)) {
                Ok(c) => break c,
                Err(e) if Instant::now() >= deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        };
        let stop = Arc::new(AtomicBool::new(false));
        let events = Arc::new(Mutex::new(Vec::new()));
        let (stop2, events2) = (stop.clone(), events.clone());
        let thread = std::thread::Builder::new()
            .name("extsim".into())
            .spawn(move || {
                while !stop2.load(Ordering::Relaxed) {
                    let tick = Instant::now() + Duration::from_millis(50);
                    let Ok(Some(ev)) = ctrl.next_event(tick) else {
                        continue;
                    };
                    if let Some((id, rand, autn)) = parse_sim_request(&ev) {
                        let ans = usim.answer(rand, autn);
                        let _ = ctrl
                            .command(&format!("CTRL-RSP-SIM-{id}:{ans}"), Duration::from_secs(1));
                    } else if let Some((id, rands)) = parse_gsm_request(&ev) {
                        let ans = usim.answer_gsm(&rands);
                        let _ = ctrl
                            .command(&format!("CTRL-RSP-SIM-{id}:{ans}"), Duration::from_secs(1));
                    }
                    if let Ok(mut v) = events2.lock() {
                        v.push(ev);
                    }
                }
            })
            .map_err(|e| Error::Io {
                context: "spawning the SIM responder".into(),
                source: e,
            })?;
        Ok(Self {
            stop,
            events,
            thread: Some(thread),
        })
    }

    /// Events seen so far.
    pub fn events(&self) -> Vec<String> {
        self.events.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Waits until an event starts with one of `prefixes`; returns it.
    pub fn wait_event(&self, prefixes: &[&str], timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self
                .events()
                .into_iter()
                .find(|e| prefixes.iter().any(|p| e.starts_with(p)))
            {
                return Some(e);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eap::umts::Amf;

    #[test]
    fn parses_requests() {
        let (id, r, a) = parse_sim_request(
            "CTRL-REQ-SIM-3:UMTS-AUTH:00112233445566778899aabbccddeeff:ffeeddccbbaa99887766554433221100 needed for SSID ",
        )
        .unwrap();
        assert_eq!((id, r.len(), a.len()), ("3", 32, 32));
        assert!(parse_sim_request("CTRL-REQ-SIM-3:GSM-AUTH:00").is_none());
    }

    #[test]
    fn answers_gsm_auth_with_gsm_milenage() {
        let (id, rands) = parse_gsm_request(
            "CTRL-REQ-SIM-4:GSM-AUTH:00112233445566778899aabbccddeeff:ffeeddccbbaa99887766554433221100 needed for SSID ",
        )
        .unwrap();
        assert_eq!((id, rands.len()), ("4", 2));
        assert!(parse_gsm_request("CTRL-REQ-SIM-4:GSM-AUTH:00").is_none());
        assert!(parse_gsm_request("CTRL-REQ-SIM-4:UMTS-AUTH:00:11").is_none());
        let usim = SoftUsim::new(&Subscriber::demo()).unwrap();
        let t = usim.keys.gsm_triplet([0x11; 16]);
        assert_eq!(
            usim.answer_gsm(&[&hex::encode([0x11; 16])]),
            format!(
                "GSM-AUTH:{}:{}",
                hex::encode(t.kc.expose()),
                hex::encode(t.sres.as_bytes())
            )
        );
        assert_eq!(usim.answer_gsm(&["zz"]), "GSM-FAIL");
    }

    #[test]
    fn answers_auth_auts_and_fail() {
        let s = Subscriber::demo();
        let mut usim = SoftUsim::new(&s).unwrap();
        let hss = SoftUsim::new(&s).unwrap().keys;
        let rand = [7u8; 16];
        let fresh = hss.generate_vector(Sqn::new(0x40).unwrap(), Amf([0x80, 0]), rand);
        let a = usim.answer(&hex::encode(rand), &hex::encode(fresh.autn.0));
        assert_eq!(
            a,
            format!(
                "UMTS-AUTH:{}:{}:{}",
                hex::encode(fresh.ik.expose()),
                hex::encode(fresh.ck.expose()),
                hex::encode(fresh.xres.as_bytes())
            )
        );
        // Replay → stale SQN → AUTS that the HSS can resync from.
        let a = usim.answer(&hex::encode(rand), &hex::encode(fresh.autn.0));
        let auts: [u8; 14] = hex::decode(a.strip_prefix("UMTS-AUTS:").unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        assert_eq!(
            hss.resync(&rand, &eap::umts::Auts(auts)).unwrap().value(),
            0x40
        );
        let mut bad = fresh.autn.0;
        bad[15] ^= 1;
        assert_eq!(
            usim.answer(&hex::encode(rand), &hex::encode(bad)),
            "UMTS-FAIL"
        );
    }
}
