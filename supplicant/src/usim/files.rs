//! USIM file identifiers and encodings shared by the client and the
//! simulator (ETSI TS 102 221 §11.1.1.4, §13; 3GPP TS 31.102 §4.2).

/// The master file.
pub const MF: u16 = 0x3F00;
/// EF_DIR, the application directory under the MF (TS 102 221 §13.1).
pub const EF_DIR: u16 = 0x2F00;
/// EF_IMSI in ADF USIM (TS 31.102 §4.2.2).
pub const EF_IMSI: u16 = 0x6F07;
/// DF_GSM of a 2G SIM (TS 51.011 §10.7), which holds EF_IMSI and EF_AD there.
pub const DF_GSM: u16 = 0x7F20;
/// EF_AD, administrative data, byte 4 = MNC length (TS 31.102 §4.2.18).
pub const EF_AD: u16 = 0x6FAD;
/// The registered application provider id and application code of a 3GPP
/// USIM (TS 101 220 Annex E, TS 31.110): AIDs start with these 7 bytes.
pub const USIM_AID_PREFIX: [u8; 7] = [0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x02];

/// FCP template tag (TS 102 221 §11.1.1.3).
pub const FCP_TAG: u8 = 0x62;
/// File size tag inside the FCP.
pub const FCP_FILE_SIZE: u8 = 0x80;
/// PIN status template DO tag inside the FCP.
pub const FCP_PIN_STATUS: u8 = 0xC6;
/// PS_DO tag inside the PIN status template.
pub const PS_DO_TAG: u8 = 0x90;
/// Key reference tag inside the PIN status template.
pub const KEY_REFERENCE_TAG: u8 = 0x83;
/// Usage qualifier tag inside the PIN status template.
pub const USAGE_QUALIFIER_TAG: u8 = 0x95;
/// PIN1's key reference (TS 102 221 §9.5.1, Table 9.3).
pub const KEY_REF_PIN1: u8 = 0x01;

/// Why an IMSI is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImsiCodingError {
    /// Not 6–15 decimal digits.
    #[error("IMSI must be 6 to 15 decimal digits")]
    Digits,
    /// EF_IMSI content is malformed.
    #[error("EF_IMSI malformed: {0}")]
    Ef(&'static str),
}

/// Encodes an IMSI into the 9-byte EF_IMSI (TS 31.102 §4.2.2: length byte,
/// then parity nibble + BCD digits, F-padded).
pub fn encode_ef_imsi(imsi: &str) -> Result<[u8; 9], ImsiCodingError> {
    let digits: Vec<u8> = imsi
        .bytes()
        .map(|b| {
            if b.is_ascii_digit() {
                Ok(b - b'0')
            } else {
                Err(ImsiCodingError::Digits)
            }
        })
        .collect::<Result<_, _>>()?;
    if !(6..=15).contains(&digits.len()) {
        return Err(ImsiCodingError::Digits);
    }
    // Nibbles: parity indicator (b4 = odd) with '001' type, then the digits.
    let mut nibbles = vec![if digits.len() % 2 == 1 { 0x9 } else { 0x1 }];
    nibbles.extend_from_slice(&digits);
    let mut out = [0xFFu8; 9];
    out[0] = nibbles.len().div_ceil(2) as u8;
    for (i, pair) in nibbles.chunks(2).enumerate() {
        let lo = pair[0];
        let hi = pair.get(1).copied().unwrap_or(0xF);
        out[1 + i] = (hi << 4) | lo;
    }
    Ok(out)
}

