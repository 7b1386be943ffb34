//! A test PKI shaped like the WBA OpenRoaming hierarchy: root CA → policy
//! CA → issuing CA → leaf, made at test time with the openssl crate (as
//! tests/radsec.rs does) in a temp dir. Peers present the leaf followed by
//! the issuing and policy CAs; only the root is a trust anchor. Also the bad
//! cases: an expired leaf, a leaf from a look-alike hierarchy (same names,
//! other keys), and leaves with any SAN (for a mismatch).
//!
//! Include it with `#[path = "common/pki.rs"] mod pki;`.

#![allow(dead_code)]

use openssl::asn1::{Asn1Integer, Asn1Object, Asn1OctetString, Asn1Time};
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    SubjectKeyIdentifier,
};
use openssl::x509::{X509, X509Extension, X509NameBuilder};
use std::path::{Path, PathBuf};

/// A test certificate policy OID (a private arc, not the WBA's): the policy
/// and issuing CAs and the leaves assert it, as WBA certificates assert the
/// OpenRoaming policy.
pub const TEST_POLICY_OID: &str = "1.3.6.1.4.1.55555.2083.1";

/// A certificate and its private key.
pub struct Issued {
    pub cert: X509,
    pub key: PKey<Private>,
}

/// The files for one peer.
pub struct Identity {
    /// Leaf, issuing CA, policy CA (PEM): what a peer sends in its Certificate message.
    pub chain: PathBuf,
    /// The leaf alone (PEM), for tools that take the chain apart (`openssl s_client -cert`).
    pub leaf: PathBuf,
    /// Issuing CA and policy CA (PEM), without the leaf.
    pub intermediates: PathBuf,
    /// PKCS#8 private key, mode 0600.
    pub key: PathBuf,
}

/// One hierarchy (root → policy CA → issuing CA) and the temp dir its files are in.
pub struct Pki {
    pub dir: tempfile::TempDir,
    pub root: Issued,
    pub policy: Issued,
    pub issuing: Issued,
    /// The root certificate (PEM): the only trust anchor.
    pub root_pem: PathBuf,
    prefix: &'static str,
}

fn ec_key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

fn serial() -> Asn1Integer {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).unwrap();
    b[0] = (b[0] & 0x7f) | 1;
    BigNum::from_slice(&b).unwrap().to_asn1_integer().unwrap()
}

/// DER of `certificatePolicies` with one policy and no qualifiers (RFC 5280 §4.2.1.4).
fn certificate_policies(oid: &str) -> X509Extension {
    let id = Asn1Object::from_str(oid).unwrap();
    let content = id.as_slice();
    let oid_der = [&[0x06, content.len() as u8][..], content].concat();
    let info = [&[0x30, oid_der.len() as u8][..], &oid_der].concat();
    let seq = [&[0x30, info.len() as u8][..], &info].concat();
    let der = Asn1OctetString::new_from_bytes(&seq).unwrap();
    let nid = Asn1Object::from_str("2.5.29.32").unwrap();
    X509Extension::new_from_der(&nid, false, &der).unwrap()
}

/// What a certificate is for.
enum Kind {
    Root,
    /// A CA with this pathLenConstraint.
    Intermediate(u32),
    Leaf(Vec<String>),
}

fn issue(
    issuer: Option<&Issued>,
    o: &str,
    cn: &str,
    kind: Kind,
    validity: (&Asn1Time, &Asn1Time),
) -> Issued {
    let key = ec_key();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_nid(Nid::ORGANIZATIONNAME, o).unwrap();
    name.append_entry_by_nid(Nid::COMMONNAME, cn).unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&serial()).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(issuer.map_or(&name, |i| i.cert.subject_name()))
        .unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(validity.0).unwrap();
    b.set_not_after(validity.1).unwrap();
    match &kind {
        Kind::Root => {
            b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
                .unwrap();
        }
        Kind::Intermediate(len) => {
            b.append_extension(
                BasicConstraints::new()
                    .critical()
                    .ca()
                    .pathlen(*len)
                    .build()
                    .unwrap(),
            )
            .unwrap();
        }
        Kind::Leaf(_) => {
            b.append_extension(BasicConstraints::new().critical().build().unwrap())
                .unwrap();
        }
    }
    let ku = match kind {
        Kind::Leaf(_) => KeyUsage::new().critical().digital_signature().build(),
        _ => KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build(),
    };
    b.append_extension(ku.unwrap()).unwrap();
    let ski = SubjectKeyIdentifier::new()
        .build(&b.x509v3_context(issuer.map(|i| &*i.cert), None))
        .unwrap();
    b.append_extension(ski).unwrap();
    if let Some(i) = issuer {
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&b.x509v3_context(Some(&i.cert), None))
            .unwrap();
        b.append_extension(aki).unwrap();
        b.append_extension(certificate_policies(TEST_POLICY_OID))
            .unwrap();
    }
    if let Kind::Leaf(sans) = &kind {
        b.append_extension(
            ExtendedKeyUsage::new()
                .server_auth()
                .client_auth()
                .build()
                .unwrap(),
        )
        .unwrap();
        let mut san = SubjectAlternativeName::new();
        for s in sans {
            match s.split_once(':') {
                Some(("DNS", d)) => san.dns(d),
                Some(("IP", ip)) => san.ip(ip),
                _ => panic!("SAN {s}: DNS:… or IP:…"),
            };
        }
        let san = san
            .build(&b.x509v3_context(issuer.map(|i| &*i.cert), None))
            .unwrap();
        b.append_extension(san).unwrap();
    }
    b.sign(issuer.map_or(&key, |i| &i.key), MessageDigest::sha256())
        .unwrap();
    Issued {
        cert: b.build(),
        key,
    }
}

