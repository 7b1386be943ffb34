use super::file::{SimFile, SimSpec};
use super::*;
use crate::usim::client::{AuthResult, PinStatus, Usim, UsimError};
use eap::secret::{K, Opc};
use eap::umts::{Amf, Sqn};

pub(crate) const IMSI: &str = "001010123456789";

pub(crate) fn keys() -> SubscriberKeys {
    SubscriberKeys::new(
        K::new(
            hex::decode("465b5ce8b199b49faa5f0a2ee238a6bc")
                .unwrap()
                .try_into()
                .unwrap(),
        ),
        Opc::new(
            hex::decode("cd63cb71954a9f4e48a5994e37a02baf")
                .unwrap()
                .try_into()
                .unwrap(),
        ),
    )
}

pub(crate) fn test_sim(pin: Option<&str>) -> Simulator<MemoryStore> {
    quirky_sim(pin, CardQuirks::default())
}

pub(crate) fn quirky_sim(pin: Option<&str>, quirks: CardQuirks) -> Simulator<MemoryStore> {
    let perso = Personalisation {
        imsi: IMSI.into(),
        ef_imsi: files::encode_ef_imsi(IMSI).unwrap(),
        mnc_len: 2,
        keys: keys(),
        pin: pin.map(SecretBytes::from),
    };
    let state = CardState {
        sqn: SqnArray::starting_at(Sqn::from_seq_ind(1, 0)),
        pin_tries_left: PIN_TRIES,
    };
    Simulator::new(perso, state, MemoryStore::default()).with_quirks(quirks)
}

