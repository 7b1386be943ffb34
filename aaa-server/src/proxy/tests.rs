use super::*;
use crate::radius::crypto::{MaCheck, check_request, check_response, finish_response};
use std::path::Path;
use std::time::Duration;

fn cfg(realms: &str) -> crate::config::Config {
    let dir = std::env::temp_dir();
    let text = format!(
        "[[client]]\nnetwork = \"127.0.0.1/32\"\nsecret = \"nas\"\n[hss]\ndatabase = \"{}/x.db\"\n{realms}",
        dir.display()
    );
    crate::config::Config::parse(&text, Path::new("aaa.toml")).unwrap()
}

fn parse_err(realms: &str) -> crate::config::ConfigError {
    let text = format!(
        "[[client]]\nnetwork = \"127.0.0.1/32\"\nsecret = \"nas\"\n[hss]\ndatabase = \"/tmp/x.db\"\n{realms}"
    );
    crate::config::Config::parse(&text, Path::new("aaa.toml")).unwrap_err()
}

const TABLE: &str = r#"
[[realm]]
name = "wlan.mnc001.mcc001.3gppnetwork.org"
action = "local"
[[realm]]
name = "*.partner.example"
action = "proxy"
servers = ["udp://127.0.0.1:1812", "udp://127.0.0.1:11812"]
secret = "home"
[[realm]]
name = "*.eu.partner.example"
action = "reject"
[[realm]]
name = "~^(foo|bar)\\.test$"
action = "reject"
[[realm]]
name = "*"
action = "reject"
[proxy]
operator_name = "1visited.example"
timeout = 1
retries = 0
dead_time = 5
"#;

#[test]
fn no_table_means_everything_local() {
    let c = cfg("");
    assert!(c.proxy.realms.is_empty());
    assert_eq!(c.proxy.settings, ProxySettings::default());
}

#[test]
fn longest_match_wins() {
    let p = Proxy::new(&cfg(TABLE).proxy);
    let r = |u: &str| p.route(Some(u.as_bytes()));
    assert_eq!(r("0001@wlan.mnc001.mcc001.3gppnetwork.org"), Route::Local);
    assert_eq!(r("6001@WLAN.mnc001.mcc001.3GPPnetwork.org"), Route::Local);
    assert_eq!(r("a@x.partner.example"), Route::Proxy(1));
    assert_eq!(r("a@deep.x.partner.example"), Route::Proxy(1));
    assert_eq!(r("a@x.eu.partner.example"), Route::Reject, "longer suffix");
    assert_eq!(
        r("a@partner.example"),
        Route::Reject,
        "suffix needs a label"
    );
    assert_eq!(r("a@FOO.test"), Route::Reject);
    assert_eq!(r("a@elsewhere.example"), Route::Reject, "*");
    assert_eq!(r("no-realm"), Route::Local);
    assert_eq!(p.route(None), Route::Local);
    // RFC 7542: the realm follows the last '@'.
    assert_eq!(r("x@y@z.partner.example"), Route::Proxy(1));
    let s = &p.settings;
    assert_eq!(s.operator_name.as_deref(), Some("1visited.example"));
    assert_eq!(
        (s.timeout, s.retries, s.dead_time),
        (Duration::from_secs(1), 0, Duration::from_secs(5))
    );
}

#[test]
fn unmatched_realm_is_local_without_star() {
    let p = Proxy::new(&cfg("[[realm]]\nname = \"home.example\"\naction = \"reject\"\n").proxy);
    assert_eq!(p.route(Some(b"a@other.example")), Route::Local);
    assert_eq!(p.route(Some(b"a@home.example")), Route::Reject);
    assert_eq!(p.counters().rejected_by_realm, 1);
}

