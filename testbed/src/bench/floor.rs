//! `testbed bench` floor: what one full EAP-AKA' authentication costs a
//! RADIUS server that does only the work no such server can avoid, on this
//! machine, measured the way `aaa-server`'s CPU per authentication is.
//!
//! A *null RADIUS server* runs on its own thread of the testbed process with
//! `aaa-server`'s socket pattern (one UDP socket on 127.0.0.1, `recvmmsg` of
//! up to [`BATCH`] datagrams, one `sendmmsg` of the answers). Per
//! authentication it receives the two Access-Requests and sends the two
//! answers at the sizes a real run has ([`ACCESS_REQUEST_IDENTITY`] …), and in
//! between does the cryptography every EAP-AKA' server must do:
//!
//! - Access-Request: the Message-Authenticator (HMAC-MD5, RFC 3579 §3.2);
//! - EAP-Response/Identity → Milenage f1–f5 (TS 35.206), CK'/IK' (RFC 9048
//!   §3.3, HMAC-SHA-256), PRF' MK → K_encr/K_aut/K_re/MSK/EMSK (RFC 9048
//!   §3.4.1), AT_MAC of the AKA'-Challenge (HMAC-SHA-256);
//! - AKA'-Challenge response → its AT_MAC checked, RES against XRES;
//! - every answer: Message-Authenticator and Response Authenticator (MD5,
//!   RFC 2865 §3); the Access-Accept: MS-MPPE-Recv/Send-Key (RFC 2548
//!   §2.4.2–2.4.3, MD5 chains).
//!
//! The EAP packets are templates encoded once by the `eap` crate and patched
//! (RAND, AUTN, identifiers, AT_MAC); the State is an index into a ring of
//! sessions; one subscriber's K/OPc sits in memory. No store, no duplicate
//! cache, no logging, no allocation per datagram. The AKA'-Challenge has
//! `aaa-server`'s AT_IV and AT_ENCR_DATA sizes with fixed bytes in them:
//! sealing and encrypting the next identities is `[privacy]`, an option.
//! RAND and SQN come from a counter. What it does not do is
//! what the report calls *overhead* of a real server; what it does is the
//! floor under it.
//!
//! Its CPU is the null server thread's own (`getrusage(RUSAGE_THREAD)`:
//! user and kernel time) over the run, divided by the Access-Accepts it
//! sent. A light client in the same process (groups of at most
//! [`GROUP`] authentications per socket, answers matched by Identifier,
//! its CPU not counted) does the peer's side — it checks every answer's
//! authenticators, computes RES and the AT_MAC of its response from the
//! same K/OPc, and decrypts the MS-MPPE keys against its own MSK — so a
//! null server that cut a corner would show up as failures.
//!
//! *Crypto alone* runs the same server code on the same packets in a tight
//! loop without sockets (the client's responses made beforehand, outside
//! the measured time): the user-space part of the floor, and within it the
//! EAP-AKA' part alone.

// recvmmsg/sendmmsg/setsockopt/getrusage through libc, as aaa-server's
// radius/mmsg.rs (testbed does not link aaa-server).
#![allow(unsafe_code)]

use eap::aka::attr::{
    AtAutn, AtCheckcode, AtEncrData, AtIv, AtKdf, AtKdfInput, AtMac, AtRand, AtRes,
};
use eap::aka::checkcode::CheckcodeHash;
use eap::aka::keys::{self, Method};
use eap::aka::mac::NO_EXTRA;
use eap::aka::message::{Message, Subtype, verify_packet};
use eap::packet::{Packet, TypeData};
use eap::secret::{K, KAut, Msk, Opc};
use eap::umts::{Amf, Autn, Res, Sqn, SubscriberKeys};
use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use serde::Serialize;
use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use supplicant::nas::radius::{self as r, RequestBuilder};

// Sizes of one full EAP-AKA' authentication between the bench's load
// generator and `aaa-server serve` (target/release, main at 5caffa6, the
// bench's configuration: network name "WLAN", `[privacy]` defaults,
// NAS-Identifier "testbed-bench"), read from a tshark capture on lo of
// `testbed bench --servers aaa-server --methods aka-prime --concurrency 1
// --duration 1s --no-targets` (RADIUS Length; 151 authentications, all the
// same). The templates below are built to these sizes; a unit test checks
// that they are.

/// Access-Request carrying the EAP-Response/Identity (MA, User-Name of 51
/// bytes, NAS-Identifier, NAS-Port-Type, Calling-Station-Id, Framed-MTU,
/// EAP-Message of 56), bytes.
pub const ACCESS_REQUEST_IDENTITY: usize = 195;
/// Access-Challenge (MA, EAP-Message of 440 in two attributes, State of 16,
/// Session-Timeout), bytes. The AKA'-Challenge carries AT_RAND, AT_AUTN,
/// AT_KDF, AT_KDF_INPUT, AT_IV, AT_ENCR_DATA (336 bytes: the next pseudonym
/// and re-authentication identity) and AT_MAC.
pub const ACCESS_CHALLENGE: usize = 506;
/// Access-Request carrying the AKA'-Challenge response (the same attributes,
/// EAP-Message of 44 — AT_RES, AT_CHECKCODE, AT_MAC — and State), bytes.
pub const ACCESS_REQUEST_CHALLENGE: usize = 201;
/// Access-Accept (MA, EAP-Success, User-Name, MS-MPPE-Recv-Key,
/// MS-MPPE-Send-Key), bytes.
pub const ACCESS_ACCEPT: usize = 213;

/// State length in `aaa-server`'s Access-Challenge (from the same capture).
const STATE_LEN: usize = 16;
/// AT_ENCR_DATA's ciphertext in `aaa-server`'s AKA'-Challenge (same capture).
const ENCR_DATA_LEN: usize = 336;
/// The Session-Timeout of the bench's aaa-server.
const SESSION_TIMEOUT: u32 = 30;
/// Longest EAP packet the floor handles in one piece.
const EAP_MAX: usize = 512;

/// Datagrams per `recvmmsg`, as `aaa-server` (`radius::udp::BATCH`).
pub const BATCH: usize = 32;
/// Receive buffer per datagram (RFC 2865 §3: at most 4096 bytes).
const BUF: usize = 4096;
/// Socket buffers asked for, as `aaa-server` (`radius::udp::SOCKET_BUFFER`).
const SOCKET_BUFFER: libc::c_int = 4 << 20;
/// How often the idle null server looks at its stop flag.
const POLL: Duration = Duration::from_millis(100);
/// Authentications per client socket (Identifiers are 8 bits; as the load
/// generator's groups).
pub const GROUP: usize = 200;
/// Sessions the null server remembers (a ring indexed by the State).
const RING: usize = 1 << 16;
/// Authentications of each crypto-alone loop.
pub const CRYPTO_LOOP: usize = 10_000;
/// Crypto-alone loops; the least CPU counts (the floor of a shared machine).
pub const CRYPTO_RUNS: usize = 3;
/// Distinct authentications the crypto-alone loop replays.
pub const CRYPTO_SET: usize = 256;
/// The client's retransmission timeout.
const RETRANSMIT: Duration = Duration::from_secs(1);

/// The RADIUS secret of the floor run.
const SECRET: &[u8] = super::SECRET.as_bytes();
/// The access network name (`[eap] network_name` of the bench's aaa-server).
const NETWORK_NAME: &[u8] = b"WLAN";
/// The permanent EAP-AKA' identity: the bench's first subscriber (seed 1).
const IDENTITY: &[u8] = b"6001019000000000@wlan.mnc001.mcc001.3gppnetwork.org";
/// The NAS-Identifier of the bench's load generator.
const NAS_IDENTIFIER: &[u8] = b"testbed-bench";
/// The Calling-Station-Id of the bench's first subscriber.
const CALLING_STATION_ID: &[u8] = b"02-00-00-00-00-00";
/// AMF with the separation bit set (TS 33.102 Annex H).
const AMF: Amf = Amf([0x80, 0x00]);

/// One subscriber's K and OPc (fixed test values; the floor has no store).
fn subscriber() -> SubscriberKeys {
    SubscriberKeys::new(K::new([0x46; 16]), Opc::new([0xcd; 16]))
}

