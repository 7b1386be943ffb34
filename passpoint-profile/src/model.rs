//! The typed model of one Passpoint PerProviderSubscription instance.
//!
//! Field names on the wire (TOML keys, serde names) are the PPS MO node names
//! (`HomeSP`, `FQDN`, `RoamingConsortiumOI`, …) so that a path such as
//! `HomeSP/FQDN` means the same thing in every format.
//!
//! Required PPS MO nodes are `Option`s here so that a file that lacks them can
//! still be read and reported on by [`crate::validate`]; use the accessor
//! methods on [`Profile`] to read the values a supplicant needs.

use serde::{Deserialize, Serialize};

/// One PerProviderSubscription `<X+>` instance plus the tree-level
/// `UpdateIdentifier` (a file may hold several instances; each becomes one
/// `Profile`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// `PerProviderSubscription/UpdateIdentifier`.
    #[serde(
        rename = "UpdateIdentifier",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub update_identifier: Option<u32>,
    /// Name of the `<X+>` instance node (`Cred01`, …); not semantic. `None`
    /// stands for the default name `i001`.
    #[serde(
        rename = "InstanceName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub instance_name: Option<String>,
    /// `<X+>/CredentialPriority`.
    #[serde(
        rename = "CredentialPriority",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub credential_priority: Option<u32>,
    /// `<X+>/HomeSP`.
    #[serde(rename = "HomeSP", default)]
    pub home_sp: HomeSp,
    /// `<X+>/Credential`.
    #[serde(rename = "Credential", default)]
    pub credential: Credential,
    /// `<X+>/Policy`.
    #[serde(rename = "Policy", default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Policy>,
    /// `<X+>/SubscriptionUpdate`.
    #[serde(
        rename = "SubscriptionUpdate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub subscription_update: Option<UpdateParameter>,
    /// `<X+>/SubscriptionParameters`.
    #[serde(
        rename = "SubscriptionParameters",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub subscription_parameters: Option<SubscriptionParameters>,
    /// `<X+>/AAAServerTrustRoot/<X+>` entries.
    #[serde(
        rename = "AAAServerTrustRoot",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub aaa_server_trust_root: Vec<TrustRoot>,
    /// Children of `<X+>/Extension`, kept as-is.
    #[serde(rename = "Extension", default, skip_serializing_if = "Vec::is_empty")]
    pub extension: Vec<MoNode>,
    /// Settings that are not part of the PPS MO (file paths, certificates carried
    /// by x-wifi-config, wpa_supplicant-only options).
    #[serde(rename = "Local", default, skip_serializing_if = "Option::is_none")]
    pub local: Option<Local>,
}

/// `<X+>/HomeSP`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HomeSp {
    /// `FriendlyName` (required).
    #[serde(
        rename = "FriendlyName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub friendly_name: Option<String>,
    /// `FQDN` of the home service provider (required).
    #[serde(rename = "FQDN", default, skip_serializing_if = "Option::is_none")]
    pub fqdn: Option<String>,
    /// `RoamingConsortiumOI`: hex OIs (comma-separated in the MO).
    #[serde(
        rename = "RoamingConsortiumOI",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub roaming_consortium_oi: Vec<String>,
    /// `IconURL`.
    #[serde(rename = "IconURL", default, skip_serializing_if = "Option::is_none")]
    pub icon_url: Option<String>,
    /// `NetworkID/<X+>` entries.
    #[serde(rename = "NetworkID", default, skip_serializing_if = "Vec::is_empty")]
    pub network_id: Vec<NetworkId>,
    /// `HomeOIList/<X+>` entries.
    #[serde(rename = "HomeOIList", default, skip_serializing_if = "Vec::is_empty")]
    pub home_oi_list: Vec<HomeOi>,
    /// `OtherHomePartners/<X+>` entries.
    #[serde(
        rename = "OtherHomePartners",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub other_home_partners: Vec<OtherHomePartner>,
}

/// `HomeSP/NetworkID/<X+>`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkId {
    /// `SSID` (required, ≤ 32 bytes).
    #[serde(rename = "SSID", default, skip_serializing_if = "Option::is_none")]
    pub ssid: Option<String>,
    /// `HESSID`: 12 hex digits, no colons.
    #[serde(rename = "HESSID", default, skip_serializing_if = "Option::is_none")]
    pub hessid: Option<String>,
}

