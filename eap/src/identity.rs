//! Subscriber identities of EAP-AKA / EAP-AKA': the IMSI (3GPP TS 23.003
//! §2), the 3GPP NAI realm (TS 23.003 §19.3) and the EAP identities built on
//! them (RFC 4187 §4.1, RFC 9048 §3), including decorated NAIs (RFC 7542
//! §3.3.1).
//!
//! | leading digit | EAP-AKA                 | EAP-AKA'                |
//! |---------------|-------------------------|-------------------------|
//! | permanent     | `0<IMSI>@realm`         | `6<IMSI>@realm`         |
//! | pseudonym     | `2…`                    | `7…`                    |
//! | fast re-auth  | `4…`                    | `8…`                    |
//!
//! The realm of a permanent identity is
//! `wlan.mnc<MNC, 3 digits, zero-padded>.mcc<MCC>.3gppnetwork.org`
//! (TS 23.003 §19.3.2). The IMSI is personal data: log it with
//! [`Imsi::masked`] or [`mask_identity`], never in full.

use crate::aka::keys::Method;
use core::fmt;
use core::str::FromStr;

/// An identity or one of its parts is malformed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// An IMSI has 6 to 15 digits (TS 23.003 §2.2, and at least MCC + MNC + 1).
    #[error("IMSI has {0} digits, expected 6 to 15")]
    ImsiLength(usize),
    /// An IMSI, MCC or MNC contains something other than the digits 0-9.
    #[error("{what} contains a non-digit at position {position}")]
    NotDigits {
        /// Which field ("IMSI", "MCC", "MNC").
        what: &'static str,
        /// Zero-based position of the first bad character.
        position: usize,
    },
    /// The MNC length is 2 or 3 digits (TS 23.003 §2.2).
    #[error("MNC length {0} is invalid, expected 2 or 3")]
    MncLength(usize),
    /// The MCC has exactly 3 digits (TS 23.003 §2.2).
    #[error("MCC has {0} digits, expected 3")]
    MccLength(usize),
    /// The identity is not UTF-8 (RFC 7542 §2.2).
    #[error("identity is not valid UTF-8")]
    NotUtf8,
    /// The identity has no user part (nothing before `@`, or nothing after the last `!`).
    #[error("identity has an empty user part")]
    EmptyUser,
    /// The identity ends in `@` or has an empty realm in its decoration.
    #[error("identity has an empty realm")]
    EmptyRealm,
    /// The realm is not a 3GPP WLAN realm `wlan.mncNNN.mccNNN.3gppnetwork.org`.
    #[error("realm is not of the form wlan.mncNNN.mccNNN.3gppnetwork.org")]
    NotA3gppRealm,
}

fn check_digits(s: &str, what: &'static str) -> Result<(), IdentityError> {
    match s.bytes().position(|b| !b.is_ascii_digit()) {
        Some(position) => Err(IdentityError::NotDigits { what, position }),
        None => Ok(()),
    }
}

/// The length of the MNC inside an IMSI: 2 or 3 digits. It cannot be read off
/// the IMSI; it comes from the USIM (EF_AD byte 4, TS 31.102 §4.2.18) or the
/// operator's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MncLen {
    /// Two-digit MNC (most of Europe).
    Two,
    /// Three-digit MNC (North America, India, …).
    Three,
}

impl MncLen {
    /// From a digit count.
    ///
    /// # Errors
    /// [`IdentityError::MncLength`] for anything but 2 or 3.
    pub fn new(len: usize) -> Result<Self, IdentityError> {
        match len {
            2 => Ok(MncLen::Two),
            3 => Ok(MncLen::Three),
            n => Err(IdentityError::MncLength(n)),
        }
    }

    /// The digit count.
    pub const fn get(self) -> usize {
        match self {
            MncLen::Two => 2,
            MncLen::Three => 3,
        }
    }
}

/// The International Mobile Subscriber Identity (TS 23.003 §2): 6 to 15
/// decimal digits MCC‖MNC‖MSIN, kept as the digit string.
///
/// `Debug` masks the MSIN; `Display` and [`as_str`](Imsi::as_str) give the
/// full IMSI for building identities.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Imsi(String);

