//! `recvmmsg(2)` / `sendmmsg(2)`: many datagrams per system call, behind a
//! safe interface. The only `unsafe` code of the crate: each call builds
//! its `mmsghdr` array from buffers this module owns (or borrows for the
//! call), so no pointer outlives the call that uses it.
#![allow(unsafe_code)]

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::AsRawFd;

/// Datagrams received into and read from fixed buffers.
pub struct RecvBatch {
    bufs: Vec<u8>,
    size: usize,
    addrs: Vec<libc::sockaddr_storage>,
    lens: Vec<usize>,
    n: usize,
    /// Headers and iovecs, kept for their memory: every call points them anew.
    hdrs: Vec<libc::mmsghdr>,
    iovs: Vec<libc::iovec>,
}

impl RecvBatch {
    /// Room for `count` datagrams of up to `size` bytes each.
    pub fn new(count: usize, size: usize) -> Self {
        let count = count.max(1);
        Self {
            bufs: vec![0; count * size],
            size,
            // SAFETY: sockaddr_storage is plain data; all zeroes is valid.
            addrs: vec![unsafe { zeroed() }; count],
            lens: vec![0; count],
            n: 0,
            hdrs: Vec::with_capacity(count),
            iovs: Vec::with_capacity(count),
        }
    }

    /// Waits for at least one datagram (up to the socket's read timeout),
    /// then takes every one already queued that fits; returns how many.
    pub fn recv(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        self.n = 0;
        let count = self.lens.len();
        let (iovs, hdrs) = (&mut self.iovs, &mut self.hdrs);
        iovs.clear();
        iovs.extend(self.bufs.chunks_exact_mut(self.size).map(|b| libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: b.len(),
        }));
        hdrs.clear();
        // SAFETY: mmsghdr is plain data; all zeroes is valid.
        hdrs.extend((0..count).map(|_| unsafe { zeroed::<libc::mmsghdr>() }));
        for ((h, iov), addr) in hdrs
            .iter_mut()
            .zip(iovs.iter_mut())
            .zip(self.addrs.iter_mut())
        {
            h.msg_hdr.msg_name = (addr as *mut libc::sockaddr_storage).cast();
            h.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_hdr.msg_iov = iov;
            h.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: every header points into `iovs`, `self.bufs` and
        // `self.addrs`, all alive and exclusively borrowed for the call;
        // `count` is the length of `hdrs`.
        let r = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                hdrs.as_mut_ptr(),
                count as libc::c_uint,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = r as usize;
        for (len, h) in self.lens.iter_mut().zip(hdrs.iter()).take(n) {
            // A truncated datagram keeps only what fit (MSG_TRUNC in flags).
            *len = (h.msg_len as usize).min(self.size);
        }
        self.n = n;
        Ok(n)
    }

    /// Datagrams of the last [`RecvBatch::recv`].
    pub fn len(&self) -> usize {
        self.n
    }

    /// True when the last receive got nothing.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Datagram `i` of the last receive and its source (`None` past the
    /// end or for a source that is not IPv4/IPv6).
    pub fn get(&self, i: usize) -> Option<(SocketAddr, &[u8])> {
        if i >= self.n {
            return None;
        }
        let from = to_socket_addr(&self.addrs[i])?;
        let start = i * self.size;
        Some((from, &self.bufs[start..start + self.lens[i]]))
    }
}