/// `HomeSP/HomeOIList/<X+>`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HomeOi {
    /// `HomeOI`: hex OI.
    #[serde(rename = "HomeOI", default, skip_serializing_if = "Option::is_none")]
    pub home_oi: Option<String>,
    /// `HomeOIRequired`.
    #[serde(
        rename = "HomeOIRequired",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub home_oi_required: Option<bool>,
}

/// `HomeSP/OtherHomePartners/<X+>`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtherHomePartner {
    /// `FQDN`.
    #[serde(rename = "FQDN", default, skip_serializing_if = "Option::is_none")]
    pub fqdn: Option<String>,
}

/// `<X+>/Credential`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    /// `CreationDate` (`yyyy-MM-ddTHH:mm:ssZ`).
    #[serde(
        rename = "CreationDate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub creation_date: Option<String>,
    /// `ExpirationDate` (`yyyy-MM-ddTHH:mm:ssZ`).
    #[serde(
        rename = "ExpirationDate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub expiration_date: Option<String>,
    /// `Realm` (required).
    #[serde(rename = "Realm", default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    /// `CheckAAAServerCertStatus` (OCSP).
    #[serde(
        rename = "CheckAAAServerCertStatus",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub check_aaa_server_cert_status: Option<bool>,
    /// `UsernamePassword`.
    #[serde(
        rename = "UsernamePassword",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub username_password: Option<UsernamePassword>,
    /// `DigitalCertificate`.
    #[serde(
        rename = "DigitalCertificate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub digital_certificate: Option<DigitalCertificate>,
    /// `SIM`.
    #[serde(rename = "SIM", default, skip_serializing_if = "Option::is_none")]
    pub sim: Option<Sim>,
}

/// A borrowed view of the one credential type a valid profile has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind<'a> {
    /// `Credential/UsernamePassword`.
    UsernamePassword(&'a UsernamePassword),
    /// `Credential/DigitalCertificate`.
    DigitalCertificate(&'a DigitalCertificate),
    /// `Credential/SIM`.
    Sim(&'a Sim),
}

impl Credential {
    /// The credential type, or `None` when there is not exactly one.
    pub fn kind(&self) -> Option<CredentialKind<'_>> {
        match (
            &self.username_password,
            &self.digital_certificate,
            &self.sim,
        ) {
            (Some(u), None, None) => Some(CredentialKind::UsernamePassword(u)),
            (None, Some(c), None) => Some(CredentialKind::DigitalCertificate(c)),
            (None, None, Some(s)) => Some(CredentialKind::Sim(s)),
            _ => None,
        }
    }
}

/// `Credential/UsernamePassword`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsernamePassword {
    /// `Username`.
    #[serde(rename = "Username", default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// `Password`, **plain text** here (the PPS MO carries it base64-encoded;
    /// readers decode and writers encode it).
    #[serde(rename = "Password", default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// `MachineManaged`.
    #[serde(
        rename = "MachineManaged",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub machine_managed: Option<bool>,
    /// `SoftTokenApp`.
    #[serde(
        rename = "SoftTokenApp",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub soft_token_app: Option<String>,
    /// `AbleToShare`.
    #[serde(
        rename = "AbleToShare",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub able_to_share: Option<bool>,
    /// `EAPMethod`.
    #[serde(rename = "EAPMethod", default, skip_serializing_if = "Option::is_none")]
    pub eap_method: Option<EapMethod>,
}

/// `Credential/UsernamePassword/EAPMethod`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EapMethod {
    /// `EAPType` (21 = TTLS; hostap also 13 TLS, 25 PEAP, 52 PWD).
    #[serde(rename = "EAPType", default, skip_serializing_if = "Option::is_none")]
    pub eap_type: Option<u32>,
    /// `InnerMethod`: `PAP`, `CHAP`, `MS-CHAP`, `MS-CHAP-V2`.
    #[serde(
        rename = "InnerMethod",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub inner_method: Option<String>,
    /// `VendorId`.
    #[serde(rename = "VendorId", default, skip_serializing_if = "Option::is_none")]
    pub vendor_id: Option<u32>,
    /// `VendorType`.
    #[serde(
        rename = "VendorType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub vendor_type: Option<u32>,
    /// `InnerEAPType`.
    #[serde(
        rename = "InnerEAPType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub inner_eap_type: Option<u32>,
    /// `InnerVendorID`.
    #[serde(
        rename = "InnerVendorID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub inner_vendor_id: Option<u32>,
    /// `InnerVendorType`.
    #[serde(
        rename = "InnerVendorType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub inner_vendor_type: Option<u32>,
}

