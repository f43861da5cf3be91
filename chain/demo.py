"""The demo: the whole chain on the local stack, narrated, with a summary at the end."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson

from chain.closed_loop import render as render_closed_loop
from chain.closed_loop import run_closed_loop
from chain.fleetrun import FleetRun, RunError, Say, Simulation
from chain.plan import plan
from chain.processes import ComponentError
from chain.settings import DemoSettings
from chain.summary import render, summary
from forewarn.settings import InfluxSettings, MlflowSettings, load


def run_demo(state_dir: Path, settings: DemoSettings, run_id: str, say: Say) -> dict[str, Any] | None:
    """Run the demo; the summary dict, or None after a failure it has explained."""
    for line in stop_runs(state_dir):  # an earlier demo's API still holds its port
        if line.startswith("stopped"):
            say(line)
    run_plan = plan(state_dir, settings, run_id, influx_database=None, model_name=None)
    run = FleetRun(run_plan, say)
    try:
        return _demo(run, state_dir, say)
    except (RunError, ComponentError) as exc:
        say(f"error: {exc}")
        run.supervisor.stop_all()
        return None
    except BaseException:  # Ctrl-C or a bug: leave no process behind
        run.supervisor.stop_all()
        raise
    finally:
        run.close()


def _demo(run: FleetRun, state_dir: Path, say: Say) -> dict[str, Any]:
    d = run.plan.demo
    pace = "as fast as possible" if d.speed == "max" else f"{d.speed}x real time"
    say(f"== run {run.plan.run_id}: {d.assets} pumps on {', '.join(d.sites)}, {d.steps} readings each,"
        f" one per {d.interval_s:.0f} simulated s, {pace}")  # fmt: skip
    say(f"   folder {run.plan.run_dir}")
    run.prepare()
    if d.retrain or not run.has_champion():
        say(f"== training {run.plan.model_name} on {d.train_assets} simulated pumps (seed {d.train_seed}) …")
        trained = run.train()
        verdict = "champion" if trained["promoted"] else "refused"
        say(f"   trained in {trained['train_s']} s; promotion: {verdict} {' '.join(trained['verdict'])}")
    else:
        trained = {"train_s": 0.0, "promoted": False, "verdict": ["kept the current champion"]}
        say(f"== scoring with the current champion of {run.plan.model_name} (FOREWARN_DEMO_RETRAIN=false)")
    run.seed_catalogue()
    say("== starting the work-order API, the alert engine, the scoring job (Spark) and the gateway …")
    started = time.monotonic()
    run.start_pipeline()
    say(f"   all up in {time.monotonic() - started:.0f} s; streaming the fleet over MQTT")
    closed: dict[str, Any] | None = None
    sims: tuple[Simulation, ...]
    if d.drift:
        closed, sims = run_closed_loop(run, say)
    else:
        sim = run.simulate()
        run.watch(sim, d.progress_s)
        sent = run.finish(sim)
        say(f"== simulator done: {sent['readings']:,} readings in {sent['messages']:,} messages,"
            f" injected {sent['injected']}; waiting for the pipeline to settle …")  # fmt: skip
        sims = (sim,)
    published = run.published(*sims)
    accounting = run.settle(published, d.settle_timeout_s)
    crew_plan = run.replan()  # the last work orders too
    outcomes, orders = run.outcomes(*sims)
    letters = run.ledger.letters_by_reason(published.assets)
    result = summary(accounting, letters, outcomes, orders, run.api.technicians(), len(run.raised_at))
    result["run"] = {"id": run.plan.run_id, "folder": str(run.plan.run_dir), "model": trained}
    result["crew_plan"] = {k: crew_plan[k] for k in ("status", "solve_s", "figures", "kpis", "now")}
    result["crew_plan"]["unplaced"] = crew_plan["unplaced"]
    if closed is not None:
        result["closed_loop"] = closed
    (run.plan.run_dir / "summary.json").write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    for name in ("gateway", "stream", "engine", "watch"):
        run.supervisor.daemon(run.supervisor.components[name]).stop(30)
    if closed is None:
        crews = run.play_crews(sims[0], orders)
        say(f"== the crews visited {crews['visited']} scheduled work orders (found a fault at"
            f" {crews['fault_found']}); outcomes recorded, orders closed")  # fmt: skip
    else:
        crews = closed["crews"]
        say(render_closed_loop(closed))
    result["crews"] = crews
    say("== the console, page by page, in Debian's chromium (screenshots) …")
    result["console"] = console_screenshots(run)
    (run.plan.run_dir / "summary.json").write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    say(render(result, addresses(state_dir, run.plan.run_dir, run.plan.env)))
    return result


def console_screenshots(run: FleetRun) -> dict[str, Any]:
    """Log in as the run's dispatcher and save a screenshot of every console page in the run folder.

    A missing browser or a page that fails is reported in the summary, not raised: the run's data and
    its console stay up either way.
    """
    from alerts.console.screenshots import capture
    from alerts.identity.credentials import read_credentials

    out = run.plan.run_dir / "screenshots"
    password = read_credentials(run.plan.credentials_file)["dispatcher"]
    try:
        report = capture(run.plan.api_url, "dispatcher", password, out)
    except Exception as exc:  # the demo reports it and goes on
        return {"folder": str(out), "error": f"{type(exc).__name__}: {exc}"}
    return {"folder": str(out), **report.to_json()}


def addresses(state_dir: Path, run_dir: Path, env: dict[str, str]) -> dict[str, str]:
    """Where a run's services answer and its files are: the end of the summary, `forewarn demo show`."""
    mlflow = load(MlflowSettings, state_dir).tracking_uri
    influx = load(InfluxSettings, state_dir)
    model = env.get("FOREWARN_MODELS_REGISTERED_MODEL", "")
    api = f"http://127.0.0.1:{env.get('FOREWARN_API_PORT', '8900')}"
    return {
        "MLflow": f"{mlflow}/#/models/{model}",
        "console": f"{api}/console/ (log in as dispatcher; passwords of every role in"
        f" {run_dir / 'credentials.txt'}, mode 600)",
        "work-order API": f"{api}/docs (per-user tokens: forewarn users token NAME)",
        "screenshots": str(run_dir / "screenshots"),
        "InfluxDB": f"{influx.url} database {env.get('FOREWARN_INFLUX_DATABASE', influx.database)}",
        "Grafana": "not runnable on this machine; boards as code: forewarn dashboards build",
        "explore the run": f". {run_dir / 'run.env'}  # then any forewarn command",
        "summary JSON": str(run_dir / "summary.json"),
    }


def stop_runs(state_dir: Path) -> list[str]:
    """Stop what any run left running (pid files under ``<state>/runs/*/run``)."""
    from infra.stack.process import Daemon

    stopped = []
    for pid_file in sorted((state_dir / "runs").glob("*/run/*.pid")):
        daemon = Daemon(pid_file.stem, [], pid_file, pid_file.with_suffix(".log"), state_dir)
        if daemon.stop(30):
            stopped.append(f"stopped {pid_file.parent.parent.name}/{pid_file.stem}")
    return stopped or ["nothing was running"]
