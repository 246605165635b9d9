import CRabbitMQ
import Foundation

#if canImport(Glibc)
import Glibc
#endif

extension ConnectionDriver {
    /// Opens the socket (TCP or TLS) and logs in, trying each endpoint in order. Runs on the connection thread.
    func establish() -> Result<Void, AMQPError> {
        var lastError = AMQPError.invalidArgument("no endpoint configured")
        for endpoint in configuration.endpoints {
            switch establish(endpoint) {
            case .success:
                connectedEndpoint = endpoint
                logger.debug("AMQP connection open", metadata: ["endpoint": "\(endpoint)", "heartbeat": "\(heartbeat)"])
                return .success(())
            case .failure(let error):
                lastError = error
                if let state {
                    _ = amqp_destroy_connection(state)
                    self.state = nil
                }
                // Credentials and TLS trust are the same on every endpoint: trying the next one cannot help.
                switch error {
                case .authenticationFailed, .virtualHostAccessRefused, .tls(.invalidCertificateFile, _):
                    return .failure(error)
                default:
                    logger.debug("AMQP endpoint failed", metadata: ["endpoint": "\(endpoint)", "error": "\(error)"])
                }
            }
        }
        return .failure(lastError)
    }

    private func establish(_ endpoint: AMQPConnectionConfiguration.Endpoint) -> Result<Void, AMQPError> {
        guard let state = amqp_new_connection() else { return .failure(.connectionLost(reason: "out of memory")) }
        self.state = state
        let arena = CArena()

        let socket: OpaquePointer?
        if let tls = configuration.tls {
            socket = amqp_ssl_socket_new(state)
            guard let socket else { return .failure(.tls(.handshakeFailed, detail: "could not create a TLS socket")) }
            if let caFile = tls.caFile {
                let status = amqp_ssl_socket_set_cacert(socket, arena.cString(caFile))
                if status != AMQP_STATUS_OK.rawValue {
                    return .failure(.tls(.invalidCertificateFile, detail: "CA file '\(caFile)': \(CDecoding.statusText(status))"))
                }
            }
            if let certificate = tls.certificateFile {
                guard let key = tls.keyFile else {
                    return .failure(.tls(.invalidCertificateFile, detail: "a client certificate needs a key file"))
                }
                let status = amqp_ssl_socket_set_key(socket, arena.cString(certificate), arena.cString(key))
                if status != AMQP_STATUS_OK.rawValue {
                    return .failure(.tls(.invalidCertificateFile, detail: "client certificate '\(certificate)' or key: \(CDecoding.statusText(status))"))
                }
            }
            amqp_ssl_socket_set_verify_peer(socket, tls.verifyPeer ? 1 : 0)
            amqp_ssl_socket_set_verify_hostname(socket, tls.verifyHostname ? 1 : 0)
        } else {
            socket = amqp_tcp_socket_new(state)
            guard socket != nil else { return .failure(.connectionLost(reason: "could not create a socket")) }
        }

        let (seconds, attoseconds) = configuration.connectionTimeout.components
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
        _ = amqp_set_handshake_timeout(state, &timeout)
        errno = 0
        let openStatus = amqp_socket_open_noblock(socket, arena.cString(endpoint.host), Int32(endpoint.port), &timeout)
        if openStatus != AMQP_STATUS_OK.rawValue {
            return .failure(openError(openStatus, endpoint: endpoint, systemError: errno))
        }

        var properties = arena.table(clientProperties())
        let reply = cr_login_plain(
            state, arena.cString(configuration.virtualHost), Int32(configuration.channelMax),
            Int32(configuration.frameMax), Int32(configuration.heartbeatSeconds), &properties,
            arena.cString(configuration.user), arena.cString(configuration.password))
        if let error = loginError(reply, endpoint: endpoint) { return .failure(error) }

        socketFD = amqp_get_sockfd(state)
        heartbeat = Int(amqp_get_heartbeat(state))
        channelMax = Int(amqp_get_channel_max(state))
        if channelMax == 0 { channelMax = 65_535 }
        frameMax = Int(amqp_get_frame_max(state))
        // Publishes are written by the driver itself on plain TCP; with TLS the library encrypts, so they go through it.
        if configuration.tls == nil, socketFD >= 0, frameMax >= 4_096 { publishFrames = PublishFrames() }
        return .success(())
    }

