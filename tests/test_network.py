"""explorer.serving.network: Nagle's algorithm off on the server's sockets, listening and connected."""

import socket
import sys

import pytest

from explorer.serving import network

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/fd (Linux)")


def nodelay(sock):
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_a_listening_socket_bound_as_streamlit_binds_it_and_its_connections_get_nodelay():
    # Streamlit 1.67 binds with socket.socket(family): protocol 0, which asyncio's _set_nodelay passes over.
    listening = socket.socket(socket.AF_INET)
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    early = socket.create_connection(listening.getsockname())
    accepted_early, _ = listening.accept()
    try:
        assert listening.proto == 0 and nodelay(accepted_early) == 0  # what the server starts with
        assert network.no_delay() >= 3
        assert nodelay(listening) and nodelay(accepted_early) and nodelay(early)
        late = socket.create_connection(listening.getsockname())
        accepted_late, _ = listening.accept()  # Linux copies the listener's TCP_NODELAY to a new connection
        with late, accepted_late:
            assert nodelay(accepted_late)
    finally:
        for sock in (listening, early, accepted_early):
            sock.close()


def test_other_descriptors_are_left_alone_and_still_open(tmp_path):
    pair = socket.socketpair()  # AF_UNIX: no TCP option to set
    path = tmp_path / "f"
    with open(path, "w") as opened, pair[0], pair[1]:
        network.no_delay()
        opened.write("still open")
        pair[0].sendall(b"x")
        assert pair[1].recv(1) == b"x"
    assert path.read_text() == "still open"
