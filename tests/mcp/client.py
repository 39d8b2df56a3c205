"""A real MCP client (the official Python SDK) driving `cortex mcp` over stdio, through tools
alone. Run by tests/mcp_client.rs as

    python client.py CHECK CORTEX_BINARY HOME PROJECT_DIR

CHECK is one of the functions named in CHECKS. Each prints one JSON line of facts for the Rust
side (run ids) and exits 0, or fails with an assertion naming what was wrong.
"""

import asyncio
import json
import sys

import mcp
from mcp.client.stdio import StdioServerParameters
from mcp.shared.exceptions import MCPError
from mcp_types import Implementation

TOOLS = [
    "list", "validate", "preview", "run", "status", "history", "step_complete", "step_fail",
    "phase_start", "phase_complete", "phase_fail", "stop", "resume", "abort", "log_verify",
    "logs", "schedule_list",
]


def words(argv):
    """A suggested command's words after `cortex` and its global options (`--home H`, `--db
    URL`: the server names the home and log it uses)."""
    rest = argv[1:]
    while rest[:1] in (["--home"], ["--db"]):
        rest = rest[2:]
    return rest


def client(argv, name, mode):
    """A client for `cortex mcp` in HOME, started in PROJECT_DIR, named `name`."""
    _, _, binary, home, project = argv
    server = StdioServerParameters(
        command=binary,
        args=["mcp"],
        env={"CORTEX_HOME": home, "NO_COLOR": "1"},
        cwd=project,
    )
    return mcp.Client(
        server,
        client_info=Implementation(name=name, version="1.0"),
        mode=mode,
    )


# The field of the structured content that carries a tool's rows (its document an array), and
# the fields beside it (history's `more`: older runs exist past the limit).
ROWS = {"list": ("workflows", "scenarios"), "history": ("runs",)}
BESIDE = {"history": {"more"}}


def document(result, code, tool=None):
    """The JSON document of a successful tool result, checked: the text block is the
    structured content (rows: in the tool's one field of it), it is no error, and the exit
    code is `code`. The SDK has already checked the structured content against the tool's
    output schema."""
    text = result.content[0].text
    doc = json.loads(text)
    assert not result.is_error, f"a tool error: {text}"
    if isinstance(doc, list):
        assert tool in ROWS, f"{tool} answered an array: {text}"
        structured = result.structured_content
        assert isinstance(structured, dict), structured
        beside = BESIDE.get(tool, set())
        rows_fields = [f for f in structured if f not in beside]
        assert len(rows_fields) == 1 and set(structured) <= set(rows_fields) | beside, structured
        field = rows_fields[0]
        assert field in ROWS[tool] and structured[field] == doc, (structured, doc)
        assert beside <= set(structured), (structured, beside)
    else:
        assert result.structured_content == doc, (result.structured_content, doc)
    exit_code = (result.meta or {}).get("cortex/exit_code")
    assert code is None or exit_code == code, f"exit code {exit_code}, wanted {code}: {text}"
    return doc


def tool_error(result):
    """The error document of a tool error, checked."""
    text = result.content[0].text
    assert result.is_error, f"not an error: {text}"
    doc = json.loads(text)
    assert doc["error"], doc
    assert result.structured_content == doc
    return doc


def step(doc, name):
    return next(s for s in doc["steps"] if s["name"] == name)


def phase(doc, name):
    return next(p for p in doc["phases"] if p["name"] == name)


