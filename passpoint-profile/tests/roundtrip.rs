//! Lossless writer/reader pairs: sample files and generated models.

use passpoint_profile::model::*;
use passpoint_profile::read::{Format, read_bytes, read_file};
use passpoint_profile::write::{OutputFormat, WriteOptions, write};
use proptest::prelude::*;
use std::path::PathBuf;

fn data(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(p)
}

fn convert(profiles: &[Profile], to: OutputFormat) -> String {
    let out = write(profiles, to, &WriteOptions::default()).expect("write");
    assert!(
        out.warnings.is_empty(),
        "lossless writer {to} warned: {:?}",
        out.warnings
    );
    out.text
}

fn reread(text: &str, from: Format) -> Vec<Profile> {
    read_bytes(text.as_bytes(), Some(from))
        .expect("read back")
        .profiles
}

fn pps_samples() -> Vec<Vec<Profile>> {
    [
        "valid/ttls-full.pps.xml",
        "valid/sim.ddf.xml",
        "valid/aka-prime-prefix.toml",
    ]
    .iter()
    .map(|f| read_file(&data(f), None).expect(f).profiles)
    .collect()
}

#[test]
fn toml_pps_toml_is_lossless_for_samples() {
    for profiles in pps_samples() {
        let toml1 = convert(&profiles, OutputFormat::Toml);
        let from_toml = reread(&toml1, Format::Toml);
        assert_eq!(from_toml, profiles);
        let xml = convert(&from_toml, OutputFormat::PpsMo);
        let back = reread(&xml, Format::PpsMo);
        assert_eq!(back, profiles);
        let toml2 = convert(&back, OutputFormat::Toml);
        assert_eq!(toml1, toml2);
    }
}

#[test]
fn pps_x_wifi_pps_is_lossless_for_samples() {
    for profiles in pps_samples() {
        let xml = convert(&profiles, OutputFormat::PpsMo);
        let xwifi = convert(&reread(&xml, Format::PpsMo), OutputFormat::XWifiConfig);
        let back = reread(&xwifi, Format::XWifiConfig);
        assert_eq!(back, profiles);
        assert_eq!(convert(&back, OutputFormat::PpsMo), xml);
    }
}

#[test]
fn x_wifi_config_keeps_ca_certificate() {
    let mut profiles = read_file(&data("valid/ttls-full.pps.xml"), None)
        .expect("read")
        .profiles;
    profiles[0].local_mut().ca_certificate = Some("MIIBszCCAVmgAwIBAgIUAQ==".into());
    let text = convert(&profiles, OutputFormat::XWifiConfig);
    let back = reread(&text, Format::XWifiConfig);
    assert_eq!(back, profiles);
}

#[test]
fn committed_x_wifi_sample_matches_pps_sample() {
    let a = read_file(&data("valid/ttls-full.x-wifi-config"), None).expect("xwifi");
    let b = read_file(&data("valid/ttls-full.pps.xml"), None).expect("pps");
    assert_eq!(a.format, Some(Format::XWifiConfig));
    assert_eq!(a.profiles, b.profiles);
}

#[test]
fn wpa_supplicant_keeps_the_connection_fields() {
    for profiles in pps_samples() {
        let out = write(
            &profiles,
            OutputFormat::WpaSupplicant,
            &WriteOptions::default(),
        )
        .expect("write");
        let back = reread(&out.text, Format::WpaSupplicant);
        assert_eq!(back.len(), profiles.len());
        for (a, b) in profiles.iter().zip(&back) {
            assert_eq!(a.realm(), b.realm());
            assert_eq!(a.fqdn(), b.fqdn());
            assert_eq!(a.friendly_name(), b.friendly_name());
            assert_eq!(a.eap_method(), b.eap_method());
            assert_eq!(
                a.home_sp.roaming_consortium_oi,
                b.home_sp.roaming_consortium_oi
            );
            assert_eq!(a.home_sp.home_oi_list, b.home_sp.home_oi_list);
        }
    }
}

// ---- generated models ----

fn text() -> impl Strategy<Value = String> {
    // XML text is trimmed by the readers: no leading/trailing whitespace.
    prop_oneof![
        Just(String::new()),
        "[A-Za-z0-9.&<>'\"@_-]([A-Za-z0-9 .&<>'\"@_-]{0,18}[A-Za-z0-9.&<>_-])?",
    ]
}

fn ot() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(text())
}

fn ou32() -> impl Strategy<Value = Option<u32>> {
    proptest::option::of(any::<u32>())
}

fn ou64() -> impl Strategy<Value = Option<u64>> {
    proptest::option::of(0u64..=(i64::MAX as u64))
}

fn oi() -> impl Strategy<Value = String> {
    "[0-9A-F]{6}|[0-9A-F]{10}"
}

