"""Variable replacement in instructions, as the builder does it before each step.

Which instructions expand, and what (the reference's "Environment replacement", checked
against dockerd and buildkit's ``Expand`` methods):

==============  ============================================================================
ADD, COPY       sources, destination, --chown, --chmod (and ADD --checksum); heredoc bodies
                whose delimiter is not quoted (quotes in a body are kept); never COPY --from
ARG             name and default
ENV, LABEL      every key and value (this is also where their quotes and escapes go away)
EXPOSE          each port, then split at blanks: ``EXPOSE $PORTS`` may give several
FROM            image and --platform, with the global (meta) ARGs only
STOPSIGNAL      the signal
USER, WORKDIR   the user, the path
VOLUME          each path
RUN             only the values of --mount; the command is the shell's business
==============  ============================================================================

CMD, ENTRYPOINT, HEALTHCHECK, SHELL, MAINTAINER and ONBUILD keep their text (an ONBUILD
trigger expands when it runs, in the image built on this one).

`Expander` records the names it looked up, set or not, for the build cache: a step whose
result depends on a build arg must be keyed on that arg's value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from dockyard.build.errors import DockerfileError, ExpansionError
from dockyard.build.instructions import (
    Add,
    Arg,
    ArgDecl,
    Copy,
    Env,
    Expose,
    From,
    HeredocFile,
    Instruction,
    KeyValue,
    Label,
    Run,
    StopSignal,
    User,
    Volume,
    Workdir,
)
from dockyard.build.mounts import parse_mount
from dockyard.build.shell import ShellLexer
from dockyard.errors import InvalidArgument

EXPANDED_FIELDS: Mapping[str, tuple[str, ...]] = {
    "add": ("sources", "dest", "chown", "chmod", "checksum", "contents"),
    "arg": ("args",),
    "copy": ("sources", "dest", "chown", "chmod", "contents"),
    "env": ("env",),
    "expose": ("ports",),
    "from": ("image", "platform"),
    "label": ("labels",),
    "run": ("mounts",),
    "stopsignal": ("signal",),
    "user": ("user",),
    "volume": ("paths",),
    "workdir": ("path",),
}
"""The fields each instruction expands; instructions not listed expand nothing."""


class Expander:
    """Expands words and instructions against one environment.

    ``env`` is what the step sees: the image config's ENV, plus the build args in scope that
    ENV does not override (see `dockyard.build.buildargs.BuildArgs.environment`). ``escape``
    is the escape token for words; an instruction is expanded with its own (its Dockerfile's).
    ``filename`` names the file in errors.
    """

    def __init__(self, env: Mapping[str, str], *, escape: str = "\\",
                 filename: str = "Dockerfile") -> None:
        self.env = env
        self.filename = filename
        self._lexer = ShellLexer(escape)
        self._raw = ShellLexer(skip_process_quotes=True)
        self.used: set[str] = set()
        """Names looked up, found or not: what the expanded text depends on."""

    def _with_escape(self, escape: str) -> Expander:
        if escape == self._lexer.escape:
            return self
        other = Expander(self.env, escape=escape, filename=self.filename)
        other.used = self.used
        return other

    def expand_word(self, word: str) -> str:
        """One word, quotes and escapes removed, whitespace kept (raises ExpansionError)."""
        result = self._lexer.process(word, self.env)
        self.used |= result.matched | result.unmatched
        return result.result

    def expand_words(self, word: str) -> list[str]:
        """One word, expanded, then split at whitespace that is not quoted."""
        result = self._lexer.process(word, self.env)
        self.used |= result.matched | result.unmatched
        return list(result.words)

    def expand_heredoc(self, text: str) -> str:
        """A heredoc body: variables replaced, quotes left alone, escape always backslash."""
        result = self._raw.process(text, self.env)
        self.used |= result.matched | result.unmatched
        return result.result

    def plain(self, word: str) -> str:
        """The word with no variable set: what it is made of apart from variables."""
        return self._lexer.process_word(word, {})

    def expand(self, instruction: Instruction) -> Instruction:
        """The instruction with its expandable fields expanded; raises DockerfileError."""
        rule = _RULES.get(type(instruction))
        if rule is None:
            return instruction
        try:
            return rule(self._with_escape(instruction.escape), instruction)
        except InvalidArgument as exc:
            raise DockerfileError(self.filename, instruction.line, str(exc),
                                  instruction.end_line) from None


def expand(instruction: Instruction, env: Mapping[str, str], *,
           filename: str = "Dockerfile") -> Instruction:
    """`Expander.expand` for one instruction."""
    return Expander(env, filename=filename).expand(instruction)


def _pairs(ex: Expander, pairs: tuple[KeyValue, ...]) -> tuple[KeyValue, ...]:
    return tuple(KeyValue(ex.expand_word(p.key), ex.expand_word(p.value), p.legacy)
                 for p in pairs)


def _contents(ex: Expander, contents: tuple[HeredocFile, ...]) -> tuple[HeredocFile, ...]:
    return tuple(replace(c, data=ex.expand_heredoc(c.data)) if c.expand else c for c in contents)


def _add(ex: Expander, add: Add) -> Add:
    return replace(add, chown=ex.expand_word(add.chown), chmod=ex.expand_word(add.chmod),
                   checksum=ex.expand_word(add.checksum),
                   sources=tuple(ex.expand_word(s) for s in add.sources),
                   dest=ex.expand_word(add.dest), contents=_contents(ex, add.contents))


def _copy(ex: Expander, copy: Copy) -> Copy:
    if copy.from_ and ex.plain(copy.from_) != copy.from_:
        raise ExpansionError("variable expansion is not supported for --from, define a new "
                             "stage with FROM using ARG from global scope as a workaround")
    return replace(copy, chown=ex.expand_word(copy.chown), chmod=ex.expand_word(copy.chmod),
                   sources=tuple(ex.expand_word(s) for s in copy.sources),
                   dest=ex.expand_word(copy.dest), contents=_contents(ex, copy.contents))


def _arg(ex: Expander, arg: Arg) -> Arg:
    return replace(arg, args=tuple(
        ArgDecl(ex.expand_word(d.name), None if d.default is None else ex.expand_word(d.default))
        for d in arg.args))


def _expose(ex: Expander, expose: Expose) -> Expose:
    return replace(expose, ports=tuple(p for port in expose.ports for p in ex.expand_words(port)))


def _run(ex: Expander, run: Run) -> Run:
    return replace(run, mounts=tuple(parse_mount(m.spec, ex.expand_word) for m in run.mounts))


_RULES: dict[type[Any], Callable[[Expander, Any], Instruction]] = {
    Add: _add,
    Arg: _arg,
    Copy: _copy,
    Env: lambda ex, i: replace(i, env=_pairs(ex, i.env)),
    Expose: _expose,
    From: lambda ex, i: replace(i, image=ex.expand_word(i.image),
                                platform=ex.expand_word(i.platform)),
    Label: lambda ex, i: replace(i, labels=_pairs(ex, i.labels)),
    Run: _run,
    StopSignal: lambda ex, i: replace(i, signal=ex.expand_word(i.signal)),
    User: lambda ex, i: replace(i, user=ex.expand_word(i.user)),
    Volume: lambda ex, i: replace(i, paths=tuple(ex.expand_word(p) for p in i.paths)),
    Workdir: lambda ex, i: replace(i, path=ex.expand_word(i.path)),
}
