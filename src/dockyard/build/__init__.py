"""The Dockerfile front end: parser, instruction types and word expansion (pure, no I/O).

    parse_dockerfile(text)          -> Dockerfile(stages, meta_args, directives)
    Expander(env).expand(instr)     -> the instruction with variables replaced
    BuildArgs                       -> which ARG values a step sees
    parse_change(text)              -> one ``docker import/commit --change`` instruction

Modules, from text to typed values: `lexer` (lines, directives, continuations), `parser`
(nodes), `arguments` and `heredoc` (how a line's arguments are cut), `decode` (nodes to the
dataclasses of `instructions`, with `flags`, `mounts` and `duration`), `dockerfile` (stages),
`shell` (Docker's shell-word lexer), `expand` and `buildargs` (what a step sees).
"""

from __future__ import annotations

from dockyard.build.buildargs import PLATFORM_ARGS, PROXY_ARGS, BuildArgs, platform_args
from dockyard.build.dockerfile import (
    CHANGE_INSTRUCTIONS,
    Dockerfile,
    Stage,
    parse_change,
    parse_changes,
    parse_dockerfile,
    parse_trigger,
)
from dockyard.build.errors import DockerfileError, ExpansionError
from dockyard.build.expand import EXPANDED_FIELDS, Expander, expand
from dockyard.build.instructions import (
    Add,
    Arg,
    ArgDecl,
    Cmd,
    Copy,
    Entrypoint,
    Env,
    Expose,
    From,
    Healthcheck,
    HeredocFile,
    Instruction,
    KeyValue,
    Label,
    Maintainer,
    Onbuild,
    Run,
    Shell,
    StopSignal,
    User,
    Volume,
    Workdir,
)
from dockyard.build.lexer import Directives
from dockyard.build.mounts import Mount
from dockyard.build.shell import ShellLexer

__all__ = [
    "CHANGE_INSTRUCTIONS",
    "EXPANDED_FIELDS",
    "PLATFORM_ARGS",
    "PROXY_ARGS",
    "Add",
    "Arg",
    "ArgDecl",
    "BuildArgs",
    "Cmd",
    "Copy",
    "Directives",
    "Dockerfile",
    "DockerfileError",
    "Entrypoint",
    "Env",
    "Expander",
    "ExpansionError",
    "Expose",
    "From",
    "Healthcheck",
    "HeredocFile",
    "Instruction",
    "KeyValue",
    "Label",
    "Maintainer",
    "Mount",
    "Onbuild",
    "Run",
    "Shell",
    "ShellLexer",
    "Stage",
    "StopSignal",
    "User",
    "Volume",
    "Workdir",
    "expand",
    "parse_change",
    "parse_changes",
    "parse_dockerfile",
    "parse_trigger",
    "platform_args",
]
