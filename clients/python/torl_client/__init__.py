"""Thin client for the torl daemon: JSON-RPC 2.0 with LSP framing over TCP, a Unix socket, or a child's stdio.

    from torl_client import Client
    with Client.connect("unix:/tmp/torl.sock") as torl:
        print(torl.status())
        for event in torl.solve_stream("What is 2**100 mod 7?"):
            print(event)

Results are typed: `torl_client.protocol` holds one TypedDict per method's params and result, generated from the
daemon's JSON Schemas (scripts/generate_client_types.py), and the package ships `py.typed`.
"""
from . import protocol
from .client import Client, ConnectionClosed, RPCError
from .framing import FrameDecoder, encode_frame

__all__ = ["Client", "RPCError", "ConnectionClosed", "FrameDecoder", "encode_frame", "protocol"]
__version__ = "0.1.0"