// ---------------------------------------------------------------------------
// The templates
// ---------------------------------------------------------------------------

/// The AKA'-Challenge EAP-Request template and where its fields are.
#[derive(Clone)]
struct ChallengeEap {
    bytes: Vec<u8>,
    rand_at: usize,
    autn_at: usize,
    mac_at: usize,
}

fn challenge_eap() -> ChallengeEap {
    let msg = Message::new(Subtype::Challenge)
        .with(AtRand {
            rand: [0xa5; 16],
            reserved: 0,
        })
        .with(AtAutn {
            autn: Autn([0x5a; 16]),
            reserved: 0,
        })
        .with(AtKdf::CK_IK_PRIME)
        .with(AtKdfInput {
            network_name: NETWORK_NAME.to_vec(),
        })
        // Real sizes, fixed bytes: sealing and encrypting the next
        // identities is an option (`[privacy]`), not the floor.
        .with(AtIv {
            iv: [0x17; 16],
            reserved: 0,
        })
        .with(AtEncrData::new(vec![0x71; ENCR_DATA_LEN]))
        .with(AtMac::ZEROED);
    let p = Packet::Request {
        identifier: 0,
        data: TypeData::AkaPrime(msg),
    };
    let (bytes, mac) = match p.encode_with_mac_offset() {
        Ok((b, Some(m))) => (b, m),
        _ => unreachable!("a fixed, valid AKA'-Challenge encodes"),
    };
    let find = |pat: u8| {
        bytes
            .windows(16)
            .position(|w| w.iter().all(|b| *b == pat))
            .unwrap_or(0)
    };
    ChallengeEap {
        rand_at: find(0xa5),
        autn_at: find(0x5a),
        mac_at: mac,
        bytes,
    }
}

/// The peer's AKA'-Challenge response template: AT_RES (8-byte RES),
/// AT_CHECKCODE (empty: no identity round), AT_MAC — as the load
/// generator's peer sends it. Returns it and the offsets of RES and AT_MAC.
fn response_eap() -> (Vec<u8>, usize, usize) {
    let msg = Message::new(Subtype::Challenge)
        .with(AtRes {
            res: Res::from_f2([0x3c; 8]),
        })
        .with(AtCheckcode::new(
            CheckcodeHash::new(Method::AkaPrime).to_attr(),
        ))
        .with(AtMac::ZEROED);
    let p = Packet::Response {
        identifier: 0,
        data: TypeData::AkaPrime(msg),
    };
    let (bytes, mac) = match p.encode_with_mac_offset() {
        Ok((b, Some(m))) => (b, m),
        _ => unreachable!("a fixed, valid AKA'-Challenge response encodes"),
    };
    let res_at = bytes
        .windows(8)
        .position(|w| w.iter().all(|b| *b == 0x3c))
        .unwrap_or(0);
    (bytes, res_at, mac)
}

/// An answer template: Code, the Message-Authenticator first (as
/// `aaa-server` sends it), then `attrs`.
fn answer(code: u8, attrs: &[(u8, &[u8])]) -> Vec<u8> {
    let mut p = vec![code, 0, 0, 0];
    p.extend_from_slice(&[0; 16]);
    p.extend_from_slice(&[r::MESSAGE_AUTHENTICATOR, 18]);
    p.extend_from_slice(&[0; 16]);
    for (t, v) in attrs {
        // EAP-Message split at 253 bytes (RFC 3579 §3.1).
        for chunk in v.chunks(253) {
            p.push(*t);
            p.push((chunk.len() + 2) as u8);
            p.extend_from_slice(chunk);
        }
    }
    let len = p.len() as u16;
    p[2..4].copy_from_slice(&len.to_be_bytes());
    p
}

/// Where a value sits in `packet`: the offset after attribute `t`'s header
/// (the first one).
fn value_at(packet: &[u8], t: u8) -> Option<usize> {
    let mut i = 20;
    while i + 2 <= packet.len() {
        let l = usize::from(packet[i + 1]);
        if l < 2 {
            return None;
        }
        if packet[i] == t {
            return Some(i + 2);
        }
        i += l;
    }
    None
}

// ---------------------------------------------------------------------------
// The null server: per datagram, sans-IO
// ---------------------------------------------------------------------------

/// One authentication between the Access-Challenge and the Access-Accept.
struct Session {
    tag: u32,
    k_aut: KAut,
    xres: Res,
    msk: Msk,
}

/// Why a datagram got no answer (counted, like a real server's drops).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discard {
    /// Not an Access-Request, or broken framing.
    Malformed,
    /// Message-Authenticator missing or wrong.
    BadMessageAuthenticator,
    /// A State that names no session in the ring.
    UnknownState,
    /// The AKA'-Challenge response's AT_MAC does not verify.
    BadAtMac,
    /// RES ≠ XRES.
    ResMismatch,
}

/// What the null server counted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ServerCounts {
    /// Access-Challenges sent.
    pub challenges: u64,
    /// Access-Accepts sent: authentications completed.
    pub accepts: u64,
    /// Requests dropped (any [`Discard`]).
    pub dropped: u64,
}

/// The null RADIUS server's per-datagram work.
pub struct NullServer {
    keyed: Hmac<Md5>,
    hss: SubscriberKeys,
    challenge_eap: ChallengeEap,
    /// Access-Challenge: MA, EAP-Message, State, Session-Timeout.
    challenge: Vec<u8>,
    challenge_eap_at: usize,
    challenge_state_at: usize,
    /// Access-Accept: MA, EAP-Message (EAP-Success), User-Name, the two
    /// MS-MPPE key VSAs.
    accept: Vec<u8>,
    accept_eap_at: usize,
    accept_recv_at: usize,
    accept_send_at: usize,
    ring: Vec<Option<Session>>,
    next: u32,
    /// Counters.
    pub counts: ServerCounts,
}

impl Default for NullServer {
    fn default() -> Self {
        Self::new()
    }
}

impl NullServer {
    /// The templates and an empty session ring.
    pub fn new() -> Self {
        let eap = challenge_eap();
        let challenge = answer(
            r::ACCESS_CHALLENGE,
            &[
                (r::EAP_MESSAGE, &eap.bytes),
                (r::STATE, &[0; STATE_LEN]),
                (27, &SESSION_TIMEOUT.to_be_bytes()), // Session-Timeout
            ],
        );
        let challenge_eap_at = value_at(&challenge, r::EAP_MESSAGE).unwrap_or(0);
        let challenge_state_at = value_at(&challenge, r::STATE).unwrap_or(0);
        let vsa = |vt: u8| {
            let mut v = r::VENDOR_MICROSOFT.to_be_bytes().to_vec();
            v.extend_from_slice(&[vt, 2 + 2 + 48, 0x80, 0]);
            v.extend_from_slice(&[0; 48]);
            v
        };
        let (recv, send) = (vsa(r::MS_MPPE_RECV_KEY), vsa(r::MS_MPPE_SEND_KEY));
        let accept = answer(
            r::ACCESS_ACCEPT,
            &[
                (r::EAP_MESSAGE, &[3, 0, 0, 4]),
                (r::USER_NAME, IDENTITY),
                (r::VENDOR_SPECIFIC, &recv),
                (r::VENDOR_SPECIFIC, &send),
            ],
        );
        let accept_eap_at = value_at(&accept, r::EAP_MESSAGE).unwrap_or(0);
        // The two VSAs are the last 2 × 58 bytes; their salts start 6 bytes in.
        let accept_send_at = accept.len() - 58 + 2 + 6;
        let accept_recv_at = accept_send_at - 58;
        Self {
            keyed: hmac_md5(SECRET),
            hss: subscriber(),
            challenge_eap: eap,
            challenge,
            challenge_eap_at,
            challenge_state_at,
            accept,
            accept_eap_at,
            accept_recv_at,
            accept_send_at,
            ring: (0..RING).map(|_| None).collect(),
            next: 0,
            counts: ServerCounts::default(),
        }
    }

