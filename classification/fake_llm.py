"""A fake OpenAI-compatible server for development and tests (`manage.py fake_llm`).

It serves POST /v1/chat/completions over real HTTP and answers deterministic, schema-valid
classifications derived from the request: it reads the JSON schema it was sent (from `response_format`,
or from the prompt in JSON mode) and the ticket between <ticket> tags. Faults on request:

- modes: ok, error500, rate_limit, timeout (holds the request), malformed (not JSON), off_schema
  (a category outside the enum, risk 7), obey (a gullible model that follows instructions inside the ticket),
  invent_ids (an analysis summary whose claims cite theme and ticket ids that do not exist), bad_citation (a
  classification citing a knowledge-base source it was not given);
- grounded replies (a request carrying <sources>): the reply names the best source's article and the answer
  cites the first two sources given (none when none were given);
- analysis summaries (a request carrying <facts>): one claim per theme and one on the riskiest tickets,
  citing the ids given, deterministic;
- `latency_ms` before every answer, `fail_rate` (share of requests answered 500, seeded random).

Switch them while it runs: POST /_admin/config {"mode": "error500", "latency_ms": 0, "fail_rate": 0},
GET /_admin/stats (request counts), POST /_admin/reset.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from classification.keywords import extract_entities

logger = logging.getLogger(__name__)

MODES = ("ok", "error500", "rate_limit", "timeout", "malformed", "off_schema", "obey", "invent_ids", "bad_citation")
# How many of the sources it was given a grounded answer cites (the best ones).
CITED_SOURCES = 2
# What invent_ids cites: ids no run has.
INVENTED_THEME_ID = 9999
INVENTED_TICKET_ID = 987_654_321
MODEL = "fake-classifier"
# In timeout mode a request is held this long (the client gives up long before).
TIMEOUT_HOLD_SECONDS = 30.0

_WORDS = {
    "billing": ("refund", "charge", "invoice", "payment", "billing", "price", "subscription", "fee", "money"),
    "account": ("password", "login", "log in", "account", "2fa", "locked", "verify", "identity", "pin"),
    "technical": ("error", "crash", "down", "outage", "not working", "timeout", "slow", "broken", "sync"),
    "bug_report": ("bug", "reproduce", "regression", "incorrect", "wrong"),
    "feature_request": ("feature", "please add", "would be nice", "suggestion", "could you add"),
}
_INJECTION = re.compile(r"category (?:to|=|:)\s*['\"]?([\w-]+)", re.IGNORECASE)


@dataclass
class FakeState:
    mode: str = "ok"
    latency_ms: int = 0
    fail_rate: float = 0.0
    requests: int = 0
    completions: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    last_request: dict[str, Any] = field(default_factory=dict)
    by_outcome: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    release: threading.Event = field(default_factory=threading.Event)
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    def configure(self, values: dict[str, Any]) -> None:
        with self.lock:
            if "mode" in values:
                if values["mode"] not in MODES:
                    raise ValueError(f"mode must be one of {', '.join(MODES)}")
                self.mode = values["mode"]
            if "latency_ms" in values:
                self.latency_ms = int(values["latency_ms"])
            if "fail_rate" in values:
                self.fail_rate = float(values["fail_rate"])

    def count(self, outcome: str) -> None:
        with self.lock:
            self.by_outcome[outcome] = self.by_outcome.get(outcome, 0) + 1

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "mode": self.mode,
                "latency_ms": self.latency_ms,
                "fail_rate": self.fail_rate,
                "requests": self.requests,
                "completions": self.completions,
                "max_in_flight": self.max_in_flight,
                "by_outcome": dict(self.by_outcome),
            }

    def reset(self) -> None:
        with self.lock:
            self.mode, self.latency_ms, self.fail_rate = "ok", 0, 0.0
            self.requests = self.completions = self.max_in_flight = 0
            self.by_outcome, self.last_request = {}, {}


def _schema_from(request: dict[str, Any]) -> dict[str, Any]:
    response_format = request.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        return response_format["json_schema"]["schema"]
    for message in request.get("messages", []):
        if message.get("role") == "system" and "JSON schema of your answer:" in message.get("content", ""):
            return json.loads(message["content"].split("JSON schema of your answer:", 1)[1].strip())
    raise ValueError("the request carries no JSON schema")


def _ticket_from(request: dict[str, Any]) -> dict[str, Any]:
    for message in request.get("messages", []):
        content = message.get("content", "")
        if message.get("role") == "user" and "<ticket>" in content:
            return json.loads(content.split("<ticket>", 1)[1].rsplit("</ticket>", 1)[0])
    return {"subject": "", "body": ""}


def _pick_category(text: str, allowed: list[str]) -> str:
    lowered = text.lower()
    best, best_hits = ("general" if "general" in allowed else allowed[0]), 0
    for slug in allowed:
        hits = sum(1 for word in _WORDS.get(slug, ()) if word in lowered)
        if hits > best_hits:
            best, best_hits = slug, hits
    return best


def classification_for(request: dict[str, Any], mode: str) -> dict[str, Any]:
    """A deterministic answer that satisfies the schema the request carries."""
    if is_resolution_request(request):  # a specialist's resolution draft (resolutions app): its own block below
        return resolution_for(request, mode)
    schema = _schema_from(request)
    properties = schema["properties"]
    ticket = _ticket_from(request)
    text = f"{ticket.get('subject', '')}\n{ticket.get('body', '')}"
    lowered = text.lower()
    category = _pick_category(text, properties["category"]["enum"])
    if mode == "obey" and (match := _INJECTION.search(text)):
        category = match.group(1)  # what a model that follows the ticket's instructions would answer
    critical = [word for word in ("outage", "is down", "data loss", "breach") if word in lowered]
    urgent = [word for word in ("urgent", "asap") if word in lowered]
    priority = "critical" if critical else "high" if urgent else "medium"
    if len(properties["priority"]["enum"]) == 1:  # the caller decided it
        priority = properties["priority"]["enum"][0]
    sentiment = "negative" if any(w in lowered for w in ("angry", "unacceptable", "terrible", "!!")) else "neutral"
    first_sentence = re.split(r"(?<=[.!?])\s+", (ticket.get("body") or ticket.get("subject") or "").strip())[0]
    answer = _answer(category, priority, sentiment, first_sentence, properties)
    if "secondary_categories" in properties:  # prompt v2 and later
        allowed = properties["secondary_categories"]["items"]["properties"]["category"]["enum"]
        others = [slug for slug in allowed if slug != category and any(w in lowered for w in _WORDS.get(slug, ()))]
        answer["secondary_categories"] = [{"category": slug, "confidence": 0.6} for slug in others[:3]]
        answer["urgency_indicators"] = (critical + urgent) if priority in ("critical", "high") else []
        answer["reasoning"] = f"The ticket reads as {category.replace('_', ' ')}; priority {priority}."
    if "citations" in properties:  # prompt v3 and later: grounded in the knowledge-base sources given
        _cite(answer, _tagged(request, "sources") or [], mode)
    if "Replies are switched off" in _system_prompt(request):
        answer["suggested_reply"] = ""
    if "Extraction is switched off" not in _system_prompt(request):
        found = extract_entities(text)  # the text as sent: masked when LLM_MASK_PII is on
        answer["entities"] = {key: found.get(key, []) for key in properties["entities"]["properties"]}
    return answer


def _cite(answer: dict[str, Any], sources: list[dict[str, Any]], mode: str) -> None:
    """Cite the best sources and name the best one's article in the reply; in bad_citation mode, cite a
    number past the last source given (1 when none were)."""
    numbers = [source["number"] for source in sources]
    answer["citations"] = numbers[:CITED_SOURCES]
    if sources:
        answer["suggested_reply"] += f' Our article "{sources[0]["article"]}" explains what to do.'
    if mode == "bad_citation":
        answer["citations"] = [*answer["citations"], max(numbers, default=0) + 1]


def _facts_from(request: dict[str, Any]) -> dict[str, Any] | None:
    for message in request.get("messages", []):
        content = message.get("content", "")
        if message.get("role") == "user" and "<facts>" in content:
            return json.loads(content.split("<facts>", 1)[1].rsplit("</facts>", 1)[0])
    return None


def summary_for(facts: dict[str, Any], mode: str) -> dict[str, Any]:
    """A deterministic summary of an analysis run's facts: a claim per theme (its id and representatives),
    one on the riskiest tickets; in invent_ids mode every claim cites ids that do not exist."""
    claims = [
        {
            "text": f"Theme {theme['id']} ({theme['label']}) holds {theme['share']}% of tickets, {theme['trend']}.",
            "theme_ids": [theme["id"]],
            "ticket_ids": theme.get("representatives", [])[:2],
        }
        for theme in facts.get("themes", [])[:5]
    ]
    risky = [ticket["id"] for ticket in facts.get("risky_tickets", [])[:3]]
    if risky:
        claims.append({"text": "The riskiest tickets need a look first.", "theme_ids": [], "ticket_ids": risky})
    if mode == "invent_ids":
        claims = [
            {**claim, "theme_ids": [INVENTED_THEME_ID], "ticket_ids": [INVENTED_TICKET_ID]} for claim in claims
        ] or [{"text": "Something happened.", "theme_ids": [INVENTED_THEME_ID], "ticket_ids": []}]
    return {"headline": f"{facts.get('tickets', 0)} tickets in {facts.get('period', 'the period')}.", "claims": claims}


def _system_prompt(request: dict[str, Any]) -> str:
    return next((m.get("content", "") for m in request.get("messages", []) if m.get("role") == "system"), "")


def _answer(
    category: str, priority: str, sentiment: str, first_sentence: str, properties: dict[str, Any]
) -> dict[str, Any]:
    return {
        "category": category,
        "priority": priority,
        "sentiment": sentiment,
        "risk": {"critical": 0.8, "high": 0.5, "medium": 0.2, "low": 0.1}[priority]
        + (0.1 if sentiment == "negative" else 0),
        "summary": first_sentence[:200] or "Empty ticket.",
        "suggested_reply": f"Thanks for contacting us about this {category.replace('_', ' ')} matter; we are on it.",
        "team": properties["team"]["enum"][0],
        "entities": {key: [] for key in properties["entities"]["properties"]},
        "confidence": 0.9,
    }


# ---- Specialist resolution drafts (resolutions app) ----------------------------------------------------
# Recognised by the system prompt's first line and the schema's fields. The answer cites the numbered sources
# it was given (the first two); in bad_citation mode (as for grounded replies) it cites a number it was not given.
RESOLUTION_PROMPT_START = "You are a support specialist drafting the resolution"
INVENTED_SOURCE = 99
_INVENTING = ("bad_citation",)


def is_resolution_request(request: dict[str, Any]) -> bool:
    if not _system_prompt(request).startswith(RESOLUTION_PROMPT_START):
        return False
    return {"diagnosis", "can_close"} <= set(_schema_from(request).get("properties", {}))


def _tagged(request: dict[str, Any], tag: str) -> Any:
    """The JSON of the user message that is one <tag>…</tag> block (its own message: a ticket that quotes the
    tag is not taken for it), or None."""
    for message in request.get("messages", []):
        content = message.get("content", "")
        if message.get("role") == "user" and content.startswith(f"<{tag}>"):
            return json.loads(content.removeprefix(f"<{tag}>").removesuffix(f"</{tag}>"))
    return None


def resolution_for(request: dict[str, Any], mode: str) -> dict[str, Any]:
    """A deterministic draft: a diagnosis from the triage, a step per source cited (and one to reply), a reply
    quoting the first source and citing the first two; it may close questions (no order id or error code)."""
    ticket = _tagged(request, "ticket") or {}
    triage = _tagged(request, "triage") or {}
    sources = _tagged(request, "sources") or []
    numbers = [int(source["number"]) for source in sources[:2]]
    if mode in _INVENTING:
        numbers = [INVENTED_SOURCE]
    category = str(triage.get("category") or "general").replace("_", " ")
    diagnosis = f"A {category} issue: {triage.get('summary') or ticket.get('subject') or 'the customer needs help'}"
    steps = [f"Follow [{source['number']}] {source['article']}." for source in sources[:2]]
    steps.append("Send the reply and confirm with the customer.")
    if numbers and sources and mode not in _INVENTING:
        first = sources[0]
        passage = " ".join(str(first["text"]).split())[:160]
        reply = f"Hello, thanks for writing. {passage} [{first['number']}]"
        if len(numbers) > 1:
            reply += f" See also {sources[1]['article']} [{sources[1]['number']}]."
    elif numbers:
        reply = f"Hello, thanks for writing. Our guide explains this [{numbers[0]}]."
    else:
        reply = "Hello, thanks for writing. Could you tell us more so that we can help?"
    entities = triage.get("entities") or {}
    open_work = bool(entities.get("order_ids") or entities.get("error_codes"))
    return {
        "diagnosis": diagnosis[:400],
        "steps": steps,
        "reply": reply,
        "citations": numbers,
        "can_close": bool(sources) and not open_work,
    }


class _Handler(BaseHTTPRequestHandler):
    server: FakeLLMServer

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("fake llm: " + format, *args)

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _read_json(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def do_GET(self) -> None:
        if self.path == "/_admin/stats":
            self._send(200, self.server.state.stats())
        elif self.path.rstrip("/") == "/v1/models":
            self._send(200, {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "fake"}]})
        else:
            self._send(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        state = self.server.state
        if self.path == "/_admin/config":
            try:
                state.configure(self._read_json())
            except (ValueError, TypeError) as exc:
                self._send(400, {"error": {"message": str(exc)}})
                return
            self._send(200, state.stats())
        elif self.path == "/_admin/reset":
            state.reset()
            self._send(200, state.stats())
        elif self.path.rstrip("/") == "/v1/chat/completions":
            with state.lock:
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
            try:
                self._completion(self._read_json())
            finally:
                with state.lock:
                    state.in_flight -= 1
        else:
            self._send(404, {"error": {"message": "not found"}})

    def _completion(self, request: dict[str, Any]) -> None:
        state = self.server.state
        with state.lock:
            state.requests += 1
            state.last_request = request
            mode, latency, fail_rate = state.mode, state.latency_ms, state.fail_rate
            failed_by_rate = fail_rate > 0 and state.rng.random() < fail_rate
        if latency:
            time.sleep(latency / 1000)
        if mode == "timeout":
            state.count("timeout")
            state.release.wait(TIMEOUT_HOLD_SECONDS)
            return
        if mode == "error500" or failed_by_rate:
            state.count("error500")
            self._send(500, {"error": {"message": "fake internal error", "type": "server_error"}})
            return
        if mode == "rate_limit":
            state.count("rate_limit")
            self._send(429, {"error": {"message": "fake rate limit", "type": "rate_limit"}}, {"retry-after": "1"})
            return
        try:
            facts = _facts_from(request)
            answer = summary_for(facts, mode) if facts is not None else classification_for(request, mode)
        except (ValueError, KeyError, json.JSONDecodeError) as exc:
            self._send(400, {"error": {"message": f"bad request: {exc}", "type": "invalid_request_error"}})
            return
        if mode == "off_schema":
            answer.update(category="not-a-category", risk=7)
        content = "this is not JSON {" if mode == "malformed" else json.dumps(answer)
        prompt_chars = sum(len(m.get("content", "")) for m in request.get("messages", []))
        with state.lock:
            state.completions += 1
        state.count(mode)
        self._send(
            200,
            {
                "id": f"chatcmpl-fake-{state.requests}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": request.get("model") or MODEL,
                "choices": [
                    {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
                ],
                "usage": {
                    "prompt_tokens": prompt_chars // 4,
                    "completion_tokens": len(content) // 4,
                    "total_tokens": prompt_chars // 4 + len(content) // 4,
                },
            },
        )


class FakeLLMServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver listens with a backlog of 5: when a worker starts dozens of calls at once, connections
    # beyond it are dropped and retried a second later (TCP's first retransmission), so 64 calls in flight
    # got half of what 500 ms latency allows (measured). A real server's backlog is in the hundreds.
    request_queue_size = 256

    def __init__(self, host: str = "127.0.0.1", port: int = 0, state: FakeState | None = None) -> None:
        super().__init__((host, port), _Handler)
        self.state = state or FakeState()

    @property
    def base_url(self) -> str:
        host, port = self.socket.getsockname()[:2]
        return f"http://{host}:{port}/v1"

    def shutdown(self) -> None:
        self.state.release.set()  # let held "timeout" requests finish
        super().shutdown()