fn x(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

#[test]
fn info_through_the_client() {
    let mut usim = Usim::new(test_sim(None));
    let info = usim.info().unwrap();
    assert_eq!(info.imsi, IMSI);
    assert_eq!(info.mnc_len, Some(2));
    assert_eq!(info.aid, hex::encode_upper(AID));
    assert_eq!(info.pin, PinStatus::NotRequired);
}

/// The exact sequence wpa_supplicant's pcsc_funcs.c sends (TESTBED-NOTES).
#[test]
fn wpa_supplicant_apdu_sequence() {
    let mut sim = test_sim(None);
    let r = sim.process(&x("00A40004023F00"));
    assert_eq!(r[0], 0x61);
    let fcp = sim.process(&x(&format!("00C00000{:02X}", r[1])));
    assert_eq!(fcp[0], 0x62);
    assert_eq!(&fcp[fcp.len() - 2..], &[0x90, 0x00]);
    assert_eq!(files::fcp_ps_do(&fcp[..fcp.len() - 2]), Some(0x00));
    let r = sim.process(&x("00A40004022F00"));
    assert_eq!(r[0], 0x61);
    sim.process(&x(&format!("00C00000{:02X}", r[1])));
    let r = sim.process(&x("00B20104FF"));
    assert_eq!(r, vec![0x6C, 32]);
    let rec = sim.process(&x("00B2010420"));
    assert_eq!(rec.len(), 34);
    assert_eq!(&rec[..4], &[0x61, 0x18, 0x4F, 0x10]);
    let mut sel = x("00A4040410");
    sel.extend_from_slice(&AID);
    assert_eq!(sim.process(&sel)[0], 0x61);
    // EF_IMSI with its size in the FCP.
    let r = sim.process(&x("00A40004026F07"));
    let fcp = sim.process(&x(&format!("00C00000{:02X}", r[1])));
    assert_eq!(files::fcp_file_size(&fcp[..fcp.len() - 2]), Some(9));
    let imsi = sim.process(&x("00B0000009"));
    assert_eq!(files::decode_ef_imsi(&imsi[..9]).unwrap(), IMSI);
    // Wrong Le → 6C with the right one.
    assert_eq!(sim.process(&x("00B0000000")), vec![0x6C, 9]);
    assert_eq!(sim.process(&x("00B000000A")), vec![0x6C, 9]);
    assert_eq!(sim.process(&x("00B0000A01")), vec![0x6B, 0x00]);
    // GET RESPONSE with nothing pending, unknown INS, GSM class, truncated APDU.
    assert_eq!(sim.process(&x("00C0000010")), vec![0x69, 0x85]);
    assert_eq!(sim.process(&x("00FE000000")), vec![0x6D, 0x00]);
    assert_eq!(sim.process(&x("A0A40000023F00")), vec![0x6E, 0x00]);
    assert_eq!(sim.process(&x("00A4")), vec![0x67, 0x00]);
    assert_eq!(sim.process(&x("00A400040A3F00")), vec![0x67, 0x00]);
}

fn vector(sqn: Sqn, amf: Amf) -> eap::umts::AuthVector {
    keys().generate_vector(sqn, amf, [0x23; 16])
}

#[test]
fn authenticate_success_sync_and_mac_failure() {
    let mut usim = Usim::new(test_sim(None));
    usim.select_usim().unwrap();
    let av = vector(Sqn::from_seq_ind(2, 0), Amf([0x80, 0]));
    match usim.authenticate(&av.rand, &av.autn).unwrap() {
        AuthResult::Success { res, ck, ik } => {
            assert!(res.ct_eq(&av.xres));
            assert_eq!(ck, av.ck);
            assert_eq!(ik, av.ik);
        }
        other => panic!("{other:?}"),
    }
    // Replay → AUTS carrying SQN_MS = SEQ 2 IND 0.
    match usim.authenticate(&av.rand, &av.autn).unwrap() {
        AuthResult::SyncFailure(auts) => {
            assert_eq!(keys().resync(&av.rand, &auts), Ok(Sqn::from_seq_ind(2, 0)));
        }
        other => panic!("{other:?}"),
    }
    let mut bad = av.autn;
    bad.0[15] ^= 1;
    assert!(matches!(
        usim.authenticate(&av.rand, &bad).unwrap(),
        AuthResult::MacFailure
    ));
    let sim = usim.into_transport();
    assert_eq!(sim.store().last.as_ref().unwrap().sqn.entries()[0], 2);
}

#[test]
fn no_res_when_state_cannot_be_persisted() {
    let mut sim = test_sim(None);
    sim.store.fail = true;
    let mut usim = Usim::new(sim);
    usim.select_usim().unwrap();
    let av = vector(Sqn::from_seq_ind(5, 3), Amf([0x80, 0]));
    let e = usim.authenticate(&av.rand, &av.autn).unwrap_err();
    assert!(
        matches!(
            e,
            UsimError::Status {
                command: "AUTHENTICATE",
                sw: StatusWord::TECHNICAL_PROBLEM
            }
        ),
        "{e}"
    );
    assert_eq!(
        usim.into_transport().state().sqn.entries()[3],
        1,
        "state not advanced"
    );
}

#[test]
fn authenticate_needs_adf_and_checks_lengths() {
    let mut sim = test_sim(None);
    let mut a = x("0088008122");
    a.push(16);
    a.extend([0; 16]);
    a.push(16);
    a.extend([0; 16]);
    assert_eq!(sim.process(&a), vec![0x69, 0x85]);
    let mut usim = Usim::new(sim);
    usim.select_usim().unwrap();
    let mut sim = usim.into_transport();
    assert_eq!(sim.process(&x("008800811100")), vec![0x67, 0x00]);
    assert_eq!(sim.process(&x("0088008221")), vec![0x6A, 0x86]);
    // GSM context without `10 RAND`.
    assert_eq!(sim.process(&x("0088008021")), vec![0x67, 0x00]);
    // All zero RAND/AUTN: MAC-A cannot verify.
    assert_eq!(sim.process(&a), vec![0x98, 0x62]);
}

#[test]
fn pin_flow_never_retries() {
    let mut usim = Usim::new(test_sim(Some("1234")));
    usim.select_usim().unwrap();
    assert_eq!(
        usim.pin_status().unwrap(),
        PinStatus::Required { tries_left: 3 }
    );
    // Protected operations refuse before the PIN.
    assert!(matches!(
        usim.read_imsi(),
        Err(UsimError::Status {
            sw: StatusWord::SECURITY_NOT_SATISFIED,
            ..
        })
    ));
    assert!(matches!(
        usim.unlock(None),
        Err(UsimError::PinRequired { tries_left: 3 })
    ));
    assert!(matches!(
        usim.unlock(Some(&SecretBytes::from("12a4"))),
        Err(UsimError::BadPinFormat)
    ));
    assert!(matches!(
        usim.unlock(Some(&SecretBytes::from("0000"))),
        Err(UsimError::WrongPin { tries_left: 2 })
    ));
    assert_eq!(
        usim.pin_status().unwrap(),
        PinStatus::Required { tries_left: 2 }
    );
    assert_eq!(
        usim.unlock(Some(&SecretBytes::from("1234"))).unwrap(),
        PinStatus::NotRequired
    );
    assert_eq!(usim.read_imsi().unwrap(), IMSI);
    let sim = usim.into_transport();
    assert_eq!(
        sim.state().pin_tries_left,
        3,
        "counter reset after a good PIN"
    );
}

#[test]
fn pin_blocks_after_three() {
    let mut usim = Usim::new(test_sim(Some("1234")));
    usim.select_usim().unwrap();
    for left in [2, 1] {
        assert!(
            matches!(usim.unlock(Some(&SecretBytes::from("9999"))), Err(UsimError::WrongPin { tries_left }) if tries_left == left)
        );
    }
    assert!(matches!(
        usim.unlock(Some(&SecretBytes::from("9999"))),
        Err(UsimError::PinBlocked)
    ));
    assert!(matches!(
        usim.unlock(Some(&SecretBytes::from("1234"))),
        Err(UsimError::PinBlocked)
    ));
    assert_eq!(usim.pin_status().unwrap(), PinStatus::Blocked);
}

const COUNTS: CardQuirks = CardQuirks {
    disabled_pin_verify: DisabledPinVerify::RetryCounter,
    adf_pin_template: AdfPinTemplate::Present,
    gsm_sim: false,
};

/// Many real UICCs answer a status VERIFY with 63CX while PIN1 is disabled:
/// the PS_DO decides, the card is usable without a PIN.
#[test]
fn disabled_pin_with_retry_counter_status_is_not_required() {
    let mut sim = quirky_sim(None, COUNTS);
    assert_eq!(sim.process(&x("0020000100")), vec![0x63, 0xC3]);
    let mut usim = Usim::new(sim);
    usim.select_usim().unwrap();
    assert_eq!(usim.pin1_enabled(), Some(false));
    assert_eq!(usim.pin_status().unwrap(), PinStatus::NotRequired);
    assert_eq!(usim.unlock(None).unwrap(), PinStatus::NotRequired);
    let info = usim.info().unwrap();
    assert_eq!(info.imsi, IMSI);
    assert_eq!(info.pin, PinStatus::NotRequired);
    // The same card with PIN1 enabled: the PS_DO says so, VERIFY gives the tries.
    let mut usim = Usim::new(quirky_sim(Some("1234"), COUNTS));
    usim.select_usim().unwrap();
    assert_eq!(usim.pin1_enabled(), Some(true));
    assert!(matches!(
        usim.unlock(None),
        Err(UsimError::PinRequired { tries_left: 3 })
    ));
    assert_eq!(
        usim.unlock(Some(&SecretBytes::from("1234"))).unwrap(),
        PinStatus::NotRequired
    );
}

/// An ADF FCP without a PIN status template: the MF's PS_DO decides.
#[test]
fn pin_status_from_the_mf_when_the_adf_has_no_template() {
    let quirks = CardQuirks {
        adf_pin_template: AdfPinTemplate::Absent,
        ..COUNTS
    };
    let mut sim = quirky_sim(None, quirks);
    let r = sim.process(&x(&format!("00A4040410{}", hex::encode(AID))));
    let fcp = sim.process(&x(&format!("00C00000{:02X}", r[1])));
    assert_eq!(files::fcp_pin1_enabled(&fcp[..fcp.len() - 2]), None);
    let mut usim = Usim::new(quirky_sim(None, quirks));
    usim.select_usim().unwrap();
    assert_eq!(usim.pin1_enabled(), Some(false));
    assert_eq!(usim.pin_status().unwrap(), PinStatus::NotRequired);
    let mut usim = Usim::new(quirky_sim(Some("1234"), quirks));
    usim.select_usim().unwrap();
    assert_eq!(usim.pin1_enabled(), Some(true));
    assert_eq!(
        usim.pin_status().unwrap(),
        PinStatus::Required { tries_left: 3 }
    );
}

/// A card whose FCPs carry no PIN status template at all: a transport that
/// strips tag C6 from every FCP the simulator returns.
struct NoPinTemplate(Simulator<MemoryStore>);

impl CardTransport for NoPinTemplate {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        let r = self.0.process(apdu);
        let n = r.len() - 2;
        let (data, sw) = r.split_at(n);
        let [files::FCP_TAG, _, body @ ..] = data else {
            return Ok(r);
        };
        let mut kept = Vec::new();
        let mut pos = body;
        while let [tag, len, rest @ ..] = pos {
            let len = usize::from(*len);
            if *tag != files::FCP_PIN_STATUS {
                kept.extend_from_slice(&[*tag, len as u8]);
                kept.extend_from_slice(&rest[..len]);
            }
            pos = &rest[len..];
        }
        let mut out = vec![files::FCP_TAG, kept.len() as u8];
        out.extend(kept);
        out.extend_from_slice(sw);
        Ok(out)
    }
}

