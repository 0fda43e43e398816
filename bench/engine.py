"""Engine cost per fired event, in process, on cases loaded from row dictionaries (mediation).

Baselines in the same run: a plain dictionary lookup of the transition (the floor), building a
``transitions.Machine`` per case (the naive design), and SpiffWorkflow 3 running the equivalent BPMN
process (``bench/mediation.bpmn``) as a service would per request: load the serialized workflow, complete
a task, dump it again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from transitions import Machine

from api.plugins import bound_effects
from bench.stats import per_call_us, summary
from workflow.definitions import Catalog
from workflow.engine import CaseView, Engine

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 24, 2, tzinfo=UTC)
ROW: dict[str, Any] = {"definition_key": "mediation_case", "definition_version": 1, "state": "registered",
                       "level": "street", "data": {"amount": "12000.50", "claims": "拖欠工资"}}


def run(calls: int) -> dict[str, Any]:
    catalog = Catalog.from_directory(ROOT / "definitions", effects=bound_effects())
    engine = Engine(catalog)
    definition = catalog.get("mediation_case")
    results: dict[str, Any] = {}

    def fire_from_row() -> None:
        case = CaseView(ROW["definition_key"], ROW["definition_version"], ROW["state"], ROW["level"], ROW["data"])
        engine.fire(case, "accept", roles={"mediator"}, data={"mediator": "李调解"}, actor="m", now=NOW)

    results["engine"] = summary(per_call_us(fire_from_row, calls))

    table = {(source, event.name): event.target(source) for event in definition.events.values()
             for source in event.sources}
    results["dict_lookup"] = summary(per_call_us(lambda: table[("registered", "accept")], calls))

    class Model:
        state = "registered"

    def machine_per_case() -> None:
        model = Model()
        machine = Machine(model=model, states=list(definition.states), initial=ROW["state"], auto_transitions=False)
        for event in definition.events.values():
            for source in event.sources:
                machine.add_transition(event.name, source, event.target(source))
        model.accept()  # type: ignore[attr-defined]

    results["machine_per_case"] = summary(per_call_us(machine_per_case, max(200, calls // 20)))
    results["spiffworkflow"] = spiff(max(100, calls // 50))
    return results


def spiff(calls: int) -> dict[str, float] | None:
    try:
        from SpiffWorkflow.bpmn import BpmnWorkflow
        from SpiffWorkflow.bpmn.parser import BpmnParser
        from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
        from SpiffWorkflow.util.task import TaskState
    except ImportError:
        return None
    parser = BpmnParser()
    parser.add_bpmn_file(str(ROOT / "bench" / "mediation.bpmn"))
    serializer = BpmnWorkflowSerializer()
    workflow = BpmnWorkflow(parser.get_spec("mediation"))
    workflow.do_engine_steps()
    stored = serializer.serialize_json(workflow)

    def load_step_dump() -> None:
        loaded = serializer.deserialize_json(stored)
        task = loaded.get_next_task(state=TaskState.READY)
        task.data["mediator"] = "李调解"
        task.run()
        loaded.do_engine_steps()
        serializer.serialize_json(loaded)

    return summary(per_call_us(load_step_dump, calls))
