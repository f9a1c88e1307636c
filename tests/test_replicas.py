"""Two replicas behind nginx, started by deploy/serve.py as `make serve REPLICAS=2` starts them.

Sessions speak Streamlit's websocket protocol (bench/protocol.py) through nginx, each with its own
`replica` cookie, the way browsers behind one classroom NAT would. nginx names the replica that
answered in an X-Upstream header.
"""

import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from http.cookies import SimpleCookie
from urllib.parse import urlencode

import pytest

from bench.protocol import Session
from deploy import serve
from tests.harness import ROOT

pytestmark = pytest.mark.e2e  # real `streamlit run` replicas behind nginx

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SEED_X = "[[1., 2, 3], [3, 2, 1]]"
# z = 2(3x + c)², so dz/dx = 12(3x + c): for x = 1, 2, 3 that is 60, 96, 132 with c = 2 and 48, 84, 120 with c = 1.
SEED_GRAD = "60., 96., 132."
PLUS_ONE_LAYERS = "y = 3*x + 1\nz = 2*y**2"
PLUS_ONE_GRAD = "48., 84., 120."
START_SECONDS = 240  # two replicas starting together on two shared cores
TIMEOUT = 120


class Stack:
    """deploy/serve.py running: nginx on `port`, replicas on port+1 and port+2."""

    def __init__(self, port, process, log):
        self.url = f"http://127.0.0.1:{port}"
        self.replicas = {f"127.0.0.1:{p}": p for p in serve.replica_ports(port, 2)}
        self.process, self.log = process, log

    def log_tail(self):
        return self.log.read_text()[-3000:]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    if not os.access(NGINX, os.X_OK):
        if os.environ.get("CI"):
            pytest.fail("nginx is missing in CI: .ci/run should have installed it")
        pytest.skip("no nginx: apt-get install nginx to run the replica tests")
    port = serve.free_base_port(2)
    log = tmp_path_factory.mktemp("replicas") / "serve.log"
    command = [sys.executable, str(ROOT / "deploy" / "serve.py"), "--replicas", "2", "--port", str(port),
               "--address", "127.0.0.1"]
    with open(log, "a") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    stack = Stack(port, process, log)
    try:
        wait_for_nginx(stack)
        yield stack
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for_nginx(stack):
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if stack.process.poll() is not None:
            pytest.fail(f"deploy/serve.py exited with {stack.process.returncode}:\n{stack.log_tail()}")
        try:
            if get(stack.url + "/_stcore/health").body == b"ok":
                return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"nginx did not answer within {START_SECONDS} s:\n{stack.log_tail()}")


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    @property
    def upstream(self):
        return self.headers.get("X-Upstream")

    @property
    def replica_cookie(self):
        """The `replica` cookie nginx set, as a Cookie header value, or None."""
        for header in self.headers.get_all("Set-Cookie") or []:
            morsel = SimpleCookie(header).get(serve.COOKIE)
            if morsel is not None:
                return f"{serve.COOKIE}={morsel.value}"
        return None


