/// A minimal protobuf wire-format reader: enough to walk descriptor protos.
struct WireReader {
    enum Field {
        case varint(Int, UInt64)
        case bytes(Int, ArraySlice<UInt8>)
        case fixed(Int)
    }

    struct Malformed: Error {}

    private let bytes: ArraySlice<UInt8>
    private var index: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.index = bytes.startIndex
    }

    private mutating func varint() throws -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard index < bytes.endIndex, shift < 64 else { throw Malformed() }
            let byte = bytes[index]
            index += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
    }

    /// The next field, `nil` at the end.
    mutating func next() throws -> Field? {
        guard index < bytes.endIndex else { return nil }
        let key = try varint()
        let number = Int(key >> 3)
        switch key & 7 {
        case 0: return .varint(number, try varint())
        case 1:
            guard bytes.endIndex - index >= 8 else { throw Malformed() }
            index += 8
            return .fixed(number)
        case 2:
            let length = try varint()
            guard length <= UInt64(bytes.endIndex - index) else { throw Malformed() }
            let slice = bytes[index..<index + Int(length)]
            index += Int(length)
            return .bytes(number, slice)
        case 5:
            guard bytes.endIndex - index >= 4 else { throw Malformed() }
            index += 4
            return .fixed(number)
        default:
            throw Malformed()
        }
    }
}

/// The files of a serialized `google.protobuf.FileDescriptorSet`, indexed by file name, by fully
/// qualified symbol (messages, nested messages, enums, services, methods) and by extension.
struct DescriptorIndex: Sendable {
    /// Serialized FileDescriptorProto bytes by file name.
    private(set) var files: [String: [UInt8]] = [:]
    /// Direct dependencies by file name.
    private(set) var dependencies: [String: [String]] = [:]
    /// File name by fully qualified symbol (without a leading dot).
    private(set) var symbols: [String: String] = [:]
    /// Fully qualified service names in file order.
    private(set) var services: [String] = []
    /// File name by (extended type, field number).
    private(set) var extensions: [String: [Int32: String]] = [:]

    init(descriptorSet: [UInt8]) throws {
        var reader = WireReader(descriptorSet[...])
        while let field = try reader.next() {
            if case .bytes(1, let file) = field { try addFile(file) }
        }
    }

    private func text(_ slice: ArraySlice<UInt8>) -> String { String(decoding: slice, as: UTF8.self) }

    private mutating func addFile(_ bytes: ArraySlice<UInt8>) throws {
        var name = "", package = ""
        var dependencyNames: [String] = []
        var messages: [ArraySlice<UInt8>] = [], enums: [ArraySlice<UInt8>] = []
        var serviceProtos: [ArraySlice<UInt8>] = [], extensionFields: [ArraySlice<UInt8>] = []
        var reader = WireReader(bytes)
        while let field = try reader.next() {
            guard case .bytes(let number, let value) = field else { continue }
            switch number {
            case 1: name = text(value)
            case 2: package = text(value)
            case 3: dependencyNames.append(text(value))
            case 4: messages.append(value)
            case 5: enums.append(value)
            case 6: serviceProtos.append(value)
            case 7: extensionFields.append(value)
            default: break
            }
        }
        files[name] = Array(bytes)
        dependencies[name] = dependencyNames
        let prefix = package.isEmpty ? "" : package + "."
        for message in messages { try addMessage(message, prefix: prefix, file: name) }
        for enumeration in enums { try addNamed(enumeration, prefix: prefix, file: name) }
        for field in extensionFields { try addExtension(field, file: name) }
        for service in serviceProtos {
            var serviceName = ""
            var methods: [String] = []
            var serviceReader = WireReader(service)
            while let field = try serviceReader.next() {
                if case .bytes(1, let value) = field { serviceName = text(value) }
                if case .bytes(2, let method) = field {
                    var methodReader = WireReader(method)
                    while let methodField = try methodReader.next() {
                        if case .bytes(1, let value) = methodField { methods.append(text(value)) }
                    }
                }
            }
            let fullName = prefix + serviceName
            services.append(fullName)
            symbols[fullName] = name
            for method in methods { symbols[fullName + "." + method] = name }
        }
    }

    private mutating func addNamed(_ bytes: ArraySlice<UInt8>, prefix: String, file: String) throws {
        var reader = WireReader(bytes)
        while let field = try reader.next() {
            if case .bytes(1, let value) = field { symbols[prefix + text(value)] = file }
        }
    }

    private mutating func addMessage(_ bytes: ArraySlice<UInt8>, prefix: String, file: String) throws {
        var name = ""
        var nested: [ArraySlice<UInt8>] = [], enums: [ArraySlice<UInt8>] = [], extensionFields: [ArraySlice<UInt8>] = []
        var reader = WireReader(bytes)
        while let field = try reader.next() {
            guard case .bytes(let number, let value) = field else { continue }
            switch number {
            case 1: name = text(value)
            case 3: nested.append(value)
            case 4: enums.append(value)
            case 6: extensionFields.append(value)
            default: break
            }
        }
        let fullName = prefix + name
        symbols[fullName] = file
        for message in nested { try addMessage(message, prefix: fullName + ".", file: file) }
        for enumeration in enums { try addNamed(enumeration, prefix: fullName + ".", file: file) }
        for field in extensionFields { try addExtension(field, file: file) }
    }

    private mutating func addExtension(_ bytes: ArraySlice<UInt8>, file: String) throws {
        var extendee = ""
        var number: Int32 = 0
        var reader = WireReader(bytes)
        while let field = try reader.next() {
            if case .bytes(2, let value) = field { extendee = text(value) }
            if case .varint(3, let value) = field { number = Int32(truncatingIfNeeded: value) }
        }
        if extendee.hasPrefix(".") { extendee.removeFirst() }
        extensions[extendee, default: [:]][number] = file
    }

    /// A file and everything it imports, transitively, the file first.
    func fileWithDependencies(_ name: String) -> [[UInt8]]? {
        guard files[name] != nil else { return nil }
        var order: [String] = []
        var seen: Set<String> = []
        var stack = [name]
        while let next = stack.popLast() {
            guard seen.insert(next).inserted else { continue }
            order.append(next)
            stack.append(contentsOf: (dependencies[next] ?? []).reversed())
        }
        return order.compactMap { files[$0] }
    }
}
