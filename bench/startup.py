"""Start-up time of the app against a bare Gradio app of the same size (target: ratio <= 1.3).

    python bench/startup.py [--repeats 3]      # writes bench/out/startup.json

Each start is a fresh process, timed from launch until GET / answers 200. The bare app has the same
number of tabs and of components (plain textboxes), and nothing else: no lab imports, no job runner.
The two alternate, so a busy machine slows both alike; the medians are compared.
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out" / "startup.json"

BARE_APP = """
import os, sys
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
import gradio as gr
tabs, components = int(sys.argv[2]), int(sys.argv[3])
with gr.Blocks(title="bare") as demo:
    for tab in range(tabs):
        with gr.Tab(f"tab {tab}"):
            for index in range(tab, components, tabs):
                gr.Textbox(label=f"box {index}")
demo.launch(server_name="127.0.0.1", server_port=int(sys.argv[1]))
"""


def app_size() -> tuple[int, int]:
    """Tabs and components of the lab's app (built in a child process, so this one stays clean)."""
    code = ("import gradio as gr, app; demo = app.build_app(); blocks = demo.blocks.values(); "
            "print(sum(isinstance(b, gr.Tab) for b in blocks), "
            "sum(isinstance(b, gr.components.Component) for b in blocks))")
    env = dict(os.environ, LAB_HOME=tempfile.mkdtemp(prefix="lab-bench-"), GRADIO_ANALYTICS_ENABLED="False")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env, check=True)
    tabs, components = out.stdout.split()[-2:]
    return int(tabs), int(components)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def time_start(command: list[str], port: int, env: dict, timeout: float = 120.0) -> float:
    """Seconds from starting `command` until http://127.0.0.1:port/ answers 200; the process is then stopped."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - started < timeout:
            if process.poll() is not None:
                raise RuntimeError(f"{command} exited with code {process.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    if response.status == 200:
                        return time.perf_counter() - started
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{command} was not served within {timeout} s")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def stop_dispatcher(home: str) -> None:
    """The app starts the job dispatcher; stop it so it does not load the machine during the next start."""
    env_home = os.environ.get("LAB_HOME")
    os.environ["LAB_HOME"] = home
    try:
        from lab.runs import store

        holder = store.lease_holder()
        if holder:
            os.kill(holder["holder_pid"], 15)
    finally:
        if env_home is None:
            os.environ.pop("LAB_HOME", None)
        else:
            os.environ["LAB_HOME"] = env_home


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    tabs, components = app_size()
    bare_script = Path(tempfile.mkdtemp(prefix="bare-app-")) / "bare_app.py"
    bare_script.write_text(BARE_APP)
    lab_times, bare_times = [], []
    for _ in range(args.repeats):
        home = tempfile.mkdtemp(prefix="lab-bench-")
        env = dict(os.environ, LAB_HOME=home, GRADIO_ANALYTICS_ENABLED="False", LAB_IDLE_EXIT="5")
        port = free_port()
        lab_times.append(time_start([sys.executable, "app.py", "--port", str(port)], port, env))
        stop_dispatcher(home)
        port = free_port()
        bare_times.append(time_start([sys.executable, str(bare_script), str(port), str(tabs), str(components)],
                                     port, env))
    lab, bare = statistics.median(lab_times), statistics.median(bare_times)
    report = {
        "what": "seconds from process start until GET / answers 200 (median of repeats)",
        "tabs": tabs, "components": components, "repeats": args.repeats,
        "lab_app_seconds": round(lab, 3), "bare_app_seconds": round(bare, 3), "ratio": round(lab / bare, 3),
        "target_ratio": 1.3, "lab_app_runs": [round(x, 3) for x in lab_times],
        "bare_app_runs": [round(x, 3) for x in bare_times], "cpus": os.cpu_count(),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
