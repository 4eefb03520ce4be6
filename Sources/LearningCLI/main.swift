// learning: the command-line client of learning-system, over the typed gRPC API.
import Foundation

let cli = CLI(output: Output(), environment: ProcessInfo.processInfo.environment,
              connect: { settings in try await GRPCChannel.connect(settings) })
let code = await cli.run(Array(CommandLine.arguments.dropFirst()))
exit(code)
