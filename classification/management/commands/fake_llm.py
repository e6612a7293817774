from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from classification.fake_llm import MODES, FakeLLMServer, FakeState


class Command(BaseCommand):
    help = "Serve a fake OpenAI-compatible chat-completions API for development and tests."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8100)
        parser.add_argument("--mode", choices=MODES, default="ok")
        parser.add_argument("--latency-ms", type=int, default=0)
        parser.add_argument("--fail-rate", type=float, default=0.0, help="Share of requests answered 500 (0..1).")

    def handle(self, *args: Any, **options: Any) -> None:
        state = FakeState()
        state.configure(
            {"mode": options["mode"], "latency_ms": options["latency_ms"], "fail_rate": options["fail_rate"]}
        )
        server = FakeLLMServer(options["host"], options["port"], state)
        self.stdout.write(
            f"Fake OpenAI-compatible server on {server.base_url} (mode {state.mode}). "
            f'Switch faults with: curl -X POST {server.base_url[:-3]}/_admin/config -d \'{{"mode": "error500"}}\''
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