/// `Credential/DigitalCertificate`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigitalCertificate {
    /// `CertificateType` (`x509v3`).
    #[serde(
        rename = "CertificateType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub certificate_type: Option<String>,
    /// `CertSHA256Fingerprint`: 64 hex digits of the client certificate.
    #[serde(
        rename = "CertSHA256Fingerprint",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub cert_sha256_fingerprint: Option<String>,
}

/// `Credential/SIM`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sim {
    /// `IMSI`: full IMSI or MCC+MNC prefix followed by `*`.
    #[serde(rename = "IMSI", default, skip_serializing_if = "Option::is_none")]
    pub imsi: Option<String>,
    /// `EAPType`: 18 EAP-SIM, 23 EAP-AKA, 50 EAP-AKA'.
    #[serde(rename = "EAPType", default, skip_serializing_if = "Option::is_none")]
    pub eap_type: Option<u32>,
}

/// `<X+>/Policy`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// `PreferredRoamingPartnerList/<X+>`.
    #[serde(
        rename = "PreferredRoamingPartnerList",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub preferred_roaming_partner_list: Vec<RoamingPartner>,
    /// `MinBackhaulThreshold/<X+>`.
    #[serde(
        rename = "MinBackhaulThreshold",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub min_backhaul_threshold: Vec<MinBackhaulThreshold>,
    /// `PolicyUpdate`.
    #[serde(
        rename = "PolicyUpdate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub policy_update: Option<UpdateParameter>,
    /// `SPExclusionList/<X+>`.
    #[serde(
        rename = "SPExclusionList",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub sp_exclusion_list: Vec<SpExclusion>,
    /// `RequiredProtoPortTuple/<X+>`.
    #[serde(
        rename = "RequiredProtoPortTuple",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub required_proto_port_tuple: Vec<ProtoPortTuple>,
    /// `MaximumBSSLoadValue`.
    #[serde(
        rename = "MaximumBSSLoadValue",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub maximum_bss_load_value: Option<u32>,
}

/// `Policy/PreferredRoamingPartnerList/<X+>`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoamingPartner {
    /// `FQDN_Match`: `<fqdn>,exactMatch` or `<fqdn>,includeSubdomains`.
    #[serde(
        rename = "FQDN_Match",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub fqdn_match: Option<String>,
    /// `Priority` (0 = highest).
    #[serde(rename = "Priority", default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u32>,
    /// `Country`: `*` or a comma list of ISO country codes.
    #[serde(rename = "Country", default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

impl RoamingPartner {
    /// The FQDN and whether subdomains match, when `FQDN_Match` is well formed.
    pub fn parsed_fqdn_match(&self) -> Option<(&str, bool)> {
        let v = self.fqdn_match.as_deref()?;
        let (fqdn, kind) = v.split_once(',')?;
        match kind {
            "exactMatch" => Some((fqdn, false)),
            "includeSubdomains" => Some((fqdn, true)),
            _ => None,
        }
    }
}

/// `Policy/MinBackhaulThreshold/<X+>`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinBackhaulThreshold {
    /// `NetworkType`: `home` or `roaming`.
    #[serde(
        rename = "NetworkType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub network_type: Option<String>,
    /// `DLBandwidth` in kbit/s.
    #[serde(
        rename = "DLBandwidth",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub dl_bandwidth: Option<u64>,
    /// `ULBandwidth` in kbit/s.
    #[serde(
        rename = "ULBandwidth",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub ul_bandwidth: Option<u64>,
}

/// `Policy/SPExclusionList/<X+>`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpExclusion {
    /// `SSID`.
    #[serde(rename = "SSID", default, skip_serializing_if = "Option::is_none")]
    pub ssid: Option<String>,
}

