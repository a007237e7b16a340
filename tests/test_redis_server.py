"""The local redis-server launcher's port check, with real sockets on loopback."""

from __future__ import annotations

import socket
import subprocess

from app.redis_server import free_port, port_free


def listener(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as redis-server binds
    sock.bind(("127.0.0.1", port))
    sock.listen()
    return sock


def time_wait_on(port: int) -> bool:
    out = subprocess.run(["ss", "-Htan", "state", "time-wait", f"sport = :{port}"], capture_output=True, text=True,
                         check=True).stdout
    return bool(out.strip())


def test_a_port_left_in_time_wait_by_a_stopped_server_is_free() -> None:
    """`make run` stopped and started again: the last run's connections linger in TIME_WAIT on the
    server's side for a minute, yet redis-server (SO_REUSEADDR) can listen there at once."""
    port = free_port()
    server = listener(port)
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server's side closes first, so its side keeps the TIME_WAIT
    client.close()
    server.close()
    assert time_wait_on(port)
    assert port_free(port)
    listener(port).close()  # and it is: a server binds there


def test_a_port_with_a_live_listener_is_taken() -> None:
    port = free_port()
    server = listener(port)
    try:
        assert not port_free(port)
    finally:
        server.close()
