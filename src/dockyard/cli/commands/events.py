"""``events`` / ``system events``: docker 28's cli/command/system/events.go.

``GET /events`` with ``since``/``until`` (converted as the CLI converts them: ``10m`` is ten
minutes ago) and ``filters``; each event as one line::

    2026-11-27T20:28:45.584369577Z container die 3b6e... (exitCode=0, image=busybox, name=tev)

(local time with nine fractional digits; attributes sorted by name), or through ``--format``
(a template over the event; ``json`` writes it as Go marshals events.Message). A bad template
exits 64, before any request.
"""

from __future__ import annotations

import time

from dockyard.cli.commands.images import parse_filters
from dockyard.cli.flags import Command, Flag, Parsed
from dockyard.cli.session import Session, StatusError

TYPE_CHECKING = False  # typing's import costs the CLI's start a few ms
if TYPE_CHECKING:
    from typing import Any

_FLAGS = (
    Flag("filter", "f", "list", "Filter output based on conditions provided", metavar="filter"),
    Flag("format", "", "string", "Format output using a custom template:\n'json': Print in JSON "
         "format\n'TEMPLATE': Print output using the given Go template."),
    Flag("since", "", "string", "Show all events created since timestamp"),
    Flag("until", "", "string", "Stream events until this timestamp"),
)
EVENTS = Command("events", "[OPTIONS]", "Get real time events from the server", _FLAGS,
                 max_args=0, aliases="dockyard system events, dockyard events")
SYSTEM_EVENTS = Command("system events", "[OPTIONS]", EVENTS.short, _FLAGS, max_args=0,
                        aliases=EVENTS.aliases)
# events.Message's fields: Go name -> JSON key, in the struct's order
_FIELDS = (("Status", "status"), ("ID", "id"), ("From", "from"), ("Type", "Type"),
           ("Action", "Action"), ("Actor", "Actor"), ("Scope", "scope"), ("Time", "time"),
           ("TimeNano", "timeNano"))
_OMIT_EMPTY = frozenset({"status", "id", "from"})


def go_message(event: dict[str, Any]) -> dict[str, Any]:
    """The event as Go re-marshals it: struct order, empty status/id/from left out,
    attributes sorted."""
    actor = event.get("Actor") or {}
    attributes = actor.get("Attributes") or {}
    message: dict[str, Any] = {}
    for _, key in _FIELDS:
        value = event.get(key)
        if key == "Actor":
            value = {"ID": actor.get("ID", ""), "Attributes": dict(sorted(attributes.items()))
                     if attributes else None}
        elif value is None:
            value = "" if key in ("Type", "Action", "scope") else 0 if key in (
                "time", "timeNano") else ""
        if key in _OMIT_EMPTY and not value:
            continue
        message[key] = value
    return message


def line(event: dict[str, Any]) -> str:
    """prettyPrintEvent."""
    nanos = int(event.get("timeNano") or 0) or int(event.get("time") or 0) * 10**9
    text = ""
    if nanos:
        seconds, fraction = divmod(nanos, 10**9)
        tm = time.localtime(seconds)
        off = tm.tm_gmtoff or 0
        zone = "Z" if not off else f"{'+' if off > 0 else '-'}{abs(off) // 3600:02d}:" \
                                   f"{abs(off) % 3600 // 60:02d}"
        text = time.strftime("%Y-%m-%dT%H:%M:%S", tm) + f".{fraction:09d}{zone} "
    actor = event.get("Actor") or {}
    text += f"{event.get('Type', '')} {event.get('Action', '')} {actor.get('ID', '')}"
    attributes = actor.get("Attributes") or {}
    if attributes:
        text += " (" + ", ".join(f"{k}={attributes[k]}" for k in sorted(attributes)) + ")"
    return text + "\n"


def _struct(event: dict[str, Any]) -> Any:
    """events.Message for a template: every field readable, ``json`` as Go writes it."""
    from dockyard.cli.template.exec import JSONStruct

    class Message(JSONStruct):
        def to_json(self) -> dict[str, Any]:
            return {k: v for k, v in self.fields.items() if k not in _OMIT_EMPTY or v}

    message = go_message(event)
    fields = {key: message.get(key, "") for _, key in _FIELDS}
    fields["Actor"] = JSONStruct("events.Actor", message["Actor"], {})
    return Message("events.Message", fields, {go: key for go, key in _FIELDS})


def run_events(session: Session, command: Command, parsed: Parsed) -> int:
    from dockyard.cli.template import Template, TemplateError
    from dockyard.cli.timestamps import since_until
    from dockyard.client import encode_filters
    from dockyard.client.engine import decode_lines

    fmt = parsed.string("format")
    template = None
    if fmt:
        try:
            template = Template("{{json .}}" if fmt == "json" else fmt)
        except TemplateError as exc:
            raise StatusError(f"Error parsing format: {exc}", 64) from exc
    query = since_until(parsed, session.now())
    filters = parse_filters(parsed.strings("filter"), command)
    if filters:
        query["filters"] = encode_filters(filters)
    response = session.client().request("GET", "/events", query)
    for event in decode_lines(response):
        if template is None:
            session.out.write(line(event))
        else:
            try:
                session.out.write(template.execute(_struct(event)) + "\n")
            except TemplateError as exc:
                raise StatusError(str(exc)) from exc
        session.out.flush()
    return 0

