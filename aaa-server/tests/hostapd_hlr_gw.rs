//! `aaa-server hlr-gw` as hostapd's `eap_sim_db`: hostapd's own EAP-AKA/AKA'
//! and EAP-SIM servers get their vectors and triplets from our store, and eapol_test (external SIM,
//! answered here with `eap::umts`) authenticates through it.

mod common;

use common::{tool, vector_subscriber};
use eap::secret::{K, Opc};
use eap::umts::{Autn, Sqn, SubscriberKeys};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Reap(Option<Child>);
impl Drop for Reap {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn udp_port_bound(port: u16) -> bool {
    let needle = format!(":{port:04X} ");
    std::fs::read_to_string("/proc/net/udp").is_ok_and(|t| t.contains(&needle))
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

struct Usim {
    keys: SubscriberKeys,
    sqn_ms: Sqn,
    resyncs: u32,
    gsm_auths: u32,
}

impl Usim {
    /// `GSM-AUTH:<Kc1>:<SRES1>:…`: GSM-Milenage (TS 55.205) of each RAND.
    fn gsm(&mut self, rands: &[&str]) -> String {
        let mut out = String::from("GSM-AUTH");
        for r in rands {
            let mut rand = [0u8; 16];
            if hex::decode_to_slice(r, &mut rand).is_err() {
                return "GSM-FAIL".into();
            }
            let t = self.keys.gsm_triplet(rand);
            out.push_str(&format!(
                ":{}:{}",
                hex::encode(t.kc.expose()),
                hex::encode(t.sres.as_bytes())
            ));
        }
        self.gsm_auths += 1;
        out
    }