impl Imsi {
    /// Parses and checks an IMSI.
    ///
    /// # Errors
    /// [`IdentityError::ImsiLength`] or [`IdentityError::NotDigits`].
    pub fn parse(s: &str) -> Result<Self, IdentityError> {
        check_digits(s, "IMSI")?;
        if !(6..=15).contains(&s.len()) {
            return Err(IdentityError::ImsiLength(s.len()));
        }
        Ok(Self(s.to_owned()))
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The Mobile Country Code, the first three digits.
    pub fn mcc(&self) -> &str {
        &self.0[..3]
    }

    /// The Mobile Network Code, 2 or 3 digits after the MCC.
    pub fn mnc(&self, mnc_len: MncLen) -> &str {
        &self.0[3..3 + mnc_len.get()]
    }

    /// The Mobile Subscriber Identification Number, the rest (may be empty
    /// for a 6-digit IMSI with a 3-digit MNC).
    pub fn msin(&self, mnc_len: MncLen) -> &str {
        &self.0[3 + mnc_len.get()..]
    }

    /// The home network (MCC, MNC) of this IMSI.
    pub fn plmn(&self, mnc_len: MncLen) -> Plmn {
        Plmn {
            mcc: self.mcc().to_owned(),
            mnc: self.mnc(mnc_len).to_owned(),
        }
    }

    /// The IMSI with every MSIN digit replaced by `*`, for logs
    /// (`001010123456789` with a 2-digit MNC gives `00101**********`).
    pub fn masked(&self, mnc_len: MncLen) -> String {
        let keep = 3 + mnc_len.get();
        let mut s = String::with_capacity(self.0.len());
        s.push_str(&self.0[..keep]);
        s.extend(core::iter::repeat_n('*', self.0.len() - keep));
        s
    }
}

impl FromStr for Imsi {
    type Err = IdentityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Imsi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Imsi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The MNC length is unknown here: keep MCC + 2 digits only.
        write!(f, "Imsi({})", self.masked(MncLen::Two))
    }
}

/// A home network, MCC + MNC (TS 23.003 §2.2 and §12.1).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Plmn {
    mcc: String,
    mnc: String,
}

impl Plmn {
    /// A PLMN from a 3-digit MCC and a 2- or 3-digit MNC.
    ///
    /// # Errors
    /// [`IdentityError::MccLength`], [`IdentityError::MncLength`] or
    /// [`IdentityError::NotDigits`].
    pub fn new(mcc: &str, mnc: &str) -> Result<Self, IdentityError> {
        check_digits(mcc, "MCC")?;
        check_digits(mnc, "MNC")?;
        if mcc.len() != 3 {
            return Err(IdentityError::MccLength(mcc.len()));
        }
        MncLen::new(mnc.len())?;
        Ok(Self {
            mcc: mcc.to_owned(),
            mnc: mnc.to_owned(),
        })
    }

    /// The Mobile Country Code (3 digits).
    pub fn mcc(&self) -> &str {
        &self.mcc
    }

    /// The Mobile Network Code as given (2 or 3 digits).
    pub fn mnc(&self) -> &str {
        &self.mnc
    }

    /// The MNC as written in realms: always 3 digits, a 2-digit MNC with a
    /// leading zero (TS 23.003 §19.2).
    pub fn mnc3(&self) -> String {
        format!("{:0>3}", self.mnc)
    }

    /// The WLAN realm `wlan.mnc<MNC3>.mcc<MCC>.3gppnetwork.org` (TS 23.003 §19.3.2).
    pub fn wlan_realm(&self) -> String {
        format!("wlan.mnc{}.mcc{}.3gppnetwork.org", self.mnc3(), self.mcc)
    }