    private func clientProperties() -> AMQPTable {
        [
            "connection_name": .string(configuration.connectionName ?? "eventbus-swift"),
            "product": "EventBus Swift AMQP",
            "platform": "Swift",
            "capabilities": [
                "consumer_cancel_notify": true,
                "connection.blocked": true,
                "publisher_confirms": true,
                "basic.nack": true,
                "authentication_failure_close": true,
                "exchange_exchange_bindings": true,
            ],
        ]
    }

    private func openError(_ status: Int32, endpoint: AMQPConnectionConfiguration.Endpoint, systemError: Int32) -> AMQPError {
        switch status {
        case AMQP_STATUS_TIMEOUT.rawValue:
            return .connectionTimedOut(host: endpoint.host, port: endpoint.port)
        case AMQP_STATUS_SSL_PEER_VERIFY_FAILED.rawValue:
            return .tls(.peerVerificationFailed, detail: CDecoding.statusText(status))
        case AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED.rawValue:
            return .tls(.hostnameVerificationFailed, detail: CDecoding.statusText(status))
        case AMQP_STATUS_SSL_ERROR.rawValue, AMQP_STATUS_SSL_CONNECTION_FAILED.rawValue:
            return .tls(.handshakeFailed, detail: CDecoding.statusText(status))
        default:
            var reason = CDecoding.statusText(status)
            // librabbitmq-c connects without blocking and leaves errno at EINPROGRESS when the connection then
            // failed: ask the system once more for the real cause (connection refused, host unreachable, ...).
            let cause = systemError == EINPROGRESS || systemError == 0 ? Self.connectFailure(endpoint) : systemError
            if cause != 0 { reason += " (\(String(cString: strerror(cause))))" }
            return .connectionRefused(host: endpoint.host, port: endpoint.port, reason: reason)
        }
    }

    /// Why a TCP connection to `endpoint` fails now (an `errno` value), from one non-blocking attempt that waits at
    /// most a second; 0 when it connects, cannot be resolved, or does not fail within that second.
    static func connectFailure(_ endpoint: AMQPConnectionConfiguration.Endpoint) -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(endpoint.host, String(endpoint.port), &hints, &result) == 0, let address = result else { return 0 }
        defer { freeaddrinfo(result) }
        let fd = Glibc.socket(address.pointee.ai_family, address.pointee.ai_socktype | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        if Glibc.connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 { return 0 }
        guard errno == EINPROGRESS else { return errno }
        var descriptor = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        guard poll(&descriptor, 1, 1_000) == 1 else { return 0 }
        var failure: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &failure, &length) == 0 else { return 0 }
        return failure
    }

    private func loginError(_ reply: amqp_rpc_reply_t, endpoint: AMQPConnectionConfiguration.Endpoint) -> AMQPError? {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return nil
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            if reply.reply.id == CR_CONNECTION_CLOSE_METHOD, let decoded = reply.reply.decoded {
                let close = decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
                let text = CDecoding.string(close.reply_text)
                switch AMQPReplyCode(rawValue: close.reply_code) {
                case .accessRefused:
                    return .authenticationFailed(user: configuration.user, reason: text)
                case .notAllowed:
                    return .virtualHostAccessRefused(vhost: configuration.virtualHost, reason: text)
                default:
                    return .connectionClosedByBroker(replyCode: AMQPReplyCode(rawValue: close.reply_code), replyText: text)
                }
            }
            return .protocolViolation("unexpected method \(reply.reply.id) during login")
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            let status = reply.library_error
            if status == AMQP_STATUS_TIMEOUT.rawValue {
                return .connectionTimedOut(host: endpoint.host, port: endpoint.port)
            }
            if status == AMQP_STATUS_SSL_PEER_VERIFY_FAILED.rawValue || status == AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED.rawValue
                || status == AMQP_STATUS_SSL_ERROR.rawValue
            {
                return .tls(.handshakeFailed, detail: CDecoding.statusText(status))
            }
            return .connectionLost(reason: "during login: \(CDecoding.statusText(status))")
        default:
            return .connectionLost(reason: "the broker closed the socket during login")
        }
    }
}
