//! `aaa-server serve` over real UDP sockets with bad input: nothing crashes,
//! bad datagrams get no answer, and the next good request is answered.

mod common;

use common::{SECRET, Server, sign_ma_last, vector_subscriber};
use eap::umts::Sqn;
use radius::core::avp::AVP;
use radius::core::code::Code;
use radius::core::packet::Packet;
use radius::core::{rfc2865, rfc2866, rfc2869};
use std::net::UdpSocket;
use std::time::Duration;

fn access_request(id: u8, secret: &[u8], eap: &[u8], ma: bool) -> Vec<u8> {
    let mut p = Packet::new_with_identifier(Code::AccessRequest, secret, id);
    rfc2865::add_user_name(&mut p, "user");
    rfc2869::add_eap_message(&mut p, eap);
    if ma {
        p.add(AVP::from_bytes(80, &[0; 16]));
        sign_ma_last(p.encode().unwrap(), secret)
    } else {
        p.encode().unwrap()
    }
}

fn identity(nai: &str) -> Vec<u8> {
    let mut e = vec![2, 1, 0, 0, 1];
    e.extend_from_slice(nai.as_bytes());
    let l = e.len() as u16;
    e[2..4].copy_from_slice(&l.to_be_bytes());
    e
}

fn exchange(sock: &UdpSocket, to: std::net::SocketAddr, req: &[u8]) -> Option<Vec<u8>> {
    sock.send_to(req, to).unwrap();
    let mut buf = [0u8; 4096];
    match sock.recv_from(&mut buf) {
        Ok((n, _)) => Some(buf[..n].to_vec()),
        Err(_) => None,
    }
}

#[test]
fn bad_datagrams_get_no_answer_and_the_server_keeps_serving() {
    let (imsi, k, opc) = vector_subscriber(0);
    let server = Server::start("\"aka-prime\"", &[(imsi.clone(), k, opc, Sqn::default())]);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let eap = identity(&format!("6{imsi}@wlan.mnc001.mcc001.3gppnetwork.org"));

    assert_eq!(
        exchange(
            &sock,
            server.auth,
            &access_request(1, SECRET.as_bytes(), &eap, false)
        ),
        None,
        "no Message-Authenticator"
    );
    assert_eq!(
        exchange(
            &sock,
            server.auth,
            &access_request(2, b"wrong secret", &eap, true)
        ),
        None,
        "wrong secret"
    );
    let good = access_request(3, SECRET.as_bytes(), &eap, true);
    for cut in [0, 1, 4, 19, 20, good.len() - 1] {
        assert_eq!(
            exchange(&sock, server.auth, &good[..cut]),
            None,
            "truncated to {cut}"
        );
    }
    let mut x = 0x9e37_79b9u32;
    for len in [20usize, 21, 60, 300, 4096] {
        let junk: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        assert_eq!(exchange(&sock, server.auth, &junk), None, "random {len}");
    }

    let resp = exchange(&sock, server.auth, &good).expect("good request answered");
    assert_eq!(resp[0], 11, "Access-Challenge");
    assert_eq!(resp[20], 80, "Message-Authenticator first");

    // An EAP-Message that does not parse: EAP-Failure in Access-Reject.
    let bad_eap = access_request(4, SECRET.as_bytes(), &[2, 9, 0, 6, 50, 1], true);
    let resp = exchange(&sock, server.auth, &bad_eap).expect("answered");
    let p = Packet::decode(&resp, SECRET.as_bytes()).unwrap();
    assert_eq!(p.get_code(), Code::AccessReject);
    assert_eq!(rfc2869::lookup_eap_message(&p).unwrap(), vec![4, 9, 0, 4]);

    // Status-Server (RFC 5997) on the auth port.
    let mut ss = Packet::new_with_identifier(Code::StatusServer, SECRET.as_bytes(), 5);
    ss.add(AVP::from_bytes(80, &[0; 16]));
    let ss = sign_ma_last(ss.encode().unwrap(), SECRET.as_bytes());
    assert_eq!(
        exchange(&sock, server.auth, &ss).expect("Status-Server answered")[0],
        2
    );

    // Accounting on the accounting port.
    let mut acct = Packet::new_with_identifier(Code::AccountingRequest, SECRET.as_bytes(), 6);
    rfc2866::add_acct_status_type(&mut acct, 1);
    rfc2866::add_acct_session_id(&mut acct, "s1");
    let acct = acct.encode().unwrap();
    assert_eq!(
        exchange(&sock, server.acct, &acct).expect("Accounting-Response")[0],
        5
    );

    // A 4096-byte Access-Request (EAP-Message split over many attributes) is read whole.
    let big_eap = {
        let mut e = identity(&format!("6{imsi}@{}", "r".repeat(3800)));
        e.truncate(3900);
        let l = e.len() as u16;
        e[2..4].copy_from_slice(&l.to_be_bytes());
        e
    };
    let big = access_request(7, SECRET.as_bytes(), &big_eap, true);
    assert!(big.len() > 1500, "{}", big.len());
    assert!(
        exchange(&sock, server.auth, &big).is_some(),
        "large request answered"
    );

    assert!(server.stop().success());
}

/// RFC 5080 §2.2.2 through the batched socket path: the same Access-Request
/// sent ten times back to back (several land in one `recvmmsg` batch) is
/// processed once. Copies that arrive while the original waits for the store
/// (the subscriber's first vector commits an SQN range) are dropped — the
/// original's answer, with the same Identifier, answers them too — and
/// later copies get the cached bytes: every answer a NAS sees is
/// byte-identical. Three NAS sockets sending at once each get their own
/// answers (one `sendmmsg` to several destinations).
#[test]
fn retransmissions_in_one_batch_get_identical_answers() {
    let (imsi, k, opc) = vector_subscriber(0);
    let server = Server::start("\"aka-prime\"", &[(imsi.clone(), k, opc, Sqn::default())]);
    let eap = identity(&format!("6{imsi}@wlan.mnc001.mcc001.3gppnetwork.org"));
    let nas: Vec<UdpSocket> = (0..3)
        .map(|_| {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s
        })
        .collect();
    let reqs: Vec<Vec<u8>> = (0..3u8)
        .map(|i| access_request(10 + i, SECRET.as_bytes(), &eap, true))
        .collect();
    for _ in 0..10 {
        for (s, r) in nas.iter().zip(&reqs) {
            s.send_to(r, server.auth).unwrap();
        }
    }
    let mut buf = [0u8; 4096];
    for (i, s) in nas.iter().enumerate() {
        let mut answers = Vec::new();
        let (n, _) = s.recv_from(&mut buf).expect("answered");
        answers.push(buf[..n].to_vec());
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        while let Ok((n, _)) = s.recv_from(&mut buf) {
            answers.push(buf[..n].to_vec());
        }
        assert!(answers.len() <= 10, "NAS {i}: at most one answer per copy");
        assert_eq!(answers[0][0], 11, "Access-Challenge");
        assert_eq!(answers[0][1], 10 + i as u8, "its own Identifier");
        assert!(
            answers.iter().all(|a| *a == answers[0]),
            "NAS {i}: retransmissions answered with the same bytes"
        );
    }
    assert!(server.stop().success());
}