    /// Reads MCC and MNC back from a realm `wlan.mncNNN.mccNNN.3gppnetwork.org`
    /// (case-insensitive, as DNS names are). The realm always carries a 3-digit
    /// MNC, so the result's MNC has 3 digits: compare with [`Plmn::mnc3`].
    ///
    /// # Errors
    /// [`IdentityError::NotA3gppRealm`] when the realm has another shape.
    pub fn from_wlan_realm(realm: &str) -> Result<Self, IdentityError> {
        let lower = realm.to_ascii_lowercase();
        let rest = lower
            .strip_prefix("wlan.mnc")
            .and_then(|r| r.strip_suffix(".3gppnetwork.org"))
            .ok_or(IdentityError::NotA3gppRealm)?;
        let (mnc, mcc) = rest
            .split_once(".mcc")
            .ok_or(IdentityError::NotA3gppRealm)?;
        if mnc.len() != 3 || mcc.len() != 3 {
            return Err(IdentityError::NotA3gppRealm);
        }
        Plmn::new(mcc, mnc).map_err(|_| IdentityError::NotA3gppRealm)
    }
}

/// The realm of an IMSI's permanent identity, `wlan.mnc<MNC3>.mcc<MCC>.3gppnetwork.org`.
pub fn realm(imsi: &Imsi, mnc_len: MncLen) -> String {
    imsi.plmn(mnc_len).wlan_realm()
}

/// The permanent identity `0<IMSI>@realm` (EAP-AKA) or `6<IMSI>@realm`
/// (EAP-AKA') of TS 23.003 §19.3.2 / RFC 4187 §4.1.1.6.
pub fn permanent_nai(imsi: &Imsi, mnc_len: MncLen, method: Method) -> String {
    let lead = match method {
        Method::Aka => '0',
        Method::AkaPrime => '6',
    };
    format!("{lead}{}@{}", imsi.as_str(), realm(imsi, mnc_len))
}

/// What a received identity is, from the first character of its user part
/// (TS 23.003 §19.3; RFC 4187 §4.1.1; RFC 9048 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IdentityKind {
    /// A permanent identity (leading `0` for AKA, `6` for AKA').
    Permanent(Method),
    /// A pseudonym (leading `2` for AKA, `7` for AKA').
    Pseudonym(Method),
    /// A fast re-authentication identity (leading `4` for AKA, `8` for AKA').
    FastReauth(Method),
    /// Anything else (EAP-SIM's `1`/`3`/`5`, an anonymous identity, garbage).
    Unknown,
}

impl IdentityKind {
    /// The method the identity asks for, if it is one of ours.
    pub fn method(self) -> Option<Method> {
        match self {
            IdentityKind::Permanent(m)
            | IdentityKind::Pseudonym(m)
            | IdentityKind::FastReauth(m) => Some(m),
            IdentityKind::Unknown => None,
        }
    }

    /// The kind for a user part's leading byte.
    pub fn from_leading(byte: u8) -> Self {
        match byte {
            b'0' => IdentityKind::Permanent(Method::Aka),
            b'6' => IdentityKind::Permanent(Method::AkaPrime),
            b'2' => IdentityKind::Pseudonym(Method::Aka),
            b'7' => IdentityKind::Pseudonym(Method::AkaPrime),
            b'4' => IdentityKind::FastReauth(Method::Aka),
            b'8' => IdentityKind::FastReauth(Method::AkaPrime),
            _ => IdentityKind::Unknown,
        }
    }
}

/// A received identity split into its parts (RFC 7542 §2.2 and §3.3.1).
///
/// `homerealm!user@otherrealm` is a decorated NAI: [`Nai::user`] is `user`,
/// [`Nai::realm`] is `otherrealm` (where it is routed now) and
/// [`Nai::home_realm`] is `homerealm`. Several decorations
/// (`r3!r2!user@r1`) are kept together in [`Nai::decoration`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Nai<'a> {
    user: &'a str,
    realm: Option<&'a str>,
    decoration: Option<&'a str>,
}

impl<'a> Nai<'a> {
    /// Splits an identity as received in EAP-Response/Identity or
    /// AT_IDENTITY. A trailing NUL, which some peers send, is ignored.
    ///
    /// # Errors
    /// [`IdentityError::NotUtf8`], [`IdentityError::EmptyUser`] or
    /// [`IdentityError::EmptyRealm`].
    pub fn parse(identity: &'a [u8]) -> Result<Self, IdentityError> {
        let identity = identity.strip_suffix(&[0]).unwrap_or(identity);
        let s = core::str::from_utf8(identity).map_err(|_| IdentityError::NotUtf8)?;
        Self::parse_str(s)
    }

