"""Space mode attacked over HTTP: the app runs in Space mode in a subprocess, and each test makes the
requests an anonymous visitor could make (issue "Space mode safe to put on the internet")."""
import json
import urllib.error
import urllib.request
import uuid

import pytest

from app_server import running_app, wait_until_served
from lab.runs import runner, store
from lab.runs.folder import RunFolder
from lab.specs import spec_from_dict

ALICE = "alice-key-000000001"
SECRET_TOKEN = "teacher-secret-456789"


@pytest.fixture(scope="module")
def space_app(tmp_path_factory):
    """The app in Space mode with one private run of a visitor (Alice) already in its data folder."""
    import os

    home = tmp_path_factory.mktemp("space_http") / "lab_home"
    old = os.environ.get("LAB_HOME"), os.environ.get("LAB_SPACE")
    os.environ.update(LAB_HOME=str(home), LAB_SPACE="1")
    try:
        private = runner.submit(spec_from_dict({"kind": "demo", "steps": 2, "step_seconds": 0.0,
                                                "name": "alice-private-name"}),
                                owner=ALICE, start_dispatcher=False)
        RunFolder(private).write_result("succeeded", metrics={"final_loss": 0.5})
        store.update_run(private, status="succeeded")
        (RunFolder(private).path / "artifacts").mkdir(exist_ok=True)
        (RunFolder(private).path / "artifacts" / "page.html").write_text("<script>alert(1)</script>")
    finally:
        for name, value in zip(("LAB_HOME", "LAB_SPACE"), old):
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    env = {"LAB_HOME": str(home), "LAB_TEACHER_TOKEN": SECRET_TOKEN, "LAB_MAX_UPLOAD_MB": "1", "LAB_IDLE_EXIT": "5"}
    with running_app(home.parent / "app.log", "--space", env=env) as (url, process):
        wait_until_served(url, process)
        yield url, home, private


def fetch(url: str, data: bytes | None = None, headers=None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_no_file_of_the_data_folder_is_served_by_a_bare_url(space_app):
    url, home, private = space_app
    run_dir = home / "runs" / private
    for name in ("result.json", "spec.json", "artifacts/page.html"):
        for prefix in ("gradio_api/file=", "file=", "gradio_api/file/"):
            status, headers, body = fetch(f"{url}{prefix}{run_dir / name}")
            assert status in (403, 404), (prefix, name, status)
            assert b"alice-private-name" not in body and b"<script>" not in body
    status, _, body = fetch(f"{url}gradio_api/file={home / 'browser_secret'}")
    assert status in (403, 404)


def test_the_public_config_holds_no_private_run_path_or_secret(space_app):
    url, home, private = space_app
    status, _, body = fetch(f"{url}config")
    assert status == 200
    text = body.decode("utf-8", errors="replace")
    for leak in (private, "alice-private-name", ALICE, str(home), SECRET_TOKEN):
        assert leak not in text, leak


def test_uploads_are_capped_and_never_served_inline(space_app):
    url, home, private = space_app
    boundary = uuid.uuid4().hex

    def upload(name: str, payload: bytes):
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\n"
                f"Content-Type: application/octet-stream\r\n\r\n").encode() + payload + f"\r\n--{boundary}--\r\n".encode()
        return fetch(f"{url}gradio_api/upload", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})

    status, _, _ = upload("big.jsonl", b"x" * (2 * 2**20))
    assert status >= 400  # LAB_MAX_UPLOAD_MB=1 in this app
    status, _, body = upload("page.html", b"<html><script>alert(document.cookie)</script></html>")
    assert status == 200
    stored = json.loads(body)[0]
    status, headers, _ = fetch(f"{url}gradio_api/file={stored}")
    disposition = {k.lower(): v for k, v in headers.items()}.get("content-disposition", "")
    content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    assert status != 200 or ("attachment" in disposition and "text/html" not in content_type)