    /// Answers one datagram into `out` (cleared first), or says why not.
    pub fn handle(&mut self, req: &[u8], out: &mut Vec<u8>) -> Result<(), Discard> {
        let r = self.check(req).and_then(|(eap, state)| match state {
            None => self.identity(req, eap, out),
            Some(s) => self.response(req, eap, s, out),
        });
        if r.is_err() {
            self.counts.dropped += 1;
        }
        r
    }

    /// Framing and the Message-Authenticator; the EAP-Message and State
    /// value ranges.
    #[allow(clippy::type_complexity)]
    fn check(&self, req: &[u8]) -> Result<((usize, usize), Option<(usize, usize)>), Discard> {
        if req.len() < 20 || req[0] != r::ACCESS_REQUEST {
            return Err(Discard::Malformed);
        }
        let len = usize::from(u16::from_be_bytes([req[2], req[3]]));
        if len < 20 || len > req.len() {
            return Err(Discard::Malformed);
        }
        let req = &req[..len];
        let (mut ma, mut eap, mut state) = (None, None, None);
        let mut i = 20;
        while i < len {
            let Some(&l) = req.get(i + 1) else {
                return Err(Discard::Malformed);
            };
            let l = usize::from(l);
            if l < 2 || i + l > len {
                return Err(Discard::Malformed);
            }
            let v = (i + 2, i + l);
            match req[i] {
                r::MESSAGE_AUTHENTICATOR if l == 18 && ma.is_none() => ma = Some(i + 2),
                r::MESSAGE_AUTHENTICATOR => return Err(Discard::BadMessageAuthenticator),
                // The peer's EAP packets fit one attribute.
                r::EAP_MESSAGE if eap.is_none() => eap = Some(v),
                r::STATE => state = Some(v),
                _ => {}
            }
            i += l;
        }
        let (Some(at), Some(eap)) = (ma, eap) else {
            return Err(Discard::BadMessageAuthenticator);
        };
        let mut m = self.keyed.clone();
        m.update(&req[..at]);
        m.update(&[0; 16]);
        m.update(&req[at + 16..]);
        m.verify_slice(&req[at..at + 16])
            .map_err(|_| Discard::BadMessageAuthenticator)?;
        Ok((eap, state))
    }

    /// EAP-Response/Identity → Access-Challenge with the AKA'-Challenge.
    fn identity(
        &mut self,
        req: &[u8],
        (e0, e1): (usize, usize),
        out: &mut Vec<u8>,
    ) -> Result<(), Discard> {
        let eap = &req[e0..e1];
        if eap.len() < 6 || eap[0] != 2 || eap[4] != 1 {
            return Err(Discard::Malformed);
        }
        let tag = self.next;
        self.next = self.next.wrapping_add(1);
        let session = self.challenge_into(tag, eap[1].wrapping_add(1), &eap[5..], out);
        let slot = &mut self.ring[tag as usize % RING];
        *slot = Some(session);
        out[self.challenge_state_at..self.challenge_state_at + 4]
            .copy_from_slice(&tag.to_be_bytes());
        finish(out, req[1], req_auth(req), &self.keyed);
        self.counts.challenges += 1;
        Ok(())
    }

    /// The EAP-AKA' server crypto of the first round: the vector, CK'/IK',
    /// the keys, the signed AKA'-Challenge written into `out` (the
    /// Access-Challenge template). RAND and SQN come from the session tag.
    fn challenge_into(&self, tag: u32, eap_id: u8, identity: &[u8], out: &mut Vec<u8>) -> Session {
        let mut rand = [0x42; 16];
        rand[..4].copy_from_slice(&tag.to_be_bytes());
        let v = self
            .hss
            .generate_vector(Sqn::from_seq_ind(u64::from(tag) + 1, 0), AMF, rand);
        let keys = match keys::ck_ik_prime(&v.ck, &v.ik, NETWORK_NAME, &v.autn.sqn_xor_ak()) {
            Ok((ckp, ikp)) => keys::derive_aka_prime(identity, &ckp, &ikp),
            Err(_) => unreachable!("a 4-byte network name"),
        };
        let t = &self.challenge_eap;
        let mut buf = [0u8; EAP_MAX];
        let eap = &mut buf[..t.bytes.len()];
        eap.copy_from_slice(&t.bytes);
        eap[1] = eap_id;
        eap[t.rand_at..t.rand_at + 16].copy_from_slice(&v.rand);
        eap[t.autn_at..t.autn_at + 16].copy_from_slice(&v.autn.0);
        if eap::aka::mac::sign(&keys.k_aut, eap, t.mac_at, NO_EXTRA).is_err() {
            unreachable!("the template's AT_MAC offset is inside it");
        }
        out.clear();
        out.extend_from_slice(&self.challenge);
        // Into the EAP-Message attributes, 253 bytes each.
        let mut at = self.challenge_eap_at;
        for chunk in eap.chunks(253) {
            out[at..at + chunk.len()].copy_from_slice(chunk);
            at += chunk.len() + 2;
        }
        Session {
            tag,
            k_aut: keys.k_aut,
            xres: v.xres,
            msk: keys.msk,
        }
    }

    /// AKA'-Challenge response → Access-Accept with the MS-MPPE keys.
    fn response(
        &mut self,
        req: &[u8],
        (e0, e1): (usize, usize),
        (s0, s1): (usize, usize),
        out: &mut Vec<u8>,
    ) -> Result<(), Discard> {
        let tag = req
            .get(s0..s0 + 4)
            .filter(|_| s1 - s0 == STATE_LEN)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or(Discard::UnknownState)?;
        let slot = &mut self.ring[tag as usize % RING];
        let session = slot
            .take_if(|s| s.tag == tag)
            .ok_or(Discard::UnknownState)?;
        let eap = &req[e0..e1];
        check_response_eap(&session, eap)?;
        let eap_id = eap[1];
        out.clear();
        out.extend_from_slice(&self.accept);
        out[self.accept_eap_at + 1] = eap_id;
        let ra = req_auth(req);
        let m = session.msk.expose();
        // The salts differ and have the high bit set (RFC 2548 §2.4.2).
        let t = tag.to_be_bytes();
        mppe_into(
            &mut out[self.accept_recv_at..self.accept_recv_at + 50],
            [0x80 | t[2], t[3] & 0xfe],
            &m[..32],
            &ra,
        );
        mppe_into(
            &mut out[self.accept_send_at..self.accept_send_at + 50],
            [0x80 | t[2], t[3] | 1],
            &m[32..64],
            &ra,
        );
        finish(out, req[1], ra, &self.keyed);
        self.counts.accepts += 1;
        Ok(())
    }
}

/// The EAP-AKA' server crypto of the second round: the response's AT_MAC
/// (HMAC-SHA-256 with K_aut) and RES against XRES, both in constant time.
fn check_response_eap(session: &Session, eap: &[u8]) -> Result<(), Discard> {
    if eap.len() < 8 || eap[0] != 2 || eap[4] != 50 || eap[5] != 1 {
        return Err(Discard::Malformed);
    }
    if !verify_packet(&session.k_aut, eap, NO_EXTRA) {
        return Err(Discard::BadAtMac);
    }
    // AT_RES (type 3): RES length in bits, then RES.
    let mut i = 8;
    while i + 4 <= eap.len() {
        let l = usize::from(eap[i + 1]) * 4;
        if l == 0 || i + l > eap.len() {
            break;
        }
        if eap[i] == 3 {
            let bits = usize::from(u16::from_be_bytes([eap[i + 2], eap[i + 3]]));
            let res = eap.get(i + 4..i + 4 + bits / 8).and_then(Res::new);
            return match res {
                Some(res) if res.ct_eq(&session.xres) => Ok(()),
                _ => Err(Discard::ResMismatch),
            };
        }
        i += l;
    }
    Err(Discard::ResMismatch)
}

fn req_auth(req: &[u8]) -> [u8; 16] {
    let mut a = [0; 16];
    a.copy_from_slice(&req[4..20]);
    a
}

/// HMAC-MD5 keyed with `secret` (keyed once, cloned per packet, as `aaa-server`).
fn hmac_md5(secret: &[u8]) -> Hmac<Md5> {
    match <Hmac<Md5> as KeyInit>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    }
}