    /// [`Nai::parse`] for a string.
    ///
    /// # Errors
    /// [`IdentityError::EmptyUser`] or [`IdentityError::EmptyRealm`].
    pub fn parse_str(s: &'a str) -> Result<Self, IdentityError> {
        // Byte searches: '@' and '!' are ASCII, never inside a multi-byte
        // character; `memrchr` looks at a word at a time (an identity is
        // parsed several times per authentication, and the realm is long).
        let (local, realm) = match memchr::memrchr(b'@', s.as_bytes()) {
            Some(i) if i + 1 == s.len() => return Err(IdentityError::EmptyRealm),
            Some(i) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        };
        let (decoration, user) = match memchr::memrchr(b'!', local.as_bytes()) {
            Some(i) => {
                let (d, u) = (&local[..i], &local[i + 1..]);
                if d.split('!').any(str::is_empty) {
                    return Err(IdentityError::EmptyRealm);
                }
                (Some(d), u)
            }
            None => (None, local),
        };
        if user.is_empty() {
            return Err(IdentityError::EmptyUser);
        }
        Ok(Self {
            user,
            realm,
            decoration,
        })
    }

    /// The user part (after any decoration, before `@`).
    pub fn user(&self) -> &'a str {
        self.user
    }

    /// The realm after `@`, if any.
    pub fn realm(&self) -> Option<&'a str> {
        self.realm
    }

    /// The decoration before the last `!` (one or more realms), if any.
    pub fn decoration(&self) -> Option<&'a str> {
        self.decoration
    }

    /// True for a decorated NAI (RFC 7542 §3.3.1).
    pub fn is_decorated(&self) -> bool {
        self.decoration.is_some()
    }

    /// The realm the identity finally belongs to: the innermost decoration
    /// when decorated, else the realm after `@`.
    pub fn home_realm(&self) -> Option<&'a str> {
        match self.decoration {
            Some(d) => d.rsplit('!').next(),
            None => self.realm,
        }
    }

    /// The kind, from the user part's first character.
    pub fn kind(&self) -> IdentityKind {
        self.user
            .bytes()
            .next()
            .map_or(IdentityKind::Unknown, IdentityKind::from_leading)
    }

    /// The IMSI of a permanent identity (`0<IMSI>` or `6<IMSI>`); `None` for
    /// other kinds.
    ///
    /// # Errors
    /// The IMSI error when the digits after the leading one are not an IMSI.
    pub fn imsi(&self) -> Result<Option<Imsi>, IdentityError> {
        match self.kind() {
            IdentityKind::Permanent(_) => Imsi::parse(&self.user[1..]).map(Some),
            _ => Ok(None),
        }
    }
}

/// Classifies a received identity (bytes as in EAP-Response/Identity or
/// AT_IDENTITY); malformed identities are [`IdentityKind::Unknown`].
pub fn classify(identity: &[u8]) -> IdentityKind {
    Nai::parse(identity).map_or(IdentityKind::Unknown, |n| n.kind())
}

/// An identity fit for logs: in a user part that is an optional non-digit-or-
/// digit prefix followed by 6 or more digits (a permanent identity, a bare
/// IMSI, an EAP-SIM identity) every digit after the sixth IMSI digit becomes
/// `*`: `0001010123456789@realm` → `0001010*********@realm`. Pseudonyms and
/// re-authentication identities are temporary and left as they are;
/// non-UTF-8 bytes are replaced.
pub fn mask_identity(identity: &[u8]) -> String {
    let mut out = String::new();
    mask_identity_into(identity, &mut out);
    out
}