#[test]
fn config_errors_name_the_key() {
    let cases = [
        (
            "[[realm]]\nname = \"a b\"\naction = \"local\"\n",
            "realm[0].name",
        ),
        (
            "[[realm]]\nname = \"~(\"\naction = \"local\"\n",
            "realm[0].name",
        ),
        (
            "[[realm]]\nname = \"x\"\naction = \"discover\"\n",
            "realm[0].action",
        ),
        (
            "[[realm]]\nname = \"x\"\naction = \"proxy\"\nsecret = \"s\"\n",
            "realm[0].servers",
        ),
        (
            "[[realm]]\nname = \"x\"\naction = \"proxy\"\nservers = [\"udp://127.0.0.1:1\"]\n",
            "realm[0].secret",
        ),
        (
            "[[realm]]\nname = \"x\"\naction = \"proxy\"\nservers = [\"radsec://h:2083\"]\nsecret = \"s\"\n",
            "realm[0].servers",
        ),
        (
            "[[realm]]\nname = \"x\"\naction = \"proxy\"\nservers = [\"h:1812\"]\nsecret = \"s\"\n",
            "realm[0].servers",
        ),
        (
            "[[realm]]\nname = \"x\"\naction = \"local\"\nservers = [\"udp://127.0.0.1:1\"]\n",
            "realm[0].servers",
        ),
        (
            "[[realm]]\nname = \"x\"\naction = \"discover\"\nsecret = \"s\"\n",
            "realm[0].secret",
        ),
        (
            "[[realm]]\nname = \"x\"\naction = \"discover\"\nservers = [\"udp://127.0.0.1:1\"]\n",
            "realm[0].servers",
        ),
        ("[dns]\nservers = [\"127.0.0.1\"]\n", "dns.servers"),
        ("[dns]\nservers = []\n", "dns.servers"),
        ("[proxy]\ntimeout = 0\n", "proxy.timeout"),
        (
            "[proxy]\noperator_name = \"example\"\n",
            "proxy.operator_name",
        ),
    ];
    for (text, key) in cases {
        let e = parse_err(text);
        assert_eq!(e.key, key, "{text}: {e:?}");
        assert!(e.line > 0, "{text}: {e:?}");
    }
}

/// An Access-Request from the NAS: User-Name, EAP-Message, two Proxy-State,
/// a CUI request, Message-Authenticator last, signed with "nas".
fn nas_request() -> Vec<u8> {
    let mut p = vec![1, 42, 0, 0];
    p.extend_from_slice(&[9; 16]);
    let mut add = |t: u8, v: &[u8]| {
        p.push(t);
        p.push(v.len() as u8 + 2);
        p.extend_from_slice(v);
    };
    add(1, b"user@x.partner.example");
    add(79, &[2, 1, 0, 5, 1]);
    add(33, b"nas-ps-1");
    add(89, &[0]);
    add(33, b"nas-ps-2");
    add(80, &[0; 16]);
    let l = p.len() as u16;
    p[2..4].copy_from_slice(&l.to_be_bytes());
    use hmac::Mac;
    let mut m = crypto::hmac_md5(b"nas");
    m.update(&p);
    let v = m.finalize().into_bytes();
    let n = p.len();
    p[n - 16..].copy_from_slice(&v);
    p
}