/// `Policy/RequiredProtoPortTuple/<X+>`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtoPortTuple {
    /// `IPProtocol` (0..255).
    #[serde(
        rename = "IPProtocol",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub ip_protocol: Option<u32>,
    /// `PortNumber`: comma-separated ports.
    #[serde(
        rename = "PortNumber",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub port_number: Option<String>,
}

/// An UpdateParameter (`SubscriptionUpdate` or `Policy/PolicyUpdate`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateParameter {
    /// `UpdateInterval` in minutes; `4294967295` means never.
    #[serde(
        rename = "UpdateInterval",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub update_interval: Option<u64>,
    /// `UpdateMethod`: `OMA-DM-ClientInitiated` or `SPP-ClientInitiated`.
    #[serde(
        rename = "UpdateMethod",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub update_method: Option<String>,
    /// `Restriction`: `HomeSP`, `RoamingPartner` or `Unrestricted`.
    #[serde(
        rename = "Restriction",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub restriction: Option<String>,
    /// `URI`.
    #[serde(rename = "URI", default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// `UsernamePassword`.
    #[serde(
        rename = "UsernamePassword",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub username_password: Option<UpdateCredentials>,
    /// `TrustRoot`.
    #[serde(rename = "TrustRoot", default, skip_serializing_if = "Option::is_none")]
    pub trust_root: Option<TrustRoot>,
    /// `Other`.
    #[serde(rename = "Other", default, skip_serializing_if = "Option::is_none")]
    pub other: Option<String>,
}

/// `UpdateParameter/UsernamePassword`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateCredentials {
    /// `Username`.
    #[serde(rename = "Username", default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// `Password`, as in the MO (base64).
    #[serde(rename = "Password", default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// A trust root (`AAAServerTrustRoot/<X+>` or `UpdateParameter/TrustRoot`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustRoot {
    /// `CertURL`.
    #[serde(rename = "CertURL", default, skip_serializing_if = "Option::is_none")]
    pub cert_url: Option<String>,
    /// `CertSHA256Fingerprint`.
    #[serde(
        rename = "CertSHA256Fingerprint",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub cert_sha256_fingerprint: Option<String>,
}

/// `<X+>/SubscriptionParameters`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionParameters {
    /// `CreationDate`.
    #[serde(
        rename = "CreationDate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub creation_date: Option<String>,
    /// `ExpirationDate`.
    #[serde(
        rename = "ExpirationDate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub expiration_date: Option<String>,
    /// `TypeOfSubscription`.
    #[serde(
        rename = "TypeOfSubscription",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub type_of_subscription: Option<String>,
    /// `UsageLimits`.
    #[serde(
        rename = "UsageLimits",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub usage_limits: Option<UsageLimits>,
}

/// `SubscriptionParameters/UsageLimits`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageLimits {
    /// `DataLimit`.
    #[serde(rename = "DataLimit", default, skip_serializing_if = "Option::is_none")]
    pub data_limit: Option<u64>,
    /// `StartDate`.
    #[serde(rename = "StartDate", default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    /// `TimeLimit`.
    #[serde(rename = "TimeLimit", default, skip_serializing_if = "Option::is_none")]
    pub time_limit: Option<u64>,
    /// `UsageTimePeriod`.
    #[serde(
        rename = "UsageTimePeriod",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub usage_time_period: Option<u64>,
}

/// A raw MO node, used to keep `Extension` subtrees as-is.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoNode {
    /// `NodeName`.
    #[serde(rename = "NodeName")]
    pub name: String,
    /// `Value` of a leaf.
    #[serde(rename = "Value", default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Child nodes of an interior node.
    #[serde(rename = "Node", default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<MoNode>,
}

