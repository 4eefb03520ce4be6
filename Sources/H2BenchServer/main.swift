// A small server for transport benchmarks (bench/): the GetHealth RPC answered inline from memory
// with the real response shape, and REST GET /health over HTTP/1.1 and HTTP/2, until the real
// service is wired into learning-server. Usage: H2BenchServer [port] [loop-threads]
import CProtobufC
import Foundation
import GRPCStandardServices
import GRPCWire
import H2Transport
import LearningProtoC
import ProtobufCSupport

let arguments = CommandLine.arguments
let port = arguments.count > 1 ? Int(arguments[1]) ?? 50051 : 50051
let threads = arguments.count > 2 ? Int(arguments[2]) ?? 0 : 0

/// The GetHealth response, built per call from in-memory state like the real handler will.
@Sendable func healthResponse() -> [UInt8] {
    let arena = ProtoArena()
    let response = arena.message(learning__v1__get_health_response__init)
    response.pointee.status = arena.string("healthy")
    response.pointee.service = arena.string("learning-system")
    response.pointee.database = arena.string("connected")
    response.pointee.agents_registered = 12
    response.pointee.version = arena.string("1.0.0")
    response.pointee.uptime_seconds = 3600
    response.pointee.total_executions = 123_456
    return packMessage(response)
}

var router = Router()
router.register("/learning.v1.LearningSystem/GetHealth", .unaryInline { _, _ in healthResponse() })
let restBody = Array("{\"status\":\"healthy\",\"service\":\"learning-system\",\"database\":\"connected\"}".utf8)
router.http = { request in
    if request.method == "GET" && request.path == "/health" {
        return .inline { _ in
            HTTPResponse(status: 200, headers: [Metadata("content-type", "application/json")], body: restBody)
        }
    }
    if request.method == "POST" && request.path == "/echo" {
        return .async { request in HTTPResponse(status: 200, body: request.body) }
    }
    return .inline { _ in HTTPResponse(status: 404, body: Array("{\"error\":\"not found\"}".utf8)) }
}
let health = HealthService()
health.register(into: &router)
let reflection = try ReflectionService(descriptorSet: embeddedDescriptorSet())
reflection.register(into: &router)

let server = H2Server(configuration: ServerConfiguration(host: "127.0.0.1", port: port, loopThreads: threads),
                      router: router)
health.attach(to: server)
try server.start()
print("listening on 127.0.0.1:\(server.port)")
signal(SIGTERM, SIG_IGN)
signal(SIGINT, SIG_IGN)
let signals = [SIGTERM, SIGINT].map { signalNumber -> any DispatchSourceSignal in
    let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
    source.setEventHandler { server.shutdown(grace: .seconds(5)) }
    source.resume()
    return source
}
server.wait()
_ = signals
