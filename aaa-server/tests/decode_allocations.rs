//! The Access-Request read path allocates nothing: the checked view, its
//! attribute lookups, a single EAP-Message and the Message-Authenticator
//! check, counted by a global allocator that counts this thread's calls.
//! (The `radius` crate's owned decode, which this path replaced, allocates
//! per attribute: counted here too, as the contrast.)

mod common;

use aaa_server::radius::crypto::{self, MaCheck};
use aaa_server::radius::wire::Request;
use common::{SECRET, sign_ma_last};
use radius::core::avp::AVP;
use radius::core::code::Code;
use radius::core::packet::Packet;
use radius::core::{rfc2865, rfc2869};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn allocations_in(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn reading_an_access_request_allocates_nothing() {
    let secret = SECRET.as_bytes();
    let mut p = Packet::new_with_identifier(Code::AccessRequest, secret, 7);
    rfc2865::add_user_name(
        &mut p,
        "6001010000000001@wlan.mnc001.mcc001.3gppnetwork.org",
    );
    rfc2869::add_eap_message(&mut p, &[2, 1, 0, 40, 23, 1, 0, 0, 3, 5, 0, 0, 1, 2, 3, 4]);
    rfc2865::add_state(&mut p, &[9; 16]);
    rfc2865::add_proxy_state(&mut p, b"ps");
    p.add(AVP::from_bytes(80, &[0; 16]));
    let req = sign_ma_last(p.encode().unwrap(), secret);
    let keyed = crypto::hmac_md5(secret);

    let mut seen = (0, 0, 0, MaCheck::Missing);
    let n = allocations_in(|| {
        let v = Request::new_checked(&req).expect("valid");
        let eap = v.eap_message().expect("EAP-Message");
        seen = (
            eap.len(),
            v.first(24).map_or(0, <[u8]>::len),
            v.all(33).count(),
            crypto::check_request_keyed(v.bytes(), &keyed, false),
        );
    });
    assert_eq!(seen, (16, 16, 1, MaCheck::Valid));
    assert_eq!(n, 0, "allocations on the read path");

    let owned = allocations_in(|| {
        let p = Packet::decode(&req, secret).unwrap();
        assert!(rfc2869::lookup_eap_message(&p).is_some());
    });
    assert!(owned >= 5, "the radius crate's decode: {owned} allocations");
}