def get(url, cookie=None):
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return Response(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Response(error.code, error.headers, error.read())


def cookies_by_replica(stack, per_replica=2, attempts=200):
    """{upstream: [cookie, ...]}: first page loads without a cookie, as new browsers make them."""
    found = {upstream: [] for upstream in stack.replicas}
    for _ in range(attempts):
        page = get(stack.url + "/")
        assert page.status == 200 and page.replica_cookie, "nginx must set the replica cookie on a first visit"
        found[page.upstream].append(page.replica_cookie)
        if all(len(cookies) >= per_replica for cookies in found.values()):
            return {upstream: cookies[:per_replica] for upstream, cookies in found.items()}
    pytest.fail(f"{attempts} first visits did not reach both replicas: {({k: len(v) for k, v in found.items()})}")


def flat(text):
    return " ".join(text.split())


def shows(run, grad_text):
    return any(grad_text in flat(code) for code in run.code)


class RecordingSession(Session):
    """A Session that also keeps the download buttons' /media/ addresses."""

    def __init__(self, url, cookie):
        super().__init__(url, timeout=TIMEOUT, cookie=cookie)
        self.downloads = {}

    @property
    def upstream(self):
        return self.ws.getheaders().get("x-upstream")

    def _take_element(self, element, run):
        super()._take_element(element, run)
        if element.WhichOneof("type") == "download_button" and element.download_button.url:
            self.downloads[element.download_button.label] = element.download_button.url


def test_health_answers_through_nginx(stack):
    response = get(stack.url + "/_stcore/health")
    assert (response.status, response.body) == (200, b"ok")
    assert response.upstream in stack.replicas


def test_a_first_visit_gets_a_cookie_and_everything_after_it_follows_to_one_replica(stack):
    first = get(stack.url + "/")
    assert first.status == 200 and b"<html" in first.body.lower()
    cookie = first.replica_cookie
    assert cookie, "nginx must set the replica cookie when the browser has none"
    for path in ("/", "/_stcore/health", "/_stcore/host-config", "/"):
        again = get(stack.url + path, cookie)
        assert again.status == 200, path
        assert again.upstream == first.upstream, f"{path} went to {again.upstream}, the page to {first.upstream}"
        assert again.replica_cookie is None, "a browser that has the cookie keeps it"
    session = RecordingSession(stack.url, cookie)
    try:
        assert session.upstream == first.upstream, "the websocket must reach the replica that served the page"
    finally:
        session.close()


def test_sessions_spread_over_both_replicas_and_each_reruns(stack):
    cookies = cookies_by_replica(stack, per_replica=2)
    sessions = [(upstream, RecordingSession(stack.url, cookie)) for upstream, group in cookies.items()
                for cookie in group]
    try:
        for upstream, session in sessions:
            assert session.upstream == upstream
            opened = session.rerun()
            assert opened.ok, opened.errors
            assert shows(opened, SEED_GRAD), "the seed page's x.grad"
        for _, session in sessions:  # every websocket is still open on its replica, and answers an edit
            edited = session.rerun({"x": SEED_X, "layers": PLUS_ONE_LAYERS})
            assert edited.ok, edited.errors
            assert shows(edited, PLUS_ONE_GRAD)
    finally:
        for _, session in sessions:
            session.close()
    assert {upstream for upstream, _ in sessions} == set(stack.replicas)


def test_a_download_is_served_by_the_replica_whose_session_made_it(stack):
    cookies = cookies_by_replica(stack, per_replica=1)
    (mine, [my_cookie]), (other, [other_cookie]) = cookies.items()
    session = RecordingSession(stack.url, my_cookie)
    try:
        # A link that opens the (lazy) export section on a graph no one else drew.
        session.query_string = urlencode({"x": SEED_X, "layers": "y = 3*x + 7\nz = 2*y**2", "export": "true"})
        opened = session.rerun()
        assert opened.ok, opened.errors
        media = session.downloads["Graph (.dot)"]
        through_nginx = get(stack.url + media, my_cookie)
        assert through_nginx.status == 200 and through_nginx.upstream == mine
        assert through_nginx.body.lstrip().startswith(b"digraph")
        # The file lives in one process: without sticky routing, a browser would get a 404.
        assert get(stack.url + media, other_cookie).status == 404
        assert get(f"http://{other}{media}").status == 404
    finally:
        session.close()


def replica_process(stack, port):
    import psutil

    for child in psutil.Process(stack.process.pid).children():
        if "--server.port" in child.cmdline() and str(port) in child.cmdline():
            return child
    raise AssertionError(f"no replica process on port {port}")


def test_killing_a_replica_leaves_the_page_served_by_the_other_until_it_is_back(stack):
    cookies = cookies_by_replica(stack, per_replica=1)
    (doomed, [doomed_cookie]), _ = cookies.items()
    replica_process(stack, stack.replicas[doomed]).kill()
    time.sleep(1)

    # Served either by the survivor or, when deploy/serve.py has already started the killed one again (its port
    # opens within a second on a quiet machine), by the doomed replica itself: never an error.
    page = get(stack.url + "/", doomed_cookie)
    assert page.status == 200, page.upstream
    session = RecordingSession(stack.url, doomed_cookie)
    try:
        run = session.rerun()
        assert run.ok and shows(run, SEED_GRAD), run.errors
    finally:
        session.close()

    # deploy/serve.py starts the killed replica again.
    deadline = time.monotonic() + START_SECONDS
    while not serve.answers_health(stack.replicas[doomed]):
        assert time.monotonic() < deadline, f"the killed replica did not come back:\n{stack.log_tail()}"
        time.sleep(1)