async def feature_development(argv):
    """The seed's feature-development workflow from `run` to completed, every prompt step
    reported with step_complete; the status documents carry the rendered prompt and `next`;
    the run is a resource."""
    async with client(argv, "pytest-agent", "auto") as c:
        tools = (await c.list_tools()).tools
        assert sorted(t.name for t in tools) == sorted(TOOLS), [t.name for t in tools]
        for t in tools:
            assert len(t.description) > 80, (t.name, t.description)
            assert t.input_schema["type"] == "object", (t.name, t.input_schema)
            # Every result is checked against it by the SDK (`call_tool` validates).
            assert t.output_schema and t.output_schema["type"] == "object", (t.name, t.output_schema)
        run_tool = next(t for t in tools if t.name == "run")
        assert set(run_tool.input_schema["required"]) == {"kind", "name"}, run_tool.input_schema
        assert run_tool.input_schema["properties"]["kind"]["enum"] == ["workflow", "scenario"]

        listed = document(await c.call_tool("list", {"kind": "workflow"}), 0, "list")
        assert "feature-development" in [w["name"] for w in listed], listed

        doc = document(
            await c.call_tool("run", {"kind": "workflow", "name": "feature development"}), 3
        )
        run_id = doc["run_id"]
        assert doc["name"] == "feature-development"
        assert doc["actor"] == "mcp:pytest-agent", doc["actor"]
        done = []
        for name, output in [("Plan", "plan.md"), ("Implement", "src"), ("Test", "ok"),
                             ("Deploy", "prod")]:
            assert doc["status"] == "waiting", doc
            assert doc["waiting_for"] == name, doc
            waiting = step(doc, name)
            assert waiting["status"] == "waiting", waiting
            assert waiting["prompt"].strip(), f"no prompt for {name}: {waiting}"
            assert "${{" not in waiting["prompt"], waiting["prompt"]
            assert doc["next"], "no suggestions"
            first = doc["next"][0]
            assert first["argv"][:1] == ["cortex"] and "complete" in first["argv"], first
            assert name in first["argv"] and first["why"], first
            # What the status tool says now is what run/report returned.
            now = document(await c.call_tool("status", {"kind": "workflow", "run": run_id}), 0)
            assert now["waiting_for"] == name and step(now, name)["prompt"] == waiting["prompt"]
            for prev in done:
                assert step(now, prev)["status"] == "completed", now
            code = 0 if name == "Deploy" else 3
            doc = document(
                await c.call_tool(
                    "step_complete",
                    {"step": name, "run": run_id, "outputs": {"result": output},
                     "message": f"{name} done"},
                ),
                code,
            )
            assert step(doc, name)["outputs"] == {"result": output}, step(doc, name)
            done.append(name)
        assert doc["status"] == "completed", doc
        assert all(s["status"] == "completed" for s in doc["steps"]), doc["steps"]

        history = document(
            await c.call_tool("history", {"kind": "workflow", "limit": 5}), 0, "history"
        )["runs"]
        assert history[0]["run_id"] == run_id and history[0]["status"] == "completed", history

        resources = (await c.list_resources()).resources
        uri = f"cortex://runs/{run_id}"
        assert uri in [str(r.uri) for r in resources], resources
        templates = (await c.list_resource_templates()).resource_templates
        assert [t.uri_template for t in templates] == ["cortex://runs/{run_id}"], templates
        read = await c.read_resource(uri)
        status = json.loads(read.contents[0].text)
        assert read.contents[0].mime_type == "application/json"
        assert status["run_id"] == run_id and status["status"] == "completed", status

        verified = document(await c.call_tool("log_verify", {}), 0)
        assert verified["ok"] is True, verified
    print(json.dumps({"run_id": run_id}))


