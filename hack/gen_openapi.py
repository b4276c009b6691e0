"""Write docs/openapi.json from the runtime's FastAPI app, so the query API's reference is the
code's own description of itself (a unit test fails when the committed file is stale)."""

from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "docs" / "openapi.json"


def render() -> str:
    from oozo_contract.serve_settings import ServeSettings
    from oozo_runtime.server.app import create_app

    # As the operator deploys it: auth on (spec.runtime.auth.enabled defaults to true).
    app = create_app(ServeSettings(auth_enabled=True), load=False)
    return json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    OUT.write_text(render())
    print(f"wrote {OUT}")
