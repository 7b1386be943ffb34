//! A RadSec connection's byte stream after the TLS handshake: RADIUS/TCP
//! framing (`radsec::frame`), then every framed packet through
//! `RadiusServer::receive_as` for a client named by its certificate
//! (secret `radsec`), store work included. The first two bytes set
//! `max_packet_length`. No input may panic; framing must agree with
//! `frame::packet_length`.
#![no_main]

use aaa_server::config::{Cidr, Client, Config, EapConfig, MethodName};
use aaa_server::hss::SqliteStore;
use aaa_server::radius::{ClientId, Handled, RadiusServer};
use aaa_server::radsec::frame;
use eap::secret::SecretBytes;
use libfuzzer_sys::fuzz_target;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

fn server() -> &'static (RadiusServer, ClientId) {
    static S: OnceLock<(RadiusServer, ClientId)> = OnceLock::new();
    S.get_or_init(|| {
        let cfg = Config {
            listen: "127.0.0.1:0".parse().expect("addr"),
            accounting_listen: "127.0.0.1:0".parse().expect("addr"),
            clients: vec![Client {
                name: "udp".into(),
                network: Cidr::parse("192.0.2.0/24").expect("cidr"),
                secret: SecretBytes::new(b"udp".to_vec()),
                require_message_authenticator: true,
                das: None,
            }],
            database: "/unused".into(),
            hss_workers: 1,
            postgres: None,
            eap: EapConfig {
                methods: vec![MethodName::AkaPrime, MethodName::Aka],
                network_name: "WLAN".into(),
                session_timeout: Duration::from_secs(30),
                max_sessions: 16,
            },
            privacy: Default::default(),
            radius: Default::default(),
            radsec: None,
            metrics: Default::default(),
            proxy: Default::default(),
            cui: None,
        };
        let s = Arc::new(SqliteStore::open_in_memory().expect("in-memory store"));
        let mut srv = RadiusServer::new(&cfg, s.clone(), s);
        let id = srv.add_transport_clients(&[Client {
            name: "partner".into(),
            network: Cidr::parse("0.0.0.0/32").expect("cidr"),
            secret: SecretBytes::from(aaa_server::radsec::SECRET),
            require_message_authenticator: false,
            das: None,
        }])[0];
        (srv, id)
    })
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let max = usize::from(u16::from_be_bytes([data[0], data[1]])).max(frame::MIN_PACKET);
    let stream = &data[2..];
    let (packets, err) = frame::split(stream, max);
    let mut used = 0;
    for p in &packets {
        let head = [p[0], p[1], p[2], p[3]];
        assert_eq!(frame::packet_length(&head, max), Ok(p.len()));
        used += p.len();
    }
    if let Some(e) = err {
        let rest = &stream[used..];
        assert_eq!(
            frame::packet_length(&[rest[0], rest[1], rest[2], rest[3]], max),
            Err(e)
        );
    }
    let (srv, id) = server();
    let from: SocketAddr = "198.51.100.7:40000".parse().expect("addr");
    let now = Instant::now();
    for p in packets {
        let mut step = srv.receive_as(frame::listener_for(p[0]), *id, from, p, now);
        while let Handled::Deferred(job) = step {
            step = srv.resume(srv.perform(job), now);
        }
    }
});
