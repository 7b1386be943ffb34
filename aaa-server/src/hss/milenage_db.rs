//! hostapd's hlr_auc_gw `milenage_db` file: one subscriber per line,
//! `IMSI Ki OPc AMF SQN [RES_len]` in hex, `#` starts a comment.

use super::Imsi;
use super::sqlite::NewSubscriber;
use eap::secret::{K, Opc};
use eap::umts::{Amf, Sqn, SubscriberKeys};
use zeroize::Zeroizing;

/// A line of the file that does not parse (never echoes the keys).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{line}: {message}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

fn hex_n<const N: usize>(s: &str, what: &str) -> Result<Zeroizing<[u8; N]>, String> {
    let mut out = Zeroizing::new([0u8; N]);
    hex::decode_to_slice(s, &mut out[..])
        .map_err(|_| format!("{what} must be {} hex digits", 2 * N))?;
    Ok(out)
}

/// Parses the whole file.
pub fn parse(text: &str) -> Result<Vec<NewSubscriber>, ParseError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let err = |message: String| ParseError {
            line: i + 1,
            message,
        };
        let f: Vec<&str> = line.split_whitespace().collect();
        if !(5..=6).contains(&f.len()) {
            return Err(err(format!(
                "expected `IMSI Ki OPc AMF SQN [RES_len]`, found {} fields",
                f.len()
            )));
        }
        let imsi = Imsi::parse(f[0]).map_err(|e| err(e.to_string()))?;
        let k = hex_n::<16>(f[1], "Ki").map_err(err)?;
        let opc = hex_n::<16>(f[2], "OPc").map_err(err)?;
        let amf = hex_n::<2>(f[3], "AMF").map_err(err)?;
        let sqn = hex_n::<6>(f[4], "SQN").map_err(err)?;
        if let Some(r) = f.get(5) {
            match r.parse::<u8>() {
                Ok(8) => {}
                _ => {
                    return Err(err(
                        "RES_len other than 8 is not supported (Milenage f2 gives 8 bytes)".into(),
                    ));
                }
            }
        }
        out.push(NewSubscriber {
            imsi,
            keys: SubscriberKeys::new(K::new(*k), Opc::new(*opc)),
            amf: Amf(*amf),
            sqn: Sqn::from_bytes(*sqn),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hostapd_example_lines() {
        let text = "# IMSI Ki OPc AMF SQN\n\
            232010000000000 90dca4eda45b53cf0f12d7c9c3bc6a89 cb9cccc4b9258e6dca4760379fb82581 61df 000000000000\n\
            \n555444333222111 5122250214c33e723a5dd523fc145fc0 981d464c7c52eb6e5036234984ad0bcf c3ab 16f3b3f70fc1 8 # comment\n";
        let s = parse(text).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].imsi.as_str(), "232010000000000");
        assert_eq!(s[1].amf, Amf([0xc3, 0xab]));
        assert_eq!(
            s[1].sqn,
            Sqn::from_bytes([0x16, 0xf3, 0xb3, 0xf7, 0x0f, 0xc1])
        );
    }

    #[test]
    fn errors_name_the_line_not_the_key() {
        let e = parse("\n001010000000001 zz 00 00 00\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse("001010000000001 00112233445566778899aabbccddeeff 00112233445566778899aabbccddeeff 8000\n")
            .unwrap_err();
        assert_eq!(e.line, 1);
        let e = parse("001010000000001 00112233445566778899aabbccddeeff 0011 8000 000000000000\n")
            .unwrap_err();
        assert!(!e.to_string().contains("00112233"), "{e}");
    }
}