/// Device-local settings that the PPS MO does not carry. Writers that cannot
/// express a field warn about it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Local {
    /// CA certificate file path (wpa_supplicant `ca_cert`, iwd `EAP-*-CACert`).
    #[serde(
        rename = "CACertPath",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub ca_cert_path: Option<String>,
    /// Client certificate path (wpa_supplicant `client_cert`).
    #[serde(
        rename = "ClientCertPath",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub client_cert_path: Option<String>,
    /// Private key path (wpa_supplicant `private_key`).
    #[serde(
        rename = "PrivateKeyPath",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub private_key_path: Option<String>,
    /// Private key passphrase (wpa_supplicant `private_key_passwd`).
    #[serde(
        rename = "PrivateKeyPassword",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub private_key_password: Option<String>,
    /// CA certificate carried by an x-wifi-config file (base64 of PEM or DER).
    #[serde(
        rename = "CACertificate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub ca_certificate: Option<String>,
    /// PKCS#12 client bundle carried by an x-wifi-config file (base64).
    #[serde(rename = "PKCS12", default, skip_serializing_if = "Option::is_none")]
    pub pkcs12: Option<String>,
    /// Server name suffix check (wpa_supplicant `domain_suffix_match`); defaults
    /// to `HomeSP/FQDN` when writing.
    #[serde(
        rename = "DomainSuffixMatch",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub domain_suffix_match: Option<String>,
    /// How the supplicant reaches the SIM: `pcsc`, `external` or `milenage`.
    #[serde(rename = "SimAccess", default, skip_serializing_if = "Option::is_none")]
    pub sim_access: Option<String>,
    /// Milenage `<Ki>:<OPc>:<SQN>` for test SIMs (wpa_supplicant `milenage`). Secret.
    #[serde(rename = "Milenage", default, skip_serializing_if = "Option::is_none")]
    pub milenage: Option<String>,
    /// Number of MNC digits (2 or 3) of a full IMSI.
    #[serde(rename = "MncLength", default, skip_serializing_if = "Option::is_none")]
    pub mnc_length: Option<u8>,
    /// wpa_supplicant cred `priority`.
    #[serde(rename = "Priority", default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u32>,
    /// wpa_supplicant `provisioning_sp`.
    #[serde(
        rename = "ProvisioningSP",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub provisioning_sp: Option<String>,
}

/// The EAP method a profile authenticates with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Eap {
    /// EAP-TLS (13).
    Tls,
    /// EAP-SIM (18).
    Sim,
    /// EAP-TTLS (21).
    Ttls,
    /// EAP-AKA (23).
    Aka,
    /// PEAP (25).
    Peap,
    /// EAP-AKA' (50).
    AkaPrime,
    /// EAP-pwd (52).
    Pwd,
}

impl Eap {
    /// From an IANA EAP type number.
    pub fn from_type(t: u32) -> Option<Eap> {
        Some(match t {
            13 => Eap::Tls,
            18 => Eap::Sim,
            21 => Eap::Ttls,
            23 => Eap::Aka,
            25 => Eap::Peap,
            50 => Eap::AkaPrime,
            52 => Eap::Pwd,
            _ => return None,
        })
    }
    /// The IANA EAP type number.
    pub fn type_number(self) -> u8 {
        match self {
            Eap::Tls => 13,
            Eap::Sim => 18,
            Eap::Ttls => 21,
            Eap::Aka => 23,
            Eap::Peap => 25,
            Eap::AkaPrime => 50,
            Eap::Pwd => 52,
        }
    }
    /// The wpa_supplicant `eap=` name.
    pub fn wpa_name(self) -> &'static str {
        match self {
            Eap::Tls => "TLS",
            Eap::Sim => "SIM",
            Eap::Ttls => "TTLS",
            Eap::Aka => "AKA",
            Eap::Peap => "PEAP",
            Eap::AkaPrime => "AKA'",
            Eap::Pwd => "PWD",
        }
    }
    /// From a wpa_supplicant `eap=` name.
    pub fn from_wpa_name(s: &str) -> Option<Eap> {
        Some(match s {
            "TLS" => Eap::Tls,
            "SIM" => Eap::Sim,
            "TTLS" => Eap::Ttls,
            "AKA" => Eap::Aka,
            "PEAP" => Eap::Peap,
            "AKA'" => Eap::AkaPrime,
            "PWD" => Eap::Pwd,
            _ => return None,
        })
    }
}

/// The PLMN a SIM credential belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plmn {
    /// Mobile country code, 3 digits.
    pub mcc: String,
    /// Mobile network code, 2 or 3 digits.
    pub mnc: String,
}