/// Without any PS_DO, the status VERIFY alone decides (the old rule).
#[test]
fn without_a_pin_status_template_verify_decides() {
    let mut usim = Usim::new(NoPinTemplate(test_sim(Some("1234"))));
    usim.select_usim().unwrap();
    assert_eq!(usim.pin1_enabled(), None);
    assert_eq!(
        usim.pin_status().unwrap(),
        PinStatus::Required { tries_left: 3 }
    );
    let mut usim = Usim::new(NoPinTemplate(test_sim(None)));
    usim.select_usim().unwrap();
    assert_eq!(usim.pin1_enabled(), None);
    assert_eq!(usim.pin_status().unwrap(), PinStatus::NotRequired);
}

/// AUTHENTICATE refused with 6982: a clear "the card wants PIN1".
#[test]
fn authenticate_without_pin_names_pin1() {
    let mut usim = Usim::new(test_sim(Some("1234")));
    usim.select_usim().unwrap();
    let e = usim.authenticate(&[0; 16], &Autn([0; 16])).unwrap_err();
    assert!(matches!(e, UsimError::PinNeededByCard), "{e:?}");
    assert!(e.to_string().contains("the card wants PIN1"), "{e}");
}

#[test]
fn mf_fcp_signals_pin_enabled() {
    let mut sim = test_sim(Some("1234"));
    let r = sim.process(&x("00A40004023F00"));
    let fcp = sim.process(&x(&format!("00C00000{:02X}", r[1])));
    assert_eq!(files::fcp_ps_do(&fcp[..fcp.len() - 2]), Some(0x80));
}

