"""A Streamlit session without a browser: the same websocket and protobuf messages the page sends.

The browser's client asks for a rerun with a BackMsg holding the widget values, the URL's
query string and the hashes of big messages it already has; the server answers with
ForwardMsgs (a new_session, the deltas that draw the page, script_finished). This client
does the same, so a load test measures the server and not 30 browsers' drawing.
It sends the two edited widgets (x, layers); the server keeps the other widgets' last values.
"""

import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

import websocket
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

FINISHED = ForwardMsg.ScriptFinishedStatus
ERROR_ALERT = 1  # Alert.Format.ERROR
WARNING_ALERT = 2  # Alert.Format.WARNING
LATEX = 4  # Markdown.Type.LATEX


@dataclass
class Run:
    """What one rerun sent back."""

    seconds: float
    status: int | None = None  # script_finished status, None if it never came
    graph: str = ""  # the graphviz DOT
    code: list = field(default_factory=list)  # every st.code text
    errors: list = field(default_factory=list)  # exceptions and error alerts, as text
    alerts: list = field(default_factory=list)  # every alert's text: info, warning and error
    warnings: list = field(default_factory=list)  # warning alerts, as text
    latex: list = field(default_factory=list)  # every st.latex body
    plots: int = 0  # plotly charts drawn
    fragments: set = field(default_factory=set)  # ids of the fragments that drew in this run
    unfragmented: int = 0  # deltas outside every fragment: a full run's (a fragment's rerun sends none)
    messages: int = 0
    bytes: int = 0

    @property
    def ok(self):
        done = (FINISHED.FINISHED_SUCCESSFULLY, FINISHED.FINISHED_FRAGMENT_RUN_SUCCESSFULLY)
        return self.status in done and not self.errors


class Session:
    """One browser tab's worth of Streamlit session, over one websocket."""

    def __init__(self, url, timeout=60, link=None, resume=None, **options):
        """`options` go to websocket.create_connection, e.g. cookie="replica=..." behind deploy/nginx.conf.

        `link` (key -> str) is the page's query string as a link opens it, kept on every rerun.
        `resume` is an earlier Session whose session this one takes over, as the page does when its
        websocket reconnects (the session id is the third Sec-WebSocket-Protocol entry, after the XSRF token).
        """
        self.page_url = url.rstrip("/") + "/"
        stream = self.page_url.replace("http://", "ws://", 1) + "_stcore/stream"
        self.timeout = timeout
        protocols = ["streamlit", "", resume.session_id] if resume else ["streamlit"]
        self.ws = websocket.create_connection(stream, subprotocols=protocols, timeout=timeout, **options)
        self.session_id = None  # the server's, from its new_session message
        self.widget_ids = {}  # user key -> Streamlit's widget id
        self.link = dict(link or {})
        self.query_string = urlencode(self.link)
        self.page_script_hash = ""
        self.cached_hashes = set()
        if resume:
            self.widget_ids, self.link = dict(resume.widget_ids), dict(resume.link)
            self.query_string, self.page_script_hash = resume.query_string, resume.page_script_hash

    def close(self):
        self.ws.close()


    def rerun(self, values=None, raw=None, within=None, fragment=None):
        """Ask for a rerun with these widget values (key -> str); wait for script_finished.
        `fragment` (an id from an earlier Run.fragments) asks for that fragment's rerun alone, as the page
        does when a widget drawn by the fragment changes.

        `raw` (key -> (WidgetState field, value)) sends a value in any field, e.g. ("double_value", inf)
        for a text input: what a hand-made message can do; a list fills an array field.
        `within` bounds the whole wait in seconds (the socket's timeout bounds each message):
        past it, websocket.WebSocketTimeoutException, and the session should be closed.
        """
        message = self._rerun_message(values or {}, raw or {})
        if fragment:
            message.rerun_script.fragment_id = fragment
        start = time.perf_counter()
        self.ws.send_binary(message.SerializeToString())
        return self._finished(start, within)

    def next_run(self, within=None):
        """The run the server starts on its own after one that ended early for it (FINISHED_EARLY_FOR_RERUN):
        `st.rerun()` in a script or a fragment. Waits for its script_finished, as rerun() does."""
        return self._finished(time.perf_counter(), within)

    def _finished(self, start, within):
        """The messages of one run, until its script_finished; its seconds counted from `start`."""
        end = None if within is None else time.monotonic() + within
        run = Run(seconds=0.0)
        try:
            while run.status is None:
                if end is not None:
                    self.ws.settimeout(max(0.01, min(self.timeout, end - time.monotonic())))
                self._take(self.ws.recv(), run)
        finally:
            self.ws.settimeout(self.timeout)
        run.seconds = time.perf_counter() - start
        return run

    def _rerun_message(self, values, raw):
        message = BackMsg()
        state = message.rerun_script
        if values:
            # what the page's URL holds after an edit of bound widgets
            self.query_string = urlencode({**self.link, **values})
        state.query_string = self.query_string
        state.page_script_hash = self.page_script_hash
        state.cached_message_hashes.extend(sorted(self.cached_hashes))
        state.context_info.url = self.page_url
        state.context_info.timezone = "UTC"
        state.context_info.locale = "en-US"
        for key, value in values.items():
            widget = state.widget_states.widgets.add()
            widget.id = self.widget_ids[key]
            widget.string_value = value
        for key, (field_name, value) in raw.items():
            widget = state.widget_states.widgets.add()
            widget.id = self.widget_ids[key]
            if isinstance(value, list):  # an array field: ("double_array_value", [3]) is a slider's value
                getattr(widget, field_name).data.extend(value)
            else:
                setattr(widget, field_name, value)
        return message

    def _take(self, payload, run):
        message = ForwardMsg()
        message.ParseFromString(payload)
        run.messages += 1
        run.bytes += len(payload)
        if message.metadata.cacheable and message.hash:
            self.cached_hashes.add(message.hash)
        kind = message.WhichOneof("type")
        if kind == "new_session":
            self.page_script_hash = message.new_session.page_script_hash
            self.session_id = message.new_session.initialize.session_id
        elif kind == "page_info_changed":
            self.query_string = message.page_info_changed.query_string
        elif kind == "script_finished":
            run.status = message.script_finished
        elif kind == "delta":
            if message.delta.fragment_id:
                run.fragments.add(message.delta.fragment_id)
            else:
                run.unfragmented += 1
            if message.delta.WhichOneof("type") == "new_element":
                self._take_element(message.delta.new_element, run)

    def _take_element(self, element, run):
        kind = element.WhichOneof("type")
        body = getattr(element, kind)
        widget_id = getattr(body, "id", "")
        if widget_id.startswith("$$ID-"):
            self.widget_ids[widget_id.rsplit("-", 1)[1]] = widget_id
        if kind == "graphviz_chart":
            run.graph = body.spec
        elif kind == "code":
            run.code.append(body.code_text)
        elif kind == "exception":
            run.errors.append(f"exception: {body.type}: {body.message}")
        elif kind == "alert":
            run.alerts.append(body.body)
            if body.format == ERROR_ALERT:
                run.errors.append("error alert: " + body.body)
            elif body.format == WARNING_ALERT:
                run.warnings.append(body.body)
        elif kind == "plotly_chart":
            run.plots += 1
        elif kind == "markdown" and body.element_type == LATEX:
            run.latex.append(body.body)