#[test]
fn request_to_home_keeps_attributes_adds_ours_and_is_signed() {
    let raw = nas_request();
    let req = wire::Request::new_checked(&raw).unwrap();
    let f = Forward::new(&req, 1, Some("1visited.example"), *b"ourstate").unwrap();
    let out = f.request(7, &[5; 16], b"home");
    let view = wire::Request::new_checked(&out).unwrap();
    assert_eq!((view.code(), view.identifier()), (Code::AccessRequest, 7));
    assert_eq!(view.authenticator(), [5; 16]);
    assert_eq!(check_request(&out, b"home", false), MaCheck::Valid);
    assert_eq!(check_request(&out, b"nas", false), MaCheck::Invalid);
    let ps: Vec<&[u8]> = view.all(PROXY_STATE).collect();
    assert_eq!(
        ps,
        [&b"nas-ps-1"[..], b"nas-ps-2", b"ourstate"],
        "NAS Proxy-State kept in order, ours last"
    );
    assert_eq!(view.first(OPERATOR_NAME), Some(&b"1visited.example"[..]));
    assert_eq!(view.first(89), Some(&[0u8][..]), "CUI passed through");
    assert_eq!(view.eap_message().unwrap().as_ref(), &[2, 1, 0, 5, 1]);
    assert_eq!(view.all(crypto::MESSAGE_AUTHENTICATOR).count(), 1);
    assert_eq!(f.realm_name, "x.partner.example");

    // An Operator-Name from the NAS is kept, not doubled.
    let mut with_op = raw.clone();
    with_op.truncate(20);
    with_op.extend_from_slice(&[126, 5, b'1', b'a', b'b']);
    let l = with_op.len() as u16;
    with_op[2..4].copy_from_slice(&l.to_be_bytes());
    let req = wire::Request::new_checked(&with_op).unwrap();
    let f2 = Forward::new(&req, 1, Some("1visited.example"), [0; 8]).unwrap();
    let out = f2.request(1, &[0; 16], b"home");
    let v = wire::Request::new_checked(&out).unwrap();
    assert_eq!(v.all(OPERATOR_NAME).collect::<Vec<_>>(), [b"1ab"]);

    // PAP is not forwarded.
    let mut pap = raw[..20].to_vec();
    pap.extend_from_slice(&[2, 18]);
    pap.extend_from_slice(&[0; 16]);
    let l = pap.len() as u16;
    pap[2..4].copy_from_slice(&l.to_be_bytes());
    let req = wire::Request::new_checked(&pap).unwrap();
    assert_eq!(
        Forward::new(&req, 1, None, [0; 8]).unwrap_err(),
        ProxyError::UserPassword
    );
}

/// The home server's Access-Accept to `out` (our request).
fn home_accept(out: &[u8], msk: &[u8; 64], proxy_states: &[&[u8]]) -> Vec<u8> {
    let view = wire::Request::new_checked(out).unwrap();
    let auth = view.authenticator();
    let mut r = wire::Response::new(Code::AccessAccept, view.identifier());
    r.attr(79, &[3, 1, 0, 4]).attr(89, b"cui-value");
    r.attr(
        crypto::VENDOR_SPECIFIC,
        &crypto::mppe_key_vsa(crypto::MS_MPPE_RECV_KEY, &msk[..32], b"home", &auth, [1, 2]),
    );
    r.attr(
        crypto::VENDOR_SPECIFIC,
        &crypto::mppe_key_vsa(crypto::MS_MPPE_SEND_KEY, &msk[32..], b"home", &auth, [3, 4]),
    );
    for ps in proxy_states {
        r.attr(PROXY_STATE, ps);
    }
    let mut b = r.into_bytes().unwrap();
    assert!(finish_response(&mut b, &auth, b"home"));
    b
}

#[test]
fn answer_is_checked_and_rewritten_for_the_nas() {
    let raw = nas_request();
    let req = wire::Request::new_checked(&raw).unwrap();
    let f = Forward::new(&req, 1, None, *b"ourstate").unwrap();
    let out = f.request(7, &[5; 16], b"home");
    let mut msk = [0u8; 64];
    for (i, b) in msk.iter_mut().enumerate() {
        *b = i as u8;
    }
    let ans = home_accept(&out, &msk, &[b"nas-ps-1", b"nas-ps-2", b"ourstate"]);
    let nas_auth = [9u8; 16];
    let Ok(resp) = f.answer(&ans, 7, &[5; 16], b"home", 42, b"nas", &nas_auth) else {
        panic!("answer refused");
    };
    // What RadiusServer::finish does: the NAS's Proxy-State, then sign.
    let mut r = resp;
    r.attr(PROXY_STATE, b"nas-ps-1")
        .attr(PROXY_STATE, b"nas-ps-2");
    let mut b = r.into_bytes().unwrap();
    assert!(finish_response(&mut b, &nas_auth, b"nas"));
    assert!(check_response(&b, &nas_auth, b"nas"));
    let v = wire::Request::new_checked(&b).unwrap();
    assert_eq!((v.code(), v.identifier()), (Code::AccessAccept, 42));
    assert_eq!(
        v.all(PROXY_STATE).collect::<Vec<_>>(),
        [&b"nas-ps-1"[..], b"nas-ps-2"]
    );
    assert_eq!(v.first(89), Some(&b"cui-value"[..]));
    assert_eq!(v.eap_message().unwrap().as_ref(), &[3, 1, 0, 4]);
    let keys: Vec<Vec<u8>> = v
        .all(crypto::VENDOR_SPECIFIC)
        .map(|vsa| crypto::mppe_key_decrypt(vsa, b"nas", &nas_auth).unwrap())
        .collect();
    assert_eq!(keys, [msk[..32].to_vec(), msk[32..].to_vec()]);
    let salts: Vec<&[u8]> = v.all(crypto::VENDOR_SPECIFIC).map(|x| &x[6..8]).collect();
    assert_ne!(salts[0], salts[1]);

    // Wrong secret, identifier, authenticator, missing Proxy-State.
    let e = |d: &[u8], id: u8, a: [u8; 16], s: &[u8]| match f
        .answer(d, id, &a, s, 42, b"nas", &nas_auth)
    {
        Err(e) => e,
        Ok(_) => panic!("accepted"),
    };
    assert_eq!(e(&ans, 7, [5; 16], b"other"), AnswerError::BadAuthenticator);
    assert_eq!(e(&ans, 8, [5; 16], b"home"), AnswerError::Identifier);
    assert_eq!(e(&ans, 7, [6; 16], b"home"), AnswerError::BadAuthenticator);
    assert_eq!(e(&ans[..10], 7, [5; 16], b"home"), AnswerError::Malformed);
    let no_ps = home_accept(&out, &msk, &[b"nas-ps-1"]);
    assert_eq!(
        e(&no_ps, 7, [5; 16], b"home"),
        AnswerError::ProxyStateMissing
    );
}