/// The Milenage conformance sets, through the APDUs and the client.
#[test]
fn milenage_vectors_through_apdus() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/vectors/milenage.json"
    );
    let text = std::fs::read_to_string(path).expect("testdata/vectors/milenage.json must exist");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut checked = 0;
    for set in v["sets"].as_array().unwrap() {
        let (Some(k), Some(opc), Some(f2)) =
            (set["K"].as_str(), set["OPc"].as_str(), set["f2"].as_str())
        else {
            continue;
        };
        let keys = SubscriberKeys::new(
            K::new(hex::decode(k).unwrap().try_into().unwrap()),
            Opc::new(hex::decode(opc).unwrap().try_into().unwrap()),
        );
        let rand: [u8; 16] = hex::decode(set["RAND"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let sqn = Sqn::from_bytes(
            hex::decode(set["SQN"].as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap(),
        );
        let amf = Amf(hex::decode(set["AMF"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap());
        let av = keys.generate_vector(sqn, amf, rand);
        assert_eq!(hex::encode(av.autn.mac_a()), set["f1"].as_str().unwrap());
        // A card that has seen SEQ−1 in every slot, so this SQN is fresh.
        let start = Sqn::from_seq_ind(sqn.seq().saturating_sub(1), 0);
        let perso = Personalisation {
            imsi: IMSI.into(),
            ef_imsi: files::encode_ef_imsi(IMSI).unwrap(),
            mnc_len: 3,
            keys,
            pin: None,
        };
        let sim = Simulator::new(
            perso,
            CardState {
                sqn: SqnArray::starting_at(start),
                pin_tries_left: 3,
            },
            MemoryStore::default(),
        );
        let mut usim = Usim::new(sim);
        usim.select_usim().unwrap();
        assert_eq!(usim.read_mnc_len().unwrap(), Some(3));
        match usim.authenticate(&rand, &av.autn).unwrap() {
            AuthResult::Success { res, ck, ik } => {
                assert_eq!(hex::encode(res.as_bytes()), f2);
                assert_eq!(hex::encode(ck.expose()), set["f3"].as_str().unwrap());
                assert_eq!(hex::encode(ik.expose()), set["f4"].as_str().unwrap());
            }
            other => panic!("set {}: {other:?}", set["id"]),
        }
        checked += 1;
    }
    assert!(checked >= 3, "checked {checked} sets");
}

fn spec(pin: Option<&str>) -> SimSpec {
    let k = keys();
    SimSpec {
        imsi: IMSI.into(),
        k: k.k.clone(),
        opc: k.opc.clone(),
        amf: Amf([0x80, 0]),
        sqn: Sqn::from_seq_ind(1, 0),
        mnc_len: 2,
        pin: pin.map(SecretBytes::from),
        quirks: CardQuirks::default(),
    }
}

#[test]
fn file_persistence_across_restart() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("usim.toml");
    SimFile::create(&path, &spec(None)).unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(SimFile::create(&path, &spec(None)).is_err(), "no overwrite");

    let av = vector(Sqn::from_seq_ind(7, 4), Amf([0x80, 0]));
    {
        let mut usim = Usim::new(SimFile::load(&path).unwrap().into_simulator());
        usim.select_usim().unwrap();
        assert!(matches!(
            usim.authenticate(&av.rand, &av.autn).unwrap(),
            AuthResult::Success { .. }
        ));
    }
    // "Restart": a new process loads the file; the same vector is now stale.
    let file = SimFile::load(&path).unwrap();
    assert_eq!(file.state.sqn.entries()[4], 7);
    assert_eq!(
        file.state.sqn.entries()[5],
        1,
        "other slots keep the creation SEQ"
    );
    let mut usim = Usim::new(file.into_simulator());
    usim.select_usim().unwrap();
    assert!(matches!(
        usim.authenticate(&av.rand, &av.autn).unwrap(),
        AuthResult::SyncFailure(_)
    ));
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // No temp files left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn file_keeps_the_card_quirks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("usim.toml");
    let quirks = CardQuirks {
        adf_pin_template: AdfPinTemplate::Absent,
        ..COUNTS
    };
    SimFile::create(
        &path,
        &SimSpec {
            quirks,
            ..spec(None)
        },
    )
    .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("disabled_pin_verify = \"63cx\""), "{text}");
    assert!(text.contains("adf_pin_template = false"), "{text}");
    let av = vector(Sqn::from_seq_ind(7, 4), Amf([0x80, 0]));
    let mut usim = Usim::new(SimFile::load(&path).unwrap().into_simulator());
    usim.select_usim().unwrap();
    assert_eq!(usim.pin_status().unwrap(), PinStatus::NotRequired);
    assert!(matches!(
        usim.authenticate(&av.rand, &av.autn).unwrap(),
        AuthResult::Success { .. }
    ));
    // Rewritten with the new SQN state, the quirks stay.
    assert_eq!(SimFile::load(&path).unwrap().quirks, quirks);
    // A default card writes neither key.
    let plain = dir.path().join("plain.toml");
    SimFile::create(&plain, &spec(None)).unwrap();
    let text = std::fs::read_to_string(&plain).unwrap();
    assert!(!text.contains("disabled_pin_verify") && !text.contains("adf_pin_template"));
}

#[test]
fn file_refuses_readable_keys_and_bad_content() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("usim.toml");
    SimFile::create(&path, &spec(Some("1234"))).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = SimFile::load(&path).unwrap_err().to_string();
    assert!(e.contains("chmod 600"), "{e}");

    let bad = dir.path().join("bad.toml");
    let write = |text: &str| {
        std::fs::write(&bad, text).unwrap();
        std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o600)).unwrap();
        SimFile::load(&bad).unwrap_err().to_string()
    };
    let good_k =
        "k = \"465b5ce8b199b49faa5f0a2ee238a6bc\"\nopc = \"cd63cb71954a9f4e48a5994e37a02baf\"\n";
    let e = write(&format!("imsi = \"0010101\"\n{good_k}mnc_len = 4\n"));
    assert!(e.ends_with(":4: mnc_len: 4 is not 2 or 3"), "{e}");
    let e = write("imsi = \"0010101\"\nk = \"zz\"\nopc = \"00\"\n");
    assert!(e.contains(":2: k: not hex"), "{e}");
    let e = write(&format!("imsi = \"0010101\"\n{good_k}bogus = 1\n"));
    assert!(e.contains(":4:"), "{e}");
    let e = write(&format!("imsi = \"abc\"\n{good_k}"));
    assert!(e.contains(":1: imsi: IMSI must be 6 to 15"), "{e}");
    // A wrong type names the line, the key and what was expected.
    let e = write(&format!("imsi = \"0010101\"\n{good_k}mnc_len = \"two\"\n"));
    assert!(e.contains(":4: mnc_len: invalid type"), "{e}");
    assert!(e.contains("expected u8"), "{e}");
    let e = write("imsi = \"0010101\"\n");
    assert!(e.contains("missing field `k`"), "{e}");
    // Size cap: the file is not read beyond 64 KiB.
    let e = write(&format!(
        "imsi = \"0010101\"\n{good_k}#{}\n",
        "x".repeat(70_000)
    ));
    assert!(
        e.contains("bad.toml:0: the simulator file is larger than 65536 bytes"),
        "{e}"
    );
    let e = write(&format!(
        "imsi = \"0010101\"\n{good_k}disabled_pin_verify = \"6300\"\n"
    ));
    assert!(
        e.contains(":4: disabled_pin_verify: \"6300\" is neither"),
        "{e}"
    );
    let e = write(&format!("imsi = \"0010101\"\n{good_k}seq_ms = [1, 2]\n"));
    assert!(
        e.contains(":4: seq_ms: expected 32 entries, found 2"),
        "{e}"
    );
    // The error never shows the key.
    let e = write("imsi = \"0010101\"\nk = \"465b5ce8b199b49faa5f0a2ee238a6\"\nopc = \"00\"\n");
    assert!(!e.contains("465b5ce8"), "{e}");
}

