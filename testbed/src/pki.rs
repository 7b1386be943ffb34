//! A throwaway test PKI for RadSec (RFC 6614) runs: one CA and leaf
//! certificates with the subjectAltNames asked for, made by the `openssl`
//! command line (EC P-256, valid two days). Private keys are written mode
//! 0600, as `aaa-server serve` requires.
//!
//! The `openssl` CLI rather than a crate: the testbed drives external tools
//! anyway (it makes the IMSI-privacy key the same way), and what the
//! certificates look like is then what an operator's own `openssl` makes.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A leaf certificate and its key.
#[derive(Debug, Clone)]
pub struct Leaf {
    /// PEM certificate (leaf only; the CA is [`Pki::ca`]).
    pub cert: PathBuf,
    /// PEM private key (PKCS#8), mode 0600.
    pub key: PathBuf,
}

/// The CA in `dir`.
#[derive(Debug, Clone)]
pub struct Pki {
    dir: PathBuf,
    /// The CA certificate (PEM), what both sides trust.
    pub ca: PathBuf,
    ca_key: PathBuf,
    openssl: PathBuf,
}

fn run(openssl: &Path, args: &[&str], dir: &Path) -> Result<(), String> {
    let out = Command::new(openssl)
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("{}: {e}", openssl.display()))?;
    if !out.status.success() {
        return Err(format!(
            "openssl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

fn chmod_600(p: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("chmod 600 {}: {e}", p.display()))
}

impl Pki {
    /// Makes the CA (`ca.pem`, `ca.key`) in `dir`.
    pub fn new(dir: &Path) -> Result<Self, String> {
        let openssl = crate::tools::find("openssl").map_err(|e| e.to_string())?;
        let ca = dir.join("ca.pem");
        let ca_key = dir.join("ca.key");
        let (ca_s, key_s) = (ca.to_string_lossy(), ca_key.to_string_lossy());
        run(
            &openssl,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=passpoint-aka testbed RadSec CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
                "-keyout",
                &key_s,
                "-out",
                &ca_s,
            ],
            dir,
        )?;
        chmod_600(&ca_key)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            ca,
            ca_key,
            openssl,
        })
    }

    /// Issues `name.pem` / `name.key` for `cn` with `sans` (`DNS:…`, `IP:…`),
    /// usable as TLS server and client certificate.
    pub fn leaf(&self, name: &str, cn: &str, sans: &[&str]) -> Result<Leaf, String> {
        let cert = self.dir.join(format!("{name}.pem"));
        let key = self.dir.join(format!("{name}.key"));
        let csr = self.dir.join(format!("{name}.csr"));
        let ext = self.dir.join(format!("{name}.ext"));
        std::fs::write(
            &ext,
            format!(
                "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
                 extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName={}\n",
                sans.join(",")
            ),
        )
        .map_err(|e| format!("{}: {e}", ext.display()))?;
        let s = |p: &Path| p.to_string_lossy().into_owned();
        run(
            &self.openssl,
            &[
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-subj",
                &format!("/CN={cn}"),
                "-keyout",
                &s(&key),
                "-out",
                &s(&csr),
            ],
            &self.dir,
        )?;
        chmod_600(&key)?;
        run(
            &self.openssl,
            &[
                "x509",
                "-req",
                "-in",
                &s(&csr),
                "-CA",
                &s(&self.ca),
                "-CAkey",
                &s(&self.ca_key),
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &s(&ext),
                "-out",
                &s(&cert),
            ],
            &self.dir,
        )?;
        Ok(Leaf { cert, key })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_and_leaf_are_made_with_a_private_key() {
        if crate::tools::find("openssl").is_err() {
            assert!(!crate::preflight::in_ci(), "CI=true: openssl missing");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::new(dir.path()).unwrap();
        let leaf = pki
            .leaf(
                "home",
                "home.example",
                &["DNS:home.example", "IP:127.0.0.1"],
            )
            .unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&leaf.key).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0);
        let pem = std::fs::read_to_string(&leaf.cert).unwrap();
        assert!(pem.contains("BEGIN CERTIFICATE"));
        let out = Command::new(crate::tools::find("openssl").unwrap())
            .args(["verify", "-CAfile"])
            .arg(&pki.ca)
            .arg(&leaf.cert)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }
}
