"""The app's side of nanocloak: what the pages, figures and jobs call, in one namespace.

The rest of the app calls these functions and reads results through their public attributes
(`metrics`, `timecourse`, `series`, `t_h`, `payloads`, `therapy`, `parameters`). By concern:

- `door`: the one door into the package: every import of a nanocloak module is made there
  (`MODULES` says where each lives), so when the package's modules move it is the one file to
  update. Imports are lazy so that `import nanocloak.app` stays cheap and a missing piece breaks
  only its page.
- `inputs`: text and files from the browser, checked here: size (MAX_UPLOAD_BYTES), YAML without
  aliases and within a node budget, then the package's own validators, whose messages are shown
  as they are. Nothing here takes a path from the browser: callers pass paths inside the
  session's own folder.
- `designs`: library choices, starting designs, the formulation contract's verdict.
- `outputs`: a result's tables, downloads and report; the coating calculator; lab data and NCA.
- `studies`: the evidence base against the model.
- `tasks`: design spaces, and the screen and fit jobs run in worker processes.
"""

from __future__ import annotations

from .designs import (
    FALLBACK_DESIGN,
    choices,
    default_design_key,
    example_designs,
    example_doc,
    example_file,
    example_search,
    examples_dir,
    release_parameters,
    validate,
    warnings_of,
)
from .door import MODULES, module, preload, simulate, simulate_many, version
from .inputs import (
    CLIENT_MAX_UPLOAD_BYTES,
    LAB_SUFFIXES,
    MAX_UPLOAD_BYTES,
    MAX_YAML_EVENTS,
    AppInputError,
    decode_text,
    decode_upload,
    dump_yaml,
    json_default,
    lab_suffix,
    parse_yaml,
    safe_filename,
    search_words,
    to_json,
    user_error_types,
)
from .outputs import (
    NCA_METHODS,
    batch_sheet_html,
    coating_plan,
    dose_core_mg,
    fit_observables,
    load_lab,
    metric_unit,
    nca,
    nca_methods,
    parameter_table,
    report_bundle,
    report_html,
    report_zip,
    result_json,
    summary_text,
    timecourse_csv,
)
from .studies import EVIDENCE_COMMAND, evidence_arm_doc, evidence_arms, evidence_base, evidence_comparison, evidence_studies
from .tasks import (
    DEFAULT_SPACE_TEXT,
    JOB_KINDS,
    MAX_APP_DESIGNS,
    MAX_FIT_STEPS,
    SCREEN_COMMAND,
    check_space,
    example_space_text,
    example_spaces,
    fit_job,
    limit_threads,
    run_job,
    screen_job,
    space_doc,
    top_design_yaml,
    warm_up,
)

__all__ = [
    "AppInputError", "CLIENT_MAX_UPLOAD_BYTES", "DEFAULT_SPACE_TEXT", "EVIDENCE_COMMAND", "FALLBACK_DESIGN", "JOB_KINDS",
    "LAB_SUFFIXES", "MAX_APP_DESIGNS", "MAX_FIT_STEPS", "MAX_UPLOAD_BYTES", "MAX_YAML_EVENTS", "MODULES", "NCA_METHODS",
    "SCREEN_COMMAND", "batch_sheet_html", "check_space", "choices", "coating_plan", "decode_text", "decode_upload",
    "default_design_key", "dose_core_mg", "dump_yaml", "evidence_arm_doc", "evidence_arms", "evidence_base",
    "evidence_comparison", "evidence_studies", "example_designs", "example_doc", "example_file", "example_search",
    "example_space_text", "example_spaces", "examples_dir", "fit_job", "fit_observables", "json_default", "lab_suffix",
    "limit_threads", "load_lab", "metric_unit", "module", "nca", "nca_methods", "parameter_table", "parse_yaml",
    "preload", "release_parameters", "report_bundle", "report_html", "report_zip", "result_json", "run_job",
    "safe_filename", "screen_job", "search_words", "simulate", "simulate_many", "space_doc", "summary_text",
    "timecourse_csv", "to_json", "top_design_yaml", "user_error_types", "validate", "version", "warm_up", "warnings_of",
]