async def scenario_manual(argv):
    """A scenario with a manual phase from start to finish: run waits for the manual phase,
    phase_start starts it, phase_complete reports it, the run completes. Through the
    initialize handshake this time."""
    async with client(argv, "pytest-lead", "legacy") as c:
        preview = document(await c.call_tool("preview", {"name": "review-gate"}), 0)
        assert preview["estimated_phases"] == 3, preview
        valid = document(
            await c.call_tool("validate", {"kind": "scenario", "name": "review-gate"}), 0
        )
        assert valid["valid"] is True, valid

        doc = document(await c.call_tool("run", {"kind": "scenario", "name": "review-gate"}), 3)
        run_id = doc["run_id"]
        assert doc["status"] == "waiting", doc
        assert doc["awaiting_start"] == ["review"], doc
        assert phase(doc, "build")["status"] == "completed", doc
        assert phase(doc, "ship")["status"] == "pending", doc
        assert doc["next"], doc

        doc = document(
            await c.call_tool("phase_start", {"scenario": "review-gate", "phase": "review"}), 3
        )
        review = phase(doc, "review")
        assert review["status"] == "waiting", review
        assert review["criteria"] == [{"criterion": "The build was read end to end", "met": False}]

        doc = document(
            await c.call_tool(
                "phase_complete",
                {"scenario": run_id, "phase": "review", "message": "read it all"},
            ),
            0,
        )
        assert doc["status"] == "completed", doc
        assert phase(doc, "review")["criteria"][0]["met"] is True, doc
        assert phase(doc, "ship")["status"] == "completed", doc
        status = document(await c.call_tool("status", {"kind": "scenario", "run": run_id}), 0)
        assert status["status"] == "completed", status

        # Rows are structured content too, for a peer of the initialize handshake (an older
        # protocol, for which rmcp drops structured content that is not an object).
        listed = await c.call_tool("list", {"kind": "scenario"})
        assert [r["name"] for r in document(listed, 0, "list")] == ["review-gate"], listed
        assert listed.structured_content["scenarios"][0]["name"] == "review-gate", listed
        history = await c.call_tool("history", {"kind": "scenario"})
        assert document(history, 0, "history")["runs"][0]["run_id"] == run_id, history
        assert history.structured_content["runs"][0]["status"] == "completed", history
        # Each other shape of document, checked against its tool's output schema by the SDK.
        every = document(await c.call_tool("validate", {"kind": "scenario", "all": True}), 0)
        assert every["valid"] is True and every["scenarios"], every
        plan = document(
            await c.call_tool("run", {"kind": "scenario", "name": "review-gate", "dry_run": True}),
            0,
        )
        assert plan["dry_run"] is True and plan["phases"], plan
        plan = document(
            await c.call_tool("run", {"kind": "workflow", "name": "onboarding", "dry_run": True}),
            0,
        )
        assert plan["dry_run"] is True and plan["steps"], plan
        valid = document(await c.call_tool("validate", {"kind": "workflow", "name": "onboarding"}), 0)
        assert valid["valid"] is True, valid
        schedules = document(await c.call_tool("schedule_list", {}), 0)
        assert schedules["schedules"] == [], schedules
    print(json.dumps({"run_id": run_id}))


async def bad_input(argv):
    """Unknown tool, missing, ill-typed and unknown arguments, an unknown run, an unknown
    resource: each a clear error, and the server answers after each."""
    async with client(argv, "pytest-hostile", "auto") as c:
        async def still_answers():
            listed = document(await c.call_tool("list", {"kind": "workflow"}), 0, "list")
            assert listed, listed

        try:
            await c.call_tool("stauts", {"kind": "workflow"})
            raise AssertionError("an unknown tool was answered")
        except MCPError as e:
            assert "unknown tool `stauts`" in str(e) and "did you mean `status`" in str(e), str(e)
        await still_answers()

        err = tool_error(await c.call_tool("run", {"kind": "workflow"}))
        assert "missing field `name`" in err["error"], err
        assert err["exit_code"] == 2 and "run` takes kind and name (required)" in err["hints"][0]
        await still_answers()

        err = tool_error(await c.call_tool("status", {"kind": "workflow", "at": "yesterday"}))
        assert "invalid type" in err["error"] and "u64" in err["error"], err
        await still_answers()

        err = tool_error(await c.call_tool("list", {"kind": "job"}))
        assert "unknown variant `job`" in err["error"], err

        err = tool_error(await c.call_tool("list", {}))
        assert "missing field `kind`" in err["error"], err

        err = tool_error(await c.call_tool("status", {"kind": "workflow", "rn": "x"}))
        assert "unknown field `rn`" in err["error"], err

        err = tool_error(
            await c.call_tool("step_complete", {"step": "Plan", "outputs": {"k": ["a", "list"]}})
        )
        assert "a string, number or boolean" in err["error"], err

        # A tool's schema offers only what it takes: a phase starts or fails with no outputs.
        tools = {t.name: t for t in (await c.list_tools()).tools}
        assert "outputs" not in tools["phase_start"].input_schema["properties"], tools["phase_start"]
        assert "outputs" not in tools["phase_fail"].input_schema["properties"], tools["phase_fail"]
        assert "outputs" in tools["phase_complete"].input_schema["properties"]
        err = tool_error(
            await c.call_tool("phase_start", {"scenario": "s", "phase": "p", "outputs": {"k": "v"}})
        )
        assert "unknown field `outputs`" in err["error"], err

        err = tool_error(await c.call_tool("run", {"kind": "workflow", "name": "x", "start": ["a"]}))
        assert "`start` applies to scenarios only" in err["error"], err

        # A run to look for among: then an unknown one.
        document(await c.call_tool("run", {"kind": "workflow", "name": "onboarding"}), 3)
        err = tool_error(await c.call_tool("status", {"kind": "workflow", "run": "no-such-run"}))
        assert "no workflow run `no-such-run`" in err["error"], err
        assert err["hints"], err
        err = tool_error(await c.call_tool("abort", {"kind": "workflow", "run": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}))
        assert err["exit_code"] == 2, err
        err = tool_error(await c.call_tool("step_complete", {"step": "Deploy"}))
        assert "no step `Deploy`" in err["error"] or "not waiting" in err["error"], err
        err = tool_error(await c.call_tool("phase_start", {"scenario": "nothing-here", "phase": "x"}))
        assert err["exit_code"] == 2, err

        try:
            await c.read_resource("cortex://runs/no-such-run")
            raise AssertionError("an unknown run was read")
        except MCPError as e:
            assert "no-such-run" in str(e), str(e)
        await still_answers()
    print(json.dumps({}))


