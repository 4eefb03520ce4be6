"""Real gRPC clients (grpcio, grpcio-health-checking, grpcio-reflection) driven by H2TransportTests.

Usage: grpc_client.py <command> <port> [args...]; prints one JSON object on stdout.
"""
import json
import os
import sys
import threading

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from google.protobuf.descriptor_pool import DescriptorPool
from google.protobuf import descriptor_pb2

from learning.v1 import learning_pb2, learning_pb2_grpc


# The deadline of calls whose point is not a deadline: generous, so that a loaded machine does not
# turn a slow call into DEADLINE_EXCEEDED (the Swift tests set it from LEARNING_TEST_TIME_SCALE).
DEADLINE = float(os.environ.get("GRPC_TEST_DEADLINE", "100"))


def out(**values):
    print(json.dumps(values))


def error_fields(error):
    return {"code": error.code().name, "details": error.details()}


def main():
    command, port = sys.argv[1], sys.argv[2]
    args = sys.argv[3:]
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    stub = learning_pb2_grpc.LearningSystemStub(channel)

    if command == "unary":
        metadata = [("authorization", args[0])] if args else None
        response, call = stub.GetHealth.with_call(learning_pb2.GetHealthRequest(), metadata=metadata, timeout=DEADLINE)
        out(status=response.status, service=response.service,
            initial=dict(call.initial_metadata()), trailing=dict(call.trailing_metadata()))
    elif command == "agent":
        timeout = float(args[1]) if len(args) > 1 else DEADLINE
        try:
            response = stub.GetAgentStatus(learning_pb2.GetAgentStatusRequest(agent_name=args[0]), timeout=timeout)
            out(code="OK", status=response.status, reason=response.reason)
        except grpc.RpcError as error:
            out(**error_fields(error))
    elif command == "gzip":
        # GetAgentStatus with an agent name of the given length, gzip-compressed by grpcio.
        try:
            response = stub.GetAgentStatus(learning_pb2.GetAgentStatusRequest(agent_name="x" * int(args[0])),
                                           timeout=DEADLINE, compression=grpc.Compression.Gzip)
            out(code="OK", reason=response.reason)
        except grpc.RpcError as error:
            out(**error_fields(error))
    elif command == "agent_cancel":
        future = stub.GetAgentStatus.future(learning_pb2.GetAgentStatusRequest(agent_name="slow"), timeout=DEADLINE)
        threading.Event().wait(float(args[0]))
        future.cancel()
        out(cancelled=future.cancelled())
    elif command == "watch":
        events = [event.insight.id for event in stub.WatchInsights(
            learning_pb2.WatchInsightsRequest(agent_name=args[0]), timeout=DEADLINE)]
        out(ids=events)
    elif command == "watch_trailers":
        call = stub.WatchInsights(learning_pb2.WatchInsightsRequest(agent_name=args[0]), timeout=DEADLINE)
        ids = [event.insight.id for event in call]
        out(ids=ids, trailing=dict(call.trailing_metadata()))
    elif command == "watch_cancel":
        call = stub.WatchInsights(learning_pb2.WatchInsightsRequest(kinds=["forever"]), timeout=DEADLINE)
        received = []
        for event in call:
            received.append(event.insight.id)
            if len(received) == 3:
                call.cancel()
                break
        out(received=received)
    elif command == "stream":
        count = int(args[0])
        executions = (learning_pb2.Execution(agent_name=f"agent-{i}", task_type="t", success=True)
                      for i in range(count))
        response = stub.StreamExecutions(executions, timeout=DEADLINE)
        out(accepted=response.accepted)
    elif command == "bidi":
        count = int(args[0])
        executions = (learning_pb2.Execution(agent_name="a" * (i + 1)) for i in range(count))
        acks = [(ack.sequence, ack.id) for ack in stub.IngestExecutions(executions, timeout=DEADLINE)]
        out(acks=acks)
    elif command == "unknown":
        method = channel.unary_unary(args[0], request_serializer=None, response_deserializer=None)
        try:
            method(b"", timeout=DEADLINE)
            out(code="OK")
        except grpc.RpcError as error:
            out(**error_fields(error))
    elif command == "raw":
        # Sends arbitrary bytes as the request of a unary method.
        method = channel.unary_unary(args[0], request_serializer=None, response_deserializer=None)
        try:
            method(bytes.fromhex(args[1]), timeout=DEADLINE)
            out(code="OK")
        except grpc.RpcError as error:
            out(**error_fields(error))
    elif command == "oversize":
        try:
            stub.GetAgentStatus(learning_pb2.GetAgentStatusRequest(agent_name="x" * int(args[0])), timeout=DEADLINE)
            out(code="OK")
        except grpc.RpcError as error:
            out(**error_fields(error))
    elif command == "health":
        health = health_pb2_grpc.HealthStub(channel)
        try:
            response = health.Check(health_pb2.HealthCheckRequest(service=args[0] if args else ""), timeout=DEADLINE)
            out(code="OK", status=health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))
        except grpc.RpcError as error:
            out(**error_fields(error))
    elif command == "health_watch":
        health = health_pb2_grpc.HealthStub(channel)
        call = health.Watch(health_pb2.HealthCheckRequest(service=args[0]), timeout=DEADLINE)
        statuses = []
        for response in call:
            statuses.append(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))
            if len(statuses) == int(args[1]):
                call.cancel()
                break
        out(statuses=statuses)
    elif command == "reflection":
        database = ProtoReflectionDescriptorDatabase(channel)
        services = sorted(database.get_services())
        pool = DescriptorPool(database)
        described = {}
        for name in services:
            service = pool.FindServiceByName(name)
            described[name] = [method.name for method in service.methods]
        message = pool.FindMessageTypeByName(args[0]) if args else None
        out(services=services, methods=described,
            message_fields=[field.name for field in message.fields] if message else [])
    elif command == "reflection_v1":
        # grpcio-reflection's client speaks v1alpha; v1 has the same messages on another path.
        method = channel.stream_stream("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                                       request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
                                       response_deserializer=reflection_pb2.ServerReflectionResponse.FromString)
        requests = [reflection_pb2.ServerReflectionRequest(list_services=""),
                    reflection_pb2.ServerReflectionRequest(file_containing_symbol=args[0]),
                    reflection_pb2.ServerReflectionRequest(file_containing_symbol="no.such.Symbol")]
        responses = list(method(iter(requests), timeout=DEADLINE))
        listed = [service.name for service in responses[0].list_services_response.service]
        files = []
        for raw in responses[1].file_descriptor_response.file_descriptor_proto:
            files.append(descriptor_pb2.FileDescriptorProto.FromString(raw).name)
        out(services=listed, files=files, missing_code=responses[2].error_response.error_code)
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main()
