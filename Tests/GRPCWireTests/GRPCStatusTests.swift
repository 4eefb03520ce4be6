import Testing
@testable import GRPCWire

@Test func statusCodesMatchTheGRPCSpecification() {
    #expect(GRPCStatusCode.ok.rawValue == 0)
    #expect(GRPCStatusCode.resourceExhausted.rawValue == 8)
    #expect(GRPCStatusCode.unimplemented.rawValue == 12)
    #expect(GRPCStatusCode.unauthenticated.rawValue == 16)
    #expect(GRPCStatusCode.allCases.count == 17)
}
