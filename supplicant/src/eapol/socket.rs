//! The AF_PACKET socket for EAPOL: bound to one interface and the PAE
//! Ethertype, joined to the PAE group address, sending to it. Needs
//! CAP_NET_RAW.

use super::{ETH_P_PAE, PAE_GROUP_ADDR};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// Why the socket cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// No such interface.
    #[error("no network interface {0:?}")]
    NoInterface(String),
    /// EPERM/EACCES.
    #[error(
        "opening an AF_PACKET socket needs CAP_NET_RAW: run as root or `setcap cap_net_raw+ep` the binary"
    )]
    NoCapability,
    /// Anything else.
    #[error("AF_PACKET socket on {iface}: {err}")]
    Io {
        /// The interface.
        iface: String,
        /// The error.
        err: io::Error,
    },
}

/// An EAPOL socket on one interface (SOCK_DGRAM: the kernel adds and strips
/// the Ethernet header).
#[derive(Debug)]
pub struct EapolSocket {
    fd: OwnedFd,
    ifindex: i32,
}

fn sockaddr(ifindex: i32) -> libc::sockaddr_ll {
    // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
    let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sa.sll_family = libc::AF_PACKET as u16;
    sa.sll_protocol = ETH_P_PAE.to_be();
    sa.sll_ifindex = ifindex;
    sa.sll_halen = 6;
    sa.sll_addr[..6].copy_from_slice(&PAE_GROUP_ADDR);
    sa
}

impl EapolSocket {
    /// Opens the socket on `iface`.
    pub fn open(iface: &str) -> Result<Self, SocketError> {
        let io_err = |err: io::Error| {
            if matches!(err.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES)) {
                SocketError::NoCapability
            } else {
                SocketError::Io {
                    iface: iface.to_string(),
                    err,
                }
            }
        };
        let cname =
            std::ffi::CString::new(iface).map_err(|_| SocketError::NoInterface(iface.into()))?;
        // SAFETY: cname is a valid NUL-terminated string.
        let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) };
        if ifindex == 0 {
            return Err(SocketError::NoInterface(iface.into()));
        }
        let ifindex = i32::try_from(ifindex).map_err(|_| SocketError::NoInterface(iface.into()))?;
        // SAFETY: plain socket(2) call; the result is checked.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                i32::from(ETH_P_PAE.to_be()),
            )
        };
        if raw < 0 {
            return Err(io_err(io::Error::last_os_error()));
        }
        // SAFETY: raw is a freshly created, owned descriptor.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let sa = sockaddr(ifindex);
        // SAFETY: sa is a valid sockaddr_ll and the length matches it.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sa as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if r < 0 {
            return Err(io_err(io::Error::last_os_error()));
        }
        // SAFETY: packet_mreq is plain old data.
        let mut mreq: libc::packet_mreq = unsafe { std::mem::zeroed() };
        mreq.mr_ifindex = ifindex;
        mreq.mr_type = libc::PACKET_MR_MULTICAST as u16;
        mreq.mr_alen = 6;
        mreq.mr_address[..6].copy_from_slice(&PAE_GROUP_ADDR);
        // SAFETY: mreq is valid and the length matches it.
        let r = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_ADD_MEMBERSHIP,
                (&mreq as *const libc::packet_mreq).cast(),
                std::mem::size_of::<libc::packet_mreq>() as u32,
            )
        };
        if r < 0 {
            return Err(io_err(io::Error::last_os_error()));
        }
        Ok(Self { fd, ifindex })
    }

    /// Sends an EAPOL PDU to the PAE group address.
    pub fn send(&self, pdu: &[u8]) -> io::Result<()> {
        let sa = sockaddr(self.ifindex);
        // SAFETY: pdu and sa are valid for the given lengths.
        let r = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                pdu.as_ptr().cast(),
                pdu.len(),
                0,
                (&sa as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Waits up to `timeout` for one frame addressed to this host (not our
    /// own transmissions); `Ok(None)` on timeout.
    pub fn recv(&self, buf: &mut [u8], timeout: Duration) -> io::Result<Option<usize>> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: pfd is a valid pollfd array of length 1.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(None)
            } else {
                Err(e)
            };
        }
        if r == 0 {
            return Ok(None);
        }
        // SAFETY: sockaddr_ll is plain old data.
        let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut fromlen = std::mem::size_of::<libc::sockaddr_ll>() as u32;
        // SAFETY: buf, from and fromlen are valid for the sizes given.
        let n = unsafe {
            libc::recvfrom(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
                (&mut from as *mut libc::sockaddr_ll).cast(),
                &mut fromlen,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::WouldBlock {
                Ok(None)
            } else {
                Err(e)
            };
        }
        if from.sll_pkttype == libc::PACKET_OUTGOING {
            return Ok(None);
        }
        Ok(Some(n as usize))
    }
}