impl Plmn {
    /// The 3GPP realm `wlan.mnc<MNC 3 digits>.mcc<MCC>.3gppnetwork.org`.
    pub fn realm(&self) -> String {
        format!("wlan.mnc{:0>3}.mcc{}.3gppnetwork.org", self.mnc, self.mcc)
    }
}

impl Profile {
    /// `HomeSP/FriendlyName`.
    pub fn friendly_name(&self) -> Option<&str> {
        self.home_sp.friendly_name.as_deref()
    }
    /// `HomeSP/FQDN` (the home network's domain).
    pub fn fqdn(&self) -> Option<&str> {
        self.home_sp.fqdn.as_deref()
    }
    /// `Credential/Realm`.
    pub fn realm(&self) -> Option<&str> {
        self.credential.realm.as_deref()
    }
    /// The EAP method: SIM `EAPType` or UsernamePassword `EAPMethod/EAPType`,
    /// or TLS for a certificate credential.
    pub fn eap_method(&self) -> Option<Eap> {
        match self.credential.kind()? {
            CredentialKind::Sim(s) => Eap::from_type(s.eap_type?),
            CredentialKind::UsernamePassword(u) => Eap::from_type(u.eap_method.as_ref()?.eap_type?),
            CredentialKind::DigitalCertificate(_) => Some(Eap::Tls),
        }
    }
    /// The SIM `IMSI` value as written (full IMSI or `prefix*`).
    pub fn imsi(&self) -> Option<&str> {
        self.credential.sim.as_ref()?.imsi.as_deref()
    }
    /// The digits of the SIM IMSI before any trailing `*` (MCC+MNC prefix for a
    /// prefix IMSI, the whole IMSI otherwise).
    pub fn imsi_prefix(&self) -> Option<&str> {
        let imsi = self.imsi()?;
        Some(imsi.strip_suffix('*').unwrap_or(imsi))
    }
    /// The SIM's PLMN when the MNC length is known: a 5- or 6-digit prefix, or a
    /// full IMSI with `Local/MncLength`; otherwise a 3-digit MNC is assumed for
    /// full IMSIs.
    pub fn plmn(&self) -> Option<Plmn> {
        let imsi = self.imsi()?;
        let digits = imsi.strip_suffix('*').unwrap_or(imsi);
        if digits.len() < 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mnc_len = if imsi.ends_with('*') {
            match digits.len() {
                5 => 2,
                6 => 3,
                _ => return None,
            }
        } else {
            match self.local.as_ref().and_then(|l| l.mnc_length) {
                Some(2) => 2,
                _ => 3,
            }
        };
        if digits.len() < 3 + mnc_len {
            return None;
        }
        Some(Plmn {
            mcc: digits[..3].to_string(),
            mnc: digits[3..3 + mnc_len].to_string(),
        })
    }
    /// All home FQDNs: `HomeSP/FQDN` then `OtherHomePartners`.
    pub fn home_domains(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.fqdn().into_iter().collect();
        v.extend(
            self.home_sp
                .other_home_partners
                .iter()
                .filter_map(|p| p.fqdn.as_deref()),
        );
        v
    }
    /// The network name to show a user: `FriendlyName`, else `FQDN`.
    pub fn display_name(&self) -> &str {
        self.friendly_name().or(self.fqdn()).unwrap_or("(unnamed)")
    }
    /// Local settings, created on demand.
    pub fn local_mut(&mut self) -> &mut Local {
        self.local.get_or_insert_with(Local::default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plmn_from_prefix() {
        let mut p = Profile::default();
        p.credential.sim = Some(Sim {
            imsi: Some("24491*".into()),
            eap_type: Some(23),
        });
        let plmn = p.plmn().expect("plmn");
        assert_eq!(plmn.mnc, "91");
        assert_eq!(plmn.realm(), "wlan.mnc091.mcc244.3gppnetwork.org");
        assert_eq!(p.eap_method(), Some(Eap::Aka));
        assert_eq!(p.imsi_prefix(), Some("24491"));
    }

    #[test]
    fn credential_kind_requires_exactly_one() {
        let mut c = Credential::default();
        assert!(c.kind().is_none());
        c.sim = Some(Sim::default());
        assert!(matches!(c.kind(), Some(CredentialKind::Sim(_))));
        c.username_password = Some(UsernamePassword::default());
        assert!(c.kind().is_none());
    }
}
