//! The vpcd bridge: exposes the simulator to pcscd through vsmartcard's vpcd
//! reader driver. vpcd listens on TCP; the virtual card connects to it. Each
//! frame is a 2-byte big-endian length and a payload: one byte is a control
//! code (0 power off, 1 power on, 2 reset, 4 get ATR), anything longer is a
//! C-APDU answered with an R-APDU.

use super::sim::{Simulator, StateStore};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The default port of vpcd's first reader ("Virtual PCD 00 00").
pub const DEFAULT_PORT: u16 = 35963;

/// One vpcd message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VpcdMessage<'a> {
    /// Power the card off.
    PowerOff,
    /// Power it on.
    PowerOn,
    /// Reset.
    Reset,
    /// Send the ATR.
    GetAtr,
    /// A control code we do not know.
    UnknownControl(u8),
    /// A C-APDU.
    Apdu(&'a [u8]),
}

impl<'a> VpcdMessage<'a> {
    /// Classifies a frame payload.
    pub fn parse(payload: &'a [u8]) -> VpcdMessage<'a> {
        match payload {
            [0] => VpcdMessage::PowerOff,
            [1] => VpcdMessage::PowerOn,
            [2] => VpcdMessage::Reset,
            [4] => VpcdMessage::GetAtr,
            [c] => VpcdMessage::UnknownControl(*c),
            apdu => VpcdMessage::Apdu(apdu),
        }
    }
}

/// Frames `payload` (2-byte big-endian length prefix); `None` above 65535 bytes.
pub fn frame(payload: &[u8]) -> Option<Vec<u8>> {
    let n = u16::try_from(payload.len()).ok()?;
    let mut out = n.to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    Some(out)
}

/// Handles one message: the reply payload, if vpcd expects one.
pub fn handle<S: StateStore>(sim: &mut Simulator<S>, payload: &[u8]) -> Option<Vec<u8>> {
    match VpcdMessage::parse(payload) {
        VpcdMessage::PowerOff | VpcdMessage::PowerOn | VpcdMessage::Reset => {
            sim.reset();
            None
        }
        VpcdMessage::GetAtr => Some(sim.atr().to_vec()),
        VpcdMessage::UnknownControl(_) => None,
        // An empty frame: nothing to answer.
        VpcdMessage::Apdu([]) => None,
        VpcdMessage::Apdu(apdu) => Some(sim.process(apdu)),
    }
}

/// Serves one vpcd connection until it closes.
pub fn serve_connection<S: StateStore>(
    sim: &mut Simulator<S>,
    stream: &mut TcpStream,
) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    loop {
        let mut len = [0u8; 2];
        stream.read_exact(&mut len)?;
        let mut payload = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut payload)?;
        if let Some(reply) = handle(sim, &payload)
            && let Some(f) = frame(&reply)
        {
            stream.write_all(&f)?;
        }
    }
}

/// Connects to vpcd at `host:port` and serves the simulator forever,
/// reconnecting whenever vpcd goes away (pcscd restarts it).
pub fn serve<S: StateStore>(sim: &mut Simulator<S>, host: &str, port: u16) -> ! {
    let never = AtomicBool::new(false);
    serve_until(sim, host, port, &never);
    // `serve_until` only returns once `never` is set, which nothing does.
    loop {
        std::thread::park();
    }
}

/// [`serve`] until `stop` is set (checked between connections and every
/// 200 ms while waiting for vpcd).
pub fn serve_until<S: StateStore>(
    sim: &mut Simulator<S>,
    host: &str,
    port: u16,
    stop: &AtomicBool,
) {
    let mut waiting_reported = false;
    while !stop.load(Ordering::SeqCst) {
        match TcpStream::connect((host, port)) {
            Ok(mut stream) => {
                tracing::info!("connected to vpcd at {host}:{port}");
                waiting_reported = false;
                if let Err(e) = serve_connection(sim, &mut stream) {
                    tracing::info!("vpcd connection ended: {e}");
                }
                sim.reset();
            }
            Err(e) => {
                if !waiting_reported {
                    tracing::warn!(
                        "waiting for vpcd at {host}:{port} (is pcscd with the vpcd driver running?): {e}"
                    );
                    waiting_reported = true;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usim::sim::tests::test_sim;

    #[test]
    fn control_codes_and_apdus() {
        let mut sim = test_sim(None);
        assert_eq!(handle(&mut sim, &[4]), Some(crate::usim::sim::ATR.to_vec()));
        assert_eq!(handle(&mut sim, &[1]), None);
        assert_eq!(handle(&mut sim, &[9]), None);
        assert_eq!(handle(&mut sim, &[]), None);
        assert_eq!(
            handle(&mut sim, &hex::decode("00A40004023F00").unwrap()).unwrap()[0],
            0x61
        );
        assert_eq!(frame(&[1, 2, 3]).unwrap(), vec![0, 3, 1, 2, 3]);
    }

    #[test]
    fn serves_over_tcp_and_reconnect_friendly() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let mut sim = test_sim(None);
            let mut s = TcpStream::connect(addr).unwrap();
            let _ = serve_connection(&mut sim, &mut s);
        });
        let (mut vpcd, _) = listener.accept().unwrap();
        vpcd.write_all(&frame(&[4]).unwrap()).unwrap();
        let mut buf = [0u8; 6];
        vpcd.read_exact(&mut buf).unwrap();
        assert_eq!(&buf[..2], &[0, 4]);
        vpcd.write_all(&frame(&hex::decode("00A40004023F00").unwrap()).unwrap())
            .unwrap();
        let mut r = [0u8; 4];
        vpcd.read_exact(&mut r).unwrap();
        assert_eq!(&r[..3], &[0, 2, 0x61]);
        drop(vpcd);
        t.join().unwrap();
    }

    /// vpcd going away (pcscd restart) and coming back: the bridge reconnects
    /// and the card answers again, with a fresh session.
    #[test]
    fn reconnects_after_vpcd_restart() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let t = std::thread::spawn(move || {
            let mut sim = test_sim(None);
            serve_until(&mut sim, "127.0.0.1", port, &stop2);
        });
        for _ in 0..2 {
            let (mut vpcd, _) = listener.accept().unwrap();
            vpcd.write_all(&frame(&[4]).unwrap()).unwrap();
            let mut buf = [0u8; 6];
            vpcd.read_exact(&mut buf).unwrap();
            assert_eq!(&buf[2..], &crate::usim::sim::ATR);
            // GET RESPONSE with nothing pending: a fresh session each time.
            vpcd.write_all(&frame(&hex::decode("00C0000010").unwrap()).unwrap())
                .unwrap();
            let mut r = [0u8; 4];
            vpcd.read_exact(&mut r).unwrap();
            assert_eq!(&r[2..], &[0x69, 0x85]);
            vpcd.write_all(&frame(&hex::decode("00A40004023F00").unwrap()).unwrap())
                .unwrap();
            vpcd.read_exact(&mut r).unwrap();
            assert_eq!(r[2], 0x61);
        }
        stop.store(true, Ordering::SeqCst);
        t.join().unwrap();
    }
}