/// Identifier, Message-Authenticator over the packet with the Request
/// Authenticator in place (RFC 3579 §3.2), then the Response Authenticator
/// MD5(Code‖Identifier‖Length‖RequestAuth‖Attributes‖Secret) (RFC 2865 §3).
fn finish(p: &mut [u8], id: u8, request_authenticator: [u8; 16], keyed: &Hmac<Md5>) {
    p[1] = id;
    p[4..20].copy_from_slice(&request_authenticator);
    p[22..38].fill(0);
    let mut m = keyed.clone();
    m.update(p);
    let ma = m.finalize().into_bytes();
    p[22..38].copy_from_slice(&ma);
    let mut h = Md5::new();
    h.update(&*p);
    h.update(SECRET);
    let auth = h.finalize();
    p[4..20].copy_from_slice(&auth);
}

/// Salt ‖ encrypted (key length ‖ key ‖ padding) into `out` (2 + 48 bytes)
/// for a 32-byte key: b(1) = MD5(secret‖RA‖salt), b(i) = MD5(secret‖c(i−1)),
/// c(i) = p(i) ⊕ b(i) (RFC 2548 §2.4.2).
fn mppe_into(out: &mut [u8], salt: [u8; 2], key: &[u8], ra: &[u8; 16]) {
    let mut plain = [0u8; 48];
    plain[0] = key.len() as u8;
    plain[1..1 + key.len()].copy_from_slice(key);
    out[..2].copy_from_slice(&salt);
    for i in 0..3 {
        let mut h = Md5::new();
        h.update(SECRET);
        if i == 0 {
            h.update(ra);
            h.update(salt);
        } else {
            h.update(&out[2 + (i - 1) * 16..2 + i * 16]);
        }
        let b = h.finalize();
        for (j, x) in b.iter().enumerate() {
            out[2 + i * 16 + j] = plain[i * 16 + j] ^ x;
        }
    }
    // The plaintext holds half the MSK: overwritten before it goes.
    plain.fill(0);
    std::hint::black_box(&plain);
}

// ---------------------------------------------------------------------------
// recvmmsg / sendmmsg (as aaa-server/src/radius/mmsg.rs; testbed does not
// link aaa-server) and the thread's CPU time
// ---------------------------------------------------------------------------

/// Datagrams received into fixed buffers, `recvmmsg(2)` with
/// `MSG_WAITFORONE` (wait for one, take what is queued).
struct RecvBatch {
    bufs: Vec<u8>,
    addrs: Vec<libc::sockaddr_in>,
    lens: Vec<usize>,
    hdrs: Vec<libc::mmsghdr>,
    iovs: Vec<libc::iovec>,
}

impl RecvBatch {
    fn new(count: usize) -> Self {
        Self {
            bufs: vec![0; count * BUF],
            // SAFETY: sockaddr_in is plain data; all zeroes is valid.
            addrs: vec![unsafe { zeroed() }; count],
            lens: vec![0; count],
            hdrs: Vec::with_capacity(count),
            iovs: Vec::with_capacity(count),
        }
    }

    fn recv(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        let count = self.lens.len();
        self.iovs.clear();
        self.iovs
            .extend(self.bufs.chunks_exact_mut(BUF).map(|b| libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: b.len(),
            }));
        self.hdrs.clear();
        // SAFETY: mmsghdr is plain data; all zeroes is valid.
        self.hdrs
            .extend((0..count).map(|_| unsafe { zeroed::<libc::mmsghdr>() }));
        for ((h, iov), a) in self
            .hdrs
            .iter_mut()
            .zip(self.iovs.iter_mut())
            .zip(self.addrs.iter_mut())
        {
            h.msg_hdr.msg_name = (a as *mut libc::sockaddr_in).cast();
            h.msg_hdr.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
            h.msg_hdr.msg_iov = iov;
            h.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: every header points into `iovs`, `bufs` and `addrs`, alive
        // and exclusively borrowed for the call; `count` is `hdrs.len()`.
        let n = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                self.hdrs.as_mut_ptr(),
                count as libc::c_uint,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        for (len, h) in self.lens.iter_mut().zip(&self.hdrs).take(n) {
            *len = (h.msg_len as usize).min(BUF);
        }
        Ok(n)
    }

    /// Datagram `i` of the last receive and its (IPv4) source.
    fn get(&self, i: usize) -> (SocketAddr, &[u8]) {
        let a = &self.addrs[i];
        let from = SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
            u16::from_be(a.sin_port),
        ));
        (from, &self.bufs[i * BUF..i * BUF + self.lens[i]])
    }
}

/// Memory for [`SendBatch::send`], kept between calls (as `aaa-server`).
#[derive(Default)]
struct SendBatch {
    addrs: Vec<libc::sockaddr_in>,
    iovs: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
}

impl SendBatch {
    /// `sendmmsg(2)` of `msgs` (bytes, IPv4 destination); returns how many
    /// went and the system calls it took.
    fn send(&mut self, socket: &UdpSocket, msgs: &[(Vec<u8>, SocketAddr)]) -> (usize, u64) {
        self.addrs.clear();
        self.iovs.clear();
        for (b, a) in msgs {
            // SAFETY: sockaddr_in is plain data; all zeroes is valid.
            let mut s: libc::sockaddr_in = unsafe { zeroed() };
            s.sin_family = libc::AF_INET as libc::sa_family_t;
            if let SocketAddr::V4(a) = a {
                s.sin_port = a.port().to_be();
                s.sin_addr.s_addr = u32::from(*a.ip()).to_be();
            }
            self.addrs.push(s);
            self.iovs.push(libc::iovec {
                iov_base: b.as_ptr() as *mut libc::c_void,
                iov_len: b.len(),
            });
        }
        self.hdrs.clear();
        for (iov, a) in self.iovs.iter_mut().zip(&self.addrs) {
            // SAFETY: mmsghdr is plain data; all zeroes is valid.
            let mut h: libc::mmsghdr = unsafe { zeroed() };
            h.msg_hdr.msg_name = (a as *const libc::sockaddr_in).cast_mut().cast();
            h.msg_hdr.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
            h.msg_hdr.msg_iov = iov;
            h.msg_hdr.msg_iovlen = 1;
            self.hdrs.push(h);
        }
        let (mut at, mut calls) = (0, 0);
        while at < self.hdrs.len() {
            calls += 1;
            // SAFETY: the headers point into `iovs`, `addrs` and `msgs`,
            // alive for the call; the kernel only reads through them.
            let n = unsafe {
                libc::sendmmsg(
                    socket.as_raw_fd(),
                    self.hdrs[at..].as_mut_ptr(),
                    (self.hdrs.len() - at) as libc::c_uint,
                    0,
                )
            };
            if n < 0 {
                if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                // Skip the datagram the kernel refused, like a lost one.
                at += 1;
                continue;
            }
            at += n as usize;
        }
        (at, calls)
    }
}

