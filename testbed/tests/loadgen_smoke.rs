//! The load generator against `aaa-server serve` on loopback: 200 EAP-AKA'
//! and 100 EAP-AKA authentications at concurrency 8, no failure, MS-MPPE keys
//! equal to the MSK the simulated peers derived (the loadgen fails an
//! authentication otherwise). Needs the `aaa-server` and `testbed` binaries
//! (`cargo build --workspace --bins` before `cargo test`); without them the
//! test fails under CI=true and says why otherwise.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{bin, ci};

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn loadgen(testbed: &Path, port: u16, method: &str, count: u32, json: &Path) -> serde_json::Value {
    let out = Command::new(testbed)
        .args(["loadgen", "--server", &format!("127.0.0.1:{port}")])
        .args(["--secret", "smoke-secret", "--subscribers", "50"])
        .args(["--concurrency", "8", "--count", &count.to_string()])
        .args(["--method", method, "--quiet", "--timeout-ms", "2000"])
        .arg("--json")
        .arg(json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "loadgen {method} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap()
}

#[test]
fn loadgen_against_aaa_server_serve_has_no_failures() {
    let (Some(aaa), Some(testbed)) = (bin("aaa-server"), bin("testbed")) else {
        assert!(
            !ci(),
            "CI=true: aaa-server and testbed binaries must be built next to {:?} (cargo build --workspace --bins)",
            std::env::current_exe().ok()
        );
        eprintln!(
            "aaa-server/testbed binaries not built: run cargo build --workspace --bins first"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("subscribers.db");
    let st = Command::new(&testbed)
        .args(["loadgen", "--provision-only", "--subscribers", "50", "--db"])
        .arg(&db)
        .arg("--aaa-server")
        .arg(&aaa)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );

    let port = free_port();
    let conf = dir.path().join("aaa.toml");
    std::fs::write(
        &conf,
        format!(
            "listen = \"127.0.0.1:{port}\"\naccounting_listen = \"127.0.0.1:{}\"\n\
             [[client]]\nname = \"smoke\"\nnetwork = \"127.0.0.0/8\"\nsecret = \"smoke-secret\"\n\
             [hss]\ndatabase = \"{}\"\n[eap]\nmethods = [\"aka-prime\", \"aka\", \"sim\"]\n",
            free_port(),
            db.display()
        ),
    )
    .unwrap();
    let _server = Kill(
        Command::new(&aaa)
            .args(["serve", "--config"])
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let t0 = Instant::now();
    while !testbed::bench::udp_port_bound(port) {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "aaa-server did not bind"
        );
        std::thread::sleep(Duration::from_millis(10));
    }

    // EAP-SIM: Identity → Start → Challenge, one round trip more.
    for (method, count, rt) in [
        ("aka-prime", 200u64, 2.0),
        ("aka", 100, 2.0),
        ("sim", 100, 3.0),
    ] {
        let j = loadgen(
            &testbed,
            port,
            method,
            count as u32,
            &dir.path().join(format!("{method}.json")),
        );
        assert_eq!(j["successes"].as_u64(), Some(count), "{j}");
        assert_eq!(j["failures"].as_u64(), Some(0), "{j}");
        assert_eq!(j["method"].as_str(), Some(method));
        assert!(j["latency"]["p99_ms"].as_f64().unwrap() > 0.0, "{j}");
        assert_eq!(j["round_trips_per_auth"].as_f64(), Some(rt), "{j}");
    }
}
