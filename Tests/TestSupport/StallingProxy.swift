import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A TCP proxy on 127.0.0.1 that forwards to a broker until told to stall: then it stops reading from its clients,
/// so a client's writes fill the socket buffers and block, as when a broker or the network stops taking data
/// (without a resource alarm on the shared broker). ``resume()`` forwards again; ``stop()`` closes everything.
///
/// While stalled it also holds back the news of a closed broker side, so a client sees only the stall. Plain POSIX
/// sockets and one thread per direction: small, and independent of the code under test.
public final class StallingProxy: Sendable {
    /// The port clients connect to.
    public let port: Int
    private let listener: Int32
    private let targetHost: String
    private let targetPort: Int
    private let state = Mutex(State())

    private struct State {
        var stalled = false
        var stopped = false
        /// Every socket still open, to shut down on ``stop()``.
        var sockets: Set<Int32> = []
    }

    /// Each accepted socket's receive buffer: small, so that a stall fills the buffers with little data.
    private static let receiveBuffer: Int32 = 32 * 1_024

    /// Listens on an ephemeral port of 127.0.0.1 and forwards each connection to `targetHost`:`targetPort`.
    public init(targetHost: String, targetPort: Int) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ProxyError("socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var size = Self.receiveBuffer
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            close(fd)
            throw ProxyError("bind/listen: \(String(cString: strerror(errno)))")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        self.targetHost = targetHost
        self.targetPort = targetPort
        state.withLock { _ = $0.sockets.insert(fd) }
        Thread { [self] in acceptLoop() }.start()
    }

    /// Stops reading from clients: their writes back up until they block.
    public func stall() { state.withLock { $0.stalled = true } }

    /// Reads from clients again.
    public func resume() { state.withLock { $0.stalled = false } }

    /// Closes the listener and every connection.
    public func stop() {
        state.withLock { state in
            state.stopped = true
            for fd in state.sockets { _ = shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    private var isStopped: Bool { state.withLock { $0.stopped } }
    private var isStalled: Bool { state.withLock { $0.stalled } }

    private func acceptLoop() {
        defer { closeSocket(listener) }
        while !isStopped {
            var descriptor = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 50) > 0 else { continue }
            let client = accept(listener, nil, nil)
            if client < 0 { continue }
            guard let upstream = connectToTarget() else {
                close(client)
                continue
            }
            let registered = state.withLock { state -> Bool in
                guard !state.stopped else { return false }
                state.sockets.insert(client)
                state.sockets.insert(upstream)
                return true
            }
            guard registered else {
                close(client)
                close(upstream)
                continue
            }
            // The second pump to finish closes both sockets, so neither closes a descriptor the other still polls.
            let finished = Mutex(0)
            let done: @Sendable () -> Void = { [self] in
                let last = finished.withLock { count -> Bool in
                    count += 1
                    return count == 2
                }
                if last {
                    closeSocket(client)
                    closeSocket(upstream)
                }
            }
            Thread { [self] in pump(from: client, to: upstream, stallable: true, done: done) }.start()
            Thread { [self] in pump(from: upstream, to: client, stallable: false, done: done) }.start()
        }
    }

    private func connectToTarget() -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(truncatingIfNeeded: targetPort).bigEndian
        address.sin_addr.s_addr = inet_addr(targetHost == "localhost" ? "127.0.0.1" : targetHost)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    /// Copies `from` to `to` until either ends or the proxy stops; a stallable direction does not read while stalled,
    /// and no direction reports an end while stalled.
    private func pump(from: Int32, to: Int32, stallable: Bool, done: @Sendable () -> Void) {
        defer { done() }
        var buffer = [UInt8](repeating: 0, count: 64 * 1_024)
        var ended = false
        while !isStopped {
            if isStalled, stallable || ended {
                usleep(10_000)
                continue
            }
            if ended { break }
            var descriptor = pollfd(fd: from, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 50) > 0 else { continue }
            // Data that arrives after `stall()` returned is not read, even when it woke this poll.
            if stallable, isStalled { continue }
            let received = buffer.withUnsafeMutableBytes { recv(from, $0.baseAddress, $0.count, 0) }
            if received <= 0 {
                if received < 0, errno == EINTR { continue }
                ended = true
                continue
            }
            var offset = 0
            while offset < received {
                let sent = buffer.withUnsafeBytes { send(to, $0.baseAddress! + offset, received - offset, Int32(MSG_NOSIGNAL)) }
                if sent <= 0 {
                    if sent < 0, errno == EINTR { continue }
                    ended = true
                    break
                }
                offset += sent
            }
        }
        // Tell the other side, so the other pump ends too.
        _ = shutdown(to, Int32(SHUT_RDWR))
        _ = shutdown(from, Int32(SHUT_RDWR))
    }

    private func closeSocket(_ fd: Int32) {
        state.withLock { _ = $0.sockets.remove(fd) }
        close(fd)
    }
}

/// A proxy socket call failed.
public struct ProxyError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
