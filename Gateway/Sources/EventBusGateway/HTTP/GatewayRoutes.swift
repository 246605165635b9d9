import EventBus
import Foundation
import HTTPTypes
import Hummingbird

/// The gateway's HTTP API. Everything under `/api` needs a key (``KeyAuthenticator``); `/health` and `/metrics` do not.
struct GatewayRoutes: Sendable {
    let gateway: GatewayService

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("health") { _, _ in health() }
        router.get("metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: gateway.metricsRegistry?.emitToString() ?? "")))
        }
        let api = router.group("api").add(middleware: KeyMiddleware(authenticator: KeyAuthenticator(keys: gateway.configuration.keys)))
        api.post("events") { request, context in try await publish(request, context) }
        api.get("subscriptions") { _, _ in
            json(.ok, .object(["value": .array(gateway.subscriptions().map { describe($0.name, $0.dispatcher, $0.origin) })]))
        }
        api.get("subscriptions/{name}") { _, context in
            let name = try context.parameters.require("name")
            guard let found = gateway.subscriptions().first(where: { $0.name == name }) else {
                return problem(.notFound, title: "No such subscription", detail: GatewayError.unknownSubscription(name).description)
            }
            return json(.ok, describe(found.name, found.dispatcher, found.origin))
        }
        api.put("subscriptions/{name}") { request, context in
            let name = try context.parameters.require("name")
            let buffer = try await request.body.collect(upTo: 1_048_576)
            let definition: WebhookSubscription
            do {
                definition = try JSONDecoder().decode(WebhookSubscription.self, from: Data(buffer: buffer))
            } catch {
                return problem(.badRequest, title: "Invalid subscription", detail: "the body is not a subscription: \(error)")
            }
            do {
                let created = try await gateway.putSubscription(name: name, definition)
                guard let dispatcher = gateway.dispatcher(named: name) else {
                    return problem(.serviceUnavailable, title: "Not running", detail: "the gateway is stopping")
                }
                return json(created ? .created : .ok, describe(name, dispatcher, .api))
            } catch let error as GatewayError {
                return problem(.badRequest, title: "Invalid subscription", detail: error.description)
            }
        }
        api.delete("subscriptions/{name}") { _, context in
            let name = try context.parameters.require("name")
            do {
                return try await gateway.deleteSubscription(name: name)
                    ? Response(status: .noContent)
                    : problem(.notFound, title: "No such subscription", detail: GatewayError.unknownSubscription(name).description)
            } catch let error as GatewayError {
                return problem(.conflict, title: "Cannot delete", detail: error.description)
            }
        }
        return router
    }

    func health() -> Response {
        let publishing = gateway.publisher?.isConnected ?? false
        let subscriptions = gateway.subscriptions()
        let consuming = subscriptions.allSatisfy { $0.dispatcher.bus.isConnected }
        let body: JSONValue = .object([
            "status": .string(publishing && consuming ? "Healthy" : "Unhealthy"), "publishing": .bool(publishing),
            "subscriptions": .object(Dictionary(uniqueKeysWithValues: subscriptions.map {
                ($0.name, .object(["connected": .bool($0.dispatcher.bus.isConnected), "validated": .bool($0.dispatcher.isValidated)]))
            })),
        ])
        return json(publishing && consuming ? .ok : .serviceUnavailable, body)
    }

    func describe(_ name: String, _ dispatcher: WebhookDispatcher, _ origin: GatewayService.Origin) -> JSONValue {
        let definition = (try? JSONValue.parse(JSONEncoder().encode(dispatcher.settings.definition.redacted))) ?? .null
        return .object([
            "name": .string(name), "queue": .string(dispatcher.queue), "deadLetterQueue": .string(dispatcher.topology.deadLetterQueue),
            "origin": .string(origin.rawValue),
            "provisioningState": .string(dispatcher.isValidated ? "Succeeded" : "AwaitingManualAction"),
            "properties": definition,
        ])
    }

    func publish(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        guard let schema = IncomingSchema(contentType: request.headers[.contentType]) else {
            return problem(.unsupportedMediaType, title: "Unsupported content type",
                           detail: "send application/cloudevents+json, application/cloudevents-batch+json or application/json (Event Grid schema)")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: gateway.configuration.maxRequestSize)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            return problem(.contentTooLarge, title: "Request too large", detail: "a request may have at most \(gateway.configuration.maxRequestSize) bytes; split the batch")
        }
        let parser = IncomingEventParser(maxEventSize: gateway.configuration.maxEventSize, defaultSource: gateway.configuration.serviceName)
        let events: [RawEvent]
        switch parser.parse(Data(buffer: buffer), schema: schema) {
        case .success(let parsed): events = parsed
        case .failure(let failure):
            let problems = failure.problems
            let errors = JSONValue.array(problems.map { item in
                var object: [String: JSONValue] = ["field": .string(item.field), "message": .string(item.message)]
                if let index = item.index { object["index"] = .integer(Int64(index)) }
                if let id = item.id { object["id"] = .string(id) }
                return .object(object)
            })
            return problem(.badRequest, title: "Invalid events", detail: "\(problems.count) problem(s); nothing of this request was published", extra: ["errors": errors])
        }
        guard let publisher = gateway.publisher else {
            return problem(.serviceUnavailable, title: "Not running", detail: "the gateway is starting or stopping; try again")
        }
        let received = EventDate.format(Date())
        let stamped = events.map { event in
            var event = event
            event.headers[AttributeHeader.publishTime] = received
            return event
        }
        let outcomes = await publisher.publishAll(stamped)
        var failures: [JSONValue] = []
        var onlyUnroutable = true
        for (index, (event, outcome)) in zip(events, outcomes).enumerated() {
            guard case .failure(let error) = outcome else { continue }
            if case EventBusError.publishFailed = error {} else { onlyUnroutable = false }
            failures.append(.object(["index": .integer(Int64(index)), "id": .string(event.id), "message": .string("\(error)")]))
        }
        guard failures.isEmpty else {
            return problem(
                onlyUnroutable ? .unprocessableContent : .serviceUnavailable, title: "Events not published",
                detail: "\(failures.count) of \(events.count) event(s) were not confirmed by the broker; the others were. Sending the whole request again is safe: subscribers deduplicate by id",
                extra: ["errors": .array(failures)])
        }
        return Response(status: .ok)
    }
}

/// Refuses `/api` requests without an accepted key with 401 (and a `WWW-Authenticate` challenge).
struct KeyMiddleware<Context: RequestContext>: RouterMiddleware {
    let authenticator: KeyAuthenticator

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let key = request.headers[HTTPField.Name(KeyAuthenticator.keyHeader)!]
        guard authenticator.accepts(keyHeader: key, authorization: request.headers[.authorization]) else {
            var response = problem(.unauthorized, title: "Unauthorized", detail: "send a key in the aeg-sas-key header or as Authorization: Bearer <key>")
            response.headers[.wwwAuthenticate] = "Bearer"
            return response
        }
        return try await next(request, context)
    }
}

func json(_ status: HTTPResponse.Status, _ value: JSONValue) -> Response {
    Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: value.jsonData())))
}

/// An RFC 9457 problem document.
func problem(_ status: HTTPResponse.Status, title: String, detail: String, extra: [String: JSONValue] = [:]) -> Response {
    var object: [String: JSONValue] = ["title": .string(title), "status": .integer(Int64(status.code)), "detail": .string(detail)]
    for (key, value) in extra { object[key] = value }
    return Response(
        status: status, headers: [.contentType: "application/problem+json"],
        body: .init(byteBuffer: ByteBuffer(bytes: JSONValue.object(object).jsonData())))
}
