import Foundation
import Testing
@testable import LearningStore
import LearningRepository

/// The text forms the aggregates travel in: `{{bucket,count},...}` histograms and bucket lists.
@Suite("Aggregate histograms as text")
struct AggregateTextTests {
    @Test func histogramsRoundTripThroughTheirText() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            var histogram: [Int32: Int64] = [:]
            for _ in 0..<Int.random(in: 0...40, using: &generator) {
                histogram[Int32.random(in: -400...900, using: &generator)] = Int64.random(in: 1...1_000_000, using: &generator)
            }
            if Bool.random(using: &generator) { histogram[AggregateCell.zeroBucket] = 3 }
            #expect(LearningStore.parseHistogram(LearningStore.histogramText(histogram)) == histogram)
        }
        #expect(LearningStore.parseHistogram("{}").isEmpty)
        #expect(LearningStore.parseIntegers("{-2147483648,5,-3}") == [-2_147_483_648, 5, -3])
    }

    @Test func bucketsOfTimesAreTheSQLOnes() {
        // floor(ln(t) / ln(1.02)), and the zero bucket for times <= 1 ns.
        #expect(AggregateCell.bucket(1) == 0)
        #expect(AggregateCell.bucket(1.02 * 1.0001) == 1)
        #expect(AggregateCell.bucket(0.5) == Int32((log(0.5) / log(1.02)).rounded(.down)))
        #expect(AggregateCell.bucket(0) == AggregateCell.zeroBucket)
        #expect(abs(AggregateCell.value(of: AggregateCell.bucket(42)) / 42 - 1) < 0.011)
        #expect(AggregateCell.day(of: 86_400 * 3 + 5) == 3 && AggregateCell.day(of: -1) == -1)
    }
}
