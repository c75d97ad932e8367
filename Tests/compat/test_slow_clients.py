"""Slow and many clients against a live `runledger serve`: 400 connections trickling 16 MB bodies must not keep
/health from answering, a body that does not arrive in time gets 408, and SIGTERM ends the process within 15 s even
with those connections open. RunLedger only: these are limits of our server, not MLflow behaviour to match."""
import json
import signal
import socket
import threading
import time

import pytest

from conftest import start_runledger

TRICKLERS = 400


def host_port(server):
    host, port = server.url.replace("http://", "").split(":")
    return host, int(port)


def open_trickler(server):
    connection = socket.create_connection(host_port(server), timeout=30)
    connection.sendall(
        b"POST /api/2.0/mlflow/runs/log-batch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 16000000\r\n\r\n{"
    )
    return connection


def health_seconds(server):
    started = time.monotonic()
    connection = socket.create_connection(host_port(server), timeout=10)
    try:
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        answer = connection.recv(4096)
    finally:
        connection.close()
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    return time.monotonic() - started


@pytest.fixture()
def runledger():
    server = start_runledger(["--body-timeout", "3s"])
    yield server
    if server.process.poll() is None:
        server.stop()


def test_health_answers_while_400_connections_trickle_bodies_and_sigterm_ends_the_process(runledger):
    tricklers = [open_trickler(runledger) for _ in range(TRICKLERS)]
    stop = threading.Event()

    def trickle():
        while not stop.is_set():
            for connection in tricklers:
                try:
                    connection.send(b" ")
                except OSError:
                    pass
            stop.wait(0.5)

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        latencies = [health_seconds(runledger) for _ in range(20)]
        print(f"/health beside {TRICKLERS} trickling connections: max {max(latencies) * 1000:.1f} ms, "
              f"median {sorted(latencies)[len(latencies) // 2] * 1000:.1f} ms")
        # SIGTERM with every trickler still connected: the process must end on its own, within the documented 15 s.
        started = time.monotonic()
        runledger.process.send_signal(signal.SIGTERM)
        runledger.process.wait(timeout=15)
        print(f"SIGTERM to exit beside {TRICKLERS} open connections: {time.monotonic() - started:.1f} s")
    finally:
        stop.set()
        thread.join()
        for connection in tricklers:
            connection.close()


def test_a_body_that_does_not_arrive_in_time_gets_408(runledger):
    connection = open_trickler(runledger)
    try:
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            connection.send(b" ")  # a byte now and then: never idle, never done
            try:
                connection.settimeout(1)
                chunk = connection.recv(4096)
                if not chunk:
                    break
                answer += chunk
            except socket.timeout:
                continue
    finally:
        connection.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer[:300]
    assert json.loads(body)["error_code"] == "REQUEST_TIMEOUT"


def test_an_idle_connection_is_closed_after_the_idle_timeout():
    server = start_runledger(["--idle-timeout", "1s"])
    try:
        connection = socket.create_connection(host_port(server), timeout=30)
        try:
            assert connection.recv(1) == b""  # the server hung up; a socket timeout here would fail the test
        finally:
            connection.close()
    finally:
        server.stop()
