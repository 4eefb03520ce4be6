public import H2Transport
import CProtobufC
import GRPCWire
import LearningProtoC
import ProtobufCSupport

/// The descriptor set embedded in the binary by scripts/generate-protos.sh: every service file of
/// Protos/ and its imports.
public func embeddedDescriptorSet() -> [UInt8] {
    let length = Int(learning_descriptor_set_length())
    guard length > 0, let bytes = learning_descriptor_set_bytes() else { return [] }
    return Array(UnsafeBufferPointer(start: bytes, count: length))
}

/// gRPC server reflection (`grpc.reflection.v1` and `v1alpha`, which share one wire format), served
/// from a descriptor set so tools such as grpcurl can list and describe every service.
///
/// ```swift
/// let reflection = try ReflectionService(descriptorSet: embeddedDescriptorSet())
/// reflection.register(into: &router)
/// ```
public final class ReflectionService: Sendable {
    /// The v1 method path.
    public static let v1Path = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
    /// The v1alpha method path.
    public static let v1alphaPath = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"

    private let index: DescriptorIndex
    /// The services `list_services` reports.
    public let serviceNames: [String]

    /// Indexes a serialized `FileDescriptorSet`; throws `GRPCStatus(.internal)` when it is malformed.
    /// - Parameter services: The services to list; every service in the set when `nil`.
    public init(descriptorSet: [UInt8], services: [String]? = nil) throws {
        do {
            index = try DescriptorIndex(descriptorSet: descriptorSet)
        } catch {
            throw GRPCStatus(.internal, "the descriptor set is malformed")
        }
        serviceNames = (services ?? index.services).sorted()
    }

    /// Registers the reflection stream under the v1 and v1alpha paths.
    public func register(into router: inout Router) {
        let handler = GRPCMethodHandler.bidirectional { [self] _, requests, writer in
            for try await request in requests {
                try await writer.send(try respond(to: request))
            }
        }
        router.register(Self.v1Path, handler)
        router.register(Self.v1alphaPath, handler)
    }

    /// The response to one serialized `ServerReflectionRequest`.
    func respond(to bytes: [UInt8]) throws -> [UInt8] {
        guard let request = unpackMessage(bytes, grpc__reflection__v1__server_reflection_request__unpack) else {
            throw GRPCStatus(.invalidArgument, "request is not a valid ServerReflectionRequest")
        }
        let arena = ProtoArena()
        let response = arena.message(grpc__reflection__v1__server_reflection_response__init)
        response.pointee.valid_host = arena.string(stringField(request.message.host))
        response.pointee.original_request = request.pointer

        func files(_ list: [[UInt8]]) {
            let fileResponse = arena.message(grpc__reflection__v1__file_descriptor_response__init)
            let blobs = list.map { file -> ProtobufCBinaryData in
                let data = arena.allocate(UInt8.self, count: file.count)
                data.initialize(from: file, count: file.count)
                return ProtobufCBinaryData(len: file.count, data: data)
            }
            fileResponse.pointee.n_file_descriptor_proto = blobs.count
            fileResponse.pointee.file_descriptor_proto = arena.array(blobs)
            response.pointee.message_response_case = GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE
            response.pointee.file_descriptor_response = fileResponse
        }
        func notFound(_ message: String) {
            let error = arena.message(grpc__reflection__v1__error_response__init)
            error.pointee.error_code = Int32(GRPCStatusCode.notFound.rawValue)
            error.pointee.error_message = arena.string(message)
            response.pointee.message_response_case = GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE
            response.pointee.error_response = error
        }

        let message = request.message
        switch message.message_request_case {
        case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES:
            let list = arena.message(grpc__reflection__v1__list_service_response__init)
            let entries = serviceNames.map { name -> UnsafeMutablePointer<Grpc__Reflection__V1__ServiceResponse>? in
                let entry = arena.message(grpc__reflection__v1__service_response__init)
                entry.pointee.name = arena.string(name)
                return entry
            }
            list.pointee.n_service = entries.count
            list.pointee.service = arena.array(entries)
            response.pointee.message_response_case = GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE
            response.pointee.list_services_response = list
        case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME:
            let name = stringField(message.file_by_filename)
            if let list = index.fileWithDependencies(name) { files(list) } else { notFound("file '\(name)' not found") }
        case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL:
            var symbol = stringField(message.file_containing_symbol)
            if symbol.hasPrefix(".") { symbol.removeFirst() }
            if let file = index.symbols[symbol], let list = index.fileWithDependencies(file) {
                files(list)
            } else {
                notFound("symbol '\(symbol)' not found")
            }
        case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_EXTENSION:
            let typeName = message.file_containing_extension.map { stringField($0.pointee.containing_type) } ?? ""
            let number = message.file_containing_extension?.pointee.extension_number ?? 0
            if let file = index.extensions[typeName]?[number], let list = index.fileWithDependencies(file) {
                files(list)
            } else {
                notFound("extension \(number) of '\(typeName)' not found")
            }
        case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_ALL_EXTENSION_NUMBERS_OF_TYPE:
            let typeName = stringField(message.all_extension_numbers_of_type)
            if index.symbols[typeName] != nil {
                let numbers = (index.extensions[typeName] ?? [:]).keys.sorted()
                let result = arena.message(grpc__reflection__v1__extension_number_response__init)
                result.pointee.base_type_name = arena.string(typeName)
                result.pointee.n_extension_number = numbers.count
                result.pointee.extension_number = arena.array(numbers)
                response.pointee.message_response_case = GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ALL_EXTENSION_NUMBERS_RESPONSE
                response.pointee.all_extension_numbers_response = result
            } else {
                notFound("type '\(typeName)' not found")
            }
        default:
            throw GRPCStatus(.invalidArgument, "the reflection request sets no question")
        }
        let packed = packMessage(response)
        withExtendedLifetime(request) {}
        return packed
    }
}