/// [`mask_identity`] appended to `out` (one reservation, no intermediate
/// strings: the logs call it once per authentication).
pub fn mask_identity_into(identity: &[u8], out: &mut String) {
    let s = String::from_utf8_lossy(identity.strip_suffix(&[0]).unwrap_or(identity));
    let (local, at_realm) = match s.rfind('@') {
        Some(i) => (&s[..i], &s[i..]),
        None => (&s[..], ""),
    };
    let (deco, user) = match local.rfind('!') {
        Some(i) => (&local[..=i], &local[i + 1..]),
        None => ("", local),
    };
    let digits = user.bytes().all(|b| b.is_ascii_digit());
    let keep = match IdentityKind::from_leading(user.bytes().next().unwrap_or(0)) {
        IdentityKind::Pseudonym(_) | IdentityKind::FastReauth(_) if !looks_like_imsi(user) => None,
        // 15 or fewer digits: a bare IMSI; 16: prefix digit + IMSI.
        _ if digits && user.len() > 6 => Some(if user.len() >= 16 { 7 } else { 6 }),
        _ => None,
    };
    out.reserve(s.len());
    out.push_str(deco);
    match keep {
        // All ASCII digits: one character per octet.
        Some(keep) => {
            out.push_str(&user[..keep]);
            out.extend(core::iter::repeat_n('*', user.len() - keep));
        }
        None => out.push_str(user),
    }
    out.push_str(at_realm);
}