async def every_tool_result(argv):
    """Each tool that changes a run, and each way it can answer (a failed step, a retry, an
    abort, a stopped scenario, a resumed one, a failed phase, a run as it was, a plan): every
    result checked by the SDK against the tool's output schema."""
    async with client(argv, "pytest-schemas", "legacy") as c:
        doc = document(await c.call_tool("run", {"kind": "workflow", "name": "onboarding"}), 3)
        run_id = doc["run_id"]
        doc = document(
            await c.call_tool("step_fail", {"step": "Setup", "run": run_id, "message": "no"}),
            None,
        )
        assert doc["status"] == "failed", doc
        plan = document(
            await c.call_tool(
                "resume", {"kind": "workflow", "run": run_id, "retry": True, "dry_run": True}
            ),
            None,
        )
        assert plan["dry_run"] is True, plan
        doc = document(
            await c.call_tool("resume", {"kind": "workflow", "run": run_id, "retry": True}), 3
        )
        assert doc["status"] == "waiting", doc
        old = document(await c.call_tool("status", {"kind": "workflow", "run": run_id, "at": 1}), 0)
        assert old["as_of"]["seq"] == 1, old
        doc = document(await c.call_tool("abort", {"kind": "workflow", "run": run_id}), None)
        assert doc["status"] == "aborted", doc
        finished = document(await c.call_tool("resume", {"kind": "workflow", "run": run_id}), None)
        assert finished["status"] == "aborted", finished

        doc = document(await c.call_tool("run", {"kind": "scenario", "name": "review-gate"}), 3)
        scenario = doc["run_id"]
        doc = document(await c.call_tool("stop", {"scenario": scenario, "message": "later"}), 3)
        assert doc["status"] == "stopped", doc
        doc = document(await c.call_tool("resume", {"kind": "scenario", "run": scenario}), 3)
        assert doc["status"] == "waiting", doc
        document(await c.call_tool("phase_start", {"scenario": scenario, "phase": "review"}), 3)
        doc = document(
            await c.call_tool(
                "phase_fail", {"scenario": scenario, "phase": "review", "message": "not read"}
            ),
            None,
        )
        assert doc["status"] == "failed", doc
        runs = document(await c.call_tool("history", {"kind": "workflow"}), 0, "history")["runs"]
        assert runs[0]["status"] == "aborted", runs
    print(json.dumps({"run_id": run_id, "scenario": scenario}))