/// Decodes EF_IMSI (TS 31.102 §4.2.2) into its digits.
pub fn decode_ef_imsi(ef: &[u8]) -> Result<String, ImsiCodingError> {
    let (&len, rest) = ef.split_first().ok_or(ImsiCodingError::Ef("empty"))?;
    let len = usize::from(len);
    if len == 0 || len > 8 || rest.len() < len {
        return Err(ImsiCodingError::Ef("length byte out of range"));
    }
    let mut nibbles = Vec::with_capacity(len * 2);
    for b in &rest[..len] {
        nibbles.push(b & 0x0F);
        nibbles.push(b >> 4);
    }
    // First nibble is the parity/type indicator.
    let odd = nibbles[0] & 0x8 != 0;
    let mut imsi = String::new();
    for (i, &d) in nibbles[1..].iter().enumerate() {
        match d {
            0..=9 => imsi.push(char::from(b'0' + d)),
            0xF if i + 1 == nibbles.len() - 1 => {}
            _ => return Err(ImsiCodingError::Ef("non-BCD digit")),
        }
    }
    if odd != (imsi.len() % 2 == 1) {
        return Err(ImsiCodingError::Ef(
            "parity indicator does not match the digit count",
        ));
    }
    if !(6..=15).contains(&imsi.len()) {
        return Err(ImsiCodingError::Digits);
    }
    Ok(imsi)
}

/// Walks the BER-TLVs of an FCP template; yields (tag, value) pairs. Stops at
/// the first malformed TLV.
pub fn fcp_tlvs(fcp: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    let body = match fcp {
        [FCP_TAG, len, rest @ ..] => &rest[..usize::from(*len).min(rest.len())],
        _ => return out,
    };
    let mut pos = body;
    while let [tag, len, rest @ ..] = pos {
        let len = usize::from(*len);
        if len > rest.len() {
            break;
        }
        out.push((*tag, &rest[..len]));
        pos = &rest[len..];
    }
    out
}

/// The file size (tag 80) in an FCP.
pub fn fcp_file_size(fcp: &[u8]) -> Option<usize> {
    fcp_tlvs(fcp).into_iter().find_map(|(t, v)| match (t, v) {
        (FCP_FILE_SIZE, [a, b]) => Some(usize::from(u16::from_be_bytes([*a, *b]))),
        (FCP_FILE_SIZE, [a]) => Some(usize::from(*a)),
        _ => None,
    })
}

/// The PS_DO byte of the PIN status template (tag C6 → 90), TS 102 221 §9.5.2.
pub fn fcp_ps_do(fcp: &[u8]) -> Option<u8> {
    fcp_tlvs(fcp).into_iter().find_map(|(t, v)| match (t, v) {
        (FCP_PIN_STATUS, [PS_DO_TAG, n, rest @ ..]) if *n >= 1 => rest.first().copied(),
        _ => None,
    })
}

