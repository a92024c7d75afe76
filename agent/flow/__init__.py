"""The flow language: load YAML or JSON flow files, validate everything before a browser starts,
bind params, render templates. Pure logic: no Playwright here. Every error is a FlowError whose
str() is one line, "path:line: field: message", so a user can jump straight to the fault."""

from agent.flow.lines import parse_text
from agent.flow.loader import bundled_flows, flows_dir, load_flow, load_flow_data
from agent.flow.model import DEFAULT_TIMEOUT_MS, SECRET_NAMES, Flow, FlowError, Param, Step
from agent.flow.params import bind_params, secret_params
from agent.flow.schema import flow_json_schema
from agent.flow.templates import has_template, render, template_names

__all__ = [
    "DEFAULT_TIMEOUT_MS",
    "SECRET_NAMES",
    "Flow",
    "FlowError",
    "Param",
    "Step",
    "bind_params",
    "bundled_flows",
    "flow_json_schema",
    "flows_dir",
    "has_template",
    "load_flow",
    "load_flow_data",
    "parse_text",
    "render",
    "secret_params",
    "template_names",
]
