//! packaging/: the systemd unit passes `systemd-analyze verify`, and the
//! Debian packages scripts/package.sh builds from this tree's debug binaries
//! install, run and remove cleanly (root; dpkg). Both fail loudly when a tool
//! is missing (scripts/packages.sh installs systemd, man-db and adduser).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PACKAGES: [&str; 3] = ["aaa-server", "supplicant", "passpoint-profile"];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: cannot run: {e} (scripts/packages.sh installs it)"))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn unit_file_is_hardened_and_passes_systemd_analyze_verify() {
    let unit =
        std::fs::read_to_string(repo().join("packaging/systemd/aaa-server.service")).unwrap();
    for line in [
        "Type=notify",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "User=passpoint-aka",
        "StateDirectory=aaa-server",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
    ] {
        assert!(unit.lines().any(|l| l == line), "unit lacks {line}");
    }
    assert_eq!(
        unit.lines()
            .filter(|l| l.starts_with("CapabilityBoundingSet="))
            .count(),
        1
    );
    // verify checks that ExecStart exists: point it at this build's binary
    // (the installed unit is verified as is by the package test below).
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("aaa-server.service");
    std::fs::write(
        &copy,
        unit.replace("/usr/bin/aaa-server", env!("CARGO_BIN_EXE_aaa-server")),
    )
    .unwrap();
    let o = run(
        "systemd-analyze",
        &["verify", "--man=no", copy.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_no_own_warnings(&o);
}

/// `systemd-analyze verify` also loads the machine's other units and warns
/// about them (Debian's freeradius.service uses `MemoryLimit=`); only the
/// warnings about our unit count.
fn assert_no_own_warnings(o: &std::process::Output) {
    let stderr = String::from_utf8_lossy(&o.stderr);
    let own: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty() && !about_another_unit(l))
        .collect();
    assert!(own.is_empty(), "warnings: {}", text(o));
}

fn about_another_unit(line: &str) -> bool {
    [
        "/lib/systemd/",
        "/usr/lib/systemd/",
        "/etc/systemd/",
        "/run/systemd/",
    ]
    .iter()
    .any(|d| line.starts_with(d))
        && !line.contains("aaa-server")
}

#[test]
fn warnings_about_other_units_are_not_ours() {
    assert!(about_another_unit(
        "/lib/systemd/system/freeradius.service:23: Unit uses MemoryLimit=; please use MemoryMax= instead."
    ));
    assert!(!about_another_unit(
        "/lib/systemd/system/aaa-server.service:12: Unknown key name 'Foo'"
    ));
    assert!(!about_another_unit(
        "aaa-server.service: Command /x is not executable"
    ));
}

fn installed(pkg: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", pkg])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

/// Purges the packages however the test ends.
struct Purge;

impl Drop for Purge {
    fn drop(&mut self) {
        let o = Command::new("dpkg").arg("--purge").args(PACKAGES).output();
        if let Ok(o) = o
            && !o.status.success()
        {
            eprintln!("dpkg --purge: {}", text(&o));
        }
    }
}

#[test]
fn debian_packages_install_run_and_remove() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("debian_packages_install_run_and_remove needs root (dpkg -i)");
        }
        eprintln!("NOTE: not root; debian_packages_install_run_and_remove did not run");
        return;
    }
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_aaa-server"))
        .parent()
        .unwrap();
    for b in PACKAGES {
        assert!(
            bin_dir.join(b).is_file(),
            "{}: missing; build the binaries first: cargo build -p aaa-server -p supplicant -p passpoint-profile --bins",
            bin_dir.join(b).display()
        );
    }
    for p in PACKAGES {
        assert!(
            !installed(p),
            "{p} is already installed on this machine; this test would remove it: dpkg --purge {p} first"
        );
    }
    let out = tempfile::tempdir().unwrap();
    let o = Command::new("bash")
        .arg(repo().join("scripts/package.sh"))
        .args(["--bin-dir", bin_dir.to_str().unwrap()])
        .args(["--out", out.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "scripts/package.sh: {}", text(&o));
    let debs: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(debs.len(), 3, "{debs:?}");
    for (deb, p) in debs.iter().zip(PACKAGES) {
        assert!(
            deb.ends_with(&format!("/{p}_0.1.0_{}.deb", arch())),
            "{deb}"
        );
    }

    let guard = Purge;
    let mut args = vec!["-i"];
    args.extend(debs.iter().map(String::as_str));
    let o = run("dpkg", &args);
    assert!(o.status.success(), "dpkg -i: {}", text(&o));

    for p in PACKAGES {
        let o = run(&format!("/usr/bin/{p}"), &["--version"]);
        assert!(o.status.success(), "{p} --version: {}", text(&o));
        assert_eq!(text(&o).trim(), format!("{p} 0.1.0"));
        let o = run("man", &["-w", p]);
        assert!(o.status.success(), "man -w {p}: {}", text(&o));
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).trim(),
            format!("/usr/share/man/man1/{p}.1.gz")
        );
        for f in [
            format!("/usr/share/bash-completion/completions/{p}"),
            format!("/usr/share/zsh/vendor-completions/_{p}"),
            format!("/usr/share/fish/vendor_completions.d/{p}.fish"),
        ] {
            assert!(Path::new(&f).is_file(), "{f} missing");
        }
    }
    // The installed unit as shipped, Documentation=man: included.
    let o = run(
        "systemd-analyze",
        &["verify", "/lib/systemd/system/aaa-server.service"],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_no_own_warnings(&o);
    assert!(Path::new("/etc/passpoint-aka/aaa.toml.example").is_file());
    // postinst: the service user, and a configuration directory others cannot read.
    assert!(run("getent", &["passwd", "passpoint-aka"]).status.success());
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let m = std::fs::metadata("/etc/passpoint-aka").unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o750);
        assert_eq!(m.uid(), 0);
    }
    // serve --check against the shipped example, as the unit's ExecStartPre runs it.
    let o = run(
        "/usr/bin/aaa-server",
        &[
            "serve",
            "--config",
            "/etc/passpoint-aka/aaa.toml.example",
            "--check",
        ],
    );
    assert!(
        o.status.success()
            || text(&o).contains(": hss.database: directory")
            || text(&o).contains("no such store"),
        "{}",
        text(&o)
    );

    drop(guard);
    for p in PACKAGES {
        assert!(!installed(p), "{p} still installed after dpkg --purge");
        assert!(!Path::new(&format!("/usr/bin/{p}")).exists());
    }
    assert!(!Path::new("/lib/systemd/system/aaa-server.service").exists());
    assert!(!Path::new("/etc/passpoint-aka/aaa.toml.example").exists());
}

fn arch() -> String {
    String::from_utf8(run("dpkg", &["--print-architecture"]).stdout)
        .unwrap()
        .trim()
        .to_string()
}