#[test]
fn get_response_in_pieces() {
    let mut sim = test_sim(None);
    let r = sim.process(&x("00A40004023F00"));
    let total = usize::from(r[1]);
    let first = sim.process(&x("00C0000004"));
    assert_eq!(first.len(), 6);
    assert_eq!(first[4..], [0x61, (total - 4) as u8]);
    let rest = sim.process(&x(&format!("00C00000{:02X}", total - 4)));
    assert_eq!(rest.len(), total - 4 + 2);
    assert_eq!(rest[rest.len() - 2..], [0x90, 0x00]);
}

#[test]
fn sqn_window_through_apdus() {
    let mut usim = Usim::new(test_sim(None));
    usim.select_usim().unwrap();
    // A jump beyond Δ (2^28 SEQ values above SEQ_MS = 1) is refused with AUTS.
    let far = vector(Sqn::from_seq_ind(2 + sqn::DEFAULT_DELTA, 0), Amf([0x80, 0]));
    assert!(matches!(
        usim.authenticate(&far.rand, &far.autn).unwrap(),
        AuthResult::SyncFailure(_)
    ));
    // Out-of-order use across IND slots is fine; a replay within a slot is not.
    for (seq, ind, fresh) in [
        (5, 3, true),
        (4, 2, true),
        (3, 3, false),
        (6, 3, true),
        (2, 7, true),
    ] {
        let av = vector(Sqn::from_seq_ind(seq, ind), Amf([0x80, 0]));
        let r = usim.authenticate(&av.rand, &av.autn).unwrap();
        assert_eq!(
            matches!(r, AuthResult::Success { .. }),
            fresh,
            "SEQ {seq} IND {ind}"
        );
    }
    let sim = usim.into_transport();
    assert_eq!(sim.state().sqn.sqn_ms(), Sqn::from_seq_ind(6, 3));
}

