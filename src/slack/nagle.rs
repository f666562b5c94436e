//! Turns Nagle's algorithm off on the Socket Mode WebSocket. slack-morphism 2.31
//! opens it with tokio-tungstenite's `connect_async`, which leaves Nagle on, and has
//! no setting for it; so every ack after the first in a burst waits in our kernel
//! until Slack's delayed ACK of the previous one (about 40 ms). We cannot reach that
//! socket through the library, so on each `hello` (a new connection) we set
//! `TCP_NODELAY` on every connected TCP socket this process holds, found through
//! `/proc/self/fd` (Linux only; elsewhere this does nothing). The other sockets lose
//! nothing by it: they carry request/response traffic, and hyper and reqwest already
//! set `TCP_NODELAY` on theirs. Remove this once slack-morphism disables Nagle.

/// Sets `TCP_NODELAY` on this process's connected TCP sockets that lack it;
/// returns how many it changed.
#[cfg(target_os = "linux")]
pub fn disable_nagle_on_tcp_sockets() -> usize {
    use std::os::fd::{BorrowedFd, RawFd};
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return 0;
    };
    let mut changed = 0;
    for entry in entries.flatten() {
        let is_socket = std::fs::read_link(entry.path())
            .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"));
        let fd = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<RawFd>().ok());
        let (true, Some(fd)) = (is_socket, fd) else {
            continue;
        };
        // SAFETY: the descriptor is borrowed only for the few calls below. Should
        // another thread close it meanwhile, they fail with EBADF, or act on
        // whatever reused the number: ENOTSOCK for a file, and for another socket
        // a TCP_NODELAY it is equally welcome to. Nothing is read or written.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let socket = socket2::SockRef::from(&fd);
        let tcp_client_or_peer = socket.r#type().is_ok_and(|t| t == socket2::Type::STREAM)
            && socket
                .peer_addr()
                .is_ok_and(|peer| peer.as_socket().is_some());
        if tcp_client_or_peer
            && socket.tcp_nodelay().is_ok_and(|on| !on)
            && socket.set_tcp_nodelay(true).is_ok()
        {
            changed += 1;
        }
    }
    changed
}

#[cfg(not(target_os = "linux"))]
pub fn disable_nagle_on_tcp_sockets() -> usize {
    0
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn both_ends_of_a_connection_get_nodelay() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        assert!(!client.nodelay().unwrap() && !server.nodelay().unwrap());
        // At least these two (other tests of this process may hold sockets too).
        assert!(disable_nagle_on_tcp_sockets() >= 2);
        assert!(client.nodelay().unwrap() && server.nodelay().unwrap());
    }
}