async def abort_a_driven_run(argv):
    """A run the server drives (its `run` call in flight) aborted by the `abort` tool, then
    one aborted by `cortex workflow abort` from a shell: each `run` call answers with the
    aborted run, and the server answers the next call. Before, the abort sent SIGTERM to the
    run's holder, the server itself, and the server ended (`cortex mcp: done`)."""
    _, _, binary, home, project = argv
    async with client(argv, "pytest-abort", "legacy") as c:

        async def running():
            doc = None
            for _ in range(900):
                result = await c.call_tool("status", {"kind": "workflow"})
                # Before the run is recorded: a tool error (no runs yet), or the last one.
                doc = json.loads(result.content[0].text)
                if (not result.is_error and doc["status"] == "running"
                        and step(doc, "S")["status"] == "running"):
                    return doc["run_id"]
                await asyncio.sleep(0.1)
            raise AssertionError(f"the run never ran its step: {doc}")

        aborted = []
        for how in ["tool", "cli"]:
            driving = asyncio.create_task(
                c.call_tool("run", {"kind": "workflow", "name": "o"})
            )
            run_id = await running()
            if how == "tool":
                doc = document(await c.call_tool("abort", {"kind": "workflow", "run": run_id}),
                               None)
                assert doc["status"] == "aborted", doc
            else:
                shell = await asyncio.create_subprocess_exec(
                    binary, "workflow", "abort", run_id,
                    env={"CORTEX_HOME": home, "NO_COLOR": "1"}, cwd=project,
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                )
                out, err = await shell.communicate()
                # Exit 1: the run was aborted (SPEC's exit codes).
                assert shell.returncode == 1 and b"aborted" in out, (shell.returncode, out, err)
            doc = document(await driving, None)
            assert doc["status"] == "aborted", doc
            # The server is still there: another call is answered.
            listed = document(await c.call_tool("list", {"kind": "workflow"}), 0, "list")
            assert "o" in [w["name"] for w in listed], listed
            aborted.append(run_id)
    print(json.dumps({"aborted": aborted}))


async def secret_checks_in_session(argv):
    """A workflow with a secret input and a prompt step whose `validate:` runs a command:
    `run` with the input's value, then `step_complete` in the same session. Before, the
    report was refused ("set CORTEX_INPUT_API_TOKEN in the environment"), which an MCP client
    cannot do: the run could only be aborted. Then a second session (a new server) that was
    not given the value: refused, and `inputs` of `step_complete` gives it."""
    _, _, binary, home, project = argv
    async with client(argv, "pytest-secret", "legacy") as c:
        doc = document(await c.call_tool(
            "run", {"kind": "workflow", "name": "sec", "inputs": {"api_token": "s3cr3t-tok"}}), 3)
        assert doc["status"] == "waiting" and doc["waiting_for"] == "Write", doc
        # The suggestion says what the CLI command needs, and what the tool takes.
        complete = next(n for n in doc["next"] if words(n["argv"])[:3] == ["workflow", "step", "complete"])
        assert "CORTEX_INPUT_API_TOKEN" in complete["why"], complete
        assert "`inputs` of step_complete" in complete["why"], complete
        with open(f"{project}/notes.txt", "w") as f:
            f.write("notes\n")
        doc = document(await c.call_tool("step_complete", {"step": "Write"}), 0)
        assert doc["status"] == "completed", doc
        first = doc["run_id"]
        # A second run, left waiting for the next session.
        doc = document(await c.call_tool(
            "run", {"kind": "workflow", "name": "sec", "inputs": {"api_token": "s3cr3t-tok"}}), 3)
        second = doc["run_id"]
    async with client(argv, "pytest-secret-2", "legacy") as c:
        refused = tool_error(await c.call_tool("step_complete", {"step": "Write", "run": second}))
        assert "api_token" in refused["error"], refused
        assert any("`inputs` of step_complete" in h for h in refused["hints"]), refused
        wrong = tool_error(await c.call_tool(
            "step_complete", {"step": "Write", "run": second, "inputs": {"other": "x"}}))
        assert "has no input `other`" in wrong["error"], wrong
        doc = document(await c.call_tool(
            "step_complete",
            {"step": "Write", "run": second, "inputs": {"api_token": "s3cr3t-tok"}}), 0)
        assert doc["status"] == "completed", doc
    print(json.dumps({"runs": [first, second]}))