/// A transport that hides the T=0 procedure bytes, like a T=1 reader: the
/// data comes back directly with 90 00. The client must work with both.
struct T1Style(Simulator<MemoryStore>);

impl CardTransport for T1Style {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        let mut r = self.0.process(apdu);
        if r.len() == 2 && r[0] == 0x61 {
            r = self.0.process(&[0x00, 0xC0, 0x00, 0x00, r[1]]);
        }
        Ok(r)
    }
}

#[test]
fn client_works_without_t0_procedure_bytes() {
    let mut usim = Usim::new(T1Style(test_sim(None)));
    assert_eq!(usim.info().unwrap().imsi, IMSI);
    let av = vector(Sqn::from_seq_ind(3, 0), Amf([0x80, 0]));
    assert!(matches!(
        usim.authenticate(&av.rand, &av.autn).unwrap(),
        AuthResult::Success { .. }
    ));
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// The card answers every byte string with at least a status word.
        #[test]
        fn card_never_panics(apdus in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..48), 1..8)) {
            let mut sim = test_sim(Some("1234"));
            for a in apdus {
                let mut a = a;
                if let Some(c) = a.first_mut() { *c &= 0x01; } // mostly CLA 00
                prop_assert!(sim.process(&a).len() >= 2);
            }
        }
    }
}