    fn answer(&mut self, rand_hex: &str, autn_hex: &str) -> String {
        let mut rand = [0u8; 16];
        let mut autn = [0u8; 16];
        if hex::decode_to_slice(rand_hex, &mut rand).is_err()
            || hex::decode_to_slice(autn_hex, &mut autn).is_err()
        {
            return "UMTS-FAIL".into();
        }
        let Ok(u) = self.keys.authenticate(&rand, &Autn(autn)) else {
            return "UMTS-FAIL".into();
        };
        if u.sqn.seq() <= self.sqn_ms.seq() {
            self.resyncs += 1;
            return format!(
                "UMTS-AUTS:{}",
                hex::encode(self.keys.auts(&rand, self.sqn_ms).0)
            );
        }
        self.sqn_ms = u.sqn;
        format!(
            "UMTS-AUTH:{}:{}:{}",
            hex::encode(u.ik.expose()),
            hex::encode(u.ck.expose()),
            hex::encode(u.res.as_bytes())
        )
    }
}

fn run_eapol_test(dir: &Path, port: u16, method: &str, identity: &str, usim: &mut Usim) -> String {
    let ctrl = dir.join(format!("ctrl-{method}").replace('\'', "p"));
    let conf = dir.join("eapol.conf");
    std::fs::write(
        &conf,
        format!(
            "external_sim=1\nctrl_interface={}\nnetwork={{\n  key_mgmt=IEEE8021X\n  eap={method}\n  identity=\"{identity}\"\n  eapol_flags=0\n}}\n",
            ctrl.display()
        ),
    )
    .unwrap();
    let mut child = Reap(Some(
        Command::new(tool("eapol_test").unwrap())
            .arg("-c")
            .arg(&conf)
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-s",
                "hostapd-secret",
                "-t",
                "10",
                "-W",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    ));
    let sock = ctrl.join("test");
    wait_for("eapol_test control socket", || sock.exists());
    let mon_path = dir.join(format!("mon-{}", method.len()));
    let mon = UnixDatagram::bind(&mon_path).unwrap();
    mon.connect(&sock).unwrap();
    mon.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    mon.send(b"ATTACH").unwrap();
    let started = Instant::now();
    let c = child.0.as_mut().unwrap();
    let mut buf = [0u8; 4096];
    let status = loop {
        if let Some(st) = c.try_wait().unwrap() {
            break st;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "eapol_test hangs"
        );
        let Ok(n) = mon.recv(&mut buf) else { continue };
        let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
        if let Some(pos) = msg.find("CTRL-REQ-SIM-") {
            let rest = msg[pos + 13..].split_whitespace().next().unwrap_or("");
            let parts: Vec<&str> = rest.split(':').collect();
            let answer = match parts.as_slice() {
                [id, "UMTS-AUTH", rand, autn, ..] => {
                    format!("CTRL-RSP-SIM-{id}:{}", usim.answer(rand, autn))
                }
                [id, "GSM-AUTH", rands @ ..] => {
                    format!("CTRL-RSP-SIM-{id}:{}", usim.gsm(rands))
                }
                [id, ..] => format!("CTRL-RSP-SIM-{id}:UMTS-FAIL"),
                [] => continue,
            };
            mon.send(answer.as_bytes()).unwrap();
        }
    };
    let mut out = String::new();
    use std::io::Read;
    c.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    let _ = std::fs::remove_file(&mon_path);
    assert!(status.success(), "eapol_test via hostapd failed:\n{out}");
    out
}

#[test]
fn hostapd_eap_server_uses_our_hss_through_hlr_gw() {
    let (Some(hostapd), Some(_)) = (tool("hostapd"), tool("eapol_test")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db: PathBuf = dir.path().join("s.db");
    let (imsi, k, opc) = vector_subscriber(0);
    let o = Command::new(env!("CARGO_BIN_EXE_aaa-server"))
        .args([
            "subscriber",
            "add",
            "--db",
            db.to_str().unwrap(),
            "--imsi",
            &imsi,
        ])
        .args(["--k", &hex::encode(k), "--opc", &hex::encode(opc)])
        .output()
        .unwrap();
    assert!(o.status.success());
    let sock = dir.path().join("hlr.sock");
    let _gw = Reap(Some(
        Command::new(env!("CARGO_BIN_EXE_aaa-server"))
            .args([
                "hlr-gw",
                "--db",
                db.to_str().unwrap(),
                "--socket",
                sock.to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    ));
    wait_for("hlr-gw socket", || sock.exists());

    let port = free_udp_port();
    let clients = dir.path().join("clients");
    std::fs::write(&clients, "127.0.0.1/32 hostapd-secret\n").unwrap();
    let users = dir.path().join("eap_users");
    std::fs::write(&users, "\"0\"*\tAKA\n\"6\"*\tAKA'\n\"1\"*\tSIM\n").unwrap();
    let conf = dir.path().join("hostapd.conf");
    std::fs::write(
        &conf,
        format!(
            "driver=none\ninterface=aaahlr{port}\nradius_server_clients={}\nradius_server_auth_port={port}\n\
             eap_server=1\neap_user_file={}\neap_sim_db=unix:{}\n",
            clients.display(),
            users.display(),
            sock.display()
        ),
    )
    .unwrap();
    let _hostapd = Reap(Some(
        Command::new(hostapd)
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    ));
    wait_for("hostapd RADIUS port", || udp_port_bound(port));

    let keys = SubscriberKeys::new(K::new(k), Opc::new(opc));
    let mut usim = Usim {
        keys: keys.clone(),
        sqn_ms: Sqn::default(),
        resyncs: 0,
        gsm_auths: 0,
    };
    let realm = "wlan.mnc001.mcc001.3gppnetwork.org";
    let out = run_eapol_test(
        dir.path(),
        port,
        "AKA'",
        &format!("6{imsi}@{realm}"),
        &mut usim,
    );
    assert!(out.contains("MPPE keys OK: 1  mismatch: 0"), "{out}");
    let out = run_eapol_test(
        dir.path(),
        port,
        "AKA",
        &format!("0{imsi}@{realm}"),
        &mut usim,
    );
    assert!(out.contains("MPPE keys OK: 1  mismatch: 0"), "{out}");
    assert_eq!(usim.resyncs, 0);

    // USIM ahead: AKA-AUTS through hlr-gw, then a fresh vector.
    usim.sqn_ms = Sqn::from_seq_ind(usim.sqn_ms.seq() + 1000, 0);
    let out = run_eapol_test(
        dir.path(),
        port,
        "AKA",
        &format!("0{imsi}@{realm}"),
        &mut usim,
    );
    assert!(out.contains("MPPE keys OK: 1  mismatch: 0"), "{out}");
    assert_eq!(usim.resyncs, 1);

    // hostapd's own EAP-SIM server: its triplets from SIM-REQ-AUTH.
    let out = run_eapol_test(
        dir.path(),
        port,
        "SIM",
        &format!("1{imsi}@{realm}"),
        &mut usim,
    );
    assert!(out.contains("MPPE keys OK: 1  mismatch: 0"), "{out}");
    assert_eq!(usim.gsm_auths, 1);
}
