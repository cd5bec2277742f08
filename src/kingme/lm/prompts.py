"""Prompt prefixes: one place for what is written in front of a task's prompt.

A prefix (a hint, a user's stated belief, a claimed answer) sits in front of the task's prompt,
separated by `SEP` (";", a character no task prompt uses):

    with_prefix("47+85=", "131") = "131;47+85="        split_prefix("131;47+85=") = ("131", "47+85=")

so every reader recovers the bare prompt, which the task's verifier, its step checker and its
train/test split (`tasks.split_of`) read. The stated beliefs of the simulated labellers
(`labellers.with_belief`) and the hints of a hinted task (`hints.Hinted`) are both written here.
"""

from __future__ import annotations

SEP = ";"


def with_prefix(prompt: str, prefix: str) -> str:
    """`prefix` + SEP + `prompt`; a ValueError if either already holds SEP (it could not be split back)."""
    if SEP in prefix or SEP in prompt:
        raise ValueError(f"a prefix and a prompt may not contain {SEP!r}: {prefix!r}, {prompt!r}")
    return f"{prefix}{SEP}{prompt}"


def split_prefix(text: str) -> tuple[str | None, str]:
    """(prefix or None, the bare prompt): the inverse of `with_prefix`."""
    prefix, sep, prompt = text.partition(SEP)
    return (prefix, prompt) if sep else (None, text)
