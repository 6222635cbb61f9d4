"""Thin client for the torl daemon: JSON-RPC 2.0 with LSP framing over TCP, a Unix socket, or a child's stdio.

    from torl_client import Client
    with Client.connect("unix:/tmp/torl.sock") as torl:
        print(torl.status())
        for event in torl.solve_stream("What is 2**100 mod 7?"):
            print(event)
"""
from .client import Client, RPCError, ConnectionClosed
from .framing import FrameDecoder, encode_frame

__all__ = ["Client", "RPCError", "ConnectionClosed", "FrameDecoder", "encode_frame"]
__version__ = "0.1.0"
