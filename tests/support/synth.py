"""The CDK app synthesized into a directory, and its template read back."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


@dataclass(frozen=True)
class Synth:
    outdir: Path
    template: dict[str, Any]

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in self.template["Resources"].items() if r["Type"] == kind}


def synthesize(outdir: Path, context: dict[str, Any] | None = None) -> Synth:
    from app import build_app

    build_app(outdir=str(outdir), context=context).synth()
    template = json.loads((outdir / "InteractionLake.template.json").read_text())
    return Synth(outdir, template)