#[test]
fn dead_servers_are_skipped_until_dead_time() {
    let p = Proxy::new(&cfg(TABLE).proxy);
    let t0 = Instant::now();
    let ids = |now| {
        p.candidates(1, now)
            .into_iter()
            .map(|(j, _)| j)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(t0), [0, 1]);
    p.mark_dead(1, 0, t0);
    assert_eq!(ids(t0), [1]);
    p.mark_dead(1, 1, t0);
    assert!(ids(t0).is_empty());
    assert_eq!(ids(t0 + Duration::from_secs(5)), [0, 1], "revived");
    p.mark_alive(1, 0);
    assert_eq!(ids(t0), [0]);
    assert!(p.candidates(0, t0).is_empty(), "local realm has no servers");
    assert_eq!(p.counters().marked_dead, 2);
}

#[test]
fn status_server_probe_and_its_answer() {
    let p = status_server(3, &[1; 16], b"home");
    let v = wire::Request::new_checked(&p).unwrap();
    assert_eq!(
        (v.code(), v.identifier(), p.len()),
        (Code::StatusServer, 3, 38)
    );
    assert_eq!(check_request(&p, b"home", false), MaCheck::Valid);
    let mut r = wire::Response::new(Code::AccessAccept, 3)
        .into_bytes()
        .unwrap();
    assert!(finish_response(&mut r, &[1; 16], b"home"));
    assert!(is_status_answer(&r, 3, &[1; 16], b"home"));
    assert!(!is_status_answer(&r, 4, &[1; 16], b"home"));
    assert!(!is_status_answer(&r, 3, &[2; 16], b"home"));
    assert!(!is_status_answer(&r, 3, &[1; 16], b"nas"));
    assert!(!is_status_answer(&r[..19], 3, &[1; 16], b"home"));
    let pr = Proxy::new(&cfg(TABLE).proxy);
    assert!(!pr.was_dead(1, 0));
    pr.mark_dead(1, 0, Instant::now());
    assert!(pr.was_dead(1, 0));
    pr.mark_alive(1, 0);
    assert!(!pr.was_dead(1, 0));
}

const BALANCED: &str = r#"
[[realm]]
name = "rr.example"
action = "proxy"
servers = ["udp://127.0.0.1:1001", "udp://127.0.0.1:1002", "udp://127.0.0.1:1003"]
secret = "home"
[[realm]]
name = "fo.example"
action = "proxy"
balance = "failover"
servers = ["udp://127.0.0.1:1001", "udp://127.0.0.1:1002"]
secret = "home"
[proxy]
dead_time = 5
"#;

fn first_of(p: &Proxy, realm: usize, state: Option<&[u8]>, now: Instant) -> usize {
    p.plan(realm, state, now).unwrap()[0].0
}