fn update() -> BoxedStrategy<UpdateParameter> {
    (
        ou64(),
        ot(),
        ot(),
        ot(),
        proptest::option::of(
            (ot(), ot()).prop_map(|(username, password)| UpdateCredentials { username, password }),
        ),
        proptest::option::of(trust_root()),
        ot(),
    )
        .prop_map(
            |(
                update_interval,
                update_method,
                restriction,
                uri,
                username_password,
                trust_root,
                other,
            )| {
                UpdateParameter {
                    update_interval,
                    update_method,
                    restriction,
                    uri,
                    username_password,
                    trust_root,
                    other,
                }
            },
        )
        .boxed()
}

fn trust_root() -> BoxedStrategy<TrustRoot> {
    (ot(), ot())
        .prop_map(|(cert_url, cert_sha256_fingerprint)| TrustRoot {
            cert_url,
            cert_sha256_fingerprint,
        })
        .boxed()
}

fn home_sp() -> BoxedStrategy<HomeSp> {
    (
        ot(),
        ot(),
        proptest::collection::vec(oi(), 0..3),
        ot(),
        proptest::collection::vec(
            (ot(), ot()).prop_map(|(ssid, hessid)| NetworkId { ssid, hessid }),
            0..3,
        ),
        proptest::collection::vec(
            (
                proptest::option::of(oi()),
                proptest::option::of(any::<bool>()),
            )
                .prop_map(|(home_oi, home_oi_required)| HomeOi {
                    home_oi,
                    home_oi_required,
                }),
            0..3,
        ),
        proptest::collection::vec(ot().prop_map(|fqdn| OtherHomePartner { fqdn }), 0..3),
    )
        .prop_map(
            |(
                friendly_name,
                fqdn,
                roaming_consortium_oi,
                icon_url,
                network_id,
                home_oi_list,
                other_home_partners,
            )| {
                HomeSp {
                    friendly_name,
                    fqdn,
                    roaming_consortium_oi,
                    icon_url,
                    network_id,
                    home_oi_list,
                    other_home_partners,
                }
            },
        )
        .boxed()
}

fn credential() -> BoxedStrategy<Credential> {
    let up = (
        ot(),
        proptest::option::of("\\PC{0,16}"),
        proptest::option::of(any::<bool>()),
        ot(),
        proptest::option::of(any::<bool>()),
        proptest::option::of(
            (ou32(), ot(), ou32(), ou32(), ou32(), ou32(), ou32()).prop_map(
                |(
                    eap_type,
                    inner_method,
                    vendor_id,
                    vendor_type,
                    inner_eap_type,
                    inner_vendor_id,
                    inner_vendor_type,
                )| EapMethod {
                    eap_type,
                    inner_method,
                    vendor_id,
                    vendor_type,
                    inner_eap_type,
                    inner_vendor_id,
                    inner_vendor_type,
                },
            ),
        ),
    )
        .prop_map(
            |(username, password, machine_managed, soft_token_app, able_to_share, eap_method)| {
                UsernamePassword {
                    username,
                    password,
                    machine_managed,
                    soft_token_app,
                    able_to_share,
                    eap_method,
                }
            },
        );
    let cert =
        (ot(), ot()).prop_map(
            |(certificate_type, cert_sha256_fingerprint)| DigitalCertificate {
                certificate_type,
                cert_sha256_fingerprint,
            },
        );
    let sim = (proptest::option::of("[0-9]{5,6}\\*|[0-9]{15}"), ou32())
        .prop_map(|(imsi, eap_type)| Sim { imsi, eap_type });
    (
        ot(),
        ot(),
        ot(),
        proptest::option::of(any::<bool>()),
        proptest::option::of(up),
        proptest::option::of(cert),
        proptest::option::of(sim),
    )
        .prop_map(
            |(
                creation_date,
                expiration_date,
                realm,
                check,
                username_password,
                digital_certificate,
                sim,
            )| {
                Credential {
                    creation_date,
                    expiration_date,
                    realm,
                    check_aaa_server_cert_status: check,
                    username_password,
                    digital_certificate,
                    sim,
                }
            },
        )
        .boxed()
}

