"""Optional summary provider: an OpenAI-compatible chat completions endpoint.

Runs in one background thread with a bounded queue (urllib, no extra
dependency). On any failure the extractive summary already stored is kept and
the failure is noted in `summary_error`; the API key is never logged.
"""

from __future__ import annotations

import json
import queue
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import structlog

from vio_sbc.calllog.summary.extractive import CallFacts, Line, dialogue, outcome
from vio_sbc.config.model import SummarySettings

log = structlog.get_logger("vio_sbc.calllog.summary")

PROMPT = ("You summarise phone calls between a caller and an AI voice agent for the "
          "call log. In at most 5 short lines give: the caller's intent, key facts, "
          "and the outcome. Use only what the transcript says.")
_STOP = object()


class SummaryError(Exception):
    pass


def endpoint(url: str) -> str:
    """A base URL (…/v1) gets /chat/completions; a full endpoint URL is kept."""
    url = url.rstrip("/")
    return url if url.endswith("/chat/completions") else url + "/chat/completions"


class OpenAiSummariser:
    def __init__(self, settings: SummarySettings) -> None:
        assert settings.url and settings.model
        self.url = endpoint(settings.url)
        self.model = settings.model
        self.api_key = settings.api_key
        self.timeout_s = settings.timeout_s

    @property
    def name(self) -> str:
        return f"openai:{self.model}"

    def summarise(self, lines: Sequence[Line], facts: CallFacts) -> str:
        user = (f"Transcript:\n{dialogue(lines) or '(empty)'}\n\n"
                f"How the call ended: {outcome(facts)}.")
        body = json.dumps({
            "model": self.model, "temperature": 0,
            "messages": [{"role": "system", "content": PROMPT},
                         {"role": "user", "content": user}],
        }).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                raw = resp.read(1 << 20)
        except urllib.error.HTTPError as exc:
            detail = exc.read(300).decode("utf-8", "replace").strip()
            if self.api_key:  # providers echo a rejected key ("Incorrect API key: sk-...")
                detail = detail.replace(self.api_key, "***")
            raise SummaryError(f"HTTP {exc.code} {exc.reason}: {detail}"[:300]) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise SummaryError(f"cannot reach {self.url}: {reason}") from None
        try:
            data = json.loads(raw)
            text = data["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise SummaryError("response is not a chat completion "
                               "(no choices[0].message.content)") from None
        if not isinstance(text, str) or not text.strip():
            raise SummaryError("empty summary in the response")
        return text.strip()


@dataclass(frozen=True, slots=True)
class Job:
    call_id: str
    lines: tuple[Line, ...]
    facts: CallFacts


Result = Callable[[str, str | None, str | None], None]  # call_id, summary, error


class SummaryWorker:
    """Runs the provider off the SIP thread; `on_result` gets the summary or the error."""

    def __init__(self, provider: OpenAiSummariser, on_result: Result, max_queue: int = 200
                 ) -> None:
        self.provider = provider
        self.on_result = on_result
        self._q: queue.Queue[object] = queue.Queue(maxsize=max_queue)
        self._thread = threading.Thread(target=self._run, name="summary", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, job: Job) -> None:
        try:
            self._q.put_nowait(job)
        except queue.Full:
            self.on_result(job.call_id, None, "summary queue full: provider not called")

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the queued jobs (bounded by `timeout`), then stop."""
        if self._thread.is_alive():
            try:
                self._q.put(_STOP, timeout=timeout)
            except queue.Full:
                return
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            job = self._q.get()
            if job is _STOP:
                return
            assert isinstance(job, Job)
            try:
                text = self.provider.summarise(job.lines, job.facts)
            except SummaryError as exc:
                log.warning("summary_failed", call_id=job.call_id, provider=self.provider.name,
                            error=str(exc))
                self.on_result(job.call_id, None, str(exc))
            except Exception as exc:  # never lose the worker
                log.exception("summary_failed", call_id=job.call_id)
                self.on_result(job.call_id, None, f"{type(exc).__name__}: {exc}")
            else:
                log.info("summary_done", call_id=job.call_id, provider=self.provider.name)
                self.on_result(job.call_id, text, None)