#[test]
fn new_conversations_round_robin_over_live_servers() {
    let p = Proxy::new(&cfg(BALANCED).proxy);
    let t0 = Instant::now();
    let firsts: Vec<usize> = (0..6).map(|_| first_of(&p, 0, None, t0)).collect();
    assert_eq!(firsts, [0, 1, 2, 0, 1, 2]);
    // The others follow as failover candidates, each server once.
    let mut all: Vec<usize> = p
        .plan(0, None, t0)
        .unwrap()
        .into_iter()
        .map(|(j, _)| j)
        .collect();
    all.sort_unstable();
    assert_eq!(all, [0, 1, 2]);
    // A dead server is left out; the two others alternate.
    p.mark_dead(0, 1, t0);
    let firsts: Vec<usize> = (0..4).map(|_| first_of(&p, 0, None, t0)).collect();
    assert!(firsts.iter().all(|&j| j != 1), "{firsts:?}");
    assert_eq!(firsts.iter().filter(|&&j| j == 0).count(), 2, "{firsts:?}");
}

#[test]
fn failover_balance_keeps_servers_order() {
    let p = Proxy::new(&cfg(BALANCED).proxy);
    let t0 = Instant::now();
    for _ in 0..3 {
        let order: Vec<usize> = p
            .plan(1, None, t0)
            .unwrap()
            .into_iter()
            .map(|(j, _)| j)
            .collect();
        assert_eq!(order, [0, 1]);
    }
    p.mark_dead(1, 0, t0);
    assert_eq!(first_of(&p, 1, None, t0), 1);
}

#[test]
fn a_conversation_sticks_to_the_server_of_its_challenge() {
    let p = Proxy::new(&cfg(BALANCED).proxy);
    let t0 = Instant::now();
    // Server 2 answered the identity round with State "s-2".
    p.answered(0, 2, None, Some(b"s-2"), t0);
    p.answered(0, 0, None, Some(b"s-0"), t0);
    for _ in 0..5 {
        let plan = p.plan(0, Some(b"s-2"), t0).unwrap();
        assert_eq!(plan.iter().map(|(j, _)| *j).collect::<Vec<_>>(), [2]);
    }
    assert_eq!(first_of(&p, 0, Some(b"s-0"), t0), 0);
    // The same State in another realm is another conversation.
    assert_eq!(p.plan(1, Some(b"s-2"), t0).unwrap().len(), 2);
    // The next round: a new State replaces the old one.
    p.answered(0, 2, Some(b"s-2"), Some(b"s-2b"), t0);
    assert_eq!(p.plan(0, Some(b"s-2"), t0).unwrap().len(), 3, "forgotten");
    assert_eq!(first_of(&p, 0, Some(b"s-2b"), t0), 2);
    // A final answer ends the conversation.
    p.answered(0, 2, Some(b"s-2b"), None, t0);
    assert_eq!(p.plan(0, Some(b"s-2b"), t0).unwrap().len(), 3);
    // An unknown State is treated as a new conversation.
    assert_eq!(p.plan(0, Some(b"never"), t0).unwrap().len(), 3);
    // Entries expire.
    assert_eq!(
        p.plan(0, Some(b"s-0"), t0 + STICKY_TTL).unwrap().len(),
        3,
        "expired"
    );
}

#[test]
fn a_conversation_whose_server_is_dead_is_rejected_not_moved() {
    let p = Proxy::new(&cfg(BALANCED).proxy);
    let t0 = Instant::now();
    p.answered(0, 1, None, Some(b"s-1"), t0);
    p.mark_dead(0, 1, t0);
    assert_eq!(
        p.plan(0, Some(b"s-1"), t0).unwrap_err(),
        ProxyError::ConversationServerDead
    );
    assert_eq!(p.counters().conversation_server_dead, 1);
    // New conversations still go to the live servers.
    assert_eq!(p.plan(0, None, t0).unwrap().len(), 2);
    // After dead_time the server is tried again (the shell probes it first).
    let plan = p
        .plan(0, Some(b"s-1"), t0 + Duration::from_secs(5))
        .unwrap();
    assert_eq!(plan.iter().map(|(j, _)| *j).collect::<Vec<_>>(), [1]);
}

