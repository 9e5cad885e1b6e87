"""`audit demo`: the whole pipeline against the bundled local sites, with nothing outside 127.0.0.1."""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

from rich.console import Console

from audit.config import parse_config
from audit.datadir import ensure_data_dir
from audit.demo.farm import serve_farm
from audit.runner import RunOptions
from audit.settings import Settings


def demo_config_text(port: int) -> str:
    template = (resources.files("audit.demo") / "companies.yaml").read_text(encoding="utf-8")
    return template.replace("{{PORT}}", str(port))


def run_demo(settings: Settings, *, console: Console, dry_run: bool, keep_serving: bool) -> Path:
    from audit.cli import print_run_summary, run_with_progress  # the CLI's own progress display

    demo_dir = ensure_data_dir(settings.data_dir / "demo")
    demo_settings = settings.model_copy(update={"data_dir": demo_dir, "database_url": None})
    with serve_farm() as farm:
        text = demo_config_text(farm.port)
        config_path = demo_dir / "companies.yaml"
        config_path.write_text(text, encoding="utf-8")
        config = parse_config(text, source=str(config_path))
        console.print(
            f"Demo sites at {farm.base_url}/ ; {len(config.companies)} fictional companies; "
            f"data in {demo_dir}",
            highlight=False,
        )
        # Every demo run is a new wave: the sites are ours and local, so a second inquiry harms no one.
        options = RunOptions(dry_run=dry_run, new_wave=True)
        report = run_with_progress(demo_settings, config, options)
        print_run_summary(demo_settings, config, report)
        received = farm.submissions
        accepted = sum(1 for submission in received if submission.accepted)
        console.print(
            f"The demo sites received {len(received)} submissions ({accepted} accepted as valid).",
            highlight=False,
        )
        console.print(
            f"Look again with: audit --data-dir {demo_dir} status --config {config_path}", highlight=False
        )
        if keep_serving:
            console.print(f"Serving the demo sites at {farm.base_url}/ until Ctrl-C.", highlight=False)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    return demo_dir
