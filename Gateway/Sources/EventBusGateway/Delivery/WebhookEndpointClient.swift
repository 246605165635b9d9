import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// One subscription's HTTP client: resolves the endpoint's host (again when the last answer is older than
/// ``resolutionLifetime``), checks the address with ``EndpointGuard``, and connects to exactly that address
/// (AsyncHTTPClient's DNS override keeps the host name for TLS verification and the `Host` header), so every request
/// goes to an address the guard passed. Redirects are not followed (they could lead past the guard). Each
/// subscription has its own connection pool, so a slow endpoint holds only its own connections.
final class WebhookEndpointClient: Sendable {
    let endpoint: URL
    let allowPrivateNetworks: Bool
    /// How long a resolved and checked address is used before the host is resolved again: a DNS change reaches
    /// deliveries within this time, and a busy subscription does not ask the resolver once per request.
    static let resolutionLifetime = Duration.seconds(10)
    private let pinned = Mutex<(address: String, client: HTTPClient)?>(nil)
    private let resolution = Mutex<(address: String, at: ContinuousClock.Instant)?>(nil)
    private let retired = Mutex<[HTTPClient]>([])

    init(endpoint: URL, allowPrivateNetworks: Bool) {
        self.endpoint = endpoint
        self.allowPrivateNetworks = allowPrivateNetworks
    }

    /// POSTs `body` and returns the status and up to `maxResponseBytes` of the answer. Throws a
    /// ``WebhookDeliveryFailure`` (timed out, connection failed, endpoint refused) when no status arrived; `retryable`
    /// tells whether trying again can help.
    func post(
        _ body: Data, headers: [(String, String)], timeout: Duration, maxResponseBytes: Int = 65_536
    ) async throws(EndpointError) -> (status: Int, body: Data) {
        let host = endpoint.host ?? ""
        let port = endpoint.port ?? (endpoint.scheme?.lowercased() == "https" ? 443 : 80)
        let address: String
        do {
            address = try await resolve(host: host, port: port)
        } catch let refusal as EndpointGuard.Refusal {
            let restricted = refusal.reason.contains("range")
            throw EndpointError(failure: WebhookDeliveryFailure(
                outcome: restricted ? .endpointRefused : .connectionFailed, status: nil, message: refusal.description), retryable: !restricted)
        } catch {
            throw EndpointError(failure: WebhookDeliveryFailure(outcome: .connectionFailed, status: nil, message: "\(error)"), retryable: true)
        }
        let client = client(for: address, host: host)
        var request = HTTPClientRequest(url: endpoint.absoluteString)
        request.method = .POST
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        let deadline = NIODeadline.now() + .nanoseconds(timeout.nanosecondsClamped)
        do {
            let response = try await client.execute(request, deadline: deadline)
            let status = Int(response.status.code)
            var answer = Data()
            do {
                let buffer = try await response.body.collect(upTo: maxResponseBytes)
                answer = Data(buffer.readableBytesView)
            } catch {
                // The status decides; an answer too long or cut short is not read further.
            }
            return (status, answer)
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw EndpointError(failure: WebhookDeliveryFailure(
                outcome: .timedOut, status: nil, message: "no answer within \(timeout) (\(error))"), retryable: true)
        } catch {
            throw EndpointError(failure: WebhookDeliveryFailure(outcome: .connectionFailed, status: nil, message: "\(error)"), retryable: true)
        }
    }

    /// The checked address of `host`: the last one while it is younger than ``resolutionLifetime``, else a new one.
    private func resolve(host: String, port: Int) async throws -> String {
        let now = ContinuousClock.now
        if let last = resolution.withLock({ $0 }), now - last.at < Self.resolutionLifetime { return last.address }
        let address = try await EndpointGuard.resolve(host: host, port: port, allowPrivateNetworks: allowPrivateNetworks)
        resolution.withLock { $0 = (address, now) }
        return address
    }

    /// The client pinned to `address`; a new one (and the old one retired) when the host now resolves elsewhere.
    private func client(for address: String, host: String) -> HTTPClient {
        pinned.withLock { pinned in
            if let current = pinned, current.address == address { return current.client }
            var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
            configuration.timeout = .init(connect: .seconds(10))
            if address != host && "[\(address)]" != host { configuration.dnsOverride = [host: address] }
            let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
            if let old = pinned?.client { retired.withLock { $0.append(old) } }
            pinned = (address, client)
            return client
        }
    }

    /// Closes every connection. Call once, after the last request.
    func shutdown() async {
        let clients = pinned.withLock { pinned in
            defer { pinned = nil }
            return pinned.map { [$0.client] } ?? []
        } + retired.withLock { retired in
            defer { retired = [] }
            return retired
        }
        for client in clients { try? await client.shutdown() }
    }
}

/// A request that got no HTTP status.
struct EndpointError: Error {
    var failure: WebhookDeliveryFailure
    var retryable: Bool
}

extension Duration {
    var nanosecondsClamped: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : product.addingReportingOverflow(attoseconds / 1_000_000_000).partialValue
    }
}
