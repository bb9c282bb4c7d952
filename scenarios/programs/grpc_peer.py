"""A gRPC server and client for the keepalive scenarios of this folder,
with no generated code: one unary method, /deadpeer.Wait/Wait, whose answer
takes a minute, so the client's call is pending and its channel idle but
for keepalive PINGs.

  grpc_peer.py server ADDRESS PORT
      prints "listening" once it serves.
  grpc_peer.py client ADDRESS PORT KEEPALIVE_TIME_MS KEEPALIVE_TIMEOUT_MS
      prints "calling" once its channel is up and the call is sent, then
      "failed: CODE DETAILS" when the call fails, and exits 1.
"""
import sys
import threading
import time
from concurrent import futures

import grpc

METHOD = "/deadpeer.Wait/Wait"


def identity(b):
    return b


def serve(address, port):
    def wait(request, context):
        time.sleep(60)
        return b"done"

    handler = grpc.method_handlers_generic_handler(
        "deadpeer.Wait",
        {"Wait": grpc.unary_unary_rpc_method_handler(wait, identity, identity)},
    )
    # Accept the client's frequent PINGs instead of answering them with
    # GOAWAY "too_many_pings".
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4),
        handlers=[handler],
        options=[
            ("grpc.http2.min_recv_ping_interval_without_data_ms", 10),
            ("grpc.http2.max_ping_strikes", 0),
        ],
    )
    host = "[%s]" % address if ":" in address else address
    server.add_insecure_port("%s:%s" % (host, port))
    server.start()
    print("listening", flush=True)
    server.wait_for_termination()


def call(address, port, time_ms, timeout_ms):
    host = "[%s]" % address if ":" in address else address
    channel = grpc.insecure_channel(
        "%s:%s" % (host, port),
        options=[
            ("grpc.keepalive_time_ms", int(time_ms)),
            ("grpc.keepalive_timeout_ms", int(timeout_ms)),
            ("grpc.keepalive_permit_without_calls", 1),
            # Without this, PINGs stop after two without data.
            ("grpc.http2.max_pings_without_data", 0),
        ],
    )
    grpc.channel_ready_future(channel).result(timeout=10)
    wait = channel.unary_unary(METHOD, request_serializer=identity, response_deserializer=identity)
    future = wait.future(b"wait", timeout=120)
    print("calling", flush=True)
    try:
        future.result()
    except grpc.RpcError as e:
        print("failed: %s %s" % (e.code().name, e.details()), flush=True)
        sys.exit(1)


if __name__ == "__main__":
    if sys.argv[1] == "server":
        serve(sys.argv[2], sys.argv[3])
    else:
        call(*sys.argv[2:6])