/// TS 31.102 §7.1.2.2: AUTHENTICATE in the GSM context answers
/// `04 SRES 08 Kc`, the GSM-Milenage triplet.
#[test]
fn authenticate_in_gsm_context() {
    let mut card = test_sim(None);
    let mut usim = Usim::new(card);
    usim.select_usim().unwrap();
    let rand = [0x23; 16];
    let t = usim.gsm_authenticate(&rand).unwrap();
    let want = keys().gsm_triplet(rand);
    assert_eq!(t, want);
    // The raw APDU exchange: 61 0E, then 04 SRES 08 Kc.
    card = usim.into_transport();
    let mut apdu = x("00 88 00 80 11 10");
    apdu.extend(rand);
    assert_eq!(card.process(&apdu), x("61 0E"));
    let r = card.process(&x("00 C0 00 00 0E"));
    assert_eq!(r[0], 4);
    assert_eq!(&r[1..5], want.sres.as_bytes());
    assert_eq!(r[5], 8);
    assert_eq!(&r[6..14], want.kc.expose());
    assert_eq!(&r[14..], &[0x90, 0x00]);
    // No SQN state involved.
    assert_eq!(card.store().last, None);
}

/// TS 51.011 §9.2.16: RUN GSM ALGORITHM in class A0, `9F 0C`, GET RESPONSE.
#[test]
fn run_gsm_algorithm_class_a0() {
    let mut card = test_sim(None);
    let rand = [0x42; 16];
    let want = keys().gsm_triplet(rand);
    let mut apdu = x("A0 88 00 00 10");
    apdu.extend(rand);
    assert_eq!(card.process(&apdu), x("9F 0C"));
    let r = card.process(&x("A0 C0 00 00 0C"));
    assert_eq!(&r[..4], want.sres.as_bytes());
    assert_eq!(&r[4..12], want.kc.expose());
    assert_eq!(&r[12..], &[0x90, 0x00]);
    // Bad length; other A0 instructions are not served.
    assert_eq!(card.process(&x("A0 88 00 00 02 01 02")), x("67 00"));
    // wpa_supplicant tells a USIM by `6E 00` to an A0 SELECT.
    assert_eq!(card.process(&x("A0 A4 00 00 02 7F 20")), x("6E 00"));
    // Through the client.
    let mut usim = Usim::new(card);
    assert_eq!(usim.run_gsm_algorithm(&rand).unwrap(), want);
}

#[test]
fn gsm_authentication_needs_the_pin() {
    let mut usim = Usim::new(test_sim(Some("1234")));
    usim.select_usim().unwrap();
    assert!(matches!(
        usim.gsm_authenticate(&[1; 16]),
        Err(UsimError::PinNeededByCard)
    ));
    assert!(matches!(
        usim.run_gsm_algorithm(&[1; 16]),
        Err(UsimError::PinNeededByCard)
    ));
    usim.unlock(Some(&SecretBytes::from("1234"))).unwrap();
    assert_eq!(
        usim.gsm_authenticate(&[1; 16]).unwrap(),
        usim.run_gsm_algorithm(&[1; 16]).unwrap()
    );
}