fn days(from_now: u32) -> Asn1Time {
    Asn1Time::days_from_now(from_now).unwrap()
}

impl Pki {
    /// A new hierarchy in a new temp dir: "Test Roaming Root CA" →
    /// "Test Roaming Policy CA" (pathLen 1) → "Test Roaming Issuing CA" (pathLen 0).
    pub fn wba_like() -> Pki {
        Self::hierarchy("ok")
    }

    /// A hierarchy with the same names as [`Pki::wba_like`] but its own keys:
    /// its leaves come from a wrong CA (an impostor), in its own temp dir.
    pub fn look_alike() -> Pki {
        Self::hierarchy("other")
    }

    fn hierarchy(prefix: &'static str) -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let o = "Test Roaming Alliance";
        let root = issue(
            None,
            o,
            "Test Roaming Root CA",
            Kind::Root,
            (&days(0), &days(3650)),
        );
        let policy = issue(
            Some(&root),
            o,
            "Test Roaming Policy CA",
            Kind::Intermediate(1),
            (&days(0), &days(1825)),
        );
        let issuing = issue(
            Some(&policy),
            "Test Roaming Operator",
            "Test Roaming Issuing CA",
            Kind::Intermediate(0),
            (&days(0), &days(730)),
        );
        let root_pem = dir.path().join(format!("{prefix}-root.pem"));
        std::fs::write(&root_pem, root.cert.to_pem().unwrap()).unwrap();
        Pki {
            dir,
            root,
            policy,
            issuing,
            root_pem,
            prefix,
        }
    }

    /// A leaf for `who` (file name stem) with CN `cn` and `sans` ("DNS:…",
    /// "IP:…"), valid for a year, for TLS clients and servers.
    pub fn leaf(&self, who: &str, cn: &str, sans: &[&str]) -> Identity {
        self.leaf_valid(who, cn, sans, (&days(0), &days(365)))
    }

    /// A leaf that expired on 2021-01-01 (valid during 2020).
    pub fn expired_leaf(&self, who: &str, cn: &str, sans: &[&str]) -> Identity {
        self.leaf_valid(
            who,
            cn,
            sans,
            (
                &Asn1Time::from_str("20200101000000Z").unwrap(),
                &Asn1Time::from_str("20210101000000Z").unwrap(),
            ),
        )
    }

    fn leaf_valid(
        &self,
        who: &str,
        cn: &str,
        sans: &[&str],
        validity: (&Asn1Time, &Asn1Time),
    ) -> Identity {
        let i = issue(
            Some(&self.issuing),
            "Test Roaming Operator",
            cn,
            Kind::Leaf(sans.iter().map(|s| s.to_string()).collect()),
            validity,
        );
        self.write(who, &i)
    }

    /// Writes the files of [`Identity`] for `i` under `<prefix>-<who>.*`.
    fn write(&self, who: &str, i: &Issued) -> Identity {
        use std::os::unix::fs::PermissionsExt;
        let stem = format!("{}-{who}", self.prefix);
        let path = |ext: &str| self.dir.path().join(format!("{stem}{ext}"));
        let leaf_pem = i.cert.to_pem().unwrap();
        let inter = [
            self.issuing.cert.to_pem().unwrap(),
            self.policy.cert.to_pem().unwrap(),
        ]
        .concat();
        let id = Identity {
            chain: path(".chain.pem"),
            leaf: path(".leaf.pem"),
            intermediates: path(".intermediates.pem"),
            key: path(".key"),
        };
        std::fs::write(&id.chain, [&leaf_pem[..], &inter].concat()).unwrap();
        std::fs::write(&id.leaf, &leaf_pem).unwrap();
        std::fs::write(&id.intermediates, &inter).unwrap();
        std::fs::write(&id.key, i.key.private_key_to_pem_pkcs8().unwrap()).unwrap();
        std::fs::set_permissions(&id.key, std::fs::Permissions::from_mode(0o600)).unwrap();
        id
    }

    /// The directory the files are in.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}