/// Asks for `aaa-server`'s socket buffers (best effort, capped by
/// `net.core.rmem_max` / `wmem_max`).
fn enlarge_buffers(socket: &UdpSocket) {
    for opt in [libc::SO_RCVBUF, libc::SO_SNDBUF] {
        // SAFETY: setsockopt reads one c_int from a live local.
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                (&SOCKET_BUFFER as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
}

/// User and kernel CPU time of the calling thread (`getrusage(RUSAGE_THREAD)`).
pub fn thread_cpu() -> (Duration, Duration) {
    // SAFETY: rusage is plain data; getrusage fills it.
    let mut u: libc::rusage = unsafe { zeroed() };
    // SAFETY: a valid pointer to a live local.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut u) };
    if rc != 0 {
        return (Duration::ZERO, Duration::ZERO);
    }
    let d = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    (d(u.ru_utime), d(u.ru_stime))
}

// ---------------------------------------------------------------------------
// The peer's side (the client; its CPU is not counted)
// ---------------------------------------------------------------------------

/// The NAS and peer of the light client: builds the two Access-Requests of
/// an authentication as the load generator does and checks the answers.
struct Peer {
    hss: SubscriberKeys,
    challenge: ChallengeEap,
    response: (Vec<u8>, usize, usize),
    /// Request Authenticators: a counter through xorshift (unique, not secret).
    seed: u64,
}

impl Peer {
    fn new(seed: u64) -> Self {
        Self {
            hss: subscriber(),
            challenge: challenge_eap(),
            response: response_eap(),
            seed: seed | 1,
        }
    }

    fn authenticator(&mut self) -> [u8; 16] {
        let mut a = [0; 16];
        for c in a.chunks_mut(8) {
            self.seed ^= self.seed << 13;
            self.seed ^= self.seed >> 7;
            self.seed ^= self.seed << 17;
            c.copy_from_slice(&self.seed.to_be_bytes());
        }
        a
    }

    /// An Access-Request as the load generator's (supplicant::nas::exchange).
    fn request(&mut self, id: u8, eap: &[u8], state: Option<&[u8]>) -> (Vec<u8>, [u8; 16]) {
        let auth = self.authenticator();
        let mut b = RequestBuilder::new(Vec::with_capacity(256), id, &auth);
        b.attr(r::USER_NAME, IDENTITY)
            .attr(r::NAS_IDENTIFIER, NAS_IDENTIFIER)
            .attr(r::NAS_PORT_TYPE, &19u32.to_be_bytes())
            .attr(r::CALLING_STATION_ID, CALLING_STATION_ID)
            .attr(r::FRAMED_MTU, &1400u32.to_be_bytes())
            .eap_message(eap);
        if let Some(s) = state {
            b.attr(r::STATE, s);
        }
        match b.finish(SECRET) {
            Some(p) => (p, auth),
            None => unreachable!("a short Access-Request"),
        }
    }

    /// The first Access-Request: EAP-Response/Identity.
    fn identity(&mut self, id: u8) -> (Vec<u8>, [u8; 16]) {
        let mut eap = vec![2, 0, 0, 0, 1];
        eap.extend_from_slice(IDENTITY);
        let l = eap.len() as u16;
        eap[2..4].copy_from_slice(&l.to_be_bytes());
        self.request(id, &eap, None)
    }

    /// The second Access-Request from the Access-Challenge `answer` (already
    /// checked): the USIM's RES, the keys, the signed response; and the MSK.
    fn respond(&mut self, id: u8, answer: &[u8]) -> Option<(Vec<u8>, [u8; 16], Msk)> {
        let eap = r::eap_message_of(answer)?;
        let t = &self.challenge;
        let rand: [u8; 16] = eap.get(t.rand_at..t.rand_at + 16)?.try_into().ok()?;
        let autn = Autn(eap.get(t.autn_at..t.autn_at + 16)?.try_into().ok()?);
        let usim = self.hss.authenticate(&rand, &autn).ok()?;
        let (ckp, ikp) =
            keys::ck_ik_prime(&usim.ck, &usim.ik, NETWORK_NAME, &autn.sqn_xor_ak()).ok()?;
        let keys = keys::derive_aka_prime(IDENTITY, &ckp, &ikp);
        let (tpl, res_at, mac_at) = &self.response;
        let mut resp = tpl.clone();
        resp[1] = eap[1];
        resp.get_mut(*res_at..*res_at + 8)?
            .copy_from_slice(usim.res.as_bytes());
        eap::aka::mac::sign(&keys.k_aut, &mut resp, *mac_at, NO_EXTRA).ok()?;
        let state = value_at(answer, r::STATE)
            .and_then(|at| answer.get(at..at + usize::from(answer[at - 1]) - 2))?;
        let (p, auth) = self.request(id, &resp, Some(state));
        Some((p, auth, keys.msk))
    }
}

/// Whether `answer` (checked) is an Access-Accept with EAP-Success whose
/// MS-MPPE-Recv/Send-Key decrypt to the two halves of `msk`.
fn accepted(answer: &[u8], auth: &[u8; 16], msk: &Msk) -> bool {
    let Ok(resp) = r::check_response(answer, SECRET, auth, true) else {
        return false;
    };
    let m = msk.expose();
    resp.code == r::ACCESS_ACCEPT
        && r::eap_message_of(answer).is_some_and(|e| e.first() == Some(&3))
        && matches!(resp.mppe_keys(SECRET, auth),
            Ok((Some(recv), Some(send))) if recv == m[..32] && send == m[32..64])
}

/// Where one client slot is.
enum Slot {
    Idle,
    /// The first request is out.
    Identity {
        req: Vec<u8>,
        auth: [u8; 16],
        sent: Instant,
    },
    /// The second request is out.
    Response {
        req: Vec<u8>,
        auth: [u8; 16],
        sent: Instant,
        msk: Msk,
    },
}

/// What the client counted.
#[derive(Debug, Default, Clone, Copy)]
struct ClientCounts {
    successes: u64,
    failures: u64,
    retransmissions: u64,
}

/// One client group: `slots` authentications in flight on one socket until
/// `until`, then the ones in flight finish (at most [`RETRANSMIT`] × 3 more).
fn client(server: SocketAddr, slots: usize, until: Instant, seed: u64) -> io::Result<ClientCounts> {
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    enlarge_buffers(&socket);
    socket.set_read_timeout(Some(POLL))?;
    let mut peer = Peer::new(seed);
    let mut counts = ClientCounts::default();
    let mut slot: Vec<Slot> = (0..slots).map(|_| Slot::Idle).collect();
    let mut out: Vec<(Vec<u8>, SocketAddr)> = Vec::with_capacity(slots);
    let mut send = SendBatch::default();
    let mut batch = RecvBatch::new(BATCH);
    let start = |peer: &mut Peer, i: usize, out: &mut Vec<(Vec<u8>, SocketAddr)>| {
        let (req, auth) = peer.identity(i as u8);
        out.push((req.clone(), server));
        Slot::Identity {
            req,
            auth,
            sent: Instant::now(),
        }
    };
    for (i, s) in slot.iter_mut().enumerate() {
        *s = start(&mut peer, i, &mut out);
    }
    let give_up = until + RETRANSMIT * 3;
    let mut last_scan = Instant::now();
    loop {
        send.send(&socket, &out);
        out.clear();
        let now = Instant::now();
        if slot.iter().all(|s| matches!(s, Slot::Idle)) || now >= give_up {
            break;
        }
        let n = match batch.recv(&socket) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                0
            }
            Err(e) => return Err(e),
        };
        let now = Instant::now();
        for k in 0..n {
            let (_, d) = batch.get(k);
            let Some(i) = r::identifier(d).map(usize::from).filter(|i| *i < slots) else {
                continue;
            };
            let next = match std::mem::replace(&mut slot[i], Slot::Idle) {
                Slot::Identity { req, auth, sent } => {
                    let ok = r::check_response(d, SECRET, &auth, true)
                        .is_ok_and(|a| a.code == r::ACCESS_CHALLENGE);
                    match ok.then(|| peer.respond(i as u8, d)).flatten() {
                        Some((req, auth, msk)) => {
                            out.push((req.clone(), server));
                            Slot::Response {
                                req,
                                auth,
                                sent: now,
                                msk,
                            }
                        }
                        // A stale or broken answer: keep waiting.
                        None if !ok => Slot::Identity { req, auth, sent },
                        None => {
                            counts.failures += 1;
                            Slot::Idle
                        }
                    }
                }
                Slot::Response {
                    req,
                    auth,
                    sent,
                    msk,
                } => {
                    if r::check_response(d, SECRET, &auth, true).is_err() {
                        Slot::Response {
                            req,
                            auth,
                            sent,
                            msk,
                        }
                    } else {
                        if accepted(d, &auth, &msk) {
                            counts.successes += 1;
                        } else {
                            counts.failures += 1;
                        }
                        Slot::Idle
                    }
                }
                Slot::Idle => Slot::Idle,
            };
            slot[i] = match next {
                Slot::Idle if now < until => start(&mut peer, i, &mut out),
                s => s,
            };
        }
        // Retransmissions, looked for every POLL.
        if now.duration_since(last_scan) >= POLL {
            last_scan = now;
            for s in &mut slot {
                if let Slot::Identity { req, sent, .. } | Slot::Response { req, sent, .. } = s
                    && now.duration_since(*sent) >= RETRANSMIT
                {
                    *sent = now;
                    out.push((req.clone(), server));
                    counts.retransmissions += 1;
                }
            }
        }
    }
    counts.failures += slot.iter().filter(|s| !matches!(s, Slot::Idle)).count() as u64;
    Ok(counts)
}