async def scenario_resume_modes(argv):
    """The `resume` tool takes for a scenario what `cortex orchestrate resume` takes: `from`
    (the phase and the phases that depend on it run again), `skip`, and `inputs` for a secret
    input, which the status document's own `next` asks for, and `retry`. Before, each was
    refused with "applies to workflows only"."""
    _, _, binary, home, project = argv
    import os
    async with client(argv, "pytest-resume", "legacy") as c:
        doc = document(await c.call_tool(
            "run", {"kind": "scenario", "name": "ship", "inputs": {"deploy_token": "tok-12345"}}), 1)
        run_id = doc["run_id"]
        assert doc["status"] == "failed" and phase(doc, "test")["status"] == "failed", doc
    # A new session: it holds no value of the secret input.
    async with client(argv, "pytest-resume-2", "legacy") as c:
        doc = document(await c.call_tool("status", {"kind": "scenario", "run": run_id}), None)
        argvs = [n["argv"] for n in doc["next"]]
        assert any("--skip" in a and "deploy_token=VALUE" in a for a in argvs), argvs
        assert "--retry" in argvs[0] and "deploy_token=VALUE" in argvs[0], argvs
        unknown = tool_error(await c.call_tool(
            "resume", {"kind": "scenario", "run": run_id, "from": "deploy"}))
        assert "no phase named `deploy`" in unknown["error"], unknown
        assert any("plan, build, test, notes" in h for h in unknown["hints"]), unknown
        plan = document(await c.call_tool(
            "resume", {"kind": "scenario", "run": run_id, "from": "build", "dry_run": True}), 0)
        again = [s["name"] for s in plan["steps"] if "run" in s["action"]]
        assert again == ["build", "test"], plan
        needs = tool_error(await c.call_tool(
            "resume", {"kind": "scenario", "run": run_id, "from": "build"}))
        assert "deploy_token" in needs["error"], needs
        # `retry`, as `orchestrate resume --retry`: the failed phase runs again (and what
        # depends on it), the others are kept. Before, it applied "to workflows only".
        plan = document(await c.call_tool(
            "resume", {"kind": "scenario", "run": run_id, "retry": True, "dry_run": True}), 0)
        again = [s["name"] for s in plan["steps"] if "run" in s["action"]]
        assert "test" in again and "build" not in again, plan
        open(f"{project}/ok", "w").close()
        doc = document(await c.call_tool(
            "resume",
            {"kind": "scenario", "run": run_id, "from": "build",
             "inputs": {"deploy_token": "tok-12345"}}), 0)
        assert doc["status"] == "completed", doc
        for log, count in [("plan.log", 1), ("notes.log", 1), ("build.log", 2)]:
            with open(f"{project}/{log}") as f:
                assert len(f.read().splitlines()) == count, (log, count)
        # `skip` of a failed phase, with the secret input given again.
        os.remove(f"{project}/ok")
        doc = document(await c.call_tool(
            "run", {"kind": "scenario", "name": "ship", "inputs": {"deploy_token": "tok-12345"}}), 1)
        skipped_run = doc["run_id"]
    async with client(argv, "pytest-resume-3", "legacy") as c:
        doc = document(await c.call_tool(
            "resume",
            {"kind": "scenario", "run": skipped_run, "skip": True,
             "inputs": {"deploy_token": "tok-12345"}}), 0)
        assert doc["status"] == "completed" and phase(doc, "test")["status"] == "skipped", doc
    print(json.dumps({"run_id": run_id, "skipped": skipped_run}))


async def request_too_large(argv):
    """A call whose request is past the server's 16 MiB line limit gets an error answer (its
    id read from the request's first bytes) instead of waiting forever; the session goes on."""
    async with client(argv, "pytest-big", "auto") as c:
        doc = document(await c.call_tool("run", {"kind": "workflow", "name": "onboarding"}), 3)
        try:
            await asyncio.wait_for(
                c.call_tool("step_complete",
                            {"step": "Setup", "outputs": {"report": "o" * (17 << 20)}}),
                120)
            raise AssertionError("a request past the limit was answered as a result")
        except MCPError as e:
            said = str(e)
            assert "Request too large" in said and "16 MiB" in said, said
        now = document(await c.call_tool("status", {"kind": "workflow"}), None)
        assert now["status"] == "waiting" and now["events"] == doc["events"], now
    print(json.dumps({"run_id": doc["run_id"]}))


async def progress_of_a_long_call(argv):
    """A `run` call with a progress callback (the SDK sends a progressToken): MCP clients
    bound a tool call and cancel it, which stops the run, unless progress arrives. Before,
    cortex sent none. Progress arrives at each transition, naming the step that runs, and at
    least every 10 s while a step runs; each value is above the last, of a total of the steps."""
    got = []

    async def on_progress(progress, total, message):
        got.append({"progress": progress, "total": total, "message": message})

    async with client(argv, "pytest-progress", "legacy") as c:
        doc = document(
            await c.call_tool("run", {"kind": "workflow", "name": "long"},
                              progress_callback=on_progress),
            0,
        )
        assert doc["status"] == "completed", doc
    # Progress callbacks run as tasks of their own: let the last ones land.
    await asyncio.sleep(0.2)
    values = [g["progress"] for g in got]
    assert values == sorted(values) and len(set(values)) == len(values), got
    assert all(g["total"] in (None, 3.0) for g in got), got
    assert any("running step `First`" in g["message"] for g in got), got
    assert any("running step `Long`" in g["message"] and "still going" in g["message"]
               for g in got), got
    assert any(g["progress"] == 2.0 for g in got), got
    print(json.dumps({"progress": got}))


