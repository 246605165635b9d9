/// Every error the `AMQP` layer throws. Each case carries what the caller needs to decide what to do, and its
/// `description` says it in words. No case ever contains a password.
public enum AMQPError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A broker URL could not be parsed.
    case invalidURL(String, reason: String)
    /// A configuration or argument value is out of range or inconsistent.
    case invalidArgument(String)
    /// The TCP connection could not be opened (nothing listening, host unknown, network unreachable).
    case connectionRefused(host: String, port: Int, reason: String)
    /// The TCP or TLS connection or the AMQP handshake did not complete within the connection timeout.
    case connectionTimedOut(host: String, port: Int)
    /// The broker refused the user name or password (`ACCESS_REFUSED` during login).
    case authenticationFailed(user: String, reason: String)
    /// The broker refused access to the virtual host.
    case virtualHostAccessRefused(vhost: String, reason: String)
    /// TLS failed: the peer's certificate chain or host name did not verify, the handshake failed, or the
    /// certificate files could not be loaded.
    case tls(TLSFailure, detail: String)
    /// No frame arrived from the broker within two heartbeat intervals: the peer or the network is dead.
    case heartbeatTimeout
    /// The broker closed the connection (`connection.close`), for example an operator's `close_connection`
    /// (`CONNECTION_FORCED`) or a broker shutdown.
    case connectionClosedByBroker(replyCode: AMQPReplyCode, replyText: String)
    /// The broker closed the channel (`channel.close`) because an operation on it failed, for example
    /// `NOT_FOUND` or `PRECONDITION_FAILED`. Only this channel is gone; open a new one.
    case channelClosedByBroker(replyCode: AMQPReplyCode, replyText: String)
    /// The connection was closed by this process (`close()` was called) before the operation completed.
    case connectionClosed
    /// The channel was closed by this process before the operation completed.
    case channelClosed
    /// The connection broke: the socket failed or the broker went away without a `connection.close`.
    case connectionLost(reason: String)
    /// A `mandatory` publish could not be routed: the broker returned it (`basic.return`).
    case returned(replyCode: AMQPReplyCode, replyText: String, exchange: String, routingKey: String)
    /// The broker refused to take responsibility for a confirmed publish (`basic.nack`); publish it again.
    case nacked
    /// The broker cancelled the consumer, usually because its queue was deleted.
    case consumerCancelledByBroker(consumerTag: String)
    /// The broker sent something this client did not expect; the channel or connection was closed.
    case protocolViolation(String)
    /// A write to the socket made no progress for this long (the broker or the network stopped taking data), so the
    /// connection was declared dead and closed; whatever waited on it failed. Connect again; publishes not confirmed
    /// may or may not have reached the broker.
    case writeTimedOut(after: Duration)
    /// The publish was not sent: its deadline passed before it could be written to the socket (it was still queued
    /// behind a full confirm window, a broker that blocked the connection, or a stalled write). Nothing reached the
    /// broker, so publishing it again cannot duplicate it.
    case publishWithdrawn

    /// The kind of TLS failure.
    public enum TLSFailure: String, Sendable, Hashable {
        /// The peer's certificate chain did not verify against the configured CA.
        case peerVerificationFailed
        /// The peer's certificate does not name the host that was connected to.
        case hostnameVerificationFailed
        /// The TLS handshake failed for another reason (protocol, cipher, client certificate refused).
        case handshakeFailed
        /// A CA, certificate or key file could not be loaded.
        case invalidCertificateFile
    }

    /// The broker's reply code, when the broker said why.
    public var replyCode: AMQPReplyCode? {
        switch self {
        case .connectionClosedByBroker(let code, _), .channelClosedByBroker(let code, _), .returned(let code, _, _, _):
            return code
        case .authenticationFailed:
            return .accessRefused
        default:
            return nil
        }
    }

    /// `true` when the connection (not just a channel or an operation) is unusable after this error, so a caller
    /// that wants to go on must connect again.
    public var closesConnection: Bool {
        switch self {
        case .heartbeatTimeout, .connectionClosedByBroker, .connectionClosed, .connectionLost, .writeTimedOut,
            .connectionRefused, .connectionTimedOut, .authenticationFailed, .virtualHostAccessRefused, .tls:
            return true
        default:
            return false
        }
    }

    public var description: String {
        switch self {
        case .invalidURL(let url, let reason):
            return "invalid broker URL '\(url)': \(reason)"
        case .invalidArgument(let text):
            return "invalid argument: \(text)"
        case .connectionRefused(let host, let port, let reason):
            return "could not connect to \(host):\(port): \(reason); is the broker running and the address right?"
        case .connectionTimedOut(let host, let port):
            return "connecting to \(host):\(port) timed out; check the address, the firewall and the broker's load"
        case .authenticationFailed(let user, let reason):
            return "the broker refused the credentials of user '\(user)' (\(reason)); check the user name and password"
        case .virtualHostAccessRefused(let vhost, let reason):
            return "the broker refused access to virtual host '\(vhost)' (\(reason)); check it exists and the user has permissions on it"
        case .tls(let failure, let detail):
            switch failure {
            case .peerVerificationFailed:
                return "TLS: the broker's certificate did not verify against the configured CA (\(detail)); check the CA file"
            case .hostnameVerificationFailed:
                return "TLS: the broker's certificate does not name the host connected to (\(detail)); connect by a name the certificate carries"
            case .handshakeFailed:
                return "TLS handshake failed (\(detail)); check that the port speaks TLS and the client certificate is accepted"
            case .invalidCertificateFile:
                return "TLS: could not load a certificate or key file (\(detail))"
            }
        case .heartbeatTimeout:
            return "no heartbeat from the broker within two heartbeat intervals: the connection is dead"
        case .connectionClosedByBroker(let code, let text):
            return "the broker closed the connection: \(code) \(text)"
        case .channelClosedByBroker(let code, let text):
            return "the broker closed the channel: \(code) \(text)"
        case .connectionClosed:
            return "the connection was closed by this client"
        case .channelClosed:
            return "the channel was closed by this client"
        case .connectionLost(let reason):
            return "the connection to the broker was lost: \(reason)"
        case .returned(let code, let text, let exchange, let routingKey):
            return "the broker returned the message: \(code) \(text) (exchange '\(exchange)', routing key '\(routingKey)'); no queue is bound for it, or none of the bound ones is available"
        case .nacked:
            return "the broker nacked the message (it could not take responsibility for it); publish it again"
        case .consumerCancelledByBroker(let tag):
            return "the broker cancelled consumer '\(tag)' (was its queue deleted?)"
        case .protocolViolation(let text):
            return "protocol violation: \(text)"
        case .writeTimedOut(let timeout):
            return "writing to the broker made no progress for \(timeout): the connection was declared dead; is the broker or the network stalled?"
        case .publishWithdrawn:
            return "the publish was withdrawn unsent: its deadline passed before it could be written to the socket; nothing reached the broker"
        }
    }
}