fn policy() -> BoxedStrategy<Policy> {
    (
        proptest::collection::vec(
            (ot(), ou32(), ot()).prop_map(|(fqdn_match, priority, country)| RoamingPartner {
                fqdn_match,
                priority,
                country,
            }),
            0..3,
        ),
        proptest::collection::vec(
            (ot(), ou64(), ou64()).prop_map(|(network_type, dl_bandwidth, ul_bandwidth)| {
                MinBackhaulThreshold {
                    network_type,
                    dl_bandwidth,
                    ul_bandwidth,
                }
            }),
            0..3,
        ),
        proptest::option::of(update()),
        proptest::collection::vec(ot().prop_map(|ssid| SpExclusion { ssid }), 0..3),
        proptest::collection::vec(
            (ou32(), ot()).prop_map(|(ip_protocol, port_number)| ProtoPortTuple {
                ip_protocol,
                port_number,
            }),
            0..3,
        ),
        ou32(),
    )
        .prop_map(|(prl, mbt, pu, sel, rppt, mbl)| Policy {
            preferred_roaming_partner_list: prl,
            min_backhaul_threshold: mbt,
            policy_update: pu,
            sp_exclusion_list: sel,
            required_proto_port_tuple: rppt,
            maximum_bss_load_value: mbl,
        })
        .boxed()
}

fn extension() -> BoxedStrategy<Vec<MoNode>> {
    let leaf = || {
        ("[A-Z][a-z]{0,6}", text()).prop_map(|(name, v)| MoNode {
            name,
            value: Some(v),
            children: Vec::new(),
        })
    };
    let node = prop_oneof![
        leaf(),
        ("[A-Z][a-z]{0,6}", proptest::collection::vec(leaf(), 1..3)).prop_map(|(name, kids)| {
            let mut children: Vec<MoNode> = Vec::new();
            for k in kids {
                if !children.iter().any(|c| c.name == k.name) {
                    children.push(k);
                }
            }
            MoNode {
                name,
                value: None,
                children,
            }
        }),
    ];
    proptest::collection::vec(node, 0..3)
        .prop_map(|v| {
            let mut out: Vec<MoNode> = Vec::new();
            for n in v {
                if !out.iter().any(|c| c.name == n.name) {
                    out.push(n);
                }
            }
            out
        })
        .boxed()
}

prop_compose! {
    fn profile()(
        update_identifier in ou32(),
        instance_name in "x[a-z0-9]{0,6}",
        credential_priority in ou32(),
        home_sp in home_sp(),
        credential in credential(),
        policy in proptest::option::of(policy()),
        subscription_update in proptest::option::of(update()),
        sp in proptest::option::of((ot(), ot(), ot(), proptest::option::of((ou64(), ot(), ou64(), ou64()))).prop_map(|(c, e, t, u)| SubscriptionParameters {
            creation_date: c,
            expiration_date: e,
            type_of_subscription: t,
            usage_limits: u.map(|(d, s, tl, p)| UsageLimits { data_limit: d, start_date: s, time_limit: tl, usage_time_period: p }),
        })),
        aaa_server_trust_root in proptest::collection::vec(trust_root(), 0..3),
        extension in extension(),
    ) -> Profile {
        Profile {
            update_identifier,
            instance_name: Some(instance_name),
            credential_priority,
            home_sp,
            credential,
            policy,
            subscription_update,
            subscription_parameters: sp,
            aaa_server_trust_root,
            extension,
            local: None,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn generated_models_survive_lossless_pairs(p in profile()) {
        let profiles = vec![p];
        for (to, from) in [
            (OutputFormat::Toml, Format::Toml),
            (OutputFormat::PpsMo, Format::PpsMo),
            (OutputFormat::PpsMoDdf, Format::PpsMoDdf),
            (OutputFormat::XWifiConfig, Format::XWifiConfig),
        ] {
            let out = write(&profiles, to, &WriteOptions::default()).expect("write");
            prop_assert!(out.warnings.is_empty(), "{to}: {:?}", out.warnings);
            let back = read_bytes(out.text.as_bytes(), Some(from)).expect("read back");
            prop_assert_eq!(&back.profiles, &profiles, "{} round trip:\n{}", to, out.text);
        }
    }

    #[test]
    fn generated_models_with_local_survive_toml(p in profile(), ca in ot(), prio in ou32()) {
        let mut p = p;
        p.local = Some(Local { ca_cert_path: ca, priority: prio, ..Default::default() });
        let text = passpoint_profile::write::to_toml(std::slice::from_ref(&p)).expect("toml");
        let back = read_bytes(text.as_bytes(), Some(Format::Toml)).expect("read");
        prop_assert_eq!(back.profiles, vec![p]);
    }

    #[test]
    fn sniffing_finds_each_written_format(p in profile()) {
        let profiles = vec![p];
        for (to, from) in [
            (OutputFormat::PpsMo, Format::PpsMo),
            (OutputFormat::PpsMoDdf, Format::PpsMoDdf),
            (OutputFormat::XWifiConfig, Format::XWifiConfig),
            (OutputFormat::Toml, Format::Toml),
        ] {
            let out = write(&profiles, to, &WriteOptions::default()).expect("write");
            prop_assert_eq!(passpoint_profile::read::sniff(out.text.as_bytes()), Some(from));
        }
    }
}
