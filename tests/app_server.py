"""Start the real app in a subprocess for tests that talk to it over HTTP or drive it in a browser."""
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request

from lab import config


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_served(url: str, process, timeout: float = 90.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the app exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} was not served within {timeout} s")


@contextlib.contextmanager
def running_app(log_path, *args, env=None):
    """Yield (url, process) of `python app.py ARGS` on a free port; stopped afterwards."""
    port = free_port()
    log = open(log_path, "wb")
    environment = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1", **(env or {}))
    process = subprocess.Popen([sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port), *args],
                               cwd=config.REPO, env=environment, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield f"http://127.0.0.1:{port}/", process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