// ---------------------------------------------------------------------------
// The measurement
// ---------------------------------------------------------------------------

/// What the null server thread did.
#[derive(Debug, Default, Clone, Copy)]
struct Served {
    counts: ServerCounts,
    user: Duration,
    kernel: Duration,
    recv_calls: u64,
    send_calls: u64,
    datagrams: u64,
}

/// The null server's loop on `socket` until `stop`; its own CPU from the
/// first instruction of the loop to the last.
fn serve(socket: &UdpSocket, stop: &AtomicBool) -> Served {
    let mut server = NullServer::new();
    let mut batch = RecvBatch::new(BATCH);
    let mut replies: Vec<(Vec<u8>, SocketAddr)> = (0..BATCH)
        .map(|_| {
            (
                Vec::with_capacity(512),
                SocketAddr::from(([127, 0, 0, 1], 0)),
            )
        })
        .collect();
    let mut send = SendBatch::default();
    let mut s = Served::default();
    let (u0, k0) = thread_cpu();
    while !stop.load(Ordering::Relaxed) {
        let Ok(n) = batch.recv(socket) else {
            continue;
        };
        s.recv_calls += 1;
        s.datagrams += n as u64;
        let mut k = 0;
        for i in 0..n {
            let (from, d) = batch.get(i);
            if server.handle(d, &mut replies[k].0).is_ok() {
                replies[k].1 = from;
                k += 1;
            }
        }
        if k > 0 {
            s.send_calls += send.send(socket, &replies[..k]).1;
        }
    }
    let (u1, k1) = thread_cpu();
    s.user = u1.saturating_sub(u0);
    s.kernel = k1.saturating_sub(k0);
    s.counts = server.counts;
    s
}

/// One concurrency level of the floor.
#[derive(Debug, Clone, Serialize)]
pub struct FloorPoint {
    /// Authentications in flight.
    pub concurrency: usize,
    /// Load time, seconds.
    pub seconds: f64,
    /// Access-Accepts the null server sent.
    pub auths: u64,
    /// auths / seconds.
    pub auths_per_sec: f64,
    /// Null server thread CPU (user + kernel) per authentication, µs.
    pub us_per_auth: f64,
    /// Its user time per authentication, µs.
    pub user_us_per_auth: f64,
    /// Its kernel time per authentication, µs (the UDP sends and receives).
    pub kernel_us_per_auth: f64,
    /// `recvmmsg` calls per authentication (4 datagrams in and out per
    /// authentication; fewer than 2 calls means batches of several).
    pub recvmmsg_per_auth: f64,
    /// `sendmmsg` calls per authentication.
    pub sendmmsg_per_auth: f64,
    /// Datagrams per `recvmmsg`.
    pub datagrams_per_recvmmsg: f64,
    /// Requests the null server dropped (expected 0).
    pub server_dropped: u64,
    /// Authentications the client saw succeed (answers checked, MS-MPPE
    /// keys equal to its MSK).
    pub client_successes: u64,
    /// Authentications that failed at the client (expected 0).
    pub client_failures: u64,
    /// Requests the client sent again after 1 s.
    pub client_retransmissions: u64,
}

/// Runs the null server and the client at `concurrency` for `duration`.
pub fn point(concurrency: usize, duration: Duration) -> Result<FloorPoint, String> {
    let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("floor: bind: {e}"))?;
    enlarge_buffers(&socket);
    socket
        .set_read_timeout(Some(POLL))
        .map_err(|e| format!("floor: {e}"))?;
    let addr = socket.local_addr().map_err(|e| format!("floor: {e}"))?;
    let stop = Arc::new(AtomicBool::new(false));
    let server = {
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("floor-server".into())
            .spawn(move || serve(&socket, &stop))
            .map_err(|e| format!("floor: spawn: {e}"))?
    };
    let groups = concurrency.div_ceil(GROUP).max(1);
    let t0 = Instant::now();
    let until = t0 + duration;
    let clients: Vec<_> = (0..groups)
        .map(|g| {
            // Spread evenly: 256 → 128 + 128.
            let n = concurrency / groups + usize::from(g < concurrency % groups);
            std::thread::Builder::new()
                .name(format!("floor-client-{g}"))
                .spawn(move || client(addr, n, until, 0x9e37_79b9_7f4a_7c15 ^ g as u64))
        })
        .collect();
    let mut c = ClientCounts::default();
    let mut err = None;
    for h in clients {
        match h.map_err(|e| e.to_string()).and_then(|h| {
            h.join()
                .map_err(|_| "client panicked".to_string())?
                .map_err(|e| e.to_string())
        }) {
            Ok(x) => {
                c.successes += x.successes;
                c.failures += x.failures;
                c.retransmissions += x.retransmissions;
            }
            Err(e) => err = Some(e),
        }
    }
    let seconds = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let s = server
        .join()
        .map_err(|_| "floor: the null server panicked".to_string())?;
    if let Some(e) = err {
        return Err(format!("floor client: {e}"));
    }
    let auths = s.counts.accepts;
    let per = |x: f64| if auths == 0 { 0.0 } else { x / auths as f64 };
    Ok(FloorPoint {
        concurrency,
        seconds,
        auths,
        auths_per_sec: auths as f64 / seconds.max(1e-9),
        us_per_auth: per((s.user + s.kernel).as_secs_f64() * 1e6),
        user_us_per_auth: per(s.user.as_secs_f64() * 1e6),
        kernel_us_per_auth: per(s.kernel.as_secs_f64() * 1e6),
        recvmmsg_per_auth: per(s.recv_calls as f64),
        sendmmsg_per_auth: per(s.send_calls as f64),
        datagrams_per_recvmmsg: if s.recv_calls == 0 {
            0.0
        } else {
            s.datagrams as f64 / s.recv_calls as f64
        },
        server_dropped: s.counts.dropped,
        client_successes: c.successes,
        client_failures: c.failures,
        client_retransmissions: c.retransmissions,
    })
}

/// The null server's work on the same packets without sockets.
#[derive(Debug, Clone, Serialize)]
pub struct CryptoAlone {
    /// Authentications of each loop (the least of [`CRYPTO_RUNS`] loops counts).
    pub auths: u64,
    /// The null server's whole per-authentication work (RADIUS checks and
    /// answers, MS-MPPE keys, EAP-AKA'), µs of thread CPU.
    pub us_per_auth: f64,
    /// Of which the EAP-AKA' crypto (Milenage, CK'/IK', PRF', both AT_MACs, RES), µs.
    pub eap_us_per_auth: f64,
    /// The rest: RADIUS (Message-Authenticators, Response Authenticators,
    /// MS-MPPE keys: MD5) and the packet handling around it, µs.
    pub radius_us_per_auth: f64,
}

fn cpu_since((u0, k0): (Duration, Duration)) -> Duration {
    let (u1, k1) = thread_cpu();
    u1.saturating_sub(u0) + k1.saturating_sub(k0)
}