/// A user part of a prefix digit plus 15 digits, or 6–15 digits.
fn looks_like_imsi(user: &str) -> bool {
    user.len() >= 7 && user.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn imsi() -> Imsi {
        Imsi::parse("001010123456789").unwrap()
    }

    #[test]
    fn imsi_parse() {
        assert_eq!(imsi().as_str(), "001010123456789");
        assert!(Imsi::parse("123456").is_ok());
        assert_eq!(Imsi::parse("12345"), Err(IdentityError::ImsiLength(5)));
        assert_eq!(Imsi::parse(""), Err(IdentityError::ImsiLength(0)));
        assert_eq!(
            Imsi::parse("0010101234567890"),
            Err(IdentityError::ImsiLength(16))
        );
        assert_eq!(
            Imsi::parse("00101a123"),
            Err(IdentityError::NotDigits {
                what: "IMSI",
                position: 5
            })
        );
        assert!(Imsi::parse(" 001010123456789").is_err());
        assert!(Imsi::parse("００１０１0123").is_err()); // full-width digits
        assert!("001010123456789".parse::<Imsi>().is_ok());
    }

    #[test]
    fn imsi_split_and_mask() {
        let i = imsi();
        assert_eq!(i.mcc(), "001");
        assert_eq!(i.mnc(MncLen::Two), "01");
        assert_eq!(i.msin(MncLen::Two), "0123456789");
        assert_eq!(i.mnc(MncLen::Three), "010");
        assert_eq!(i.msin(MncLen::Three), "123456789");
        assert_eq!(i.masked(MncLen::Two), "00101**********");
        assert_eq!(i.masked(MncLen::Three), "001010*********");
        assert_eq!(format!("{i:?}"), "Imsi(00101**********)");
        assert_eq!(i.to_string(), "001010123456789");
        let short = Imsi::parse("310410").unwrap();
        assert_eq!(short.msin(MncLen::Three), "");
        assert_eq!(short.masked(MncLen::Three), "310410");
    }

    #[test]
    fn mnc_len() {
        assert_eq!(MncLen::new(2), Ok(MncLen::Two));
        assert_eq!(MncLen::new(3).unwrap().get(), 3);
        assert_eq!(MncLen::new(4), Err(IdentityError::MncLength(4)));
        assert_eq!(MncLen::new(1), Err(IdentityError::MncLength(1)));
    }

    #[test]
    fn permanent_identities() {
        let i = imsi();
        assert_eq!(
            permanent_nai(&i, MncLen::Two, Method::Aka),
            "0001010123456789@wlan.mnc001.mcc001.3gppnetwork.org"
        );
        assert_eq!(
            permanent_nai(&i, MncLen::Two, Method::AkaPrime),
            "6001010123456789@wlan.mnc001.mcc001.3gppnetwork.org"
        );
        assert_eq!(
            permanent_nai(&i, MncLen::Three, Method::Aka),
            "0001010123456789@wlan.mnc010.mcc001.3gppnetwork.org"
        );
        let us = Imsi::parse("310410123456789").unwrap();
        assert_eq!(
            realm(&us, MncLen::Three),
            "wlan.mnc410.mcc310.3gppnetwork.org"
        );
        // Round trip through parsing.
        let nai = permanent_nai(&i, MncLen::Two, Method::AkaPrime);
        let n = Nai::parse(nai.as_bytes()).unwrap();
        assert_eq!(n.kind(), IdentityKind::Permanent(Method::AkaPrime));
        assert_eq!(n.imsi().unwrap(), Some(i.clone()));
        let p = Plmn::from_wlan_realm(n.realm().unwrap()).unwrap();
        assert_eq!((p.mcc(), p.mnc()), ("001", "001"));
        assert_eq!(p.mnc3(), i.plmn(MncLen::Two).mnc3());
    }

    #[test]
    fn plmn() {
        let p = Plmn::new("234", "15").unwrap();
        assert_eq!(p.wlan_realm(), "wlan.mnc015.mcc234.3gppnetwork.org");
        assert_eq!(Plmn::new("23", "15"), Err(IdentityError::MccLength(2)));
        assert_eq!(Plmn::new("234", "1"), Err(IdentityError::MncLength(1)));
        assert!(Plmn::new("2x4", "15").is_err());
        assert!(Plmn::from_wlan_realm("WLAN.MNC015.MCC234.3GPPNETWORK.ORG").is_ok());
        for bad in [
            "wlan.mnc15.mcc234.3gppnetwork.org",
            "wlan.mnc015.mcc2345.3gppnetwork.org",
            "wlan.mnc0a5.mcc234.3gppnetwork.org",
            "mnc015.mcc234.3gppnetwork.org",
            "wlan.mnc015.mcc234.3gppnetwork.org.evil",
            "wlan.mnc015mcc234.3gppnetwork.org",
            "",
        ] {
            assert_eq!(
                Plmn::from_wlan_realm(bad),
                Err(IdentityError::NotA3gppRealm),
                "{bad}"
            );
        }
    }

    #[test]
    fn classify_by_leading_digit() {
        use IdentityKind::*;
        use Method::*;
        let cases: &[(&[u8], IdentityKind)] = &[
            (
                b"0001010123456789@wlan.mnc001.mcc001.3gppnetwork.org",
                Permanent(Aka),
            ),
            (b"6001010123456789@realm", Permanent(AkaPrime)),
            (b"2pseudonym@realm", Pseudonym(Aka)),
            (b"7pseudonym", Pseudonym(AkaPrime)),
            (b"4reauth@realm", FastReauth(Aka)),
            (b"8reauth@realm", FastReauth(AkaPrime)),
            (b"1001010123456789@realm", Unknown), // EAP-SIM
            (b"3x", Unknown),
            (b"5x", Unknown),
            (b"9x", Unknown),
            (b"anonymous@realm", Unknown),
            (b"", Unknown),
            (b"@realm", Unknown),
            (b"0001@", Unknown),
            (b"\xff\xfe", Unknown),
            (b"0001010123456789@realm\0", Permanent(Aka)),
            (
                b"wlan.mnc001.mcc001.3gppnetwork.org!6001010123456789@visited.example",
                Permanent(AkaPrime),
            ),
            (b"r2!r1!8fastid@visited", FastReauth(AkaPrime)),
            (b"!0001@realm", Unknown),
            (b"home!@realm", Unknown),
        ];
        for (id, want) in cases {
            assert_eq!(classify(id), *want, "{}", String::from_utf8_lossy(id));
        }
        assert_eq!(Permanent(AkaPrime).method(), Some(AkaPrime));
        assert_eq!(Unknown.method(), None);
    }

    #[test]
    fn nai_parts() {
        let n = Nai::parse(b"user@realm.example").unwrap();
        assert_eq!(
            (n.user(), n.realm(), n.decoration()),
            ("user", Some("realm.example"), None)
        );
        assert!(!n.is_decorated());
        assert_eq!(n.home_realm(), Some("realm.example"));

        let n = Nai::parse(b"0001010123456789").unwrap();
        assert_eq!((n.user(), n.realm()), ("0001010123456789", None));

        let d = Nai::parse_str("home.example!0001010123456789@visited.example").unwrap();
        assert!(d.is_decorated());
        assert_eq!(d.user(), "0001010123456789");
        assert_eq!(d.realm(), Some("visited.example"));
        assert_eq!(d.home_realm(), Some("home.example"));

        let d2 = Nai::parse_str("r3!r2!user@r1").unwrap();
        assert_eq!(d2.decoration(), Some("r3!r2"));
        assert_eq!(d2.home_realm(), Some("r2"));

        // The last '@' separates the realm.
        let a = Nai::parse_str("a@b@c").unwrap();
        assert_eq!((a.user(), a.realm()), ("a@b", Some("c")));

        assert_eq!(Nai::parse(b"user@"), Err(IdentityError::EmptyRealm));
        assert_eq!(Nai::parse(b"@realm"), Err(IdentityError::EmptyUser));
        assert_eq!(Nai::parse(b""), Err(IdentityError::EmptyUser));
        assert_eq!(Nai::parse(b"a!!b@c"), Err(IdentityError::EmptyRealm));
        assert_eq!(Nai::parse(b"\xc3"), Err(IdentityError::NotUtf8));
    }

    #[test]
    fn imsi_from_permanent_identity() {
        let n = Nai::parse(b"0001010123456789@r").unwrap();
        assert_eq!(n.imsi().unwrap().unwrap().as_str(), "001010123456789");
        assert_eq!(Nai::parse(b"2pseudo@r").unwrap().imsi(), Ok(None));
        assert_eq!(
            Nai::parse(b"0123@r").unwrap().imsi(),
            Err(IdentityError::ImsiLength(3))
        );
        assert!(Nai::parse(b"0abcdefgh@r").unwrap().imsi().is_err());
    }

    #[test]
    fn masking_for_logs() {
        assert_eq!(
            mask_identity(b"0001010123456789@wlan.mnc001.mcc001.3gppnetwork.org"),
            "0001010*********@wlan.mnc001.mcc001.3gppnetwork.org"
        );
        assert_eq!(mask_identity(b"6001010123456789"), "6001010*********");
        assert_eq!(mask_identity(b"001010123456789"), "001010*********");
        assert_eq!(
            mask_identity(b"home!0001010123456789@visited"),
            "home!0001010*********@visited"
        );
        assert_eq!(mask_identity(b"2pseudonym@realm"), "2pseudonym@realm");
        assert_eq!(mask_identity(b"8reauthid@realm"), "8reauthid@realm");
        // A pseudonym-looking prefix does not save a string of IMSI digits.
        assert_eq!(mask_identity(b"2001010123456789"), "2001010*********");
        assert_eq!(mask_identity(b"anonymous@realm"), "anonymous@realm");
        assert_eq!(mask_identity(b"\xff0001"), "\u{fffd}0001");
        assert_eq!(mask_identity(b""), "");
    }

    proptest::proptest! {
        #[test]
        fn never_panics(id in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80)) {
            let kind = classify(&id);
            let masked = mask_identity(&id);
            if let Ok(n) = Nai::parse(&id) {
                proptest::prop_assert_eq!(n.kind(), kind);
                let _ = n.imsi();
                let _ = n.home_realm();
            }
            proptest::prop_assert!(masked.chars().count() <= id.len() + 1);
        }

        #[test]
        fn permanent_round_trip(digits in "[0-9]{6,15}", three in proptest::prelude::any::<bool>(),
                                prime in proptest::prelude::any::<bool>()) {
            let imsi = Imsi::parse(&digits).unwrap();
            let mnc_len = if three { MncLen::Three } else { MncLen::Two };
            let method = if prime { Method::AkaPrime } else { Method::Aka };
            let nai = permanent_nai(&imsi, mnc_len, method);
            let n = Nai::parse_str(&nai).unwrap();
            proptest::prop_assert_eq!(n.kind(), IdentityKind::Permanent(method));
            proptest::prop_assert_eq!(n.imsi().unwrap(), Some(imsi.clone()));
            let p = Plmn::from_wlan_realm(n.realm().unwrap()).unwrap();
            proptest::prop_assert_eq!(p.mnc3(), imsi.plmn(mnc_len).mnc3());
            proptest::prop_assert_eq!(p.mcc(), imsi.mcc());
        }
    }
}