/// A USIM without the GSM context (AUTHENTICATE P2 = 0x80 answered `6A 86`):
/// [`Usim::gsm_triplet`] falls back to RUN GSM ALGORITHM.
#[test]
fn gsm_triplet_falls_back_to_run_gsm_algorithm() {
    struct NoGsmContext(Simulator<MemoryStore>, u32);
    impl CardTransport for NoGsmContext {
        fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
            if apdu.starts_with(&[0x00, 0x88, 0x00, 0x80]) {
                return Ok(vec![0x6A, 0x86]);
            }
            if apdu.starts_with(&[0xA0, 0x88]) {
                self.1 += 1;
            }
            self.0.transmit(apdu)
        }
    }
    let mut usim = Usim::new(NoGsmContext(test_sim(None), 0));
    usim.select_usim().unwrap();
    let rand = [0x33; 16];
    assert_eq!(usim.gsm_triplet(&rand).unwrap(), keys().gsm_triplet(rand));
    assert_eq!(usim.into_transport().1, 1, "one RUN GSM ALGORITHM");
    // With the GSM context, AUTHENTICATE is used and no A0 command is sent.
    let mut usim = Usim::new(test_sim(None));
    usim.select_usim().unwrap();
    assert_eq!(usim.gsm_triplet(&rand).unwrap(), keys().gsm_triplet(rand));
}

/// A 2G SIM (TS 51.011): class `00` refused, the client falls back to
/// DF_GSM, reads EF_IMSI and EF_AD in class `A0`, verifies CHV1 and runs
/// RUN GSM ALGORITHM.
#[test]
fn gsm_sim_through_the_client() {
    // Raw: class 00 refused, A0 SELECT answers 9F xx.
    let mut card = test_sim(None).gsm_sim();
    assert_eq!(card.process(&x("00A40004023F00")), x("6E 00"));
    assert_eq!(card.process(&x("A0A40000027F20")), x("9F 16"));
    let r = card.process(&x("A0C0000016"));
    assert_eq!(&r[4..7], &[0x7F, 0x20, 0x02]);
    assert_eq!(r[13] & 0x80, 0x80, "CHV1 disabled");
    // RUN GSM ALGORITHM outside DF_GSM: 94 04.
    assert_eq!(card.process(&x("A0A40000023F00")), x("9F 16"));
    let mut run = x("A0 88 00 00 10");
    run.extend([7; 16]);
    assert_eq!(card.process(&run), x("94 04"));

    let mut usim = Usim::new(test_sim(None).gsm_sim());
    usim.select_application().unwrap();
    assert!(usim.is_gsm_sim());
    assert_eq!(usim.pin_status().unwrap(), PinStatus::NotRequired);
    assert_eq!(usim.read_imsi().unwrap(), IMSI);
    assert_eq!(usim.read_mnc_len().unwrap(), Some(2));
    let rand = [0x61; 16];
    assert_eq!(usim.gsm_triplet(&rand).unwrap(), keys().gsm_triplet(rand));

    // CHV1 enabled: required, wrong, then right.
    let mut usim = Usim::new(test_sim(Some("1234")).gsm_sim());
    usim.select_application().unwrap();
    assert_eq!(
        usim.pin_status().unwrap(),
        PinStatus::Required { tries_left: 3 }
    );
    assert!(matches!(
        usim.read_imsi(),
        Err(UsimError::PinNeededByCard) | Err(UsimError::Status { .. })
    ));
    assert!(matches!(
        usim.unlock(Some(&SecretBytes::from("9999"))),
        Err(UsimError::WrongPin { .. })
    ));
    usim.unlock(Some(&SecretBytes::from("1234"))).unwrap();
    usim.select_application().unwrap();
    assert_eq!(usim.read_imsi().unwrap(), IMSI);
    assert_eq!(usim.gsm_triplet(&rand).unwrap(), keys().gsm_triplet(rand));

    // A UICC is still selected as a USIM.
    let mut usim = Usim::new(test_sim(None));
    usim.select_application().unwrap();
    assert!(!usim.is_gsm_sim());
    // `sim info` of a 2G SIM.
    let info = Usim::new(test_sim(Some("1234")).gsm_sim()).info().unwrap();
    assert_eq!(info.aid, "none (2G SIM, TS 51.011)");
    assert_eq!(info.pin, PinStatus::Required { tries_left: 3 });
    assert_eq!(info.pin1_enabled, Some(true));
    let info = Usim::new(test_sim(None).gsm_sim()).info().unwrap();
    assert_eq!((info.imsi.as_str(), info.mnc_len), (IMSI, Some(2)));
}
