//! The testbed's capture readers: pcap parsing + transcript rendering (EAP
//! decoded with the eap codec, RADIUS attributes walked by hand), and the
//! tshark `-V` text analysis. Any input: no panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(events) = testbed::transcript::parse_pcap(data) {
        let _ = testbed::transcript::render(&events);
        let _ = testbed::transcript::eap_descriptions(&events);
    }
    // Raw bytes as one EAP packet, and as tshark output.
    let _ = testbed::transcript::describe_eap(data);
    let _ = testbed::capture::analyse(&String::from_utf8_lossy(data));
});
