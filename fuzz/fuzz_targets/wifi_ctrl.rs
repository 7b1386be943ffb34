//! wpa_supplicant control-interface messages as `supplicant wifi` reads them:
//! any datagram must classify and parse without a panic, and a SIM request's
//! RAND/AUTN must survive the round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use supplicant::wifi::proto::{self, Event, Message, SimRequest};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fuzz_target!(|data: &[u8]| {
    match proto::classify(data) {
        Message::Event { text, .. } => {
            if let Event::SimRequest {
                network_id,
                request: SimRequest::UmtsAuth { rand, autn },
            } = proto::parse_event(&text)
            {
                let again = format!(
                    "CTRL-REQ-SIM-{network_id}:UMTS-AUTH:{}:{} needed for SSID x",
                    hex(&rand),
                    hex(&autn)
                );
                assert_eq!(
                    proto::parse_event(&again),
                    Event::SimRequest {
                        network_id,
                        request: SimRequest::UmtsAuth { rand, autn }
                    }
                );
            }
        }
        Message::Reply(r) => {
            let _ = proto::reply_status(&r);
            let _ = proto::parse_id(&r);
            let _ = proto::value_lines(&r);
            let _ = proto::table_rows(&r);
        }
    }
});