async def progress_of_a_quick_call(argv):
    """A quick `run` call with a progress callback: its last notification says every step is
    done (the values are the steps done, on the scale of the total)."""
    got = []

    async def on_progress(progress, total, message):
        got.append({"progress": progress, "total": total, "message": message})

    async with client(argv, "pytest-progress", "legacy") as c:
        doc = document(
            await c.call_tool("run", {"kind": "workflow", "name": "long"},
                              progress_callback=on_progress),
            0,
        )
        assert doc["status"] == "completed", doc
    await asyncio.sleep(0.2)
    values = [g["progress"] for g in got]
    assert values == sorted(values) and len(set(values)) == len(values), got
    print(json.dumps({"progress": got}))


async def detached_runs_outlive_a_time_limit(argv):
    """A client whose calls time out (here after 2 s; 60 s in the TypeScript SDK) and a step
    of 8 s (a detached call is given 6 s to answer, for a loaded machine). A plain `run` is cancelled and the run stopped, its reason saying the client
    cancelled the call and to resume with detach; `resume` with detach returns at once and the
    server drives the run to its prompt; `run` with detach does the same for a new run. Each
    answer is one content block (the document)."""
    async with client(argv, "pytest-hasty", "legacy") as c:
        try:
            await c.call_tool("run", {"kind": "workflow", "name": "slow"},
                              read_timeout_seconds=2)
            raise AssertionError("the call did not time out")
        except MCPError as e:
            assert "timed out" in str(e), e

        async def settled(run_id, seconds=40):
            for _ in range(seconds * 10):
                doc = document(
                    await c.call_tool("status", {"kind": "workflow", "run": run_id}), None
                )
                if doc["status"] not in ("running",):
                    return doc
                await asyncio.sleep(0.1)
            raise AssertionError(f"still running: {doc}")

        stopped = document(await c.call_tool("status", {"kind": "workflow"}), None)
        for _ in range(100):
            if stopped["status"] == "stopped":
                break
            await asyncio.sleep(0.1)
            stopped = document(await c.call_tool("status", {"kind": "workflow"}), None)
        first = stopped["run_id"]
        assert stopped["status"] == "stopped", stopped
        assert "the MCP client cancelled the call" in stopped["reason"], stopped
        assert "detach: true" in stopped["reason"], stopped

        result = await c.call_tool("resume", {"kind": "workflow", "run": first, "detach": True},
                                   read_timeout_seconds=6)
        assert len(result.content) == 1, result.content
        resumed = document(result, None)
        assert resumed["status"] == "running", resumed
        assert words(resumed["next"][0]["argv"]) == ["workflow", "status", first], resumed
        done = await settled(first)
        assert done["status"] == "waiting" and done["waiting_for"] == "Ship", done

        result = await c.call_tool("run", {"kind": "workflow", "name": "slow", "detach": True},
                                   read_timeout_seconds=6)
        detached = document(result, None)
        second = detached["run_id"]
        assert second != first and detached["status"] == "running", detached
        assert words(detached["next"][0]["argv"]) == ["workflow", "status", second], detached
        done = await settled(second)
        assert done["status"] == "waiting" and done["waiting_for"] == "Ship", done
    print(json.dumps({"detached": {"status": detached["status"]}, "runs": [first, second]}))


CHECKS = {
    f.__name__: f
    for f in [feature_development, scenario_manual, bad_input, every_tool_result,
              abort_a_driven_run, secret_checks_in_session, scenario_resume_modes,
              request_too_large, progress_of_a_long_call, progress_of_a_quick_call,
              detached_runs_outlive_a_time_limit]
}

if __name__ == "__main__":
    asyncio.run(CHECKS[sys.argv[1]](sys.argv))