/// Whether the PIN status template of an FCP (tag C6, TS 102 221
/// §11.1.1.4.10) marks PIN1 enabled. The PS_DO (tag 90) has one bit per key
/// reference DO (tag 83) that follows, in order, from bit 8 of its first byte
/// (§9.5.2); without key references, bit 8 is PIN1 (as wpa_supplicant reads
/// it). `None` when the FCP has no template, no PS_DO, or a template whose
/// key references do not include PIN1.
pub fn fcp_pin1_enabled(fcp: &[u8]) -> Option<bool> {
    let template = fcp_tlvs(fcp)
        .into_iter()
        .find_map(|(t, v)| (t == FCP_PIN_STATUS).then_some(v))?;
    let mut ps_do: Option<&[u8]> = None;
    let mut key_refs = Vec::new();
    let mut pos = template;
    while let [tag, len, rest @ ..] = pos {
        let len = usize::from(*len);
        let Some(value) = rest.get(..len) else { break };
        match (*tag, value) {
            (PS_DO_TAG, v) if !v.is_empty() && ps_do.is_none() => ps_do = Some(v),
            (KEY_REFERENCE_TAG, [key]) => key_refs.push(*key),
            _ => {}
        }
        pos = &rest[len..];
    }
    let ps_do = ps_do?;
    let index = if key_refs.is_empty() {
        0
    } else {
        key_refs.iter().position(|&k| k == KEY_REF_PIN1)?
    };
    let byte = ps_do.get(index / 8)?;
    Some(byte & (0x80 >> (index % 8)) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin1_in_the_pin_status_template() {
        let fcp = |template: &[u8]| {
            let mut c6 = vec![FCP_PIN_STATUS, template.len() as u8];
            c6.extend_from_slice(template);
            let mut f = vec![FCP_TAG, (c6.len() + 4) as u8, 0x82, 0x02, 0x78, 0x21];
            f.extend(c6);
            f
        };
        // PIN1 first: bit 8.
        assert_eq!(
            fcp_pin1_enabled(&fcp(&[0x90, 1, 0x80, 0x83, 1, 0x01])),
            Some(true)
        );
        assert_eq!(
            fcp_pin1_enabled(&fcp(&[0x90, 1, 0x00, 0x83, 1, 0x01])),
            Some(false)
        );
        // A real card's ADF: PIN1, PIN2, ADM1; PIN1 disabled, the others enabled.
        let adf = [0x90, 1, 0x70, 0x83, 1, 0x01, 0x83, 1, 0x81, 0x83, 1, 0x0A];
        assert_eq!(fcp_pin1_enabled(&fcp(&adf)), Some(false));
        // PIN1 second, after a usage qualifier and the universal PIN: bit 7.
        let second = [0x90, 1, 0x40, 0x83, 1, 0x11, 0x95, 1, 0x08, 0x83, 1, 0x01];
        assert_eq!(fcp_pin1_enabled(&fcp(&second)), Some(true));
        // No key references: bit 8.
        assert_eq!(fcp_pin1_enabled(&fcp(&[0x90, 1, 0x80])), Some(true));
        // No PIN1 listed, no PS_DO, no template, truncated: unknown.
        assert_eq!(
            fcp_pin1_enabled(&fcp(&[0x90, 1, 0x80, 0x83, 1, 0x81])),
            None
        );
        assert_eq!(fcp_pin1_enabled(&fcp(&[0x83, 1, 0x01])), None);
        assert_eq!(
            fcp_pin1_enabled(&[FCP_TAG, 4, 0x82, 0x02, 0x78, 0x21]),
            None
        );
        assert_eq!(fcp_pin1_enabled(&fcp(&[0x90, 5, 0x80])), None);
    }

    #[test]
    fn imsi_round_trip() {
        for imsi in ["001010123456789", "23415012345678", "310150123456"] {
            let ef = encode_ef_imsi(imsi).unwrap();
            assert_eq!(decode_ef_imsi(&ef).unwrap(), imsi);
        }
        // TS 31.102 example layout: 08 09 10 10 ...
        let ef = encode_ef_imsi("001010123456789").unwrap();
        assert_eq!(hex::encode(ef), "080910101032547698");
    }

    #[test]
    fn imsi_rejects() {
        assert!(encode_ef_imsi("12a45678").is_err());
        assert!(encode_ef_imsi("12345").is_err());
        assert!(decode_ef_imsi(&[]).is_err());
        assert!(decode_ef_imsi(&[9, 0, 0]).is_err());
        assert!(decode_ef_imsi(&[0x08, 0x09, 0x1A, 0x10, 0x01, 0x32, 0x54, 0x76, 0x98]).is_err());
        // parity says even but 15 digits
        assert!(decode_ef_imsi(&[0x08, 0x01, 0x10, 0x10, 0x01, 0x32, 0x54, 0x76, 0x98]).is_err());
    }

    #[test]
    fn fcp_parsing() {
        let fcp = [
            0x62, 0x0B, 0x80, 0x02, 0x00, 0x09, 0xC6, 0x05, 0x90, 0x01, 0x80, 0x83, 0x01,
        ];
        assert_eq!(fcp_file_size(&fcp), Some(9));
        assert_eq!(fcp_ps_do(&fcp), Some(0x80));
        assert_eq!(fcp_file_size(&[0x62]), None);
        assert_eq!(fcp_file_size(&[0x62, 0x05, 0x80, 0x09]), None);
    }
}
