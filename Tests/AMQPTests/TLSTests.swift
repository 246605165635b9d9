import AMQP
import Foundation
import Testing

@Suite(.timeLimit(.minutes(1))) struct TLSTests {
    func configuration(_ tls: AMQPConnectionConfiguration.TLS, host: String = "localhost") throws -> AMQPConnectionConfiguration {
        var configuration = try TestBroker.configuration
        configuration.endpoints = [.init(host: host, port: TestBroker.tlsPort)]
        configuration.tls = tls
        return configuration
    }

    var directory: String { TestBroker.tlsDirectory }

    @Test func tlsWithTheRightCAConnects() async throws {
        let connection = try await AMQPConnection.connect(configuration(.verified(caFile: "\(directory)/ca.pem")))
        let channel = try await connection.openChannel()
        let info = try await channel.queueDeclare("", durable: false, exclusive: true)
        #expect(info.name.hasPrefix("amq.gen-"))
        await connection.close()
    }

    @Test func hostnameVerificationRefusesAnAddressTheCertificateDoesNotNameAsDNS() async throws {
        // librabbitmq-c 0.11 matches the host against DNS names only (not IP SANs): by IP, verification fails
        // unless host-name checking is turned off, while the chain is still verified against the CA.
        await #expect(throws: AMQPError.tls(.hostnameVerificationFailed, detail: "SSL hostname verification failed")) {
            _ = try await AMQPConnection.connect(configuration(.verified(caFile: "\(directory)/ca.pem"), host: "127.0.0.1"))
        }
        var chainOnly = AMQPConnectionConfiguration.TLS.verified(caFile: "\(directory)/ca.pem")
        chainOnly.verifyHostname = false
        let connection = try await AMQPConnection.connect(configuration(chainOnly, host: "127.0.0.1"))
        await connection.close()
        var wrongCA = chainOnly
        wrongCA.caFile = "\(directory)/other-ca.pem"
        await #expect(throws: AMQPError.tls(.peerVerificationFailed, detail: "SSL peer cert verification failed")) {
            _ = try await AMQPConnection.connect(configuration(wrongCA, host: "127.0.0.1"))
        }
    }

    @Test func tlsWithAWrongCAFailsWithAVerificationError() async throws {
        await #expect(throws: AMQPError.tls(.peerVerificationFailed, detail: "SSL peer cert verification failed")) {
            _ = try await AMQPConnection.connect(configuration(.verified(caFile: "\(directory)/other-ca.pem")))
        }
    }

    @Test func mutualTLSWithAClientCertificateConnects() async throws {
        let tls = AMQPConnectionConfiguration.TLS.mutual(
            caFile: "\(directory)/ca.pem", certificateFile: "\(directory)/client.pem", keyFile: "\(directory)/client.key")
        let connection = try await AMQPConnection.connect(configuration(tls))
        await connection.close()
    }

    @Test func missingCAFileIsAClearError() async throws {
        let error = await #expect(throws: AMQPError.self) {
            _ = try await AMQPConnection.connect(configuration(.verified(caFile: "/nonexistent/ca.pem")))
        }
        guard case .tls(.invalidCertificateFile, let detail)? = error else {
            Issue.record("expected an invalid certificate file error, got \(String(describing: error))")
            return
        }
        #expect(detail.hasPrefix("CA file '/nonexistent/ca.pem'"), "the error names the file: \(detail)")
    }

    @Test func plainAMQPAgainstTheTLSPortFailsInsteadOfHanging() async throws {
        var configuration = try TestBroker.configuration
        configuration.endpoints = [.init(host: "127.0.0.1", port: TestBroker.tlsPort)]
        configuration.connectionTimeout = .seconds(3)
        // The TLS listener drops the plain AMQP greeting: the socket breaks during login, long before the timeout.
        // How it breaks is the kernel's timing: a reset (a socket error) or an orderly close, both during login.
        let error = await #expect(throws: AMQPError.self) { _ = try await AMQPConnection.connect(configuration) }
        let expected: Set<AMQPError> = [
            .connectionLost(reason: "during login: a socket error occurred"),
            .connectionLost(reason: "during login: connection closed unexpectedly"),
        ]
        #expect(error.map { expected.contains($0) } == true, "lost during login, got \(String(describing: error))")
    }
}
