import LearningAPI
import Testing

@Suite struct ValidationTests {
    @Test func taskIDAcceptsCanonicalUUIDsAndReturnsThemLowerCase() throws {
        #expect(try Validation.taskID("0152ed55-f844-473b-8237-3fadee3a98d0") == "0152ed55-f844-473b-8237-3fadee3a98d0")
        #expect(try Validation.taskID("0152ED55-F844-473B-8237-3FADEE3A98D0") == "0152ed55-f844-473b-8237-3fadee3a98d0")
    }

    @Test(arguments: [
        "", "0152ed55", "0152ed55-f844-473b-8237-3fadee3a98d", "0152ed55-f844-473b-8237-3fadee3a98d00",
        "0152ed55f844-473b-8237-3fadee3a98d0-", "0152ed55-f844-473b-8237_3fadee3a98d0", "g152ed55-f844-473b-8237-3fadee3a98d0",
        "{0152ed55-f844-473b-8237-3fadee3a98d0}", "0152ed55-f844-473b-8237-3fadee3a98dé", " 0152ed55-f844-473b-8237-3fadee3a98d",
    ])
    func taskIDRejectsAnythingElseNamingTheField(_ value: String) {
        do {
            _ = try Validation.taskID(value, field: "executions[3].task_id")
            Issue.record("accepted \(value)")
        } catch let error as ServiceError {
            #expect("\(error)".contains("executions[3].task_id"))
            #expect("\(error)".contains("is not a UUID"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}