fn to_socket_addr(s: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(s.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in, which
            // is smaller than sockaddr_storage and less strictly aligned.
            let a = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let a = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(a.sin6_addr.s6_addr),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// Memory for [`SendBatch::send`], kept between calls.
#[derive(Default)]
pub struct SendBatch {
    addrs: Vec<socket2::SockAddr>,
    iovs: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
}

/// Sends `msgs` with fresh memory (see [`SendBatch::send`]).
pub fn send_batch(socket: &UdpSocket, msgs: &[(&[u8], SocketAddr)]) -> io::Result<usize> {
    SendBatch::default().send(socket, msgs.iter().copied())
}

impl SendBatch {
    /// Sends `msgs` (bytes, destination) with as few `sendmmsg` calls as the
    /// kernel allows; returns how many were sent. A datagram the kernel
    /// refuses is skipped like a lost one and the rest still go; the error
    /// is returned only when none went.
    pub fn send<'a>(
        &mut self,
        socket: &UdpSocket,
        msgs: impl Iterator<Item = (&'a [u8], SocketAddr)>,
    ) -> io::Result<usize> {
        let (addrs, iovs, hdrs) = (&mut self.addrs, &mut self.iovs, &mut self.hdrs);
        addrs.clear();
        iovs.clear();
        for (b, a) in msgs {
            addrs.push(socket2::SockAddr::from(a));
            iovs.push(libc::iovec {
                iov_base: b.as_ptr() as *mut libc::c_void,
                iov_len: b.len(),
            });
        }
        if iovs.is_empty() {
            return Ok(0);
        }
        hdrs.clear();
        // SAFETY: mmsghdr is plain data; all zeroes is valid.
        hdrs.extend((0..iovs.len()).map(|_| unsafe { zeroed::<libc::mmsghdr>() }));
        for ((h, iov), addr) in hdrs.iter_mut().zip(iovs.iter_mut()).zip(addrs.iter()) {
            h.msg_hdr.msg_name = addr.as_ptr() as *mut libc::c_void;
            h.msg_hdr.msg_namelen = addr.len();
            h.msg_hdr.msg_iov = iov;
            h.msg_hdr.msg_iovlen = 1;
        }
        let (mut at, mut sent, mut failed) = (0, 0, None);
        while at < hdrs.len() {
            // SAFETY: the headers point into `iovs`, `addrs` and the caller's
            // buffers, all alive for the call; the kernel only reads through
            // iov_base (sendmmsg). The count is what is left of `hdrs`.
            let r = unsafe {
                libc::sendmmsg(
                    socket.as_raw_fd(),
                    hdrs[at..].as_mut_ptr(),
                    (hdrs.len() - at) as libc::c_uint,
                    0,
                )
            };
            if r < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                // Skip the datagram that failed (like a lost one); send the rest.
                failed.get_or_insert(e);
                at += 1;
                continue;
            }
            at += r as usize;
            sent += r as usize;
        }
        match failed {
            Some(e) if sent == 0 => Err(e),
            _ => Ok(sent),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_batch_goes_out_and_comes_back_in_one_call_each() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = rx.local_addr().unwrap();
        let payloads: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 10 + usize::from(i)]).collect();
        let msgs: Vec<(&[u8], SocketAddr)> = payloads.iter().map(|p| (&p[..], to)).collect();
        assert_eq!(send_batch(&tx, &msgs).unwrap(), 5);
        let mut batch = RecvBatch::new(8, 64);
        let mut got = Vec::new();
        while got.len() < 5 {
            let n = batch.recv(&rx).unwrap();
            assert!(n >= 1);
            for i in 0..n {
                let (from, d) = batch.get(i).unwrap();
                assert_eq!(from, tx.local_addr().unwrap());
                got.push(d.to_vec());
            }
            assert!(batch.get(n).is_none());
        }
        assert_eq!(got, payloads);
    }

    #[test]
    fn long_datagrams_are_cut_to_the_buffer_and_ipv6_sources_read() {
        let Ok(rx) = UdpSocket::bind("[::1]:0") else {
            panic!("no IPv6 loopback");
        };
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let tx = UdpSocket::bind("[::1]:0").unwrap();
        tx.send_to(&[7; 100], rx.local_addr().unwrap()).unwrap();
        let mut batch = RecvBatch::new(2, 16);
        assert_eq!(batch.recv(&rx).unwrap(), 1);
        let (from, d) = batch.get(0).unwrap();
        assert_eq!(from, tx.local_addr().unwrap());
        assert_eq!(d, &[7; 16]);
    }

    #[test]
    fn a_refused_datagram_is_skipped_and_the_rest_sent() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = rx.local_addr().unwrap();
        // An IPv6 destination from an IPv4 socket: EAFNOSUPPORT / EINVAL.
        let v6: SocketAddr = "[::1]:9".parse().unwrap();
        let msgs: Vec<(&[u8], SocketAddr)> = vec![(b"a", v6), (b"b", to), (b"c", v6), (b"d", to)];
        assert_eq!(send_batch(&tx, &msgs).unwrap(), 2);
        let mut batch = RecvBatch::new(4, 8);
        let mut got = Vec::new();
        while got.len() < 2 {
            let n = batch.recv(&rx).unwrap();
            got.extend((0..n).map(|i| batch.get(i).unwrap().1.to_vec()));
        }
        assert_eq!(got, vec![b"b".to_vec(), b"d".to_vec()]);
        assert!(
            send_batch(&tx, &[(b"x", v6)]).is_err(),
            "none went: the error"
        );
        assert_eq!(send_batch(&tx, &[]).unwrap(), 0);
    }

    #[test]
    fn an_idle_socket_times_out() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_millis(10)))
            .unwrap();
        let mut batch = RecvBatch::new(4, 64);
        let e = batch.recv(&rx).unwrap_err();
        assert!(matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ));
        assert!(batch.is_empty());
    }
}