/// [`CryptoAlone`] over `n` authentications, the least of [`CRYPTO_RUNS`]
/// runs. The client's packets are made once, outside the measured time:
/// [`CRYPTO_SET`] authentications (as many as the live floor has in flight
/// at c=256, so the working set is the same), replayed `n / CRYPTO_SET`
/// times into buffers touched beforehand (no page fault is measured).
pub fn crypto_alone(n: usize) -> Result<CryptoAlone, String> {
    let set = n.clamp(1, CRYPTO_SET);
    let rounds = n.div_ceil(set);
    let n = set * rounds;
    let fail = |e: Discard| format!("floor crypto loop: {e:?}");
    let mut peer = Peer::new(7);
    let reqs: Vec<Vec<u8>> = (0..set).map(|i| peer.identity(i as u8).0).collect();
    let mut challenges: Vec<Vec<u8>> = (0..set)
        .map(|_| {
            let mut v = vec![0u8; 1024];
            v.clear();
            v
        })
        .collect();
    let mut server = NullServer::new();
    for (req, out) in reqs.iter().zip(challenges.iter_mut()) {
        server.handle(req, out).map_err(fail)?;
    }
    // RAND and SQN follow the session tag: with the tags counted from 0
    // again, the server makes the same challenges and these responses
    // answer them.
    let responses: Vec<Vec<u8>> = challenges
        .iter()
        .enumerate()
        .map(|(i, c)| peer.respond(i as u8, c).map(|(p, _, _)| p))
        .collect::<Option<_>>()
        .ok_or("floor crypto loop: a challenge the peer rejects")?;
    let spans: Vec<(usize, usize)> = responses
        .iter()
        .map(|p| value_at(p, r::EAP_MESSAGE).map(|at| (at, at + usize::from(p[at - 1]) - 2)))
        .collect::<Option<_>>()
        .ok_or("floor crypto loop: no EAP-Message")?;
    let mut out = vec![0u8; BUF];
    out.clear();
    let (mut total, mut eap) = (Duration::MAX, Duration::MAX);
    for _ in 0..CRYPTO_RUNS {
        let t = thread_cpu();
        for _ in 0..rounds {
            server.next = 0;
            for (req, out) in reqs.iter().zip(challenges.iter_mut()) {
                server.handle(req, out).map_err(fail)?;
            }
            for req in &responses {
                server.handle(req, &mut out).map_err(fail)?;
            }
        }
        total = total.min(cpu_since(t));
        // The EAP-AKA' part alone, on the same sessions and responses.
        let t = thread_cpu();
        for _ in 0..rounds {
            for (i, (req, (e0, e1))) in responses.iter().zip(&spans).enumerate() {
                let session = server.challenge_into(i as u32, 1, IDENTITY, &mut out);
                check_response_eap(&session, &req[*e0..*e1]).map_err(fail)?;
            }
        }
        eap = eap.min(cpu_since(t));
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    Ok(CryptoAlone {
        auths: n as u64,
        us_per_auth: per(total),
        eap_us_per_auth: per(eap),
        radius_us_per_auth: per(total.saturating_sub(eap)),
    })
}

/// The sizes of one authentication's datagrams the floor sends and receives.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Sizes {
    /// Access-Request with EAP-Response/Identity, bytes.
    pub access_request_identity: usize,
    /// Access-Challenge with the AKA'-Challenge, bytes.
    pub access_challenge: usize,
    /// Access-Request with the AKA'-Challenge response, bytes.
    pub access_request_challenge: usize,
    /// Access-Accept, bytes.
    pub access_accept: usize,
}

/// The `"floor"` object of bench.json.
#[derive(Debug, Clone, Serialize)]
pub struct FloorReport {
    /// What the floor is (one line).
    pub what: &'static str,
    /// Datagram sizes (those of a real aaa-server run).
    pub sizes: Sizes,
    /// The same work without sockets.
    pub crypto: CryptoAlone,
    /// Per concurrency.
    pub points: Vec<FloorPoint>,
}

/// The floor at one concurrency, next to a measured server figure (the
/// targets table's CPU line).
#[derive(Debug, Clone, Serialize)]
pub struct FloorAt {
    /// The concurrency of the floor point.
    pub concurrency: usize,
    /// Null server CPU per authentication, µs.
    pub us_per_auth: f64,
    /// Its kernel part, µs.
    pub kernel_us_per_auth: f64,
    /// Its user part, µs.
    pub user_us_per_auth: f64,
    /// The same work without sockets, µs.
    pub crypto_us_per_auth: f64,
    /// The measured server's µs over the floor's.
    pub server_over_floor: Option<f64>,
}

/// One-line description for the JSON.
pub const WHAT: &str = "a null RADIUS server thread (aaa-server's socket pattern: one UDP \
    socket, recvmmsg/sendmmsg) doing only what every EAP-AKA' server must: Message-Authenticator \
    check, Milenage, CK'/IK', PRF', AT_MAC out and in, RES, Response Authenticator and \
    Message-Authenticator of each answer, MS-MPPE keys; its own CPU (getrusage RUSAGE_THREAD) \
    per Access-Accept; crypto = the same work in a loop without sockets";

impl FloorReport {
    /// The point at `concurrency`, or the nearest one.
    pub fn at(&self, concurrency: usize, server_us: f64) -> Option<FloorAt> {
        let p = self
            .points
            .iter()
            .min_by_key(|p| p.concurrency.abs_diff(concurrency))?;
        Some(FloorAt {
            concurrency: p.concurrency,
            us_per_auth: p.us_per_auth,
            kernel_us_per_auth: p.kernel_us_per_auth,
            user_us_per_auth: p.user_us_per_auth,
            crypto_us_per_auth: self.crypto.us_per_auth,
            server_over_floor: (p.us_per_auth > 0.0).then(|| server_us / p.us_per_auth),
        })
    }
}

/// The floor's concurrency levels: the sweep's, and 1 and 256.
pub fn levels(sweep: &[usize]) -> Vec<usize> {
    let mut l: Vec<usize> = sweep.iter().copied().chain([1, 256]).collect();
    l.sort_unstable();
    l.dedup();
    l
}

/// Measures the floor at each level of `concurrency`, `duration` each.
pub fn measure(concurrency: &[usize], duration: Duration) -> Result<FloorReport, String> {
    let crypto = crypto_alone(CRYPTO_LOOP)?;
    eprintln!(
        "  floor      crypto alone {:.2} µs/auth (EAP-AKA' {:.2}, RADIUS {:.2})",
        crypto.us_per_auth, crypto.eap_us_per_auth, crypto.radius_us_per_auth
    );
    let mut points = Vec::new();
    for &c in concurrency {
        let p = point(c, duration)?;
        eprintln!(
            "  floor      null server c={:<4} {:>9.1} auth/s  CPU {:.2} µs/auth (user {:.2}, kernel {:.2})  recvmmsg {:.2}/auth  sendmmsg {:.2}/auth  dropped {}  client failures {}",
            c,
            p.auths_per_sec,
            p.us_per_auth,
            p.user_us_per_auth,
            p.kernel_us_per_auth,
            p.recvmmsg_per_auth,
            p.sendmmsg_per_auth,
            p.server_dropped,
            p.client_failures
        );
        points.push(p);
    }
    Ok(FloorReport {
        what: WHAT,
        sizes: template_sizes(),
        crypto,
        points,
    })
}

/// The sizes the floor's templates have.
fn template_sizes() -> Sizes {
    let mut peer = Peer::new(1);
    let mut server = NullServer::new();
    let (req1, _) = peer.identity(0);
    let mut challenge = Vec::new();
    let mut accept = Vec::new();
    let req2 = server
        .handle(&req1, &mut challenge)
        .ok()
        .and_then(|()| peer.respond(0, &challenge))
        .map(|(p, _, _)| p)
        .unwrap_or_default();
    let _ = server.handle(&req2, &mut accept);
    Sizes {
        access_request_identity: req1.len(),
        access_challenge: challenge.len(),
        access_request_challenge: req2.len(),
        access_accept: accept.len(),
    }
}

