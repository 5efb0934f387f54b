"""`make lab` starts JupyterLab on the notebooks (headless: a server that answers, no browser)."""
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_make_lab_serves_the_notebooks():
    port, token = _free_port(), "cclib-test"
    args = f"--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token={token}"
    lab = subprocess.Popen(["make", "-s", "lab", f"LAB_ARGS={args}"], cwd=ROOT, start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        page, deadline = None, time.time() + 120
        while page is None and time.time() < deadline:
            assert lab.poll() is None, "make lab ended"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents?token={token}",
                                            timeout=5) as reply:
                    page = reply.read().decode()
            except OSError:
                time.sleep(0.5)
        assert page is not None, "JupyterLab did not answer"
        assert "fig01_equivalence.ipynb" in page  # it serves the notebooks folder
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token={token}", timeout=10) as reply:
            assert reply.status == 200 and "JupyterLab" in reply.read().decode()
    finally:
        if lab.poll() is None:
            os.killpg(lab.pid, signal.SIGTERM)
            lab.wait(timeout=30)