#[test]
fn discovered_servers_carry_dead_marks_for_dead_time() {
    let p = Proxy::new(&cfg(BALANCED).proxy);
    let t0 = Instant::now();
    let a: std::net::SocketAddr = "192.0.2.1:2083".parse().unwrap();
    assert!(!p.discovered_is_dead("aaa.example", a, t0));
    p.mark_discovered_dead("aaa.example", a, t0);
    assert!(p.discovered_is_dead("aaa.example", a, t0));
    assert!(!p.discovered_is_dead("other.example", a, t0));
    assert!(!p.discovered_is_dead("aaa.example", a, t0 + Duration::from_secs(5)));
    p.mark_discovered_alive("aaa.example", a);
    assert!(!p.discovered_is_dead("aaa.example", a, t0));
    assert_eq!(p.counters().marked_dead, 1);
}

#[test]
fn challenge_state_is_read_from_the_home_answer() {
    let raw = nas_request();
    let req = wire::Request::new_checked(&raw).unwrap();
    let f = Forward::new(&req, 1, None, *b"ourstate").unwrap();
    assert_eq!(f.state, None);
    let out = f.request(7, &[5; 16], b"home");
    let mut r = wire::Response::new(Code::AccessChallenge, 7);
    r.attr(79, &[1, 2, 0, 4])
        .attr(STATE, b"home-state")
        .attr(PROXY_STATE, b"ourstate");
    let mut b = r.into_bytes().unwrap();
    assert!(finish_response(&mut b, &[5; 16], b"home"));
    let (resp, state) = f
        .answer_with_state(&b, 7, &[5; 16], b"home", 42, b"nas", &[9; 16])
        .unwrap();
    assert_eq!(state.as_deref(), Some(&b"home-state"[..]));
    let b = resp.into_bytes().unwrap();
    let v = wire::Request::new_checked(&b).unwrap();
    assert_eq!(v.first(STATE), Some(&b"home-state"[..]), "passed on");
    // An Accept's State is not a conversation to follow.
    let msk = [7u8; 64];
    let acc = home_accept(&out, &msk, &[b"ourstate"]);
    let (_, state) = f
        .answer_with_state(&acc, 7, &[5; 16], b"home", 42, b"nas", &[9; 16])
        .unwrap();
    assert_eq!(state, None);
}

#[test]
fn balance_is_checked() {
    let e = parse_err(
        "[[realm]]\nname = \"a.example\"\naction = \"proxy\"\nservers = [\"udp://127.0.0.1:1\"]\nsecret = \"s\"\nbalance = \"random\"\n",
    );
    assert!(e.to_string().contains("realm[0].balance"), "{e}");
    let e =
        parse_err("[[realm]]\nname = \"a.example\"\naction = \"local\"\nbalance = \"failover\"\n");
    assert!(e.to_string().contains("realm[0].balance"), "{e}");
    let e = parse_err("[dns]\nnegative_ttl = 0\n");
    assert!(e.to_string().contains("dns.negative_ttl"), "{e}");
}

#[test]
fn a_discovered_conversation_sticks_to_its_server() {
    let p = Proxy::new(&cfg(BALANCED).proxy);
    let t0 = Instant::now();
    let a: std::net::SocketAddr = "192.0.2.1:2083".parse().unwrap();
    p.discovered_answered("r.example", ("aaa.r.example", a), None, Some(b"s1"), t0);
    assert_eq!(
        p.discovered_owner("r.example", b"s1", t0),
        Some(("aaa.r.example".to_string(), a))
    );
    assert_eq!(p.discovered_owner("other.example", b"s1", t0), None);
    p.discovered_answered("r.example", ("aaa.r.example", a), Some(b"s1"), None, t0);
    assert_eq!(p.discovered_owner("r.example", b"s1", t0), None, "finished");
    p.discovered_answered("r.example", ("aaa.r.example", a), None, Some(b"s2"), t0);
    assert_eq!(
        p.discovered_owner("r.example", b"s2", t0 + STICKY_TTL),
        None
    );
}