/// The floor as text: one row per concurrency.
pub fn table(f: &FloorReport) -> String {
    let mut s = format!(
        "floor: a null RADIUS server doing only the unavoidable work (crypto alone {:.2} µs/auth: EAP-AKA' {:.2}, RADIUS {:.2})\n",
        f.crypto.us_per_auth, f.crypto.eap_us_per_auth, f.crypto.radius_us_per_auth
    );
    s.push_str(&format!(
        "{:>5} | {:>10} | {:>9} {:>9} {:>9} | {:>9} {:>9}\n",
        "conc", "auths/s", "CPU µs", "user", "kernel", "recvmmsg", "sendmmsg"
    ));
    for p in &f.points {
        s.push_str(&format!(
            "{:>5} | {:>10.1} | {:>9.2} {:>9.2} {:>9.2} | {:>9.2} {:>9.2}\n",
            p.concurrency,
            p.auths_per_sec,
            p.us_per_auth,
            p.user_us_per_auth,
            p.kernel_us_per_auth,
            p.recvmmsg_per_auth,
            p.sendmmsg_per_auth
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_templates_have_the_sizes_of_a_real_run() {
        let s = template_sizes();
        assert_eq!(s.access_request_identity, ACCESS_REQUEST_IDENTITY);
        assert_eq!(s.access_challenge, ACCESS_CHALLENGE);
        assert_eq!(s.access_request_challenge, ACCESS_REQUEST_CHALLENGE);
        assert_eq!(s.access_accept, ACCESS_ACCEPT);
    }

    #[test]
    fn an_authentication_passes_the_peers_checks_and_a_bad_one_is_dropped() {
        let mut peer = Peer::new(3);
        let mut server = NullServer::new();
        let (req1, auth1) = peer.identity(9);
        let mut challenge = Vec::new();
        server.handle(&req1, &mut challenge).unwrap();
        let c = r::check_response(&challenge, SECRET, &auth1, true).unwrap();
        assert_eq!((c.code, c.identifier), (r::ACCESS_CHALLENGE, 9));
        // The peer's USIM accepts AUTN and its K_aut verifies the AT_MAC.
        let (req2, auth2, msk) = peer.respond(9, &challenge).unwrap();
        let mut accept = Vec::new();
        server.handle(&req2, &mut accept).unwrap();
        assert!(accepted(&accept, &auth2, &msk));
        assert_eq!(
            server.counts,
            ServerCounts {
                challenges: 1,
                accepts: 1,
                dropped: 0
            }
        );
        // The session is gone after the Accept.
        assert_eq!(
            server.handle(&req2, &mut accept),
            Err(Discard::UnknownState)
        );
        // A wrong RES: AT_MAC signed by the peer, RES changed before signing.
        let (req1, _) = peer.identity(10);
        server.handle(&req1, &mut challenge).unwrap();
        let eap = r::eap_message_of(&challenge).unwrap();
        let (tpl, res_at, mac_at) = response_eap();
        let t = challenge_eap();
        let rand: [u8; 16] = eap[t.rand_at..t.rand_at + 16].try_into().unwrap();
        let autn = Autn(eap[t.autn_at..t.autn_at + 16].try_into().unwrap());
        let usim = subscriber().authenticate(&rand, &autn).unwrap();
        let (ckp, ikp) =
            keys::ck_ik_prime(&usim.ck, &usim.ik, NETWORK_NAME, &autn.sqn_xor_ak()).unwrap();
        let k = keys::derive_aka_prime(IDENTITY, &ckp, &ikp);
        let mut resp = tpl.clone();
        resp[1] = eap[1];
        resp[res_at..res_at + 8].copy_from_slice(&[0; 8]);
        eap::aka::mac::sign(&k.k_aut, &mut resp, mac_at, NO_EXTRA).unwrap();
        let at = value_at(&challenge, r::STATE).unwrap();
        let state = challenge[at..at + STATE_LEN].to_vec();
        let (bad_res, _) = peer.request(10, &resp, Some(&state));
        assert_eq!(
            server.handle(&bad_res, &mut accept),
            Err(Discard::ResMismatch)
        );
        // A wrong AT_MAC (RADIUS-valid packet).
        server.handle(&req1, &mut challenge).unwrap();
        let at = value_at(&challenge, r::STATE).unwrap();
        let state = challenge[at..at + STATE_LEN].to_vec();
        let (bad_mac, _) = peer.request(10, &tpl, Some(&state));
        assert_eq!(server.handle(&bad_mac, &mut accept), Err(Discard::BadAtMac));
        // A request under another secret.
        let mut forged = req1.clone();
        forged[30] ^= 1;
        assert_eq!(
            server.handle(&forged, &mut accept),
            Err(Discard::BadMessageAuthenticator)
        );
        assert_eq!(
            server.handle(&[1, 2, 3], &mut accept),
            Err(Discard::Malformed)
        );
        assert_eq!(server.counts.dropped, 5);
    }

    #[test]
    fn mppe_into_matches_the_nas_decryption() {
        let key = [0x42u8; 32];
        let ra = [5u8; 16];
        let mut out = [0u8; 50];
        mppe_into(&mut out, [0x81, 0x02], &key, &ra);
        assert_eq!(r::decrypt_mppe_key(&out, SECRET, &ra).unwrap(), key);
    }

    #[test]
    fn the_crypto_loop_runs_the_same_work() {
        assert_eq!(crypto_alone(600).unwrap().auths, 768, "3 × 256");
        let c = crypto_alone(200).unwrap();
        assert_eq!(c.auths, 200);
        assert!(c.us_per_auth >= c.eap_us_per_auth, "{c:?}");
        assert!(
            (c.eap_us_per_auth + c.radius_us_per_auth - c.us_per_auth).abs() < 1e-6,
            "{c:?}"
        );
    }

    #[test]
    fn a_short_point_authenticates_over_udp_and_splits_its_cpu() {
        let p = point(4, Duration::from_millis(200)).unwrap();
        assert!(p.auths > 0, "{p:?}");
        assert_eq!(p.client_successes, p.auths, "{p:?}");
        assert_eq!((p.client_failures, p.server_dropped), (0, 0), "{p:?}");
        assert!(
            (p.user_us_per_auth + p.kernel_us_per_auth - p.us_per_auth).abs() < 1e-6,
            "{p:?}"
        );
        assert!(
            p.recvmmsg_per_auth > 0.0 && p.sendmmsg_per_auth > 0.0,
            "{p:?}"
        );
        let f = FloorReport {
            what: WHAT,
            sizes: template_sizes(),
            crypto: crypto_alone(10).unwrap(),
            points: vec![p],
        };
        let at = f.at(256, 40.0).unwrap();
        assert_eq!(at.concurrency, 4);
        assert!(table(&f).contains("floor:"));
        assert_eq!(levels(&[64, 1]), vec![1, 64, 256]);
    }

    #[test]
    fn the_cpu_target_line_names_the_floor_at_the_servers_concurrency() {
        use super::super::targets::{self, Targets};
        use super::super::{ServerKind, test_point};
        use crate::loadgen::MethodArg;
        let point = |c: usize, us: f64| FloorPoint {
            concurrency: c,
            seconds: 1.0,
            auths: 1000,
            auths_per_sec: 1000.0,
            us_per_auth: us,
            user_us_per_auth: us / 2.0,
            kernel_us_per_auth: us / 2.0,
            recvmmsg_per_auth: 0.1,
            sendmmsg_per_auth: 0.1,
            datagrams_per_recvmmsg: 20.0,
            server_dropped: 0,
            client_successes: 1000,
            client_failures: 0,
            client_retransmissions: 0,
        };
        let f = FloorReport {
            what: WHAT,
            sizes: template_sizes(),
            crypto: CryptoAlone {
                auths: 1,
                us_per_auth: 8.0,
                eap_us_per_auth: 3.0,
                radius_us_per_auth: 5.0,
            },
            points: vec![point(1, 25.0), point(64, 20.0), point(256, 16.0)],
        };
        // aaa-server's best AKA' point: 25 000/s at c=64, 40 µs.
        let sweep = [
            test_point(ServerKind::AaaServer, MethodArg::AkaPrime, 1, 5_000.0),
            test_point(ServerKind::AaaServer, MethodArg::AkaPrime, 64, 25_000.0),
        ];
        let mut c = targets::cpu_per_auth(&sweep, &[]).unwrap();
        assert!(c.floor.is_none());
        c.floor = f.at(c.concurrency, c.verdict.measured);
        let at = c.floor.as_ref().unwrap();
        assert_eq!((at.concurrency, at.us_per_auth), (64, 20.0));
        assert_eq!(at.server_over_floor, Some(2.0));
        let text = targets::table(&Targets {
            server_cpu_per_auth_aka_prime: Some(c.clone()),
            ..Default::default()
        });
        assert!(
            text.contains(
                "floor on this machine 20.0 µs (kernel 10.0, user 10.0; crypto alone 8.0) at c=64: ours/floor 2.0x"
            ),
            "{text}"
        );
        let j = serde_json::to_value(&c).unwrap();
        assert_eq!(j["floor"]["us_per_auth"], 20.0);
        assert_eq!(j["floor"]["crypto_us_per_auth"], 8.0);
    }
}
