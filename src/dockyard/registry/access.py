"""Who may do what: scopes as the token auth spec writes them, and rules that grant them.

A scope is ``type:name:actions``, e.g. ``repository:team/app:pull,push`` or
``registry:catalog:*`` (distribution's docs/spec/auth/scope.md). A name may itself contain
``:`` (a registry host with a port), so the type ends at the first colon and the actions start
after the last.

A :class:`Rule` grants actions on repositories whose names match a glob (``fnmatch``: ``*``
matches across ``/``) to one account, to every authenticated account (``*``), or to every
client, with credentials or without (``anonymous``). What an account may do is the union of
the rules that match it; the catalog is open to an account that may pull some repository, and
lists only what it may pull.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dockyard.errors import InvalidArgument
from dockyard.oci.codec import JSON

PULL, PUSH, DELETE = "pull", "push", "delete"
ACTIONS = frozenset({PULL, PUSH, DELETE})
ANONYMOUS = "anonymous"
ANY_ACCOUNT = "*"
CATALOG = ("registry", "catalog")


@dataclass(frozen=True, slots=True)
class Scope:
    """Actions on one resource: ``repository`` and a repository name, or the catalog."""

    type: str
    name: str
    actions: frozenset[str]

    @classmethod
    def parse(cls, text: str) -> Scope:
        kind, sep, rest = text.partition(":")
        name, sep2, actions = rest.rpartition(":")
        if not sep or not sep2 or not kind or not name:
            raise InvalidArgument(f"invalid scope {text[:200]!r}: want type:name:actions")
        return cls(kind, name, frozenset(a for a in actions.split(",") if a))

    @classmethod
    def repository(cls, name: str, *actions: str) -> Scope:
        return cls("repository", name, frozenset(actions))

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(sorted(self.actions))}"

    def to_json(self) -> dict[str, JSON]:
        actions: list[JSON] = [*sorted(self.actions)]
        return {"type": self.type, "name": self.name, "actions": actions}


def parse_scopes(values: Iterable[str]) -> list[Scope]:
    """Scopes from ``scope`` parameters, each of which may hold several separated by spaces."""
    return [Scope.parse(part) for value in values for part in value.split() if part]


@dataclass(frozen=True, slots=True)
class Rule:
    """Grants ``actions`` on repositories matching ``repository`` to ``account``."""

    account: str
    repository: str
    actions: frozenset[str]

    def __post_init__(self) -> None:
        unknown = self.actions - ACTIONS - {"*"}
        if unknown:
            raise InvalidArgument(f"invalid access rule for {self.account!r}: unknown actions "
                                  f"{sorted(unknown)}; want pull, push, delete or *")
        if not self.account or not self.repository:
            raise InvalidArgument("invalid access rule: account and repository must be set")
        if "*" in self.actions:
            object.__setattr__(self, "actions", ACTIONS)

    def applies(self, account: str | None) -> bool:
        if account is None:
            return self.account == ANONYMOUS
        return self.account in (account, ANY_ACCOUNT, ANONYMOUS)

    @classmethod
    def parse(cls, text: str) -> Rule:
        """``account:repository-glob:actions`` (the command-line form)."""
        account, sep, rest = text.partition(":")
        repository, sep2, actions = rest.rpartition(":")
        if not sep or not sep2:
            raise InvalidArgument(f"invalid access rule {text!r}: want account:repository:actions")
        return cls(account, repository, frozenset(a.strip() for a in actions.split(",") if a))


class Policy:
    """The rules in force. With no rules at all, everything is allowed to everyone."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = tuple(rules)

    def granted(self, account: str | None, scope: Scope) -> frozenset[str]:
        """The subset of ``scope.actions`` the account holds."""
        if not self.rules:
            return scope.actions
        if (scope.type, scope.name) == CATALOG:
            return scope.actions if self._pulls_anything(account) else frozenset()
        if scope.type != "repository":
            return frozenset()
        held: set[str] = set()
        for rule in self.rules:
            if rule.applies(account) and fnmatch.fnmatchcase(scope.name, rule.repository):
                held |= rule.actions
        return scope.actions & held

    def _pulls_anything(self, account: str | None) -> bool:
        return any(rule.applies(account) and PULL in rule.actions for rule in self.rules)
